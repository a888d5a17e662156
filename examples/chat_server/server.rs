//! The accept loop, and the order of a graceful shutdown.

use std::io::{self, Write};
use std::net::{Shutdown as Both, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use log::{error, info, warn};
use threadsmith::shutdown::{DrainReport, Shutdown};

use crate::admin::Admin;
use crate::client::{self, READ_TICK};
use crate::config::Config;
use crate::history::History;
use crate::metrics::Metrics;
use crate::room::{Conn, JoinError, Room};

/// What every thread of the server shares.
pub struct Shared {
    pub config: Config,
    pub room: Room,
    pub history: Arc<History>,
    pub metrics: Arc<Metrics>,
    /// One `InFlight` per connection, held by its reader until its writer has flushed.
    pub shutdown: Shutdown,
}

pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    acceptor: JoinHandle<()>,
    admin: Option<Admin>,
}

impl Server {
    /// Binds the ports, opens the database and starts accepting.
    pub fn start(config: Config) -> Result<Server, String> {
        let listener = TcpListener::bind(&config.addr)
            .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let metrics = Arc::new(Metrics::default());
        let history = Arc::new(History::open(config.db.clone(), Arc::clone(&metrics))?);
        let shared = Arc::new(Shared {
            room: Room::new(&config, Arc::clone(&metrics), Arc::clone(&history)),
            config,
            history,
            metrics,
            shutdown: Shutdown::new(),
        });
        let admin = match &shared.config.admin_addr {
            Some(admin_addr) => Some(Admin::start(admin_addr, Arc::clone(&shared))?),
            None => None,
        };
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (shared, stopping) = (Arc::clone(&shared), Arc::clone(&stopping));
            thread::Builder::new()
                .name("chat-accept".into())
                .spawn(move || accept_loop(&listener, &shared, &stopping))
                .map_err(|e| format!("cannot start the accept thread: {e}"))?
        };
        Ok(Server {
            shared,
            addr,
            stopping,
            acceptor,
            admin,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(Admin::addr)
    }

    // ANCHOR: shutdown
    /// The graceful shutdown, in order: close the listener; turn `/readyz` to 503; close the
    /// room (each writer flushes what was accepted, then `* server shutting down`); wait up to
    /// the drain timeout for every connection to finish; persist the queued history.
    pub fn shutdown(self) -> DrainReport {
        // 1. The accept loop is blocked in `accept`: set the flag, then wake it with a
        //    connection of our own. Joining it means the listener is closed.
        self.stopping.store(true, Ordering::Release);
        let _ = TcpStream::connect(wake_addr(self.addr));
        if self.acceptor.join().is_err() {
            error!("the accept thread panicked");
        }
        // 2. No new connections can be admitted; the load balancer sees 503 from here on.
        let in_flight = self.shared.shutdown.begin();
        // 3. Every outbox closes after the messages it already holds.
        self.shared.room.close();
        info!("draining {in_flight} connection(s)");
        // 4. Each reader drops its guard after its writer has flushed and the client closed
        //    (or the linger ran out).
        let report = self.shared.shutdown.wait(self.shared.config.drain_timeout);
        if report.drained {
            info!("drained in {:?}", report.took);
        } else {
            warn!(
                "drain timeout: {} connection(s) still open; exiting anyway",
                report.remaining
            );
        }
        // 5. Everything accepted is in the history queue by now: commit it.
        self.shared.history.close();
        if let Some(admin) = self.admin {
            admin.stop();
        }
        report
    }
    // ANCHOR_END: shutdown
}

// ANCHOR: accept
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stopping: &AtomicBool) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    for stream in listener.incoming() {
        // Acquire: pairs with the Release store in `shutdown`.
        if stopping.load(Ordering::Acquire) {
            break; // dropping the listener closes it
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                warn!("accept: {e}");
                // Out of file descriptors: accept would fail again at once. Back off briefly
                // rather than spin a core until a client leaves.
                if e.raw_os_error() == Some(24) {
                    thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        };
        Metrics::inc(&shared.metrics.connections);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = admit(shared, stream, id) {
            warn!("connection {id}: {e}");
        }
    }
}

fn admit(shared: &Arc<Shared>, stream: TcpStream, id: u64) -> io::Result<()> {
    // Interactive lines: send each one now rather than wait to fill a segment.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(READ_TICK))?;
    let Some(guard) = shared.shutdown.enter() else {
        return Ok(()); // draining: the connection is dropped
    };
    let conn = Arc::new(Conn::new(id, shared.config.queue));
    let nick = match shared.room.join(Arc::clone(&conn)) {
        Ok(nick) => nick,
        Err(JoinError::Full) => {
            Metrics::inc(&shared.metrics.rejected_full);
            // A fresh socket's buffer takes one line without blocking; the timeout is a bound.
            stream.set_write_timeout(Some(Duration::from_secs(1)))?;
            let max = shared.config.max_clients;
            let _ = writeln!(&stream, "! server full ({max} clients): try again later");
            let _ = stream.shutdown(Both::Write);
            return Ok(());
        }
        Err(JoinError::Closed) => return Ok(()),
    };
    let spawned = {
        let (shared, conn) = (Arc::clone(shared), Arc::clone(&conn));
        thread::Builder::new()
            .name(format!("chat-reader-{id}"))
            .spawn(move || client::serve(shared, conn, stream, nick, guard))
    };
    if let Err(e) = spawned {
        // The closure (stream, guard) was dropped with the error: undo the join.
        shared.room.leave(id);
        return Err(e);
    }
    Ok(())
}
// ANCHOR_END: accept

/// Where to connect to wake our own `accept`: a wildcard address is not connectable.
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let mut wake = addr;
    if addr.ip().is_unspecified() {
        let local = match addr {
            SocketAddr::V4(_) => "127.0.0.1:0",
            SocketAddr::V6(_) => "[::1]:0",
        };
        if let Some(ip) = local.to_socket_addrs().ok().and_then(|mut a| a.next()) {
            wake.set_ip(ip.ip());
        }
    }
    wake
}

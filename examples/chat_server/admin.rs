//! The admin HTTP port: `/livez`, `/readyz`, `/metrics`, on tiny_http (HTTP parsing is not
//! ours to hand-write).

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use log::{error, warn};
use tiny_http::{Header, Request, Response};

use crate::server::Shared;

pub struct Admin {
    server: Arc<tiny_http::Server>,
    thread: JoinHandle<()>,
    addr: SocketAddr,
}

impl Admin {
    pub fn start(addr: &str, shared: Arc<Shared>) -> Result<Admin, String> {
        let server = tiny_http::Server::http(addr)
            .map(Arc::new)
            .map_err(|e| format!("cannot listen on {addr} (admin): {e}"))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| format!("admin address {addr} is not an IP address"))?;
        let thread = {
            let server = Arc::clone(&server);
            thread::Builder::new()
                .name("chat-admin".into())
                .spawn(move || {
                    for request in server.incoming_requests() {
                        respond(&shared, request);
                    }
                })
                .map_err(|e| format!("cannot start the admin thread: {e}"))?
        };
        Ok(Admin {
            server,
            thread,
            addr: bound,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving: the last step of a shutdown, so `/readyz` answers 503 throughout the drain.
    pub fn stop(self) {
        self.server.unblock();
        if self.thread.join().is_err() {
            error!("the admin thread panicked");
        }
    }
}

// ANCHOR: respond
fn respond(shared: &Shared, request: Request) {
    let path = request.url().split('?').next().unwrap_or("");
    let (status, body, content_type) = match path {
        "/livez" => (200, "ok\n".to_string(), "text/plain"),
        // A load balancer stops sending new clients as soon as the drain begins.
        "/readyz" if shared.shutdown.is_draining() => (503, "draining\n".into(), "text/plain"),
        "/readyz" => (200, "ready\n".into(), "text/plain"),
        "/metrics" => (
            200,
            crate::metrics::render(shared),
            "text/plain; version=0.0.4",
        ),
        _ => (404, "not found\n".into(), "text/plain"),
    };
    let mut response = Response::from_string(body).with_status_code(status);
    if let Ok(header) = Header::from_bytes("Content-Type", content_type) {
        response = response.with_header(header);
    }
    if let Err(e) = request.respond(response) {
        warn!("admin: {e}");
    }
}
// ANCHOR_END: respond

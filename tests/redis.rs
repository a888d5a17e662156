//! The Redis-backed pieces against a real `redis-server`, started by each test on a free port
//! (`--save '' --appendonly no`) and stopped when the test ends. Needs the `redis-server`
//! binary; `.ci/run` installs it. Run with `cargo test --features redis --test redis`.
#![cfg(all(feature = "redis", not(loom)))]

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use threadsmith::dedupe::Deduper;
use threadsmith::distributed::{
    DistributedError, LeaderElection, OnError, RedisOptions, RedisStore, RedisTokenBucket,
};
use threadsmith::ratelimit::{Rate, RateLimiter};

/// A `redis-server` child process on its own port.
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Server {
    fn start() -> Self {
        // Bind port 0 to get a free port, then hand it to Redis.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}). These tests need it: \
                     `apt-get install -y redis-server` (bash .ci/run does this)"
                )
            });
        let server = Server {
            child: Some(child),
            port,
        };
        server.wait_until_ready();
        server
    }

    /// Polls until the server answers PING: it is another process, starting on its own time.
    fn wait_until_ready(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let start = Instant::now();
        loop {
            let pong = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not answer on port {} within 10 s",
                self.port
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn raw(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// What happens when a lease's TTL runs out: Redis deletes the key.
    fn expire_now(&self, keys: &[&str]) {
        let _: usize = redis::cmd("DEL").arg(keys).query(&mut self.raw()).unwrap();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn quick() -> RedisOptions {
    RedisOptions::default().timeout(Duration::from_millis(500))
}

#[test]
fn two_instances_race_and_exactly_one_wins() {
    let server = Server::start();
    for round in 0..20 {
        let key = format!("race:{round}");
        let a = LeaderElection::new(&server.url(), &key, Duration::from_secs(30)).unwrap();
        let b = LeaderElection::new(&server.url(), &key, Duration::from_secs(30)).unwrap();
        let start = Barrier::new(2);
        let (won_a, won_b) = thread::scope(|s| {
            let ta = s.spawn(|| {
                start.wait();
                a.acquire_leader("a").unwrap()
            });
            let tb = s.spawn(|| {
                start.wait();
                b.acquire_leader("b").unwrap()
            });
            (ta.join().unwrap(), tb.join().unwrap())
        });
        assert!(
            won_a ^ won_b,
            "round {round}: exactly one leader, got a={won_a} b={won_b}"
        );
    }
}

#[test]
fn the_holder_re_acquires_and_renews_but_others_cannot() {
    let server = Server::start();
    let election = LeaderElection::new(&server.url(), "jobs", Duration::from_secs(30)).unwrap();
    let token = election
        .acquire_with_token("a")
        .unwrap()
        .expect("free lease");
    assert_eq!(
        election.acquire_with_token("a").unwrap(),
        Some(token),
        "same holder, same token"
    );
    assert!(!election.acquire_leader("b").unwrap());
    assert!(election.renew_leader("a").unwrap());
    assert!(!election.renew_leader("b").unwrap());
    assert!(
        !election.release_leader("b").unwrap(),
        "b cannot delete a's lease"
    );
    assert_eq!(election.fencing_token("a").unwrap(), Some(token));
    assert!(election.release_leader("a").unwrap());
    assert!(!election.release_leader("a").unwrap(), "released already");
    let next = election
        .acquire_with_token("b")
        .unwrap()
        .expect("free again");
    assert!(next > token, "tokens only grow: {next} after {token}");
}

#[test]
fn after_expiry_the_old_leader_can_neither_renew_nor_release_the_new_lease() {
    let server = Server::start();
    let election = LeaderElection::new(&server.url(), "lease", Duration::from_secs(30)).unwrap();
    let old = election.acquire_with_token("old").unwrap().unwrap();
    // "old" pauses past its TTL: the lease is gone, and "new" takes it.
    server.expire_now(&["lease", "lease:token"]);
    let new = election.acquire_with_token("new").unwrap().unwrap();
    assert!(new > old);
    assert!(!election.renew_leader("old").unwrap());
    assert!(!election.release_leader("old").unwrap());
    assert_eq!(
        election.fencing_token("new").unwrap(),
        Some(new),
        "untouched"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg("lease")
        .query(&mut server.raw())
        .unwrap();
    assert!(
        ttl > 20_000,
        "the new lease's TTL was not changed by the old leader: {ttl} ms"
    );
}

#[test]
fn a_lease_really_expires_on_the_server() {
    // The one test that waits for Redis's own clock: its TTLs are not ours to advance.
    let server = Server::start();
    let election = LeaderElection::new(&server.url(), "short", Duration::from_millis(50)).unwrap();
    assert!(election.acquire_leader("crashed").unwrap()); // and never renews
    let start = Instant::now();
    while !election.acquire_leader("successor").unwrap() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the lease never expired"
        );
        thread::sleep(Duration::from_millis(5));
    }
    assert!(!election.renew_leader("crashed").unwrap());
}

#[test]
fn eight_threads_never_see_two_leaders_and_tokens_only_grow() {
    let server = Server::start();
    let leading = AtomicUsize::new(0);
    let log = Mutex::new(Vec::new());
    thread::scope(|s| {
        for t in 0..8 {
            let (leading, log, url) = (&leading, &log, server.url());
            s.spawn(move || {
                let election =
                    LeaderElection::new(&url, "fenced", Duration::from_secs(30)).unwrap();
                let id = format!("instance-{t}");
                for _ in 0..100 {
                    if let Some(token) = election.acquire_with_token(&id).unwrap() {
                        assert_eq!(leading.fetch_add(1, SeqCst), 0, "two leaders at once");
                        log.lock().unwrap().push(token);
                        thread::yield_now();
                        leading.fetch_sub(1, SeqCst);
                        assert!(election.release_leader(&id).unwrap());
                    }
                }
            });
        }
    });
    let log = log.into_inner().unwrap();
    assert!(
        log.len() >= 8,
        "leadership changed hands: {} terms",
        log.len()
    );
    assert!(
        log.windows(2).all(|w| w[0] < w[1]),
        "fencing tokens, in the order the terms happened, strictly increase"
    );
}

#[test]
fn a_background_renewer_keeps_the_lease_and_notices_its_loss() {
    let server = Server::start();
    let election = LeaderElection::new(&server.url(), "renewed", Duration::from_secs(30)).unwrap();
    assert!(election.acquire_leader("me").unwrap());
    let renewer = election.renew_in_background("me", Duration::from_millis(5));
    assert!(renewer.is_leading());
    // Someone deletes the lease and takes it: the next renewal sees it.
    server.expire_now(&["renewed", "renewed:token"]);
    assert!(election.acquire_leader("usurper").unwrap());
    let start = Instant::now();
    while renewer.is_leading() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the loss went unnoticed"
        );
        thread::yield_now();
    }
    assert!(!renewer.stop());
    assert!(
        election.renew_leader("usurper").unwrap(),
        "the usurper's lease is intact"
    );
}

#[test]
fn dedupe_across_consumers_processes_each_message_once() {
    const IDS: usize = 5_000;
    let server = Server::start();
    let processed: Vec<AtomicU32> = (0..IDS).map(|_| AtomicU32::new(0)).collect();
    thread::scope(|s| {
        for _ in 0..4 {
            let (processed, url) = (&processed, server.url());
            s.spawn(move || {
                // Its own store, so its own connections: like a separate process.
                let deduper = Deduper::new(RedisStore::new(&url).unwrap(), Duration::from_secs(60));
                for (id, count) in processed.iter().enumerate() {
                    deduper
                        .process_message(&format!("msg-{id}"), || count.fetch_add(1, SeqCst))
                        .unwrap();
                }
            });
        }
    });
    for (id, count) in processed.iter().enumerate() {
        assert_eq!(count.load(SeqCst), 1, "message {id}");
    }
}

#[test]
fn four_clients_share_one_quota_exactly() {
    const QUOTA: u64 = 60;
    let server = Server::start();
    let admitted = AtomicUsize::new(0);
    let start = Barrier::new(4);
    thread::scope(|s| {
        for _ in 0..4 {
            let (admitted, start, url) = (&admitted, &start, server.url());
            s.spawn(move || {
                // Refills one token an hour: nothing comes back during the test.
                let limiter = RedisTokenBucket::new(
                    &url,
                    "quota",
                    QUOTA,
                    Rate::new(QUOTA, Duration::from_secs(3600 * QUOTA)),
                )
                .unwrap()
                .on_error(OnError::Deny);
                start.wait();
                for _ in 0..50 {
                    if limiter.try_acquire() {
                        admitted.fetch_add(1, SeqCst);
                    }
                }
                assert_eq!(limiter.errors(), 0);
            });
        }
    });
    assert_eq!(
        admitted.load(SeqCst) as u64,
        QUOTA,
        "4 × 50 asked, the quota is {QUOTA}"
    );
}

#[test]
fn the_shared_bucket_takes_several_tokens_at_once_and_refuses_more_than_capacity() {
    let server = Server::start();
    let limiter = RedisTokenBucket::new(
        &server.url(),
        "bulk",
        10,
        Rate::new(1, Duration::from_secs(3600)),
    )
    .unwrap();
    assert!(
        limiter.try_acquire_n_checked(0).unwrap(),
        "n = 0 is always admitted"
    );
    assert!(
        !limiter.try_acquire_n_checked(11).unwrap(),
        "more than the capacity, ever"
    );
    assert!(limiter.try_acquire_n_checked(7).unwrap());
    assert!(!limiter.try_acquire_n_checked(4).unwrap());
    assert!(limiter.try_acquire_n_checked(3).unwrap());
    assert!(!limiter.try_acquire());
}

#[test]
fn an_outage_gives_errors_then_everything_recovers() {
    let mut server = Server::start();
    let url = server.url();
    let election =
        LeaderElection::with_options(&url, "outage", Duration::from_secs(30), quick()).unwrap();
    let store = RedisStore::with_options(&url, "dedupe:", quick()).unwrap();
    let rate = Rate::new(1, Duration::from_secs(3600));
    let open = RedisTokenBucket::with_options(&url, "b1", 100, rate, quick()).unwrap();
    let closed = RedisTokenBucket::with_options(&url, "b2", 100, rate, quick())
        .unwrap()
        .on_error(OnError::Deny);
    assert!(election.acquire_leader("a").unwrap());
    assert!(store.try_claim("m1", Duration::from_secs(60)).unwrap());
    assert!(open.try_acquire() && closed.try_acquire());

    server.stop();
    let err = election.renew_leader("a").unwrap_err();
    assert!(
        matches!(
            err,
            DistributedError::Redis(_) | DistributedError::Unavailable { .. }
        ),
        "{err}"
    );
    assert!(store.try_claim("m2", Duration::from_secs(60)).is_err());
    assert!(open.try_acquire(), "fails open");
    assert!(!closed.try_acquire(), "fails closed");
    assert_eq!((open.errors(), closed.errors()), (1, 1));

    let _server = Server::start_on(server.port);
    // A new, empty server: the old lease is gone; every object reconnects by itself.
    assert!(election.acquire_leader("b").unwrap());
    assert!(store.try_claim("m1", Duration::from_secs(60)).unwrap());
    assert!(open.try_acquire_n_checked(1).unwrap());
    assert!(closed.try_acquire_n_checked(1).unwrap());
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    let ttl = Duration::from_secs(1);
    let err = LeaderElection::new("not a url", "k", ttl).unwrap_err();
    assert!(matches!(err, DistributedError::Invalid(_)), "{err}");
    assert!(LeaderElection::new("redis://127.0.0.1/", "", ttl).is_err());
    assert!(LeaderElection::new("redis://127.0.0.1/", "k", Duration::ZERO).is_err());
    assert!(RedisTokenBucket::new("redis://127.0.0.1/", "k", 0, Rate::per_second(1)).is_err());
    let zero_pool = RedisOptions::default().max_connections(0);
    assert!(RedisStore::with_options("redis://127.0.0.1/", "p:", zero_pool).is_err());
}

#[test]
fn claims_are_unique_per_id_and_expire() {
    let server = Server::start();
    let store = RedisStore::new(&server.url()).unwrap();
    let ids: HashSet<String> = (0..100).map(|i| format!("id-{i}")).collect();
    for id in &ids {
        assert!(store.try_claim(id, Duration::from_secs(60)).unwrap());
        assert!(!store.try_claim(id, Duration::from_secs(60)).unwrap());
    }
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("threadsmith:dedupe:*")
        .query(&mut server.raw())
        .unwrap();
    assert_eq!(keys.len(), 100);
    let ttl: i64 = redis::cmd("PTTL")
        .arg("threadsmith:dedupe:id-0")
        .query(&mut server.raw())
        .unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "claims carry their TTL: {ttl}");
}

//! Leader election on a Redis lease, with fencing tokens.

use std::time::{Duration, Instant};

use super::{check_key, ttl_millis, DistributedError, Redis, RedisOptions};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex};

// ANCHOR: scripts
/// Take the lease if free (or extend it if we already hold it), and hand out a fencing token:
/// a counter that only ever grows, stored beside the lease.
/// KEYS: lease, counter, token. ARGV: instance id, TTL in ms. Returns the token, 0 if taken.
const ACQUIRE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[3], token, 'PX', ARGV[2])
  return token
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local token = redis.call('GET', KEYS[3])
  if token == false then
    token = redis.call('INCR', KEYS[2])
  end
  redis.call('SET', KEYS[3], token, 'PX', ARGV[2])
  return tonumber(token)
end
return 0
";

/// Extend the lease only if we still hold it: compare, then PEXPIRE, in one atomic step.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
";

/// Delete the lease only if we still hold it: never someone else's.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
";
// ANCHOR_END: scripts

/// The current token, if `ARGV[1]` holds the lease; 0 otherwise.
const TOKEN: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return 0
";

/// Leader election on one Redis key: a lease with a TTL, taken with a compare on the server.
///
/// - [`acquire_leader`](Self::acquire_leader) takes the lease if nobody holds it: `SET key id
///   NX PX ttl` plus an `INCR` of the fencing counter, in one Lua script. Called by the holder,
///   it extends the lease.
/// - [`renew_leader`](Self::renew_leader) and [`release_leader`](Self::release_leader) compare
///   the holder before `PEXPIRE` or `DEL`, in one script. A process whose lease expired, and
///   which someone else then acquired, can neither extend nor delete the new lease. A naive
///   `DEL` after a long GC pause would.
/// - A crashed leader is replaced when its TTL runs out, at the latest.
///
/// **Split brain and fencing tokens.** A lease is not a mutex. A leader can stop for longer
/// than the TTL (a GC pause, a stalled VM, a slow network) and then act as if it still leads.
/// By then another process has acquired the lease. Clocks do not help: nobody can know from
/// inside that they were paused. The defence is at the resource. Each acquisition gets a token,
/// [`acquire_with_token`](Self::acquire_with_token), strictly greater than every earlier one. The
/// leader sends its token with every write. The resource (a database row, a storage service)
/// remembers the highest token it has seen and refuses lower ones. A paused ex-leader's writes
/// then bounce. When the resource cannot check tokens, you need real consensus (Raft, via etcd
/// or ZooKeeper) plus a resource that participates. Redis with one primary and asynchronous
/// replicas can also lose a lease on failover.
///
/// ```no_run
/// use std::time::Duration;
/// use threadsmith::distributed::LeaderElection;
///
/// let election = LeaderElection::new("redis://127.0.0.1:6379", "jobs:leader", Duration::from_secs(10))?;
/// if let Some(token) = election.acquire_with_token("worker-1")? {
///     // Lead, renewing well inside the TTL, and pass `token` to every write.
///     assert!(election.renew_leader("worker-1")?);
///     election.release_leader("worker-1")?;
///     # let _ = token;
/// }
/// # Ok::<(), threadsmith::distributed::DistributedError>(())
/// ```
#[derive(Clone)]
pub struct LeaderElection {
    redis: Arc<Redis>,
    lease_key: String,
    counter_key: String,
    token_key: String,
    ttl_ms: u64,
    ttl: Duration,
}

impl LeaderElection {
    /// An election on `key` whose leases last `ttl`, with the default [`RedisOptions`]. Does
    /// not connect yet.
    ///
    /// # Errors
    /// [`DistributedError::Invalid`] for a bad URL, an empty key or a zero TTL.
    pub fn new(redis_url: &str, key: &str, ttl: Duration) -> Result<Self, DistributedError> {
        Self::with_options(redis_url, key, ttl, RedisOptions::default())
    }

    /// [`new`](Self::new) with connection settings.
    ///
    /// # Errors
    /// As for [`new`](Self::new), and for options that can never work.
    pub fn with_options(
        redis_url: &str,
        key: &str,
        ttl: Duration,
        options: RedisOptions,
    ) -> Result<Self, DistributedError> {
        check_key(key)?;
        let ttl_ms = ttl_millis(ttl)?;
        Ok(Self {
            redis: Arc::new(Redis::open(redis_url, options)?),
            lease_key: key.to_owned(),
            counter_key: format!("{key}:fencing"),
            token_key: format!("{key}:token"),
            ttl_ms,
            ttl,
        })
    }

    /// Takes the lease for `instance_id` if nobody holds it (or extends it if `instance_id`
    /// already does). `true`: `instance_id` is the leader until the TTL runs out.
    ///
    /// # Errors
    /// When Redis is unavailable or the command fails.
    pub fn acquire_leader(&self, instance_id: &str) -> Result<bool, DistributedError> {
        Ok(self.acquire_with_token(instance_id)?.is_some())
    }

    /// [`acquire_leader`](Self::acquire_leader), returning the lease's fencing token: greater
    /// than the token of every earlier acquisition of this key. The same holder re-acquiring
    /// keeps its token.
    ///
    /// # Errors
    /// As for [`acquire_leader`](Self::acquire_leader).
    pub fn acquire_with_token(&self, instance_id: &str) -> Result<Option<u64>, DistributedError> {
        let token: u64 = self.redis.run(|conn| {
            redis::Script::new(ACQUIRE)
                .key(&self.lease_key)
                .key(&self.counter_key)
                .key(&self.token_key)
                .arg(instance_id)
                .arg(self.ttl_ms)
                .invoke(conn)
        })?;
        Ok((token > 0).then_some(token))
    }

    /// Extends the lease by the TTL if `instance_id` still holds it; `false` if it does not
    /// (it expired, and perhaps someone else holds it now, untouched).
    ///
    /// # Errors
    /// When Redis is unavailable or the command fails.
    pub fn renew_leader(&self, instance_id: &str) -> Result<bool, DistributedError> {
        self.compare_and(RENEW, instance_id)
    }

    /// Gives the lease up if `instance_id` holds it; never deletes another's lease.
    ///
    /// # Errors
    /// When Redis is unavailable or the command fails.
    pub fn release_leader(&self, instance_id: &str) -> Result<bool, DistributedError> {
        self.compare_and(RELEASE, instance_id)
    }

    /// The fencing token of `instance_id`'s lease, if it holds it.
    ///
    /// # Errors
    /// When Redis is unavailable or the command fails.
    pub fn fencing_token(&self, instance_id: &str) -> Result<Option<u64>, DistributedError> {
        let token: u64 = self.redis.run(|conn| {
            redis::Script::new(TOKEN)
                .key(&self.lease_key)
                .key(&self.token_key)
                .arg(instance_id)
                .invoke(conn)
        })?;
        Ok((token > 0).then_some(token))
    }

    fn compare_and(&self, script: &str, instance_id: &str) -> Result<bool, DistributedError> {
        let done: u64 = self.redis.run(|conn| {
            redis::Script::new(script)
                .key(&self.lease_key)
                .key(&self.token_key)
                .arg(instance_id)
                .arg(self.ttl_ms)
                .invoke(conn)
        })?;
        Ok(done == 1)
    }

    /// Renews `instance_id`'s lease every `every` on a background thread, until it is lost or
    /// the returned [`Renewer`] is stopped or dropped. The lease counts as lost when a renewal
    /// says so, or when renewals have failed (Redis unreachable) for a whole TTL: by then it
    /// has expired on the server.
    ///
    /// `every` should be well inside the TTL (a third of it is usual), so that one slow or
    /// failed renewal does not lose the lease.
    pub fn renew_in_background(&self, instance_id: &str, every: Duration) -> Renewer {
        let shared = Arc::new(RenewState {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            leading: AtomicBool::new(true),
        });
        let election = self.clone();
        let id = instance_id.to_owned();
        let state = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("threadsmith-leader-renewer".into())
            .spawn(move || election.renew_loop(&id, every, &state))
            .expect("spawning the renewer thread");
        Renewer {
            shared,
            thread: Some(thread),
        }
    }

    fn renew_loop(&self, id: &str, every: Duration, state: &RenewState) {
        let mut last_renewed = Instant::now();
        loop {
            {
                let mut stop = state.stop.lock();
                if !*stop {
                    state.wake.wait_for(&mut stop, every);
                }
                if *stop {
                    return;
                }
            }
            let lost = match self.renew_leader(id) {
                Ok(true) => {
                    last_renewed = Instant::now();
                    false
                }
                Ok(false) => true,
                Err(_) => last_renewed.elapsed() >= self.ttl,
            };
            if lost {
                // Release: pairs with the Acquire in `Renewer::is_leading`.
                state.leading.store(false, Ordering::Release);
                return;
            }
        }
    }
}

impl std::fmt::Debug for LeaderElection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElection")
            .field("key", &self.lease_key)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

struct RenewState {
    stop: Mutex<bool>,
    wake: Condvar,
    leading: AtomicBool,
}

/// A background renewal: [`LeaderElection::renew_in_background`]. Dropping it stops the
/// renewals (the lease then expires after its TTL unless released).
pub struct Renewer {
    shared: Arc<RenewState>,
    thread: Option<JoinHandle<()>>,
}

impl Renewer {
    /// `false` once the lease was found lost; stays `false`.
    pub fn is_leading(&self) -> bool {
        // Acquire: pairs with the Release store in the renewal loop.
        self.shared.leading.load(Ordering::Acquire)
    }

    /// Stops renewing and says whether the lease was still held at the last renewal.
    pub fn stop(mut self) -> bool {
        self.halt();
        self.is_leading()
    }

    fn halt(&mut self) {
        if let Some(thread) = self.thread.take() {
            *self.shared.stop.lock() = true;
            self.shared.wake.notify_all();
            let _ = thread.join();
        }
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        self.halt();
    }
}

impl std::fmt::Debug for Renewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewer")
            .field("leading", &self.is_leading())
            .finish()
    }
}

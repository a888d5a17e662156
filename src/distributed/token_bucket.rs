//! A token bucket shared through Redis.

use super::{check_key, DistributedError, Redis, RedisOptions};
use crate::ratelimit::{Rate, RateLimiter};
use crate::sync::atomic::{AtomicU64, Ordering};

// ANCHOR: script
/// GCRA (as in `ratelimit::TokenBucket`) on the server: the state is one number, the time at
/// which the bucket would be full again. It is read, checked and written in one script, with
/// Redis's own `TIME`, so every client shares one clock and no two clients can both take the
/// last token. KEYS: the bucket. ARGV: µs per token, capacity, tokens asked. Returns 1 or 0.
const TAKE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
if n > capacity then return 0 end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + n * interval
if new_tat - now > capacity * interval then return 0 end
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', ttl_ms)
return 1
";
// ANCHOR_END: script

/// What [`RateLimiter::try_acquire_n`] answers when Redis cannot be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnError {
    /// Admit (fail open): an outage of the limiter does not become an outage of the service.
    /// The default, as in Envoy's global rate limiting.
    #[default]
    Allow,
    /// Refuse (fail closed): for quotas that must hold even when Redis is down.
    Deny,
}

/// A token bucket whose state lives in Redis, so every process using the same key shares one
/// quota: `capacity` tokens at most, refilled at `refill`, starting full. Each request is one
/// atomic Lua script that reads Redis's clock, so the quota holds exactly however many clients
/// race for it.
///
/// [`try_acquire_n_checked`](Self::try_acquire_n_checked) reports Redis errors;
/// the [`RateLimiter`] methods cannot, and follow the [`OnError`] policy instead.
///
/// ```no_run
/// use threadsmith::distributed::{OnError, RedisTokenBucket};
/// use threadsmith::ratelimit::{Rate, RateLimiter};
///
/// // 100 requests a minute per user, across every server.
/// let limiter = RedisTokenBucket::new("redis://127.0.0.1:6379", "quota:user:42", 100, Rate::per_minute(100))?
///     .on_error(OnError::Deny);
/// if limiter.try_acquire() { /* serve */ }
/// # Ok::<(), threadsmith::distributed::DistributedError>(())
/// ```
pub struct RedisTokenBucket {
    redis: Redis,
    key: String,
    capacity: u64,
    /// Microseconds per token, as Lua will read it.
    interval_us: String,
    on_error: OnError,
    errors: AtomicU64,
}

impl RedisTokenBucket {
    /// A bucket of `capacity` tokens on `key`, refilled at `refill`, with the default
    /// [`RedisOptions`] and [`OnError::Allow`]. Does not connect yet.
    ///
    /// # Errors
    /// [`DistributedError::Invalid`] for a bad URL, an empty key or a zero capacity.
    pub fn new(
        redis_url: &str,
        key: &str,
        capacity: u64,
        refill: Rate,
    ) -> Result<Self, DistributedError> {
        Self::with_options(redis_url, key, capacity, refill, RedisOptions::default())
    }

    /// [`new`](Self::new) with connection settings.
    ///
    /// # Errors
    /// As for [`new`](Self::new), and for options that can never work.
    pub fn with_options(
        redis_url: &str,
        key: &str,
        capacity: u64,
        refill: Rate,
        options: RedisOptions,
    ) -> Result<Self, DistributedError> {
        check_key(key)?;
        if capacity == 0 {
            return Err(DistributedError::Invalid(
                "the capacity must be at least 1".into(),
            ));
        }
        let interval_us = refill.interval().as_nanos() as f64 / 1_000.0;
        Ok(Self {
            redis: Redis::open(redis_url, options)?,
            key: key.to_owned(),
            capacity,
            interval_us: format!("{interval_us}"),
            on_error: OnError::default(),
            errors: AtomicU64::new(0),
        })
    }

    /// What to answer when Redis cannot be asked.
    #[must_use]
    pub fn on_error(mut self, policy: OnError) -> Self {
        self.on_error = policy;
        self
    }

    /// Takes `n` tokens if the shared bucket has them. `n == 0` is always admitted.
    ///
    /// # Errors
    /// When Redis is unavailable or the script fails.
    pub fn try_acquire_n_checked(&self, n: u64) -> Result<bool, DistributedError> {
        if n == 0 {
            return Ok(true);
        }
        let taken: u64 = self.redis.run(|conn| {
            redis::Script::new(TAKE)
                .key(&self.key)
                .arg(&self.interval_us)
                .arg(self.capacity)
                .arg(n)
                .invoke(conn)
        })?;
        Ok(taken == 1)
    }

    /// How many calls through [`RateLimiter`] could not reach Redis and fell back on the
    /// [`OnError`] policy.
    pub fn errors(&self) -> u64 {
        // Relaxed: a statistic.
        self.errors.load(Ordering::Relaxed)
    }
}

impl RateLimiter for RedisTokenBucket {
    fn try_acquire_n(&self, n: u64) -> bool {
        match self.try_acquire_n_checked(n) {
            Ok(admitted) => admitted,
            Err(_) => {
                // Relaxed: a statistic.
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.on_error == OnError::Allow
            }
        }
    }
}

impl std::fmt::Debug for RedisTokenBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenBucket")
            .field("key", &self.key)
            .field("capacity", &self.capacity)
            .field("interval_us", &self.interval_us)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

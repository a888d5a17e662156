//! The dedupe store on Redis.

use std::time::Duration;

use super::{ttl_millis, DistributedError, Redis, RedisOptions};
use crate::dedupe::{DedupeStore, StoreError};

/// A [`DedupeStore`] shared by every consumer that points at the same Redis: a claim is
/// `SET prefix+msg_id 1 NX PX ttl`, which exactly one caller wins while the key lives. Keys
/// expire on their own, so the store needs no cleanup.
///
/// ```no_run
/// use std::time::Duration;
/// use threadsmith::dedupe::Deduper;
/// use threadsmith::distributed::RedisStore;
///
/// let deduper = Deduper::new(RedisStore::new("redis://127.0.0.1:6379")?, Duration::from_secs(3600));
/// // In every consumer process:
/// let outcome = deduper.process_message("order-42", || "charged once")?;
/// # let _ = outcome;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisStore {
    redis: Redis,
    prefix: String,
}

impl RedisStore {
    /// A store under the key prefix `threadsmith:dedupe:`, with the default [`RedisOptions`].
    /// Does not connect yet.
    ///
    /// # Errors
    /// [`DistributedError::Invalid`] for a bad URL.
    pub fn new(redis_url: &str) -> Result<Self, DistributedError> {
        Self::with_options(redis_url, "threadsmith:dedupe:", RedisOptions::default())
    }

    /// A store whose keys are `prefix` + message id.
    ///
    /// # Errors
    /// As for [`new`](Self::new), and for options that can never work.
    pub fn with_options(
        redis_url: &str,
        prefix: &str,
        options: RedisOptions,
    ) -> Result<Self, DistributedError> {
        Ok(Self {
            redis: Redis::open(redis_url, options)?,
            prefix: prefix.to_owned(),
        })
    }

    /// [`claim`](DedupeStore::claim) with the store's own error type.
    ///
    /// # Errors
    /// When Redis is unavailable or the command fails, or `ttl` is zero.
    pub fn try_claim(&self, msg_id: &str, ttl: Duration) -> Result<bool, DistributedError> {
        let ttl_ms = ttl_millis(ttl)?;
        let key = format!("{}{msg_id}", self.prefix);
        // ANCHOR: claim
        let set: Option<String> = self.redis.run(|conn| {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query(conn)
        })?;
        // ANCHOR_END: claim
        Ok(set.is_some()) // "OK" when set, nil when the key already existed
    }
}

impl DedupeStore for RedisStore {
    fn claim(&self, msg_id: &str, ttl: Duration) -> Result<bool, StoreError> {
        Ok(self.try_claim(msg_id, ttl)?)
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

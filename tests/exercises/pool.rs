//! Q13, "Connection pooling": `cargo test --test exercise_pool` runs `Suite::check_pool` on the
//! reader's pool. The crate's `Pool` is graded through an adapter to the suite's interface.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use threadsmith::check::conformance::{Connector, Suite};
use threadsmith::check::mutants::{NewestFirstPool, OvercommitPool};
use threadsmith::pool::{Manager, Pool, PooledConnection};

struct Numbered(Connector);

impl Manager for Numbered {
    type Connection = u64;
    type Error = Infallible;
    fn connect(&self) -> Result<u64, Infallible> {
        Ok(self.0.connect())
    }
    fn is_valid(&self, _conn: &mut u64) -> bool {
        true
    }
}

/// The crate's pool seen through the suite's `get(timeout)` / `put(id)` interface.
struct Adapted {
    pool: Pool<Numbered>,
    out: Mutex<HashMap<u64, PooledConnection<Numbered>>>,
}

impl threadsmith::check::conformance::ConcurrentPool for Adapted {
    fn get(&self, timeout: Duration) -> Option<u64> {
        let conn = self.pool.get_timeout(timeout).ok()?;
        let id = *conn;
        self.out.lock().unwrap().insert(id, conn);
        Some(id)
    }
    fn put(&self, conn: u64) {
        let returned = self.out.lock().unwrap().remove(&conn);
        drop(returned); // back to the pool, outside the map's lock
    }
    fn waiting(&self) -> usize {
        self.pool.state().waiting
    }
}

fn suite() -> Suite {
    Suite::new().stall_timeout(Duration::from_secs(60))
}

#[test]
fn the_pool_conforms() {
    let report = suite()
        .check_pool(|max_size, connector| Adapted {
            pool: Pool::builder()
                .max_size(max_size)
                .build(Numbered(connector)),
            out: Mutex::default(),
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.stress_values, 8 * 2_000);
}

#[test]
fn a_pool_that_counts_after_connecting_is_caught_exceeding_max_size() {
    super::assert_rejected(suite().check_pool(OvercommitPool::new), "bound");
}

#[test]
fn a_pool_that_serves_the_newest_waiter_is_caught_being_unfair() {
    super::assert_rejected(suite().check_pool(NewestFirstPool::new), "fairness");
}

//! The agent's request budget towards algod (config `chain.max_requests_per_second`): one token
//! bucket shared by every request of every clone of a [`crate::Node`] — the follower's, the
//! survey's, the validator's and the sends — so a site whose hosts all go through one
//! rate-limited endpoint can divide the endpoint's limit among them. A request waiting for the
//! budget is not a failure: it is only later.
//!
//! Hand-written rather than `governor`'s limiter: the bucket must sleep on tokio's clock so that
//! tests and the simulator under `tokio::time::pause()` see the exact schedule, and the whole of
//! it is a refill and a sleep.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Requests per second allowed to one agent, and its bucket.
#[derive(Debug)]
pub struct RequestBudget {
    per_second: f64,
    /// At most one second's worth of requests may go at once (and at least one).
    burst: f64,
    /// Tokens left and when they were counted. A tokio mutex, held across the wait: waiters
    /// are served in the order they came (tokio's mutex is fair), so a survey cannot starve the
    /// follower's next block or a report.
    bucket: Mutex<(f64, Instant)>,
}

impl RequestBudget {
    /// A budget of `per_second` requests per second (> 0 and finite; config validation refuses
    /// anything else, this clamps to at least one request per hour as a last guard).
    pub fn new(per_second: f64) -> RequestBudget {
        let per_second = if per_second.is_finite() {
            per_second.max(1.0 / 3600.0)
        } else {
            1.0 / 3600.0
        };
        let burst = per_second.max(1.0);
        RequestBudget {
            per_second,
            burst,
            bucket: Mutex::new((burst, Instant::now())),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Waits until one request may go, then takes it from the budget.
    pub async fn acquire(&self) {
        let mut b = self.bucket.lock().await;
        loop {
            let now = Instant::now();
            let (tokens, at) = *b;
            let tokens =
                (tokens + now.duration_since(at).as_secs_f64() * self.per_second).min(self.burst);
            if tokens >= 1.0 {
                *b = (tokens - 1.0, now);
                return;
            }
            *b = (tokens, now);
            let wait = Duration::from_secs_f64((1.0 - tokens) / self.per_second);
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

/// What every request of a node goes through: the optional budget, and a count of requests made
/// (for the benchmark, the tests and a site's capacity plan; docs/operations.md).
#[derive(Debug, Default)]
pub(crate) struct Meter {
    pub(crate) budget: Option<RequestBudget>,
    pub(crate) requests: AtomicU64,
}

impl Meter {
    /// Counts one request, after waiting for the budget if there is one.
    pub(crate) async fn admit(&self) {
        if let Some(b) = &self.budget {
            b.acquire().await;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_request_per_interval() {
        let b = RequestBudget::new(2.0);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            b.acquire().await;
            at.push(start.elapsed().as_millis());
        }
        // Two at once (one second's worth), then one every 500 ms.
        assert_eq!(at, vec![0, 0, 500, 1000, 1500, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn below_one_per_second_the_bucket_holds_one() {
        let b = RequestBudget::new(0.25);
        let start = Instant::now();
        b.acquire().await;
        b.acquire().await;
        b.acquire().await;
        assert_eq!(start.elapsed().as_secs(), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_the_budget_and_wait_in_turn() {
        let b = std::sync::Arc::new(RequestBudget::new(10.0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let b = std::sync::Arc::clone(&b);
                tokio::spawn(async move {
                    b.acquire().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap());
        }
        // 10 at once, the other 20 at 10 per second: the last one at 2 s, none earlier than
        // the rate allows.
        done.sort();
        assert_eq!(done.iter().filter(|d| d.is_zero()).count(), 10);
        assert_eq!(done.last().unwrap().as_millis(), 2000);
        for (i, d) in done.iter().enumerate().skip(10) {
            assert!(d.as_millis() >= (i as u128 - 9) * 100, "{i}: {d:?}");
        }
    }

    #[test]
    fn nonsense_rates_fall_back_to_the_slowest() {
        assert!(RequestBudget::new(f64::NAN).per_second() > 0.0);
        assert!(RequestBudget::new(-1.0).per_second() > 0.0);
    }
}

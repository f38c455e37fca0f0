//! The follower's retry timing: exponential backoff with jitter from a seeded stream, lengthened
//! to what a rate-limiting node asks for.

use crate::errors::ChainError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Retry timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

// The schedule is ours, not backon's `ExponentialBuilder` (backon =1.6.0 drives the follower's
// retry loop with it, see `Schedule`): backon's jitter adds [0, d) to the capped delay d, so its
// delays lie in [d, 2d) and reach twice the cap, where ours lie in [d/2, 3d/2) and stop at 1.5
// times the cap (tests/outage.rs asserts retry_in <= 1.2 s for a cap of 0.8 s; backon's could be
// 1.6 s). backon also draws its jitter from its own RNG inside the iterator, while the daemon's
// deployer and validator call `delay(attempt, entropy)` with the simulated clock as entropy so
// that the simulator replays a seed exactly; that needs the pure function.
impl Backoff {
    /// The delay before retry `attempt` (1-based): initial · 2^(attempt−1), capped, with ±50 %
    /// jitter so many agents do not retry in step.
    pub fn delay(&self, attempt: u32, entropy: u64) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let base = exp.min(self.max);
        let ms = base.as_millis().max(1) as u64;
        // jitter in [ms/2, ms*3/2)
        let j = ms / 2 + entropy % ms.max(1);
        Duration::from_millis(j).min(self.max.saturating_mul(3) / 2)
    }
}

/// The delays of one run of retries, as backon's retry loop asks for them: `Backoff::delay` of
/// attempts 1, 2, … (never ending: algod trouble is waited out), each with the next number of the
/// follower's xorshift stream, so one seed gives one schedule.
pub(crate) struct Schedule<'a> {
    pub(crate) backoff: Backoff,
    pub(crate) attempt: u32,
    pub(crate) entropy: &'a AtomicU64,
}

impl Iterator for Schedule<'_> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.attempt = self.attempt.saturating_add(1);
        Some(self.backoff.delay(self.attempt, next_entropy(self.entropy)))
    }
}

/// The schedule's delay, or longer when the node's `Retry-After` asks for more: a provider that
/// rate-limits wants its pause kept whatever our own schedule says.
pub(crate) fn honour_retry_after(e: &ChainError, delay: Option<Duration>) -> Option<Duration> {
    delay.map(|d| d.max(e.retry_after().unwrap_or_default()))
}

/// xorshift64 over the follower's state (only the follower's own task touches it).
fn next_entropy(state: &AtomicU64) -> u64 {
    let mut x = state.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.store(x, Ordering::Relaxed);
    x
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let d1 = b.delay(1, 0);
        assert_eq!(d1, Duration::from_millis(50));
        assert!(b.delay(1, 99) < Duration::from_millis(150));
        assert!(b.delay(3, 0) >= Duration::from_millis(200));
        assert!(b.delay(30, u64::MAX) <= Duration::from_millis(1500));
        assert_ne!(b.delay(4, 1), b.delay(4, 300));
    }

    #[test]
    fn a_seed_gives_one_schedule_and_the_stream_goes_on_across_runs() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let run = |state: &AtomicU64| {
            Schedule {
                backoff: b,
                attempt: 0,
                entropy: state,
            }
            .take(6)
            .collect::<Vec<_>>()
        };
        let (s1, s2) = (AtomicU64::new(7), AtomicU64::new(7));
        let first = run(&s1);
        assert_eq!(first, run(&s2), "one seed, one schedule");
        // The schedule is Backoff::delay over the xorshift stream, attempt by attempt.
        let mut x = 7u64;
        let mut want = Vec::new();
        for attempt in 1..=6 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            want.push(b.delay(attempt, x));
        }
        assert_eq!(first, want);
        // A second run starts again at attempt 1 but draws new entropy, so two outages in a row
        // do not repeat the same jitter.
        let second = run(&s1);
        assert_ne!(second, first);
        assert!(second[0] >= Duration::from_millis(50) && second[0] < Duration::from_millis(150));
        assert!(second.iter().all(|d| *d <= Duration::from_millis(1500)));
        assert_ne!(
            run(&AtomicU64::new(8)),
            first,
            "another seed, another schedule"
        );
    }
}

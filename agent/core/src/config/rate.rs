//! `chain.max_requests_per_second`: one request budget for every role of the agent, so that a
//! site behind one rate-limited endpoint can divide it among its hosts (docs/operations.md).

use super::check::Problems;
use serde::Serialize;

/// A request rate, per second: finite and positive (so equality is that of the number).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RequestRate(pub f64);

impl Eq for RequestRate {}

/// The smallest `chain.max_requests_per_second`. Following costs 2 requests per block at the
/// chain's tip and 1 per block while catching up (the logs alone): with MainNet's blocks of
/// about 2.8 s, below 1/2.8 ≈ 0.36 requests per second an agent can only fall further behind,
/// until the node prunes what it has not read. 0.5 leaves it room to catch up.
pub const MIN_REQUEST_RATE: f64 = 0.5;

/// The configured rate, or a problem naming the key when it is one no agent can follow with.
pub(super) fn checked(value: Option<f64>, p: &mut Problems) -> Option<RequestRate> {
    match value {
        Some(r) if r.is_finite() && r >= MIN_REQUEST_RATE => Some(RequestRate(r)),
        Some(r) => {
            p.add(
                "chain.max_requests_per_second",
                format!(
                    "{r} is not a rate the agent can follow a chain with: give at least \
                     {MIN_REQUEST_RATE} (following alone takes up to 2 requests per block), \
                     or leave it out for no budget"
                ),
            );
            None
        }
        None => None,
    }
}

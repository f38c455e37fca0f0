//! What each journal write means beyond the journal: the metrics' counters and histograms, and
//! the `on_outcome` hook. Wraps the daemon's own journal observer (status, D-Bus signals).

use crate::hooks::Hooks;
use crate::journal::{Observer, Record};
use crate::metrics::{Metrics, Tracker};
use std::sync::{Arc, Mutex};

/// `inner`, then the metrics and the hook, when configured. `started_ms`: when this process
/// started (steps recorded before it are not timed again).
pub fn observer(
    inner: Observer,
    metrics: Option<Arc<Metrics>>,
    hooks: Option<Arc<Hooks>>,
    started_ms: u64,
) -> Observer {
    if metrics.is_none() && hooks.is_none() {
        return inner;
    }
    let tracker = Mutex::new(Tracker::default());
    Box::new(move |rec: &Record| {
        inner(rec);
        let seen = tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .see(rec, started_ms);
        if let Some(m) = &metrics {
            m.observe(&seen);
        }
        if let (Some(h), Some(o)) = (&hooks, &seen.outcome) {
            h.fire(rec, o);
        }
    })
}

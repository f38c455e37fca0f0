//! The app's follower as every role starts it: from its watermark file, or after a round.

use std::path::PathBuf;

/// A follower of the app from its watermark file (or after `start_after`); None, logged, when
/// the watermark file cannot be used.
pub fn follower(
    app: dao_chain::App,
    watermark_file: PathBuf,
    start_after: u64,
    verify: bool,
) -> Option<dao_chain::Follower> {
    let opts = dao_chain::follow::FollowOptions {
        watermark_file,
        start_after,
        backoff: dao_chain::follow::Backoff::default(),
        verify,
    };
    dao_chain::Follower::new(app, opts)
        .map_err(|e| tracing::error!("cannot follow the chain: {e}"))
        .ok()
}

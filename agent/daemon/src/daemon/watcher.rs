//! The watcher role: follows the app unprivileged and re-verifies every proposal an event is
//! about with the rules engine, logging each event with its proposal and verdict. It changes
//! nothing on the host; its log is an independent audit trail of the chain.

use super::notify;
use dao_chain::App;
use std::path::PathBuf;
use std::time::Duration;
use tracing::{info, warn};

pub async fn watch(app: App, dir: PathBuf, start_after: u64) {
    let Some(mut follower) =
        super::following::follower(app, dir.join("watermark"), start_after, true)
    else {
        return;
    };
    crate::metrics::follower("watcher", follower.status_handle());
    loop {
        match follower.next().await {
            Ok(ev) => {
                let proposal = ev.event.proposal_id();
                match &ev.proposal {
                    Some(Ok(v)) => info!(
                        proposal,
                        round = ev.round,
                        txid = %ev.txid,
                        event = ev.event.name(),
                        state = ?v.state,
                        "{} (proposal verified: {:?})",
                        ev.event.name(),
                        v.state
                    ),
                    Some(Err(e)) => warn!(
                        proposal,
                        round = ev.round,
                        txid = %ev.txid,
                        event = ev.event.name(),
                        "{}: the proposal does not verify: {e}",
                        ev.event.name()
                    ),
                    None => info!(
                        round = ev.round,
                        txid = %ev.txid,
                        event = ev.event.name(),
                        "{}",
                        ev.event.name()
                    ),
                }
                notify::status(&format!("watching: round {}", ev.round));
            }
            Err(e) => {
                warn!("following the chain: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

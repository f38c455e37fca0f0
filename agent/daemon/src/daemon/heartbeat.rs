//! Heartbeats: once per governed interval (chain time) the executor records on chain what its host
//! runs — the sha256 of the running toplevel, the profile's generation, the last proposal it
//! reported on and the drift flag (docs/heartbeats.md). Sent only from passes with nothing to
//! deploy, so it never holds a deployment back; a failed send is logged, shown in status and
//! tried again on the next pass.

use super::chain::ChainEdge;
use super::deployer::{lock, Deployer};
use crate::journal::{Record, Report};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// What one heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    pub host: u64,
    pub toplevel_sha256: [u8; 32],
    pub generation: u64,
    pub last_proposal: u64,
    pub drift: bool,
    /// The host has no `H` box yet: this one pays for it.
    pub first: bool,
}

/// Where heartbeats go: the app, through the chain client.
pub trait Heartbeats: Send + Sync {
    /// Chain time now, the time of the host's last heartbeat (None before its first) and the
    /// interval the app enforces, in seconds.
    fn state(&self, host: u64) -> Result<(u64, Option<u64>, u64), String>;
    /// Sends a heartbeat and waits for its confirmation; the transaction id.
    fn send(&self, beat: &Beat) -> Result<String, String>;
}

/// The heartbeat in status (`heartbeat`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HeartbeatStatus {
    /// Chain time of the last heartbeat on chain.
    pub last_at: Option<u64>,
    /// Chain time from which the next one is due.
    pub next_at: Option<u64>,
    /// Why the last attempt failed (it is tried again on the next pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Chain time last seen, and the wall clock (Unix ms) then: paused passes read no chain,
    /// and estimate it from these.
    #[serde(skip)]
    pub seen: Option<(u64, u64)>,
}

/// The proposal a heartbeat names: the newest whose report is on chain (0: none).
fn last_reported(records: &[Record]) -> u64 {
    records
        .iter()
        .filter(|r| matches!(r.report, Report::Confirmed { .. }))
        .map(|r| r.proposal)
        .max()
        .unwrap_or(0)
}

impl Deployer {
    /// Sends a heartbeat when one is due at chain time `now` (None: estimate it from the last
    /// chain time seen and the wall clock).
    pub fn maybe_heartbeat(&self, now: Option<u64>, records: &[Record]) {
        let Some(chain) = &self.heartbeats else {
            return;
        };
        let wall = self.edges.clock.now_ms();
        let now = {
            let mut s = lock(&self.shared);
            match now {
                Some(n) => {
                    s.heartbeat.seen = Some((n, wall));
                    n
                }
                None => match s.heartbeat.seen {
                    Some((n, at)) => n + wall.saturating_sub(at) / 1000,
                    None => 0,
                },
            }
        };
        let next = lock(&self.shared).heartbeat.next_at;
        if next.is_some_and(|due| now < due) {
            return;
        }
        let host = self.setup.host;
        // The chain's own word on when the last one was: another process of this host (or a
        // restart) may have sent it.
        let (chain_now, last, interval) = match chain.state(host) {
            Ok(s) => s,
            Err(e) => return self.heartbeat_failed(format!("reading the last heartbeat: {e}")),
        };
        if let Some(at) = last {
            let due = at.saturating_add(interval);
            let mut s = lock(&self.shared);
            s.heartbeat.last_at = Some(at);
            s.heartbeat.next_at = Some(due);
            s.heartbeat.seen = Some((chain_now, wall));
            if chain_now < due {
                return;
            }
        }
        let running = self.edges.system.running().ok().flatten();
        let profile = self.edges.system.current().ok().flatten();
        let Some(toplevel) = running.or_else(|| profile.as_ref().map(|g| g.store_path.clone()))
        else {
            return self.heartbeat_failed("the host has no system profile generation".into());
        };
        let beat = Beat {
            host,
            toplevel_sha256: Sha256::digest(toplevel.as_os_str().as_encoded_bytes()).into(),
            generation: profile.map_or(0, |g| g.number),
            last_proposal: last_reported(records),
            drift: lock(&self.shared).drift.is_some(),
            first: last.is_none(),
        };
        match chain.send(&beat) {
            Ok(txid) => {
                info!(
                    txid = %txid,
                    generation = beat.generation,
                    last_proposal = beat.last_proposal,
                    drift = beat.drift,
                    "heartbeat sent"
                );
                // The box has the block's own time, which the next heartbeat counts from.
                let at = match chain.state(host) {
                    Ok((_, Some(at), _)) => at,
                    _ => chain_now,
                };
                let mut s = lock(&self.shared);
                s.heartbeat.last_at = Some(at);
                s.heartbeat.next_at = Some(at.saturating_add(interval));
                s.heartbeat.problem = None;
            }
            Err(e) => self.heartbeat_failed(format!("sending the heartbeat: {e}")),
        }
    }

    fn heartbeat_failed(&self, why: String) {
        warn!("{why}; trying again on the next pass (deployments are not held back)");
        lock(&self.shared).heartbeat.problem = Some(why);
    }
}

impl Heartbeats for ChainEdge {
    fn state(&self, host: u64) -> Result<(u64, Option<u64>, u64), String> {
        self.runtime.block_on(async {
            let round = self
                .app
                .node
                .last_round()
                .await
                .map_err(|e| e.to_string())?;
            let now = self
                .app
                .node
                .block_timestamp(round)
                .await
                .map_err(|e| e.to_string())?;
            let last = self
                .app
                .last_heartbeat(host)
                .await
                .map_err(|e| e.to_string())?;
            // The rules in force: the app checks the same value.
            let interval = self
                .app
                .global()
                .await
                .map_err(|e| e.to_string())?
                .rules
                .heartbeat_interval;
            Ok((now, last.map(|h| h.at), interval))
        })
    }

    fn send(&self, b: &Beat) -> Result<String, String> {
        self.runtime
            .block_on(self.app.heartbeat(
                &self.signer,
                b.host,
                b.toplevel_sha256,
                b.generation,
                b.last_proposal,
                b.drift,
                b.first,
            ))
            .map(|c| c.txid)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dao_core::diff_hash::DiffHash;

    #[test]
    fn a_heartbeat_names_the_newest_proposal_reported_on_chain() {
        let rec = |p: u64, report: Report| Record {
            report,
            ..Record::new(p, 1, "b", "h", DiffHash([0; 32]))
        };
        let confirmed = || Report::Confirmed {
            txid: "T".into(),
            round: 1,
        };
        assert_eq!(last_reported(&[]), 0);
        let records = [
            rec(2, confirmed()),
            rec(5, Report::Pending),
            rec(3, confirmed()),
        ];
        assert_eq!(last_reported(&records), 3);
    }
}

//! Follows the app block by block and hands out its events in order.
//!
//! Delivery is at-least-once: the watermark (the last round whose events were all handed out) is
//! written atomically to a file only when the caller comes back for the next event after the last
//! event of a round, so a crash replays at most that round. Handling must be idempotent; each
//! event carries `(round, txid, index)` as a unique key. algod down or slow: the follower retries
//! with exponential backoff and jitter, reporting [`Status::Retrying`] ([`Status::RateLimited`]
//! when the node refused for the request rate; its `Retry-After` lengthens the delay); nothing is
//! skipped.

pub use crate::backoff::Backoff;
use crate::backoff::{honour_retry_after, Schedule};
use crate::errors::ChainError;
use crate::events::{decode_log, AppEvent, Log, LogError};
use crate::node::App;
use crate::verify::{RulesKnowledge, Verified, VerifyError};
pub use crate::watermark::{read_watermark, write_watermark};
use backon::Retryable;
use dao_core::rules::Kind;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One event of the app.
#[derive(Debug, Clone)]
pub struct Event {
    pub round: u64,
    pub txid: String,
    /// Position of the log among the app's logs in the round (with `round`, a unique key).
    pub index: u32,
    pub event: AppEvent,
    /// For events about a proposal: the proposal re-read after the round (its latest state) and
    /// re-verified with the rules engine, or why it could not be. A verification error means: do
    /// not act on this proposal.
    pub proposal: Option<Result<Arc<Verified>, Arc<VerifyError>>>,
}

/// What the follower is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Starting,
    /// Up to date with algod at `round` (or catching up to it).
    Following {
        round: u64,
    },
    /// algod failed `attempt` times in a row; the next try is after `retry_in`.
    Retrying {
        attempt: u32,
        last_error: String,
        retry_in: Duration,
    },
    /// The node (or the provider in front of it) refused for our request rate (429, or a 403
    /// with `Retry-After`) `attempt` times in a row; the next try is after `retry_in`, never
    /// sooner than the node asked.
    RateLimited {
        attempt: u32,
        last_error: String,
        retry_in: Duration,
    },
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Starting => write!(f, "starting"),
            Status::Following { round } => write!(f, "following at round {round}"),
            Status::Retrying {
                attempt,
                last_error,
                retry_in,
            } => write!(
                f,
                "algod failing (attempt {attempt}, next in {retry_in:?}): {last_error}"
            ),
            Status::RateLimited {
                attempt,
                last_error,
                retry_in,
            } => write!(
                f,
                "rate limited by algod (attempt {attempt}, next in {retry_in:?}): {last_error}"
            ),
        }
    }
}

/// Why following stopped (retryable trouble with algod never ends up here).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("watermark file {path}: {source}")]
    Watermark {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("watermark file {path} is malformed ({reason}); remove it to start over from the configured round")]
    WatermarkMalformed { path: PathBuf, reason: String },
    #[error("watermark file {path} belongs to application {found}, not {expected}; use another state directory or remove it")]
    WatermarkOtherApp {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("round {round}, transaction {txid}: the app logged something it never logs: {source}")]
    Log {
        round: u64,
        txid: String,
        #[source]
        source: LogError,
    },
    #[error("following the app failed: {0}")]
    Chain(#[from] ChainError),
}

/// Where to start when there is no watermark yet.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub watermark_file: PathBuf,
    /// Process rounds after this one when no watermark exists.
    pub start_after: u64,
    pub backoff: Backoff,
    /// Re-read and re-verify the proposal of each event (on by default).
    pub verify: bool,
}

/// Follows one app; drive it with [`Follower::next`].
pub struct Follower {
    app: App,
    opts: FollowOptions,
    /// Last round whose events were all handed out and acknowledged.
    watermark: u64,
    persisted: u64,
    /// The round whose events are being handed out.
    current: Option<u64>,
    pending: VecDeque<Event>,
    last_known: u64,
    status: Arc<Mutex<Status>>,
    rules: Option<RulesKnowledge>,
    /// The jitter's xorshift state (atomic so that the retry schedule can draw from it while
    /// backon's loop holds `&self`).
    entropy: AtomicU64,
    /// The ranges of rounds skipped because the node had pruned them, oldest first.
    gaps: Vec<(u64, u64)>,
    /// Consecutive 404s for a round the node should have (a lagging node): the backoff grows
    /// across them, and a round that loads resets it.
    lagging: u32,
    /// A 404 is taken for pruning only for a round more than this far behind the node's last
    /// round ([`NON_ARCHIVAL_RETENTION`]).
    retention: u64,
}

/// How many recent rounds any algod keeps, archival or not. A non-archival node deletes a block
/// only once every ledger tracker is done with it: the transaction tail keeps the last
/// `MaxTxnLife` (1,000) rounds to detect duplicates, plus `DeeperBlockHeaderHistory` (1), and
/// a node tracking catchpoints `CatchpointLookback` (320) more (go-algorand dd6de88f,
/// `Ledger.notifyCommit`, config/consensus.go; config/localTemplate.go's `Archival` says "the
/// last 1321 blocks"). So a 404 for a round less than 1,000 behind the node's last round is not
/// pruning: behind a load balancer, it is a backend that has not reached the round yet (or one
/// that answered the last round from another backend), and the round is retried.
pub const NON_ARCHIVAL_RETENTION: u64 = 1000;

/// The events of app `app_id` among the logs of round `round` (`(txid, app id, log lines)` in
/// block order, as [`crate::node::Node::block_logs`] returns them), in order, before their
/// proposals are re-read. Method return values are skipped; any other line the app logged that is
/// not one of its events is an error naming the round and transaction: the app never logs one.
pub fn round_events(
    app_id: u64,
    round: u64,
    logs: &[(String, u64, Vec<Vec<u8>>)],
) -> Result<Vec<Event>, FollowError> {
    let mut events = Vec::new();
    let mut index = 0u32;
    for (txid, _, lines) in logs.iter().filter(|(_, app, _)| *app == app_id) {
        for line in lines {
            match decode_log(line) {
                Ok(Log::Event(event)) => {
                    events.push(Event {
                        round,
                        txid: txid.clone(),
                        index,
                        event,
                        proposal: None,
                    });
                    index = index.saturating_add(1);
                }
                Ok(Log::Return(_)) => {}
                Err(source) => {
                    return Err(FollowError::Log {
                        round,
                        txid: txid.clone(),
                        source,
                    })
                }
            }
        }
    }
    Ok(events)
}

impl Follower {
    /// A follower of `app` (which should have passed [`crate::preflight::preflight`]), resuming
    /// from its watermark file if there is one.
    pub fn new(app: App, opts: FollowOptions) -> Result<Follower, FollowError> {
        let watermark =
            read_watermark(&opts.watermark_file, app.app_id)?.unwrap_or(opts.start_after);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9)
            ^ u64::from(std::process::id());
        Ok(Follower {
            app,
            opts,
            watermark,
            persisted: watermark,
            current: None,
            pending: VecDeque::new(),
            last_known: watermark,
            status: Arc::new(Mutex::new(Status::Starting)),
            rules: None,
            entropy: AtomicU64::new(seed | 1),
            gaps: Vec::new(),
            lagging: 0,
            retention: NON_ARCHIVAL_RETENTION,
        })
    }

    /// Takes a 404 for pruning only `rounds` behind the node's last round instead of
    /// [`NON_ARCHIVAL_RETENTION`]: for a devnet that prunes to a few rounds (its `prune`
    /// switch), never for a real node.
    pub fn with_retention(mut self, rounds: u64) -> Follower {
        self.retention = rounds;
        self
    }

    /// The last round whose events were all handed out and acknowledged.
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    pub fn status(&self) -> Status {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// A handle another task can read the status from.
    pub fn status_handle(&self) -> Arc<Mutex<Status>> {
        Arc::clone(&self.status)
    }

    fn set_status(&self, s: Status) {
        match self.status.lock() {
            Ok(mut g) => *g = s,
            Err(p) => *p.into_inner() = s,
        }
    }

    /// A fresh retry schedule (attempts count from 1 again) over the follower's entropy.
    fn schedule(&self) -> Schedule<'_> {
        Schedule {
            backoff: self.opts.backoff,
            attempt: 0,
            entropy: &self.entropy,
        }
    }

    /// Reports retry `attempt` (1-based) of a run, with the error and the delay backon sleeps.
    fn retrying_status(&self, attempt: &mut u32, error: &ChainError, delay: Duration) {
        *attempt = attempt.saturating_add(1);
        let (attempt, last_error, retry_in) = (*attempt, error.to_string(), delay);
        // The first failure of a run and then every power of two: an outage of hours logs a
        // dozen lines, not thousands.
        if attempt.is_power_of_two() {
            tracing::warn!(
                app = self.app.app_id,
                attempt,
                retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                rate_limited = error.is_rate_limited(),
                "{}",
                if error.is_rate_limited() {
                    format!("rate limited by algod, waiting as asked: {last_error}")
                } else {
                    format!("algod failing, retrying: {last_error}")
                }
            );
        }
        self.set_status(if error.is_rate_limited() {
            Status::RateLimited {
                attempt,
                last_error,
                retry_in,
            }
        } else {
            Status::Retrying {
                attempt,
                last_error,
                retry_in,
            }
        });
    }

    fn persist(&mut self, force: bool) -> Result<(), FollowError> {
        if self.watermark != self.persisted && (force || self.watermark >= self.persisted + 100) {
            write_watermark(&self.opts.watermark_file, self.app.app_id, self.watermark)?;
            self.persisted = self.watermark;
        }
        Ok(())
    }

    /// Writes the watermark now (e.g. at shutdown); empty rounds are otherwise written in
    /// batches.
    pub fn flush(&mut self) -> Result<(), FollowError> {
        self.persist(true)
    }

    /// The next event. Calling `next` again acknowledges the event it returned before.
    pub async fn next(&mut self) -> Result<Event, FollowError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            if let Some(r) = self.current.take() {
                // Every event of round r was handed out and the caller came back.
                self.watermark = r;
                self.persist(true)?;
            }
            let r = self.watermark + 1;
            if r > self.last_known {
                let after = self.watermark;
                self.last_known = self
                    .retrying(|app| {
                        let app = app.clone();
                        async move { app.node.wait_for_block_after(after).await }
                    })
                    .await?;
                self.set_status(Status::Following {
                    round: self.last_known,
                });
                continue;
            }
            let events = match self.load_round(r).await {
                Err(FollowError::Chain(e)) if e.is_http_404() => {
                    self.skip_pruned(r, e).await?;
                    continue;
                }
                other => other?,
            };
            self.lagging = 0;
            self.set_status(Status::Following {
                round: self.last_known,
            });
            if events.is_empty() {
                self.watermark = r;
                self.persist(false)?;
            } else {
                self.pending = events.into();
                self.current = Some(r);
            }
        }
    }

    /// The ranges of rounds skipped because the node no longer had them (oldest first).
    pub fn gaps(&self) -> &[(u64, u64)] {
        &self.gaps
    }

    /// Round `r` is gone from the node (404 while the node's last round is past it): a
    /// non-archival node keeps only its recent rounds, so after a long downtime or a fast
    /// catch-up the follower's next round may be pruned. Retrying it would loop for ever;
    /// instead the follower finds the oldest round the node still has and resumes there, with
    /// one log line naming the skipped range. Nothing the agent acts on is lost: the executor's
    /// and the validator's passes read every proposal and report from the app's current state
    /// (boxes), on the next event or their periodic re-survey; events only wake them sooner.
    /// A round less than [`NON_ARCHIVAL_RETENTION`] behind the node's last round, or a node
    /// whose own last round answers 404 too, is lagging behind its peers (a load balancer in
    /// front of several at different rounds), not pruning: the round is then tried again later.
    async fn skip_pruned(&mut self, r: u64, e: ChainError) -> Result<(), FollowError> {
        let last = self
            .retrying(|app| {
                let app = app.clone();
                async move { app.node.last_round().await }
            })
            .await?;
        self.last_known = self.last_known.max(last);
        // Within the retention every node has the round: a 404 there is a lagging backend.
        let beyond_retention = last.saturating_sub(r) > self.retention;
        let oldest =
            if beyond_retention && self.available(last).await? && !self.available(r).await? {
                // Invariant: r is gone, hi is available.
                let (mut lo, mut hi) = (r, last);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if self.available(mid).await? {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                Some(hi)
            } else {
                None
            };
        let Some(oldest) = oldest else {
            // The same backoff (and the same sparse logging) as any other trouble, counted
            // across calls: each call is one more attempt at the same round.
            let mut attempt = self.lagging;
            self.lagging = self.lagging.saturating_add(1);
            let delay = Schedule {
                attempt: attempt.min(64),
                ..self.schedule()
            }
            .next()
            .unwrap_or(self.opts.backoff.max);
            self.retrying_status(&mut attempt, &e, delay);
            tokio::time::sleep(delay).await;
            return Ok(());
        };
        tracing::warn!(
            app = self.app.app_id,
            from_round = r,
            to_round = oldest - 1,
            resume_round = oldest,
            "rounds {r} to {} are pruned on algod at {} (a non-archival node keeps only recent \
             rounds); their events are skipped and following resumes at round {oldest}. Nothing \
             is lost for the executor: it reads the app's state, not the events. For a complete \
             event log, follow an archival node.",
            oldest - 1,
            self.app.node.url()
        );
        self.gaps.push((r, oldest - 1));
        // A parameters proposal executed in the skipped range went by unseen: read the rules
        // again rather than judge with the old ones.
        self.rules = None;
        self.lagging = 0;
        self.watermark = oldest - 1;
        self.persist(true)
    }

    /// Whether the node still has round `r`'s block (header-only; transient trouble retried).
    async fn available(&self, r: u64) -> Result<bool, FollowError> {
        let got = self
            .retrying(|app| {
                let app = app.clone();
                async move {
                    match app.node.block_timestamp(r).await {
                        Ok(_) => Ok(true),
                        Err(e) if e.is_http_404() => Ok(false),
                        Err(e) => Err(e),
                    }
                }
            })
            .await?;
        Ok(got)
    }

    /// Runs an algod operation until it succeeds or fails for a reason retrying cannot fix.
    async fn retrying<T, F, Fut>(&self, op: F) -> Result<T, FollowError>
    where
        F: Fn(&App) -> Fut,
        Fut: std::future::Future<Output = Result<T, ChainError>>,
    {
        let mut attempt = 0u32;
        let app = &self.app;
        (|| op(app))
            .retry(self.schedule())
            .when(ChainError::is_transient)
            .adjust(honour_retry_after)
            .notify(|e, delay| self.retrying_status(&mut attempt, e, delay))
            .sleep(tokio::time::sleep)
            .await
            .map_err(FollowError::from)
    }

    /// The app's events in round `r`, each with its proposal re-read and re-verified.
    async fn load_round(&mut self, r: u64) -> Result<Vec<Event>, FollowError> {
        let logs = self
            .retrying(|app| {
                let app = app.clone();
                async move { app.node.block_logs(r).await }
            })
            .await?;
        let mut events = round_events(self.app.app_id, r, &logs)?;
        if !self.opts.verify || events.is_empty() {
            return Ok(events);
        }
        let params_executed = events.iter().any(|e| {
            matches!(
                e.event,
                AppEvent::ProposalExecuted {
                    kind: Kind::Parameters,
                    ..
                }
            )
        });
        if self.rules.is_none() || params_executed {
            let k = self
                .retrying(|app| {
                    let app = app.clone();
                    async move { app.rules_knowledge().await }
                })
                .await?;
            self.rules = Some(k);
        }
        let rules = self.rules.clone().unwrap_or(RulesKnowledge {
            candidates: Vec::new(),
            complete: false,
        });
        let last = self.last_known.max(r);
        let now = self
            .retrying(|app| {
                let app = app.clone();
                async move { app.node.block_timestamp(last).await }
            })
            .await?;
        let mut ids: Vec<u64> = events
            .iter()
            .filter_map(|e| e.event.proposal_id())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let mut attempt = 0u32;
            let app = &self.app;
            let rules = &rules;
            // A read that failed for a transient reason is retried; any other verdict (a
            // verified proposal or why it is not) is the answer.
            let verified = (|| app.verify_proposal(id, rules, now))
                .retry(self.schedule())
                .when(|e| matches!(e, VerifyError::Read { source, .. } if source.is_transient()))
                .adjust(|e, delay| match e {
                    VerifyError::Read { source, .. } => honour_retry_after(source, delay),
                    _ => delay,
                })
                .notify(|e, delay| {
                    if let VerifyError::Read { source, .. } = e {
                        self.retrying_status(&mut attempt, source, delay)
                    }
                })
                .sleep(tokio::time::sleep)
                .await;
            let shared = verified.map(Arc::new).map_err(Arc::new);
            for e in events
                .iter_mut()
                .filter(|e| e.event.proposal_id() == Some(id))
            {
                e.proposal = Some(shared.clone());
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rate_limits_read_distinctly_from_failures() {
        let limited = Status::RateLimited {
            attempt: 2,
            last_error: "HTTP 429".into(),
            retry_in: Duration::from_secs(3),
        };
        assert!(limited
            .to_string()
            .starts_with("rate limited by algod (attempt 2, next in 3s)"));
        let failing = Status::Retrying {
            attempt: 2,
            last_error: "connection refused".into(),
            retry_in: Duration::from_secs(3),
        };
        assert!(failing.to_string().starts_with("algod failing"));
        let http = |status, retry_after: Option<u64>| ChainError::Http {
            url: "u".into(),
            what: "w".into(),
            status,
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        };
        let d = Some(Duration::from_millis(300));
        assert_eq!(
            honour_retry_after(&http(429, Some(5)), d),
            Some(Duration::from_secs(5))
        );
        assert_eq!(honour_retry_after(&http(429, Some(0)), d), d);
        assert_eq!(honour_retry_after(&http(503, None), d), d);
        assert_eq!(honour_retry_after(&http(429, Some(5)), None), None);
    }
}

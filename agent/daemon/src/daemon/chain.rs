//! The real chain edge: the app read through algod, reports signed with the host's agent key.
//!
//! The executor's decisions run on a blocking thread; the chain client is async, so each call
//! is driven on the daemon's runtime through its handle.

use super::survey::{survey, Cache, Survey};
use crate::edges::Chain;
use crate::executor::pipeline::{
    Attestations, Gate, OutcomeReport, ReportError, Reporter, Standing,
};
use crate::journal::Status;
use dao_chain::decode::ReportStatus;
use dao_chain::verify::VerifyError;
use dao_chain::{App, ChainError, Signer};
use dao_core::rules::ProposalState;
use tokio::runtime::Handle;

pub struct ChainEdge {
    pub app: App,
    pub signer: Signer,
    pub runtime: Handle,
}

pub fn to_chain(s: Status) -> ReportStatus {
    match s {
        Status::Applied => ReportStatus::Applied,
        Status::Failed => ReportStatus::Failed,
        Status::RolledBack => ReportStatus::RolledBack,
        Status::Refused => ReportStatus::Refused,
        Status::NotReproducible => ReportStatus::NotReproducible,
    }
}

pub fn from_chain(s: ReportStatus) -> Status {
    match s {
        ReportStatus::Applied => Status::Applied,
        ReportStatus::Failed => Status::Failed,
        ReportStatus::RolledBack => Status::RolledBack,
        ReportStatus::Refused => Status::Refused,
        ReportStatus::NotReproducible => Status::NotReproducible,
    }
}

impl Reporter for ChainEdge {
    fn find(&self, proposal: u64, host: u64) -> Result<Option<Status>, ReportError> {
        self.reports(proposal, host).map(|(r, _)| r)
    }

    fn send(&self, r: &OutcomeReport) -> Result<(String, u64), ReportError> {
        let confirmed = self
            .runtime
            .block_on(self.app.report(
                &self.signer,
                r.proposal,
                r.host,
                to_chain(r.status),
                r.toplevel_sha256,
                r.generation,
                r.logs_sha256,
            ))
            .map_err(|e| ReportError(format!("reporting proposal {}: {e}", r.proposal)))?;
        Ok((confirmed.txid, confirmed.round))
    }
}

impl Gate for ChainEdge {
    fn attestations(&self, proposal: u64, host: u64) -> Result<Attestations, ReportError> {
        self.read_attestations(proposal, host).map_err(|e| {
            ReportError(format!(
                "reading the attestations of proposal {proposal} for host {host}: {e}"
            ))
        })
    }

    fn standing(&self, proposal: u64) -> Result<Standing, ReportError> {
        let unreadable = |e: ChainError| {
            ReportError(format!(
                "reading proposal {proposal} before acting on it: {e}"
            ))
        };
        self.runtime.block_on(async {
            let last = self.app.node.last_round().await.map_err(unreadable)?;
            let now = self
                .app
                .node
                .block_timestamp(last)
                .await
                .map_err(unreadable)?;
            let knowledge = self.app.rules_knowledge().await.map_err(unreadable)?;
            let verified = match self.app.verify_proposal(proposal, &knowledge, now).await {
                Ok(v) => v,
                // A box that does not decode or is missing a moment after the survey read it
                // is a node's garbage, not the chain's verdict: no answer, ask again later (a
                // refusal would be final).
                Err(VerifyError::Read { source, .. }) => return Err(unreadable(source)),
                Err(e @ VerifyError::Disagreement { .. }) => {
                    return Ok(Standing::NotApproved(e.to_string()))
                }
            };
            let eta = verified.engine.eta.unwrap_or(u64::MAX);
            Ok(match verified.state {
                ProposalState::Queued if eta <= now => Standing::Open,
                ProposalState::Queued => {
                    // Chain time went back (another node): not a verdict, ask again later.
                    return Err(ReportError(format!(
                        "proposal {proposal} is in its timelock until {eta} (chain time {now})"
                    )));
                }
                ProposalState::Expired => Standing::Expired(format!(
                    "proposal {proposal}'s execution window ended before this host could \
                     activate it (chain time {now}, eta {eta})"
                )),
                other => Standing::NotApproved(format!(
                    "the chain shows proposal {proposal} {other}, not queued"
                )),
            })
        })
    }
}

impl ChainEdge {
    fn read_attestations(&self, proposal: u64, host: u64) -> Result<Attestations, ChainError> {
        self.runtime.block_on(async {
            let policy = self.app.attest_policy(proposal).await?;
            if policy.quorum == 0 {
                return Ok(Attestations::default());
            }
            Ok(Attestations {
                quorum: policy.quorum,
                validators: self.app.global().await?.validators,
                validation: self.app.validation(proposal, host).await?,
            })
        })
    }
}

impl Chain for ChainEdge {
    fn survey(&self, host: u64, cache: &mut Cache) -> Result<Survey, String> {
        self.runtime
            .block_on(survey(&self.app, host, cache))
            .map_err(|e| e.to_string())
    }

    fn reports(&self, proposal: u64, host: u64) -> Result<(Option<Status>, bool), ReportError> {
        let (report, amendment) = self
            .runtime
            .block_on(self.app.reports(proposal, host))
            .map_err(|e| ReportError(format!("reading the report of proposal {proposal}: {e}")))?;
        Ok((report.map(|r| from_chain(r.status)), amendment.is_some()))
    }

    fn host_agent(&self, host: u64) -> Result<Option<String>, String> {
        self.runtime
            .block_on(self.app.host(host))
            .map(|a| a.map(|a| a.to_string()))
            .map_err(|e| format!("reading host {host} from the app: {e}"))
    }

    fn signer_address(&self) -> String {
        self.signer.address().to_string()
    }
}

pub enum Amended {
    Sent {
        txid: String,
        round: u64,
    },
    AlreadyOnChain,
    /// The undone deployment's own report is not on chain yet: amend once it lands.
    ReportPending,
    /// The chain has no applied report of this host on the proposal: nothing to amend.
    NothingToAmend(String),
}

/// Sends the applied → rolled back amendment of an operator rollback, unless the chain has it.
pub fn amend_rolled_back(chain: &dyn Chain, r: &OutcomeReport) -> Result<Amended, ReportError> {
    let (report, amended) = chain.reports(r.proposal, r.host)?;
    if amended {
        return Ok(Amended::AlreadyOnChain);
    }
    match report {
        Some(Status::Applied) => chain
            .send(r)
            .map(|(txid, round)| Amended::Sent { txid, round }),
        None => Ok(Amended::ReportPending),
        Some(other) => Ok(Amended::NothingToAmend(format!(
            "host {} reported proposal {} as {other:?}, not applied",
            r.host, r.proposal
        ))),
    }
}

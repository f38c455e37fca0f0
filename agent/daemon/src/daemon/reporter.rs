//! Reports outcomes on chain through the app's `report` method, signed with the host's agent key.
//!
//! The pipeline is synchronous and runs on a blocking thread; the chain client is async, so each
//! call is driven on the daemon's runtime through its handle.

use crate::executor::pipeline::{OutcomeReport, ReportError, Reporter};
use crate::journal::Status;
use dao_chain::decode::ReportStatus;
use dao_chain::{App, Signer};
use tokio::runtime::Handle;

pub struct ChainReporter {
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
    }
}

pub fn from_chain(s: ReportStatus) -> Status {
    match s {
        ReportStatus::Applied => Status::Applied,
        ReportStatus::Failed => Status::Failed,
        ReportStatus::RolledBack => Status::RolledBack,
        ReportStatus::Refused => Status::Refused,
    }
}

impl Reporter for ChainReporter {
    fn find(&self, proposal: u64, host: u64) -> Result<Option<Status>, ReportError> {
        let (report, _) = self
            .runtime
            .block_on(self.app.reports(proposal, host))
            .map_err(|e| ReportError(format!("reading the report of proposal {proposal}: {e}")))?;
        Ok(report.map(|r| from_chain(r.status)))
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

pub enum Amended {
    Sent {
        txid: String,
        round: u64,
    },
    AlreadyOnChain,
    /// The chain has no applied report of this host on the proposal: nothing to amend.
    NothingToAmend(String),
}

/// Sends the applied → rolled back amendment of an operator rollback, unless the chain has it.
pub fn amend_rolled_back(
    reporter: &ChainReporter,
    r: &OutcomeReport,
) -> Result<Amended, ReportError> {
    let (report, amendment) = reporter
        .runtime
        .block_on(reporter.app.reports(r.proposal, r.host))
        .map_err(|e| {
            ReportError(format!(
                "reading the report of proposal {}: {e}",
                r.proposal
            ))
        })?;
    if amendment.is_some() {
        return Ok(Amended::AlreadyOnChain);
    }
    match report.map(|x| x.status) {
        Some(ReportStatus::Applied) => reporter
            .send(r)
            .map(|(txid, round)| Amended::Sent { txid, round }),
        // The deployment's own report is still on its way: amend once it lands.
        None => Err(ReportError(format!(
            "the report of proposal {} for host {} is not on chain yet",
            r.proposal, r.host
        ))),
        Some(other) => Ok(Amended::NothingToAmend(format!(
            "host {} reported proposal {} as {other:?}, not applied",
            r.host, r.proposal
        ))),
    }
}

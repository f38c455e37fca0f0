//! What the journal tells the metrics and the hooks: which steps finished with each write, which
//! write decided an outcome, and (at scrape time) the counts the journal holds.

use super::shared_view;
use crate::daemon::deployer::{lock, Deployer};
use crate::journal::{tag, Outcome, Record, Report, Status, Step, StepState};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What one journal write added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Steps that ended (done, failed or skipped) with how long they took since they started.
    pub steps: Vec<(Step, Duration)>,
    /// The outcome, on the write that decided it (once per proposal and process).
    pub outcome: Option<Outcome>,
}

/// Remembers, per proposal, how many step entries were seen and whether its outcome was.
///
/// A record is written many times (each step, then its report's progress); an entry or an
/// outcome counts once. Entries from before this process started (a record recovered after a
/// restart) are not counted again: their time is not this process's to report. An outcome
/// whose report already left (after a restart) was seen by the process before; an outcome
/// decided just before a crash and first seen after it is not seen at all: hooks and counters
/// are at most once, the journal and the chain hold the exact record.
#[derive(Debug, Default)]
pub struct Tracker {
    seen: HashMap<u64, (usize, bool)>,
}

impl Tracker {
    pub fn see(&mut self, rec: &Record, started_ms: u64) -> Observed {
        let slot = self.seen.entry(rec.proposal).or_insert((0, false));
        let mut out = Observed::default();
        let from = slot.0.min(rec.steps.len());
        for (i, e) in rec.steps.iter().enumerate().skip(from) {
            if e.state == StepState::Started || e.at_ms < started_ms {
                continue;
            }
            let begun = rec.steps[..i]
                .iter()
                .rev()
                .find(|s| s.step == e.step && s.state == StepState::Started);
            if let Some(b) = begun {
                out.steps.push((
                    e.step,
                    Duration::from_millis(e.at_ms.saturating_sub(b.at_ms)),
                ));
            }
        }
        slot.0 = rec.steps.len();
        if let Some(o) = &rec.outcome {
            if !slot.1 && rec.report == Report::Pending {
                out.outcome = Some(o.clone());
            }
            slot.1 = true;
        }
        out
    }
}

/// The executor's series as the journal and the status hold them now.
pub struct Snapshot {
    pub proposals: BTreeMap<String, i64>,
    pub paused: bool,
    pub algod_up: bool,
    pub git_up: bool,
    pub journal_up: bool,
    pub last_applied_ms: Option<u64>,
    /// The host runs a system the agent did not activate.
    pub drift: bool,
}

pub fn snapshot(d: &Deployer) -> Snapshot {
    let mut proposals: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_applied_ms = None;
    let records = d.journal.all().ok();
    for r in records.iter().flatten() {
        let state = match &r.outcome {
            Some(o) => tag(&o.status),
            None => "in_progress".to_owned(),
        };
        *proposals.entry(state).or_default() += 1;
        if r.outcome
            .as_ref()
            .is_some_and(|o| o.status == Status::Applied)
        {
            let at = r.steps.last().map_or(0, |s| s.at_ms);
            last_applied_ms = last_applied_ms.max(Some(at));
        }
    }
    let (waiting, unverified) = {
        let s = lock(&d.shared);
        let in_journal = |p: u64| records.iter().flatten().any(|r| r.proposal == p);
        (
            s.pending.iter().filter(|a| !in_journal(a.proposal)).count(),
            s.unverified.len(),
        )
    };
    for (state, n) in [("waiting", waiting), ("unverified", unverified)] {
        proposals.insert(state.to_owned(), i64::try_from(n).unwrap_or(i64::MAX));
    }
    // Every state is set on each scrape, so that one that emptied goes back to 0.
    for s in super::OUTCOMES
        .iter()
        .map(tag)
        .chain(["in_progress".to_owned()])
    {
        proposals.entry(s).or_default();
    }
    let (paused, algod_up, git_up, journal_up) = shared_view(d);
    Snapshot {
        proposals,
        paused,
        algod_up,
        git_up,
        journal_up: journal_up && records.is_some(),
        last_applied_ms,
        drift: lock(&d.shared).drift.is_some(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::journal::StepEntry;
    use dao_core::diff_hash::DiffHash;

    fn entry(step: Step, state: StepState, at_ms: u64) -> StepEntry {
        StepEntry {
            step,
            state,
            at_ms,
            detail: None,
        }
    }

    fn record(steps: Vec<StepEntry>) -> Record {
        let mut r = Record::new(7, 1, "b", "h", DiffHash::empty());
        r.steps = steps;
        r
    }

    #[test]
    fn each_step_and_the_outcome_count_once_across_rewrites() {
        let mut t = Tracker::default();
        let mut r = record(vec![entry(Step::FetchCommits, StepState::Started, 1_000)]);
        assert_eq!(t.see(&r, 0), Observed::default());
        r.steps
            .push(entry(Step::FetchCommits, StepState::Done, 3_500));
        let seen = t.see(&r, 0);
        assert_eq!(
            seen.steps,
            [(Step::FetchCommits, Duration::from_millis(2_500))]
        );
        // The same record written again (its report moving on) adds nothing.
        assert_eq!(t.see(&r, 0), Observed::default());
        r.outcome = Some(Outcome {
            status: Status::Applied,
            step: None,
            reason: None,
        });
        assert_eq!(t.see(&r, 0).outcome.unwrap().status, Status::Applied);
        assert_eq!(t.see(&r, 0).outcome, None);
    }

    #[test]
    fn a_recovered_record_neither_times_old_steps_nor_repeats_a_reported_outcome() {
        let mut t = Tracker::default();
        let mut r = record(vec![
            entry(Step::BuildToplevel, StepState::Started, 1_000),
            entry(Step::BuildToplevel, StepState::Done, 9_000),
        ]);
        r.outcome = Some(Outcome {
            status: Status::RolledBack,
            step: Some(Step::ConfirmHealth),
            reason: None,
        });
        r.report = Report::Submitted { txid: "T".into() };
        // This process started at 10 s: the build was the process before's.
        assert_eq!(t.see(&r, 10_000), Observed::default());
    }
}

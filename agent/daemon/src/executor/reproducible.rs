//! AwaitAttestations: with the app's attestation quorum on, the host activates only a closure
//! that k independent validators built and agreed on, and only if its own build is that closure
//! (docs/validators.md). Waiting is not an outcome; a disagreement is (`not_reproducible`).

use super::pipeline::{Executor, PipelineError};
use crate::journal::{Record, Status, Step, StepState};
use dao_chain::validation::Validation;
use std::path::{Path, PathBuf};

/// What the chain says about the validators of one (proposal, host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attestations {
    /// The proposal's attestation quorum (0 = off).
    pub quorum: u64,
    /// How many validators the app has now.
    pub validators: u64,
    pub validation: Validation,
}

pub(super) enum Reproduced {
    /// Activate.
    Yes,
    /// A final outcome was recorded.
    Ended,
}

/// The toplevel of a deployment that was built and then waited for attestations.
pub(super) fn awaiting(rec: &Record) -> Option<PathBuf> {
    let waiting = rec
        .steps
        .last()
        .is_some_and(|e| e.step == Step::AwaitAttestations && e.state == StepState::Started);
    waiting.then(|| rec.toplevel.clone()).flatten()
}

fn short(h: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(h))
}

impl Executor<'_> {
    pub(super) fn reproducible(
        &self,
        rec: &mut Record,
        toplevel: &Path,
    ) -> Result<Reproduced, PipelineError> {
        let a = self
            .gate
            .attestations(rec.proposal, self.host)
            .map_err(|e| PipelineError::Chain {
                proposal: rec.proposal,
                reason: format!("cannot read the attestations before acting: {e}"),
            })?;
        // Mutant `unreproduced_applied`: the quorum is read but never enforced.
        if a.quorum == 0 || crate::mutants::active("unreproduced_applied") {
            return Ok(Reproduced::Yes);
        }
        let step = Step::AwaitAttestations;
        let mine = match self.edges.builder.closure(toplevel) {
            Ok(c) => c,
            Err(why) => {
                self.end_at(rec, step, Status::Failed, why)?;
                return Ok(Reproduced::Ended);
            }
        };
        let v = a.validation;
        match v.agreed {
            Some(agreed) if agreed == mine => {
                let detail = format!(
                    "{} validators agreed on closure {}, which this host built too",
                    a.quorum,
                    short(&agreed)
                );
                self.mark(rec, step, StepState::Done, Some(detail))?;
                Ok(Reproduced::Yes)
            }
            Some(agreed) => {
                let why = format!(
                    "this host built closure {} but {} validators agreed on {}: the build is \
                     not reproducible, nothing was activated",
                    short(&mine),
                    a.quorum,
                    short(&agreed)
                );
                self.end_at(rec, step, Status::NotReproducible, why)?;
                Ok(Reproduced::Ended)
            }
            // Mutant `impatient_refusal`: gives up while agreement is still possible.
            None if !v.can_still_agree(a.quorum, a.validators)
                || crate::mutants::active("impatient_refusal") =>
            {
                let why = format!(
                    "the validators can no longer agree: {} of {} attested, at most {} on one \
                     closure, {} needed; nothing was activated",
                    v.attestations, a.validators, v.best, a.quorum
                );
                self.end_at(rec, step, Status::NotReproducible, why)?;
                Ok(Reproduced::Ended)
            }
            None => {
                let reason = format!(
                    "{} of {} agreeing validators so far ({} attested); this host's closure is {}",
                    v.best,
                    a.quorum,
                    v.attestations,
                    short(&mine)
                );
                if awaiting(rec).is_none() {
                    self.mark(rec, step, StepState::Started, Some(reason.clone()))?;
                }
                Err(PipelineError::Awaiting {
                    proposal: rec.proposal,
                    reason,
                })
            }
        }
    }
}

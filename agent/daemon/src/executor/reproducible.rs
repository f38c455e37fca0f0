//! AwaitAttestations, the decision: with the app's attestation quorum on, a host activates only
//! a closure that k independent validators built and agreed on, and only if its own build is
//! that closure (docs/validators.md). Waiting is not an outcome; a disagreement is
//! (`not_reproducible`). The pipeline journals what this decides.

use crate::edges::Attestations;
use crate::journal::record::{Record, Step, StepState};
use std::path::PathBuf;

/// What the host does with its build, given the validators' attestations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The proposal has no quorum: activate, nothing to compare.
    Off,
    /// The quorum agreed on this host's closure: activate (the detail says so).
    Agreed(String),
    /// Another closure was agreed, or no agreement is possible any more: never activate.
    NotReproducible(String),
    /// Agreement is still possible but not there yet.
    Wait(String),
}

fn short(h: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(h))
}

/// Compares this host's closure with what the validators agreed on.
pub fn verdict(a: &Attestations, mine: &[u8; 32]) -> Verdict {
    if a.quorum == 0 {
        return Verdict::Off;
    }
    let v = a.validation;
    match v.agreed {
        Some(agreed) if agreed == *mine => Verdict::Agreed(format!(
            "{} validators agreed on closure {}, which this host built too",
            a.quorum,
            short(&agreed)
        )),
        Some(agreed) => Verdict::NotReproducible(format!(
            "this host built closure {} but {} validators agreed on {}: the build is not \
             reproducible, nothing was activated",
            short(mine),
            a.quorum,
            short(&agreed)
        )),
        // Mutant `impatient_refusal`: gives up while agreement is still possible.
        None if !v.can_still_agree(a.quorum, a.validators)
            || crate::mutants::active("impatient_refusal") =>
        {
            Verdict::NotReproducible(format!(
                "the validators can no longer agree: {} of {} attested, at most {} on one \
                 closure, {} needed; nothing was activated",
                v.attestations, a.validators, v.best, a.quorum
            ))
        }
        None => Verdict::Wait(format!(
            "{} of {} agreeing validators so far ({} attested); this host's closure is {}",
            v.best,
            a.quorum,
            v.attestations,
            short(mine)
        )),
    }
}

/// The toplevel of a deployment that was built and then waited for attestations.
pub fn awaiting(rec: &Record) -> Option<PathBuf> {
    let waiting = rec
        .steps
        .last()
        .is_some_and(|e| e.step == Step::AwaitAttestations && e.state == StepState::Started);
    waiting.then(|| rec.toplevel.clone()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dao_chain::validation::Validation;

    fn a(
        quorum: u64,
        validators: u64,
        attestations: u64,
        best: u64,
        agreed: Option<u8>,
    ) -> Attestations {
        Attestations {
            quorum,
            validators,
            validation: Validation {
                attestations,
                best,
                agreed: agreed.map(|b| [b; 32]),
                agreed_at: 0,
            },
        }
    }

    #[test]
    fn each_state_of_the_validators_gives_its_verdict() {
        let mine = [7; 32];
        assert_eq!(verdict(&a(0, 3, 0, 0, None), &mine), Verdict::Off);
        assert!(matches!(
            verdict(&a(2, 3, 2, 2, Some(7)), &mine),
            Verdict::Agreed(_)
        ));
        assert!(
            matches!(verdict(&a(2, 3, 2, 2, Some(8)), &mine), Verdict::NotReproducible(w) if w.contains(&hex::encode([8u8; 32])))
        );
        assert!(
            matches!(verdict(&a(2, 2, 2, 1, None), &mine), Verdict::NotReproducible(w) if w.contains("no longer agree"))
        );
        assert!(
            matches!(verdict(&a(2, 3, 2, 1, None), &mine), Verdict::Wait(w) if w.starts_with("1 of 2"))
        );
        assert!(matches!(
            verdict(&a(3, 3, 0, 0, None), &mine),
            Verdict::Wait(_)
        ));
    }
}

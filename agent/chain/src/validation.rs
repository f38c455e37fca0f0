//! Decoders of the validator boxes (docs/contract.md, "Validators"): the attestation policy a
//! deploy proposal was created with, each validator's attestation for a (proposal, host), the
//! summary that says whether k validators agreed, and claimed rewards.

use crate::decode::BoxKey;
use crate::decode::{check_key, err, exact, DecodeError, Problem, Reader};

/// What a validator found when it evaluated and built a host's toplevel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Built; the attestation carries the closure hash.
    Built,
    EvalFailed,
    BuildFailed,
    ChecksFailed,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Built => 0,
            Outcome::EvalFailed => 1,
            Outcome::BuildFailed => 2,
            Outcome::ChecksFailed => 3,
        }
    }

    pub fn from_code(code: u64) -> Option<Outcome> {
        Some(match code {
            0 => Outcome::Built,
            1 => Outcome::EvalFailed,
            2 => Outcome::BuildFailed,
            3 => Outcome::ChecksFailed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Built => "built",
            Outcome::EvalFailed => "eval_failed",
            Outcome::BuildFailed => "build_failed",
            Outcome::ChecksFailed => "checks_failed",
        }
    }
}

/// `q` box: the quorum and reward a deploy proposal was created with. A proposal without one
/// (none can exist on a released app) has the quorum off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttestPolicy {
    pub quorum: u64,
    pub reward: u64,
}

/// `a` box: one validator's attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attestation {
    pub outcome: Outcome,
    /// All zero unless `outcome` is `Built`.
    pub closure: [u8; 32],
    pub attested_at: u64,
}

/// `g` box: every attestation for a (proposal, host) summed up, and the agreement once the
/// proposal's quorum of `built` attestations carried the same closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Validation {
    pub attestations: u64,
    /// The largest number of `built` attestations that carry one closure.
    pub best: u64,
    pub agreed: Option<[u8; 32]>,
    pub agreed_at: u64,
}

impl Validation {
    /// Whether `quorum` agreeing attestations can still be reached with `validators` in the set:
    /// every validator that has not attested yet would have to join the best closure so far.
    pub fn can_still_agree(&self, quorum: u64, validators: u64) -> bool {
        self.agreed.is_some()
            || self
                .best
                .saturating_add(validators.saturating_sub(self.attestations))
                >= quorum
    }
}

/// `k` box: a claimed reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub amount: u64,
    pub hosts: u64,
    pub claimed_at: u64,
}

fn fixed<T>(
    key: &BoxKey,
    value: &[u8],
    is: fn(&BoxKey) -> bool,
    kind: &str,
    len: usize,
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, Problem>,
) -> Result<T, DecodeError> {
    check_key(key, is, kind)?;
    exact(value, len).map_err(|p| err(key.to_string(), p))?;
    let mut r = Reader::new(value);
    let v = read(&mut r).map_err(|p| err(key.to_string(), p))?;
    r.finish().map_err(|p| err(key.to_string(), p))?;
    Ok(v)
}

pub fn decode_validator(key: &BoxKey, value: &[u8]) -> Result<u64, DecodeError> {
    fixed(
        key,
        value,
        |k| matches!(k, BoxKey::Validator(_)),
        "a V box",
        8,
        |r| r.u64(8),
    )
}

pub fn decode_attest_policy(key: &BoxKey, value: &[u8]) -> Result<AttestPolicy, DecodeError> {
    let is = |k: &BoxKey| matches!(k, BoxKey::AttestPolicy(_));
    fixed(key, value, is, "a q box", 16, |r| {
        Ok(AttestPolicy {
            quorum: r.u64(16)?,
            reward: r.u64(16)?,
        })
    })
}

pub fn decode_attestation(key: &BoxKey, value: &[u8]) -> Result<Attestation, DecodeError> {
    let is = |k: &BoxKey| matches!(k, BoxKey::Attestation(..));
    fixed(key, value, is, "an a box", 48, |r| {
        let code = r.u64(48)?;
        let outcome = Outcome::from_code(code).ok_or(Problem::UnknownCode {
            field: "outcome",
            code,
        })?;
        let closure = r.array::<32>(48)?;
        if outcome != Outcome::Built && closure != [0; 32] {
            return Err(Problem::Value {
                field: "closure",
                expected: "all zero for an attestation that did not build",
                got: 1,
            });
        }
        Ok(Attestation {
            outcome,
            closure,
            attested_at: r.u64(48)?,
        })
    })
}

pub fn decode_validation(key: &BoxKey, value: &[u8]) -> Result<Validation, DecodeError> {
    let is = |k: &BoxKey| matches!(k, BoxKey::Validation(..));
    fixed(key, value, is, "a g box", 64, |r| {
        let attestations = r.u64(64)?;
        let best = r.u64(64)?;
        let agreed = r.u64(64)?;
        let closure = r.array::<32>(64)?;
        let agreed_at = r.u64(64)?;
        if best > attestations || agreed > 1 {
            return Err(Problem::Value {
                field: "validation",
                expected: "best <= attestations and agreed 0 or 1",
                got: agreed.max(best),
            });
        }
        Ok(Validation {
            attestations,
            best,
            agreed: (agreed == 1).then_some(closure),
            agreed_at,
        })
    })
}

pub fn decode_claim(key: &BoxKey, value: &[u8]) -> Result<Claim, DecodeError> {
    fixed(
        key,
        value,
        |k| matches!(k, BoxKey::Claim(..)),
        "a k box",
        24,
        |r| {
            Ok(Claim {
                amount: r.u64(24)?,
                hosts: r.u64(24)?,
                claimed_at: r.u64(24)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use dao_core::address::Address;

    fn g(att: u64, best: u64, agreed: u64) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(att.to_be_bytes());
        v.extend(best.to_be_bytes());
        v.extend(agreed.to_be_bytes());
        v.extend([7u8; 32]);
        v.extend(5u64.to_be_bytes());
        v
    }

    #[test]
    fn a_validation_box_says_whether_and_on_what_validators_agreed() {
        let k = BoxKey::Validation(3, 1);
        assert_eq!(
            decode_validation(&k, &g(2, 1, 0)).map(|v| v.agreed),
            Ok(None)
        );
        assert_eq!(
            decode_validation(&k, &g(2, 2, 1)).map(|v| v.agreed),
            Ok(Some([7; 32]))
        );
        assert!(
            decode_validation(&k, &g(1, 2, 0)).is_err(),
            "best > attestations"
        );
        assert!(
            decode_validation(&k, &g(2, 2, 2)).is_err(),
            "agreed is a flag"
        );
        assert!(decode_validation(&k, &g(2, 2, 1)[..63]).is_err(), "short");
        assert!(decode_validation(&BoxKey::Report(3, 1), &g(2, 2, 1)).is_err());
    }

    #[test]
    fn agreement_is_impossible_once_too_few_validators_are_left() {
        let v = Validation {
            attestations: 2,
            best: 1,
            agreed: None,
            agreed_at: 0,
        };
        assert!(!v.can_still_agree(2, 2), "two validators disagreed");
        assert!(
            v.can_still_agree(2, 3),
            "a third may still join one of them"
        );
        assert!(v.can_still_agree(1, 2), "one is enough");
    }

    #[test]
    fn a_failed_attestation_carries_no_closure() {
        let k = BoxKey::Attestation(1, 2, Address([9; 32]));
        let mut v = 2u64.to_be_bytes().to_vec();
        v.extend([0u8; 32]);
        v.extend(4u64.to_be_bytes());
        assert_eq!(
            decode_attestation(&k, &v).map(|a| a.outcome),
            Ok(Outcome::BuildFailed)
        );
        v[8] = 1;
        assert!(decode_attestation(&k, &v).is_err());
        v[8] = 0;
        v[7] = 9;
        assert!(decode_attestation(&k, &v).is_err(), "unknown outcome");
    }

    #[test]
    fn every_new_box_name_round_trips() {
        let a = Address([3; 32]);
        for k in [
            BoxKey::Validator(a),
            BoxKey::AttestPolicy(9),
            BoxKey::Attestation(9, 2, a),
            BoxKey::ClosureCount(9, 2, [5; 32]),
            BoxKey::Validation(9, 2),
            BoxKey::Claim(9, a),
        ] {
            assert_eq!(BoxKey::parse(&k.name()), Ok(k), "{k}");
        }
    }
}

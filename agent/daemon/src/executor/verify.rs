//! VerifyChange: the fetched commits are exactly the approved ones and their change hashes to
//! the approved diff hash; and the lineage rule: the host only ever moves forward along approved
//! changes from the commit it runs.

use dao_core::diff_hash::{diff_hash, DiffHash, DiffHashError};
use git2::{Oid, Repository};
use thiserror::Error;

/// A deploy proposal as approved on chain: the facts verification starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub proposal: u64,
    pub base: Oid,
    pub head: Oid,
    pub diff_hash: DiffHash,
}

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("proposal {proposal}: commit {commit} is not in the checkout (fetch it first)")]
    MissingCommit { proposal: u64, commit: Oid },
    #[error(
        "proposal {proposal}: the change {base}..{head} hashes to {actual}, \
         but {expected} was approved; refusing it"
    )]
    DiffHashMismatch {
        proposal: u64,
        base: Oid,
        head: Oid,
        expected: DiffHash,
        actual: DiffHash,
    },
    #[error("proposal {proposal}: cannot hash the change: {source}")]
    Hash {
        proposal: u64,
        #[source]
        source: DiffHashError,
    },
}

/// Verifies one approved change against the objects in `repo`.
pub fn verify_change(repo: &Repository, approved: &Approved) -> Result<(), VerifyError> {
    for commit in [approved.base, approved.head] {
        if repo.find_commit(commit).is_err() {
            return Err(VerifyError::MissingCommit {
                proposal: approved.proposal,
                commit,
            });
        }
    }
    let summary =
        diff_hash(repo, approved.base, approved.head).map_err(|source| VerifyError::Hash {
            proposal: approved.proposal,
            source,
        })?;
    if summary.diff_hash != approved.diff_hash {
        return Err(VerifyError::DiffHashMismatch {
            proposal: approved.proposal,
            base: approved.base,
            head: approved.head,
            expected: approved.diff_hash,
            actual: summary.diff_hash,
        });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineageError {
    #[error(
        "proposal {candidate} is older than proposal {last_applied}, which this host already \
         applied: no downgrade"
    )]
    Downgrade { candidate: u64, last_applied: u64 },
    #[error(
        "proposal {candidate} starts from {base}, which no chain of approved proposals reaches \
         from {running}, the commit this host runs"
    )]
    NotReachable {
        candidate: u64,
        base: Oid,
        running: Oid,
    },
}

/// What the chain says about where this host stands: input to the lineage rule.
pub struct Lineage {
    /// The commit the host runs: the head of the last proposal it applied, or the genesis.
    pub running: Oid,
    /// The last proposal the chain's reports show applied on this host.
    pub last_applied: Option<u64>,
    /// Approved deploy proposals targeting this host.
    pub approved: Vec<Approved>,
}

/// The approved proposals to apply, in order, to take the host from `running` (the commit it
/// runs; the genesis commit on a new host) through `candidate`.
///
/// `approved` are the approved deploy proposals that target this host, in any order, without
/// those this host refused (their content never verified); only those newer than
/// `last_applied` count. The candidate's base must be `running` or reachable from it through a
/// sequence of those proposals in increasing order, each starting where the one before ended:
/// then every change between the running tree and the candidate's head was approved and is
/// verified again. Otherwise the candidate is refused: applying it would run a tree that no
/// approved chain of changes produced.
pub fn plan_lineage<'a>(
    running: Oid,
    last_applied: Option<u64>,
    approved: &'a [Approved],
    candidate: &'a Approved,
) -> Result<Vec<&'a Approved>, LineageError> {
    if let Some(last) = last_applied {
        if candidate.proposal <= last {
            return Err(LineageError::Downgrade {
                candidate: candidate.proposal,
                last_applied: last,
            });
        }
    }
    let mut steps: Vec<&Approved> = approved
        .iter()
        .filter(|a| a.proposal < candidate.proposal && last_applied.is_none_or(|l| a.proposal > l))
        .collect();
    steps.sort_by_key(|a| a.proposal);
    // Every commit reachable from the running one, with the step that first reached it; steps
    // are taken in proposal order, so a path never goes back to an older proposal.
    let mut reached: std::collections::HashMap<Oid, Option<&Approved>> =
        std::collections::HashMap::from([(running, None)]);
    for step in steps {
        if step.head != step.base && reached.contains_key(&step.base) {
            reached.entry(step.head).or_insert(Some(step));
        }
    }
    if !reached.contains_key(&candidate.base) {
        return Err(LineageError::NotReachable {
            candidate: candidate.proposal,
            base: candidate.base,
            running,
        });
    }
    let mut path = vec![candidate];
    let mut at = candidate.base;
    while let Some(Some(step)) = reached.get(&at) {
        path.push(step);
        at = step.base;
    }
    path.reverse();
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    fn ap(proposal: u64, base: u8, head: u8) -> Approved {
        Approved {
            proposal,
            base: oid(base),
            head: oid(head),
            diff_hash: DiffHash([proposal as u8; 32]),
        }
    }

    fn ids(path: &[&Approved]) -> Vec<u64> {
        path.iter().map(|a| a.proposal).collect()
    }

    #[test]
    fn a_proposal_on_the_running_commit_applies_alone() {
        let c = ap(1, 0, 1);
        assert_eq!(ids(&plan_lineage(oid(0), None, &[], &c).unwrap()), [1]);
    }

    #[test]
    fn missed_approved_steps_are_applied_first_in_order() {
        let approved = [ap(3, 2, 3), ap(2, 1, 2)];
        let c = ap(5, 3, 4);
        assert_eq!(
            ids(&plan_lineage(oid(1), Some(1), &approved, &c).unwrap()),
            [2, 3, 5]
        );
    }

    #[test]
    fn an_older_proposal_never_replaces_a_newer_one() {
        let c = ap(4, 0, 9);
        let e = plan_lineage(oid(0), Some(7), &[], &c).unwrap_err();
        assert_eq!(
            e,
            LineageError::Downgrade {
                candidate: 4,
                last_applied: 7
            }
        );
        // The same proposal twice is a downgrade too: exactly once.
        assert!(matches!(
            plan_lineage(oid(0), Some(4), &[], &c),
            Err(LineageError::Downgrade { .. })
        ));
    }

    #[test]
    fn a_base_outside_the_approved_lineage_is_refused() {
        // The host runs 1; proposal 6 starts from 7, which nothing approved leads to.
        let approved = [ap(2, 1, 2)];
        let c = ap(6, 7, 8);
        assert_eq!(
            plan_lineage(oid(1), None, &approved, &c).unwrap_err(),
            LineageError::NotReachable {
                candidate: 6,
                base: oid(7),
                running: oid(1)
            }
        );
    }

    #[test]
    fn steps_at_or_below_the_last_applied_do_not_count() {
        // Proposal 2 (1→2) was already applied; the host then ran an operator rollback to 1.
        // Proposal 3 starts from 2: not reachable any more without re-applying 2.
        let approved = [ap(2, 1, 2)];
        let c = ap(3, 2, 3);
        assert!(matches!(
            plan_lineage(oid(1), Some(2), &approved, &c),
            Err(LineageError::NotReachable { .. })
        ));
    }

    #[test]
    fn newer_approved_proposals_are_not_pulled_in() {
        let approved = [ap(9, 1, 5)];
        let c = ap(3, 1, 2);
        assert_eq!(
            ids(&plan_lineage(oid(1), None, &approved, &c).unwrap()),
            [3]
        );
    }

    #[test]
    fn competing_branches_are_each_followed_along_their_own_steps() {
        // 2 and 3 both start at 1 (say 2 was refused elsewhere and 3 redoes it): a candidate on
        // either branch goes through that branch only.
        let approved = [ap(2, 1, 2), ap(3, 1, 3)];
        assert_eq!(
            ids(&plan_lineage(oid(1), None, &approved, &ap(4, 2, 4)).unwrap()),
            [2, 4]
        );
        assert_eq!(
            ids(&plan_lineage(oid(1), None, &approved, &ap(5, 3, 5)).unwrap()),
            [3, 5]
        );
        // A candidate again from the running commit needs no step at all.
        assert_eq!(
            ids(&plan_lineage(oid(1), None, &approved, &ap(6, 1, 6)).unwrap()),
            [6]
        );
    }

    #[test]
    fn a_path_never_goes_back_to_an_older_proposal() {
        // 3 (1→3) then 2 (3→4) would need proposal 2 after proposal 3: not a lineage.
        let approved = [ap(2, 3, 4), ap(3, 1, 3)];
        assert!(plan_lineage(oid(1), None, &approved, &ap(5, 4, 5)).is_err());
    }
}

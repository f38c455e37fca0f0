//! Kind 8, the contributor rebalance (docs/contract.md `propose_rebalance`, docs/contributors.md):
//! the call, the checks the app makes on the list (made here first so that a bad list is
//! explained before anything is signed), and the member weights a rebalance is judged against.
//! Kind 9, the point weights its tables are computed with, lives here too.

use crate::decode::{BoxKey, HistoryEntry, MAX_REBALANCE, PROPOSAL_HEADER};
use crate::errors::ChainError;
use crate::keys::Signer;
use crate::node::{snapshot_of, App};
use crate::txn::{box_cost, build_err, method, Confirmed};
use dao_core::address::Address;
use dao_core::contributors::PointWeights;
use dao_core::rules::MAX_TOTAL_WEIGHT;
use std::collections::BTreeMap;

const SIGNATURE: &str = "propose_rebalance(pay,byte[20],byte[32],(address,uint64)[],string)uint64";

/// Application calls a rebalance proposal of `members` needs in its group for the opcode budget
/// (700 per call, pooled): measured on the evaluator, one call holds a propose of at most 3
/// members (contracts/audit/test_attack_rebalance.py); three hold 8.
pub fn rebalance_calls(members: usize) -> usize {
    if members <= 3 {
        1
    } else {
        3
    }
}

/// Application calls the execute of a rebalance of `members` needs for its opcode budget: one
/// call holds two members' bookkeeping (own weight and the holder's power entry), and the
/// liveness check after the changes (docs/governance-rules.md, "Liveness") takes one more
/// (docs/contract.md, "Delegation"; contracts/audit/test_attack_rebalance.py). More calls may
/// carry the references (up to 5 per member); [`App::execute`] adds those.
pub fn rebalance_execute_calls(members: usize) -> usize {
    (members + 2) / 2
}

/// Bytes of a rebalance payload with `members` entries and a `url_len`-byte URL: commit, hash,
/// the point weights the app adds, two offsets, the array (count ++ 40 bytes per entry), the
/// string (length ++ bytes).
pub fn rebalance_payload_len(members: usize, url_len: usize) -> usize {
    80 + 2 + 40 * members + 2 + url_len
}

/// The ARC-4 `(address,uint64)[]` of the weights (encoded by algonaut_abi, `decode/arc4.rs`).
pub use crate::decode::encode_weights;

/// The list checks the app makes as encoding checks (`bad_members`) and the per-weight bound
/// (`total_weight_too_large`), with errors that say what to change.
pub fn check_weights(weights: &[(Address, u64)]) -> Result<(), ChainError> {
    if weights.is_empty() || weights.len() > MAX_REBALANCE {
        return Err(ChainError::Invalid(format!(
            "a rebalance lists 1 to {MAX_REBALANCE} members, not {}; split a larger table over \
             several proposals",
            weights.len()
        )));
    }
    for pair in weights.windows(2) {
        if pair[0].0 >= pair[1].0 {
            return Err(ChainError::Invalid(format!(
                "rebalance members must be strictly increasing by address bytes (sorted, no \
                 duplicates): {} comes before {}",
                pair[0].0, pair[1].0
            )));
        }
    }
    for (a, w) in weights {
        if *w == 0 || *w > MAX_TOTAL_WEIGHT {
            return Err(ChainError::Invalid(format!(
                "rebalance weight {w} for {a} is outside 1..={MAX_TOTAL_WEIGHT} (a rebalance \
                 never removes a member; use a membership proposal)"
            )));
        }
    }
    Ok(())
}

/// Weights the app would refuse (`bad_point_weights`), refused before anything is signed.
fn check_point_weights(w: &PointWeights) -> Result<(), ChainError> {
    match w.problem() {
        None => Ok(()),
        Some(problem) => Err(ChainError::Invalid(format!("point weights {w}: {problem}"))),
    }
}

fn point_weight_args(w: &PointWeights) -> [Vec<u8>; 3] {
    [w.code, w.comment, w.text].map(|v| v.to_be_bytes().to_vec())
}

impl App {
    /// `propose_rebalance`: kind 8, recording the commit the table was computed at and its hash;
    /// `weights` must be sorted by address bytes (see [`check_weights`]). Every listed member's
    /// `m` box is referenced (the app reads each current weight); past eight references they ride
    /// on extra read-only calls of the group.
    pub async fn propose_rebalance(
        &self,
        signer: &Signer,
        commit: [u8; 20],
        table_hash: [u8; 32],
        weights: &[(Address, u64)],
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        check_weights(weights)?;
        let args = vec![
            method(SIGNATURE),
            commit.to_vec(),
            table_hash.to_vec(),
            encode_weights(weights).map_err(build_err)?,
            App::url_arg(url)?,
        ];
        let next = self.global().await?.proposal_count + 1;
        let mut boxes = vec![BoxKey::Proposal(next), BoxKey::Member(signer.address())];
        boxes.extend(weights.iter().map(|(a, _)| BoxKey::Member(*a)));
        let cost = box_cost(
            9,
            PROPOSAL_HEADER + rebalance_payload_len(weights.len(), url.len()),
        );
        let c = self
            .call_method_budget(
                signer,
                args,
                &boxes,
                Some(cost),
                None,
                rebalance_calls(weights.len()),
            )
            .await?;
        let id = App::returned_id(&c)?;
        Ok((id, c))
    }

    /// The point weights in force: what a rebalance proposed now records and must be computed
    /// with.
    pub async fn point_weights(&self) -> Result<PointWeights, ChainError> {
        Ok(self.global().await?.point_weights)
    }

    /// `set_point_weights`: the creator, before seal.
    pub async fn set_point_weights(
        &self,
        signer: &Signer,
        weights: PointWeights,
    ) -> Result<Confirmed, ChainError> {
        check_point_weights(&weights)?;
        let mut args = vec![method("set_point_weights(uint64,uint64,uint64)void")];
        args.extend(point_weight_args(&weights));
        self.call_method(signer, args, &[], None, None).await
    }

    /// `propose_point_weights`: kind 9, sets the point weights when executed. Weights the app
    /// would refuse (`bad_point_weights`) are refused here first, with the reason.
    pub async fn propose_point_weights(
        &self,
        signer: &Signer,
        weights: PointWeights,
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        check_point_weights(&weights)?;
        let mut args = vec![method(
            "propose_point_weights(pay,uint64,uint64,uint64,string)uint64",
        )];
        args.extend(point_weight_args(&weights));
        args.push(App::url_arg(url)?);
        self.propose_with(signer, args, 24 + 2 + 2 + url.len(), false)
            .await
    }

    /// Every member's own weight at `member_seq`, members with weight 0 left out, sorted by
    /// address: what a rebalance proposed at that point was computed from; `None` when the
    /// app's boxes cannot tell ([`own_weights_at`]).
    pub async fn weights_at(
        &self,
        member_seq: u64,
    ) -> Result<Option<Vec<(Address, u64)>>, ChainError> {
        // The boxes are read one at a time at the latest round: a weight or delegation change
        // between two reads would mix two moments, so the reads count only when `member_seq`
        // did not move during them (a few tries, then "cannot tell").
        for _ in 0..3 {
            let before = self.global().await?.member_seq;
            let mut accounts = Vec::new();
            for k in self.box_keys().await? {
                if let BoxKey::Member(a) = k {
                    let own = self.member(&a).await?.map_or(0, |m| m.weight);
                    accounts.push((a, own, self.member_history(&a).await?));
                }
            }
            if self.global().await?.member_seq == before {
                return Ok(own_weights_at(&accounts, member_seq));
            }
        }
        Ok(None)
    }

    /// Every member's current weight (members with weight 0 left out), sorted by address.
    pub async fn weights_now(&self) -> Result<Vec<(Address, u64)>, ChainError> {
        let mut out = Vec::new();
        for k in self.box_keys().await? {
            if let BoxKey::Member(a) = k {
                if let Some(m) = self.member(&a).await? {
                    if m.weight > 0 {
                        out.push((a, m.weight));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Own weights at `member_seq` from each account's (own weight now, voting power history), when
/// the boxes determine them. The history holds voting power (docs/governance-rules.md,
/// "Delegation"); every step of `member_seq` writes either one entry (a weight change, to
/// whoever holds that weight) or two (a delegation change, to the two holders). So:
/// - no delegation change at or before `member_seq`: power was own weight, read the history;
/// - else, no weight change after it: own weights are still those of now;
/// - else the boxes cannot tell (`None`): a delegation was in force and a weight changed since.
pub fn own_weights_at(
    accounts: &[(Address, u64, Vec<HistoryEntry>)],
    member_seq: u64,
) -> Option<Vec<(Address, u64)>> {
    let mut entries_per_seq: BTreeMap<u64, u32> = BTreeMap::new();
    for (_, _, history) in accounts {
        for e in history {
            *entries_per_seq.entry(e.seq).or_default() += 1;
        }
    }
    let delegated_before = entries_per_seq.range(..=member_seq).any(|(_, n)| *n >= 2);
    let weight_changed_after = entries_per_seq
        .range(member_seq.saturating_add(1)..)
        .any(|(_, n)| *n == 1);
    let mut out: Vec<(Address, u64)> = if !delegated_before {
        accounts
            .iter()
            .map(|(a, _, history)| (*a, snapshot_of(history, member_seq).1))
            .collect()
    } else if !weight_changed_after {
        accounts.iter().map(|(a, own, _)| (*a, *own)).collect()
    } else {
        return None;
    };
    out.retain(|(_, w)| *w > 0);
    out.sort();
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_list_is_checked_as_the_app_checks_it() {
        let (a, b) = (Address([1; 32]), Address([2; 32]));
        assert!(check_weights(&[(a, 1), (b, MAX_TOTAL_WEIGHT)]).is_ok());
        for bad in [
            vec![],
            vec![(b, 5), (a, 5)],
            vec![(a, 5), (a, 6)],
            vec![(a, 0)],
            vec![(a, MAX_TOTAL_WEIGHT + 1)],
            (0..9u8).map(|i| (Address([i; 32]), 1)).collect(),
        ] {
            assert!(check_weights(&bad).is_err(), "{bad:?}");
        }
        let enc = encode_weights(&[(a, 7), (b, 9)]).unwrap();
        assert_eq!(enc.len(), 2 + 80);
        assert_eq!(&enc[..2], &[0, 2]);
        assert_eq!(&enc[34..42], &7u64.to_be_bytes());
        assert_eq!(rebalance_payload_len(2, 10), 80 + 2 + 80 + 2 + 10);
    }

    fn h(entries: &[(u64, u64)]) -> Vec<HistoryEntry> {
        entries
            .iter()
            .map(|&(seq, weight)| HistoryEntry { seq, weight })
            .collect()
    }

    #[test]
    fn own_weights_are_read_where_the_power_history_determines_them() {
        let (a, b, c) = (Address([1; 32]), Address([2; 32]), Address([3; 32]));
        // seq 1-3: a 50, b 30, c 20 set; seq 4: a delegates to b (two entries); seq 5: c's
        // weight becomes 40 (one entry); seq 6: a undelegates (two entries).
        let accounts = vec![
            (a, 50, h(&[(1, 50), (4, 0), (6, 50)])),
            (b, 30, h(&[(2, 30), (4, 80), (6, 30)])),
            (c, 40, h(&[(3, 20), (5, 40)])),
        ];
        // Before any delegation: the history is own weight.
        assert_eq!(
            own_weights_at(&accounts, 3),
            Some(vec![(a, 50), (b, 30), (c, 20)])
        );
        // At 4 the history says a 0, b 80: a weight changed after it, so nothing can be told.
        assert_eq!(own_weights_at(&accounts, 4), None);
        // At 5 and 6, only a delegation change follows: own weights are those of now.
        assert_eq!(
            own_weights_at(&accounts, 5),
            Some(vec![(a, 50), (b, 30), (c, 40)])
        );
        assert_eq!(own_weights_at(&accounts, 6), own_weights_at(&accounts, 5));
    }
}

//! Delegation on the client's side (docs/contract.md, "Delegation"): `delegate` and
//! `undelegate` with their box references and box payment, and a reader of an address's
//! delegate and voting power.

use crate::decode::{decode_delegate, BoxKey};
use crate::errors::ChainError;
use crate::keys::Signer;
use crate::node::App;
use crate::txn::{box_cost, method, Confirmed};
use dao_core::address::Address;
use std::collections::BTreeMap;

/// The `e` box: a 33-byte key (`e` ++ address) holding the 32-byte delegate.
pub const DELEGATE_BOX_COST: u64 = box_cost(33, 32);
/// One new `w` history entry: a 41-byte key (`w` ++ address ++ index) holding 16 bytes.
pub const HISTORY_BOX_COST: u64 = box_cost(41, 16);

/// What `undelegate` pays: two history entries, less the `e` box it deletes.
pub const UNDELEGATE_COST: u64 = 2 * HISTORY_BOX_COST - DELEGATE_BOX_COST;

/// What the chain says about one address's delegation now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delegation {
    /// Its own weight (the `m` box; 0 for an address that never was a member or was removed).
    pub weight: u64,
    /// Whom it delegates its own weight to, if anyone.
    pub delegate: Option<Address>,
    /// Its voting power now: the last history entry's value (0 without history).
    pub power: u64,
    /// How many history entries it has (the index its next power change is written at).
    pub history_len: u64,
}

impl App {
    /// Whom `a` delegates its own weight to now (its `e` box), if anyone.
    pub async fn delegate_of(&self, a: &Address) -> Result<Option<Address>, ChainError> {
        let k = BoxKey::Delegate(*a);
        match self.read_box(&k).await? {
            Some(v) => Ok(Some(decode_delegate(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// `a`'s own weight, delegate and voting power now.
    pub async fn delegation(&self, a: &Address) -> Result<Delegation, ChainError> {
        let delegate = self.delegate_of(a).await?;
        let (weight, history_len) = self
            .member(a)
            .await?
            .map_or((0, 0), |m| (m.weight, m.history_len));
        let power = match history_len.checked_sub(1) {
            Some(last) => self.history(a, last).await?.weight,
            None => 0,
        };
        Ok(Delegation {
            weight,
            delegate,
            power,
            history_len,
        })
    }

    /// The power boxes of `a` (docs/contract.md, "Delegation"): its `m` box (which counts its
    /// history), its last history entry (the power now) and the next one, which this change
    /// writes. `added` counts entries earlier changes of the same call append for `a`, and is
    /// counted up by this one.
    pub(crate) async fn power_boxes(
        &self,
        a: &Address,
        added: &mut BTreeMap<Address, u64>,
    ) -> Result<Vec<BoxKey>, ChainError> {
        let earlier = added.entry(*a).or_insert(0);
        let n = self.member(a).await?.map_or(0, |m| m.history_len) + *earlier;
        *earlier += 1;
        let mut boxes = vec![BoxKey::Member(*a)];
        if let Some(last) = n.checked_sub(1) {
            boxes.push(BoxKey::History(*a, last));
        }
        boxes.push(BoxKey::History(*a, n));
        Ok(boxes)
    }

    /// `delegate`: the signer hands its own weight to `to` (or moves it there from its current
    /// delegate). Pays the `e` box when the signer delegates to no one yet, and the two history
    /// entries written.
    pub async fn delegate(&self, signer: &Signer, to: &Address) -> Result<Confirmed, ChainError> {
        let me = signer.address();
        let current = self.delegate_of(&me).await?;
        let holder = current.unwrap_or(me);
        let mut added = BTreeMap::new();
        let mut boxes = vec![
            BoxKey::Member(me),
            BoxKey::Delegate(me),
            BoxKey::Member(*to),
        ];
        boxes.extend(self.power_boxes(&holder, &mut added).await?);
        boxes.extend(self.power_boxes(to, &mut added).await?);
        dedup(&mut boxes);
        let mut cost = 2 * HISTORY_BOX_COST;
        if current.is_none() {
            cost += DELEGATE_BOX_COST;
        }
        let args = vec![method("delegate(pay,address)void"), to.0.to_vec()];
        self.call_method(signer, args, &boxes, Some(cost), None)
            .await
    }

    /// `undelegate`: the signer takes its own weight back from its delegate. Pays the two
    /// history entries written less the `e` box it deletes: the app charges the increase of its
    /// minimum balance ([`UNDELEGATE_COST`]).
    pub async fn undelegate(&self, signer: &Signer) -> Result<Confirmed, ChainError> {
        let me = signer.address();
        let mut added = BTreeMap::new();
        let mut boxes = vec![BoxKey::Member(me), BoxKey::Delegate(me)];
        if let Some(d) = self.delegate_of(&me).await? {
            boxes.extend(self.power_boxes(&d, &mut added).await?);
        }
        boxes.extend(self.power_boxes(&me, &mut added).await?);
        dedup(&mut boxes);
        let args = vec![method("undelegate(pay)void")];
        self.call_method(signer, args, &boxes, Some(UNDELEGATE_COST), None)
            .await
    }
}

/// Removes repeated references, keeping the first of each (their order does not matter to the
/// app, only that each is in the group).
fn dedup(boxes: &mut Vec<BoxKey>) {
    let mut seen = std::collections::BTreeSet::new();
    boxes.retain(|k| seen.insert(*k));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delegation_events_decode_and_refuse_bad_lengths() {
        use crate::events::{decode_log, selector, AppEvent, Log, LogError};
        let a = |n: u8| Address([n; 32]);
        let mut d = selector("DelegateChanged(address,address,address,uint64,uint64)").to_vec();
        d.extend([1; 32]);
        d.extend([0; 32]);
        d.extend([2; 32]);
        d.extend(10u64.to_be_bytes());
        d.extend(7u64.to_be_bytes());
        assert_eq!(
            decode_log(&d).unwrap(),
            Log::Event(AppEvent::DelegateChanged {
                delegator: a(1),
                from: a(0),
                to: a(2),
                weight: 10,
                seq: 7
            })
        );
        d.pop();
        assert!(matches!(decode_log(&d), Err(LogError::Length { .. })));
        let mut v = selector("VotingPowerChanged(address,uint64,uint64)").to_vec();
        v.extend([2; 32]);
        v.extend(15u64.to_be_bytes());
        v.extend(7u64.to_be_bytes());
        assert_eq!(
            decode_log(&v).unwrap(),
            Log::Event(AppEvent::VotingPowerChanged {
                account: a(2),
                power: 15,
                seq: 7
            })
        );
        v.push(0);
        assert!(matches!(decode_log(&v), Err(LogError::Length { .. })));
    }

    #[test]
    fn the_box_costs_are_the_ones_of_the_box_sizes() {
        assert_eq!(DELEGATE_BOX_COST, box_cost(33, 32));
        assert_eq!(HISTORY_BOX_COST, box_cost(41, 16));
        // docs/contract.md, "Paying for boxes": delegate 79,100, undelegate 22,100.
        assert_eq!(DELEGATE_BOX_COST + 2 * HISTORY_BOX_COST, 79_100);
        assert_eq!(UNDELEGATE_COST, 22_100);
    }
}

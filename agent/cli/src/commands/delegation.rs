//! `delegate ADDRESS` and `undelegate` (docs/governance.md, "Delegating your vote"): the app's
//! checks made first, in its order and with its codes, so that a call that cannot succeed is
//! explained before anything is signed; a warning when the delegate's power would exceed the
//! vote cap, whose excess no vote counts.

use super::chain::{app, block_on, signer};
use super::preflight::{self, can_spend, MIN_FEE};
use super::print_json;
use crate::cli::{DelegateArgs, UndelegateArgs};
use crate::out::outln;
use anyhow::bail;
use dao_chain::delegation::{Delegation, DELEGATE_BOX_COST, HISTORY_BOX_COST, UNDELEGATE_COST};
use dao_chain::ChainError;
use dao_core::address::Address;
use dao_core::rules::cap_weight;
use serde_json::json;
use std::process::ExitCode;

/// What to do about each refusal of `delegate` / `undelegate` (and of a vote whose weight is
/// delegated), by the app's code.
pub fn advice(code: &str) -> Option<&'static str> {
    Some(match code {
        "not_member" => "only a member can delegate; see `dao-agentctl members`",
        "self_delegation" => {
            "to vote with your own weight again, run `dao-agentctl undelegate` instead"
        }
        "delegate_not_member" => {
            "delegate to an address that holds weight now; see `dao-agentctl members`"
        }
        "already_delegated" => "nothing would change",
        "not_delegating" => "there is nothing to take back",
        "weight_delegated" => {
            "your delegate casts your weight on proposals created while you delegate; \
             `dao-agentctl undelegate` gives it back to you for proposals created afterwards"
        }
        _ => return None,
    })
}

fn refused(code: &str, why: String) -> anyhow::Error {
    let what = advice(code).unwrap_or("");
    anyhow::anyhow!("{why} ({code}): {what}")
}

/// A chain error with the app's code explained.
fn explained(e: ChainError) -> anyhow::Error {
    match e.app_code().and_then(advice) {
        Some(what) => anyhow::anyhow!("{e}: {what}"),
        None => e.into(),
    }
}

/// The app's `delegate` checks, in its order (docs/contract.md, "Delegation").
pub fn check_delegate(
    me: &Address,
    mine: &Delegation,
    to: &Address,
    theirs: &Delegation,
) -> anyhow::Result<()> {
    if mine.weight == 0 {
        return Err(refused("not_member", format!("{me} holds no weight now")));
    }
    if me == to {
        return Err(refused(
            "self_delegation",
            format!("{me} cannot delegate to itself"),
        ));
    }
    if theirs.weight == 0 {
        return Err(refused(
            "delegate_not_member",
            format!("{to} holds no weight now"),
        ));
    }
    if mine.delegate == Some(*to) {
        return Err(refused(
            "already_delegated",
            format!("{me} already delegates to {to}"),
        ));
    }
    Ok(())
}

/// The warning for a delegate whose power would pass the vote cap, if it would.
pub fn cap_warning(to: &Address, power: u64, cap: Option<u64>) -> Option<String> {
    let cap = cap?;
    (power > cap).then(|| {
        format!(
            "{to}'s voting power would be {power}, above the vote cap of {cap}: its votes count \
             {cap}, and the excess {} is not counted; delegating to a member with less power \
             keeps your weight counted",
            power - cap
        )
    })
}

pub fn delegate(a: &DelegateArgs) -> anyhow::Result<ExitCode> {
    let to = preflight::address("ADDRESS", &a.address)?;
    let signer = signer(&a.key)?;
    let app = app(&a.chain)?;
    let me = signer.address();
    let (mine, power, warning, c) = block_on(async {
        let g = app.global().await?;
        let mine = app.delegation(&me).await?;
        let theirs = app.delegation(&to).await?;
        check_delegate(&me, &mine, &to, &theirs)?;
        let power = theirs.power + mine.weight;
        let warning = cap_warning(&to, power, cap_weight(g.total_weight, g.rules.vote_cap_ppm));
        if let Some(w) = &warning {
            eprintln!("dao-agentctl: warning: {w}");
        }
        let mut cost = 2 * HISTORY_BOX_COST + 2 * MIN_FEE;
        if mine.delegate.is_none() {
            cost += DELEGATE_BOX_COST;
        }
        can_spend(&app, &me, cost, "the delegation boxes and fees").await?;
        let c = app.delegate(&signer, &to).await.map_err(explained)?;
        anyhow::Ok((mine, power, warning, c))
    })??;
    if a.json {
        print_json(&json!({
            "action": "delegated", "delegator": me.to_string(), "to": to.to_string(),
            "from": mine.delegate.map(|d| d.to_string()), "weight": mine.weight,
            "delegate_power": power, "warning": warning, "txid": c.txid, "round": c.round,
        }))?;
    } else {
        let from = mine
            .delegate
            .map(|d| format!(" (was with {d})"))
            .unwrap_or_default();
        outln!(
            "{me} delegates its weight {} to {to}{from}; {to}'s voting power is now {power} \
             (round {}, tx {})",
            mine.weight,
            c.round,
            c.txid
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn undelegate(a: &UndelegateArgs) -> anyhow::Result<ExitCode> {
    let signer = signer(&a.key)?;
    let app = app(&a.chain)?;
    let me = signer.address();
    let (mine, from, c) = block_on(async {
        let mine = app.delegation(&me).await?;
        let Some(from) = mine.delegate else {
            bail!(refused(
                "not_delegating",
                format!("{me} delegates to no one")
            ));
        };
        let cost = UNDELEGATE_COST + 2 * MIN_FEE;
        can_spend(&app, &me, cost, "the history boxes and fees").await?;
        let c = app.undelegate(&signer).await.map_err(explained)?;
        anyhow::Ok((mine, from, c))
    })??;
    if a.json {
        print_json(&json!({
            "action": "undelegated", "delegator": me.to_string(), "from": from.to_string(),
            "weight": mine.weight, "power": mine.weight, "txid": c.txid, "round": c.round,
        }))?;
    } else {
        outln!(
            "{me} takes its weight {} back from {from}: it votes with it on proposals created \
             from now on (round {}, tx {})",
            mine.weight,
            c.round,
            c.txid
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(weight: u64, delegate: Option<Address>) -> Delegation {
        Delegation {
            weight,
            delegate,
            power: weight,
            history_len: 1,
        }
    }

    fn code(r: anyhow::Result<()>) -> String {
        let e = r.unwrap_err().to_string();
        e.split('(')
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn delegate_checks_come_in_the_apps_order_with_its_codes() {
        let (me, to, other) = (Address([1; 32]), Address([2; 32]), Address([3; 32]));
        // No weight and self: not_member first.
        assert_eq!(
            code(check_delegate(&me, &d(0, None), &me, &d(0, None))),
            "not_member"
        );
        assert_eq!(
            code(check_delegate(&me, &d(5, None), &me, &d(5, None))),
            "self_delegation"
        );
        assert_eq!(
            code(check_delegate(&me, &d(5, None), &to, &d(0, None))),
            "delegate_not_member"
        );
        assert_eq!(
            code(check_delegate(&me, &d(5, Some(to)), &to, &d(3, None))),
            "already_delegated"
        );
        check_delegate(&me, &d(5, Some(other)), &to, &d(3, None)).unwrap();
        check_delegate(&me, &d(5, None), &to, &d(3, None)).unwrap();
        // Every message says what to do.
        let e = check_delegate(&me, &d(5, None), &me, &d(5, None)).unwrap_err();
        assert!(e.to_string().contains("dao-agentctl undelegate"), "{e}");
    }

    #[test]
    fn the_cap_warning_names_the_excess() {
        let to = Address([2; 32]);
        assert_eq!(cap_warning(&to, 70, None), None);
        assert_eq!(cap_warning(&to, 50, Some(50)), None);
        let w = cap_warning(&to, 70, Some(50)).unwrap();
        assert!(w.contains("excess 20 is not counted"), "{w}");
    }
}

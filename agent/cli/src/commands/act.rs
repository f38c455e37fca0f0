//! vote, finalize, execute, cancel, refund-bond: one signed call each.

use super::chain::{app, block_on, signer};
use super::preflight::{can_spend, MIN_FEE};
use super::print_json;
use crate::cli::{ChainArgs, Choice, KeyArgs};
use crate::out::outln;
use anyhow::bail;
use dao_chain::decode::VoteChoice;
use dao_chain::txn::box_cost;
use dao_chain::{App, Signer};
use std::process::ExitCode;

/// A vote that cannot count is refused before it is signed: the voter must have held voting
/// power when the proposal was created (its member_seq snapshot), not voted yet, and be able to
/// pay the vote box and fees. Returns the voting power at the snapshot.
async fn vote_preflight(app: &App, signer: &Signer, id: u64) -> anyhow::Result<u64> {
    let me = signer.address();
    let p = app.proposal(id).await?;
    let (_, weight) = app.snapshot(&me, p.header.member_seq).await?;
    if weight == 0 {
        if let Some(d) = app.delegation(&me).await?.delegate {
            let what = super::delegation::advice("weight_delegated").unwrap_or_default();
            bail!(
                "{me} had no voting power when proposal {id} was created: its weight is delegated (to {d} now), and the delegate casts it (weight_delegated): {what}"
            );
        }
        bail!(
            "{me} is not a member who can vote on proposal {id}: it held no weight when the proposal was created"
        );
    }
    if app.vote_record(id, &me).await?.is_some() {
        bail!("{me} has already voted on proposal {id}: a vote cannot be changed");
    }
    let cost = box_cost(1 + 8 + 32, 24) + 2 * MIN_FEE;
    can_spend(app, &me, cost, "the vote box and fees").await?;
    Ok(weight)
}

pub enum Action {
    Vote(Choice),
    Finalize,
    Execute,
    Cancel,
    RefundBond,
}

pub fn run(
    action: Action,
    id: u64,
    chain: &ChainArgs,
    key: &KeyArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let signer = signer(key)?;
    let app = app(chain)?;
    let mut weight = None;
    let (what, confirmed) = block_on(async {
        let r = match &action {
            Action::Vote(c) => {
                let choice = match c {
                    Choice::For => VoteChoice::For,
                    Choice::Against => VoteChoice::Against,
                    Choice::Abstain => VoteChoice::Abstain,
                };
                weight = Some(vote_preflight(&app, &signer, id).await?);
                let what = match c {
                    Choice::For => "voted for",
                    Choice::Against => "voted against",
                    Choice::Abstain => "abstained on",
                };
                (what, app.vote(&signer, id, choice).await?)
            }
            Action::Finalize => ("finalized", app.finalize(&signer, id).await?),
            Action::Execute => ("executed", app.execute(&signer, id).await?),
            Action::Cancel => ("canceled", app.cancel(&signer, id).await?),
            Action::RefundBond => {
                super::bond_view::refundable(&app, id).await?;
                let fee = dao_chain::bond::REFUND_FEE;
                can_spend(&app, &signer.address(), fee, "the refund's fees").await?;
                ("refunded the bond of", app.refund_bond(&signer, id).await?)
            }
        };
        anyhow::Ok(r)
    })??;
    let stored = match action {
        Action::Finalize => match confirmed.returned.as_deref() {
            Some([3]) => Some("queued"),
            Some([2]) => Some("defeated"),
            _ => None,
        },
        _ => None,
    };
    let refunded = match action {
        Action::RefundBond => confirmed
            .returned
            .as_deref()
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map(u64::from_be_bytes),
        _ => None,
    };
    if json {
        print_json(&serde_json::json!({
            "id": id, "action": what, "txid": confirmed.txid, "round": confirmed.round, "state": stored,
            "weight": weight, "refunded": refunded,
        }))?;
    } else if let Some(amount) = refunded {
        outln!(
            "{what} proposal {id}: {amount} µAlgo to its proposer (round {}, tx {})",
            confirmed.round,
            confirmed.txid
        );
    } else if let Some(w) = weight {
        outln!(
            "{what} proposal {id} with weight {w} (round {}, tx {})",
            confirmed.round,
            confirmed.txid
        );
    } else {
        let outcome = stored.map(|s| format!(": {s}")).unwrap_or_default();
        outln!(
            "proposal {id} {what}{outcome} (round {}, tx {})",
            confirmed.round,
            confirmed.txid
        );
    }
    Ok(ExitCode::SUCCESS)
}

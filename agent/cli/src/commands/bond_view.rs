//! A proposal's bond as `show`, `proposals` and `refund-bond` see it: the `d` box read from the
//! chain and what the rules engine says about it (docs/governance-rules.md, "Proposal bond").

use super::show_text::{rfc3339, when};
use anyhow::bail;
use dao_chain::decode::ProposalHeader;
use dao_chain::App;
use dao_core::rules::{bond_outcome, BondOutcome, BondStatus};
use serde_json::{json, Value};

/// What the rules say about this bond now: `not_final`, `refund` or `keep`.
fn outcome(h: &ProposalHeader, canceled_before_start: bool, status: BondStatus) -> BondOutcome {
    bond_outcome(h.stored, canceled_before_start, status)
}

/// Proposal `id`'s bond as JSON (null when it was made without one).
pub async fn bond_json(app: &App, id: u64, h: &ProposalHeader) -> anyhow::Result<Value> {
    let Some(b) = app.bond(id).await? else {
        return Ok(Value::Null);
    };
    let rule = match outcome(h, b.bond.canceled_before_start, b.bond.status) {
        BondOutcome::NotFinal => "not_final",
        BondOutcome::Refund => "refund",
        BondOutcome::Keep => "keep",
    };
    Ok(json!({
        "amount": b.bond.amount,
        "status": b.bond.status.as_str(),
        "settled_at": (b.settled_at > 0).then_some(b.settled_at),
        "settled_at_time": (b.settled_at > 0).then(|| rfc3339(b.settled_at)),
        "canceled_before_start": b.bond.canceled_before_start,
        "rule": rule,
        "refundable_now": b.bond.status == BondStatus::Held && rule == "refund",
    }))
}

/// One line for people: the amount and where the bond is.
pub fn bond_text(b: &Value, id: &Value, now: u64) -> Option<String> {
    let amount = b["amount"].as_u64()?;
    let at = b["settled_at"]
        .as_u64()
        .map(|t| when(t, now))
        .unwrap_or_default();
    Some(match (b["status"].as_str(), b["rule"].as_str()) {
        (Some("refunded"), _) => format!("{amount} µAlgo, refunded to the proposer {at}"),
        (Some("kept"), _) => format!(
            "{amount} µAlgo, kept by the treasury {at} (failed its quorum, or canceled after voting started)"
        ),
        (_, Some("refund")) => {
            format!("{amount} µAlgo, held: refundable now (dao-agentctl refund-bond {id})")
        }
        _ => format!("{amount} µAlgo, held until the outcome is final"),
    })
}

/// Why a refund would be refused, before anything is signed; Ok(amount) when it would not.
pub async fn refundable(app: &App, id: u64) -> anyhow::Result<u64> {
    let p = app.proposal(id).await?;
    let Some(b) = app.bond(id).await? else {
        bail!(
            "proposal {id} was made without a bond (rule proposal_bond was 0): nothing to refund"
        );
    };
    match (
        b.bond.status,
        outcome(&p.header, b.bond.canceled_before_start, b.bond.status),
    ) {
        (BondStatus::Refunded, _) => {
            bail!(
                "the bond of proposal {id} was refunded already, at {}",
                rfc3339(b.settled_at)
            )
        }
        (BondStatus::Kept, _) | (_, BondOutcome::Keep) => bail!(
            "the treasury keeps the bond of proposal {id} (rule proposal_bond): it failed its \
             quorum (out of reach when it was finalized), or was canceled after voting started"
        ),
        (_, BondOutcome::NotFinal) => bail!(
            "proposal {id} is still voting: its bond is refundable once it is finalized \
             (dao-agentctl finalize {id}) and passed or was defeated with its quorum within reach"
        ),
        (_, BondOutcome::Refund) => Ok(b.bond.amount),
    }
}

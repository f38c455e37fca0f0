//! vote, finalize, execute, cancel: one signed call each.

use super::chain::{app, block_on, signer};
use super::print_json;
use crate::cli::{ChainArgs, Choice, KeyArgs};
use crate::out::outln;
use dao_chain::decode::VoteChoice;
use std::process::ExitCode;

pub enum Action {
    Vote(Choice),
    Finalize,
    Execute,
    Cancel,
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
    let (what, confirmed) = block_on(async {
        let r = match &action {
            Action::Vote(c) => {
                let choice = match c {
                    Choice::For => VoteChoice::For,
                    Choice::Against => VoteChoice::Against,
                    Choice::Abstain => VoteChoice::Abstain,
                };
                ("voted", app.vote(&signer, id, choice).await?)
            }
            Action::Finalize => ("finalized", app.finalize(&signer, id).await?),
            Action::Execute => ("executed", app.execute(&signer, id).await?),
            Action::Cancel => ("canceled", app.cancel(&signer, id).await?),
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
    if json {
        print_json(&serde_json::json!({
            "id": id, "action": what, "txid": confirmed.txid, "round": confirmed.round, "state": stored,
        }))?;
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

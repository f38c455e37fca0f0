//! rules: the rules in force, the timelock floor, and whether the DAO is live — the check the app
//! makes before any rule or membership change (docs/governance-rules.md, "Liveness").

use super::chain::{app, block_on};
use super::print_json;
use crate::cli::ListArgs;
use crate::out::outln;
use dao_core::rules::{
    cap_weight, check_live, guaranteed_for, guaranteed_heaviest, quorum_votes, Rules,
    TIMELOCK_FLOOR,
};
use serde_json::{json, Value};
use std::process::ExitCode;

/// What the liveness check says about these rules with `total` weight over `members` members.
pub fn liveness(rules: &Rules, total: u64, members: u64) -> Value {
    let verdict = check_live(rules, total, members);
    json!({
        "live": verdict.is_ok(),
        "refusal": verdict.as_ref().err().map(|e| json!({"code": e.code(), "message": e.to_string()})),
        "all_for_vote_casts_at_least": guaranteed_for(rules, total, members),
        "quorum_votes": quorum_votes(total, rules.quorum_ppm),
        "cap_weight": cap_weight(total, rules.vote_cap_ppm),
        "heaviest_member_holds_at_least": guaranteed_heaviest(total, members),
        "min_proposer_weight": rules.min_proposer_weight.max(1),
    })
}

pub fn run(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let app = app(&a.chain)?;
    let g = block_on(async { app.global().await })??;
    let live = liveness(&g.rules, g.total_weight, g.members);
    if a.json {
        print_json(&json!({
            "rules": g.rules,
            "timelock_floor": TIMELOCK_FLOOR,
            "total_weight": g.total_weight,
            "members": g.members,
            "liveness": live,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&g.rules, g.total_weight, g.members, &live);
    Ok(ExitCode::SUCCESS)
}

fn print_text(r: &Rules, total: u64, members: u64, live: &Value) {
    let rows: [(&str, u64, &str); 12] = [
        ("voting_delay", r.voting_delay, "s"),
        ("voting_period", r.voting_period, "s"),
        ("support_ppm", r.support_ppm, "ppm"),
        ("quorum_ppm", r.quorum_ppm, "ppm of the total weight"),
        ("emergency_period", r.emergency_period, "s"),
        ("emergency_support_ppm", r.emergency_support_ppm, "ppm"),
        ("timelock", r.timelock, "s"),
        ("grace_period", r.grace_period, "s"),
        ("min_proposer_weight", r.min_proposer_weight, "weight"),
        (
            "vote_cap_ppm",
            r.vote_cap_ppm,
            "ppm of the total weight (0 = no cap)",
        ),
        (
            "proposal_bond",
            r.proposal_bond,
            "microAlgos paid with each proposal (0 = no bond)",
        ),
        (
            "heartbeat_interval",
            r.heartbeat_interval,
            "s: the least time between two heartbeats of one host",
        ),
    ];
    for (name, value, unit) in rows {
        outln!("{name:<22} {value:>14}  {unit}");
    }
    outln!(
        "timelock floor         {TIMELOCK_FLOOR:>14}  s: no rules may set a shorter timelock, so \
         nothing takes effect in the block that queued it"
    );
    outln!("members {members}, total weight {total}");
    let n = |k: &str| live[k].as_u64().unwrap_or(0);
    if live["live"].as_bool() == Some(true) {
        outln!(
            "live: the all-for vote casts at least {} of the {} the quorum needs (at least 1), and \
             some member holds at least {} of the {} a proposer needs",
            n("all_for_vote_casts_at_least"),
            n("quorum_votes"),
            n("heaviest_member_holds_at_least"),
            n("min_proposer_weight"),
        );
    } else {
        outln!(
            "NOT LIVE ({}): {}",
            live["refusal"]["code"].as_str().unwrap_or(""),
            live["refusal"]["message"].as_str().unwrap_or("")
        );
    }
    outln!(
        "the app refuses a seal, a parameters proposal's execution or a membership change that \
         would leave the DAO not live (docs/governance-rules.md, \"Liveness\")"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_freeze_of_issue_21_is_named() {
        let r = Rules {
            vote_cap_ppm: 100_000,
            ..Rules::default()
        };
        let v = liveness(&r, 3, 3);
        assert_eq!(v["live"], false);
        assert_eq!(v["refusal"]["code"], "would_freeze_vote");
        assert_eq!(v["cap_weight"], 0);
        let v = liveness(&Rules::default(), 3, 3);
        assert_eq!(v["live"], true);
        assert_eq!(v["all_for_vote_casts_at_least"], 3);
        assert_eq!(v["refusal"], Value::Null);
    }
}

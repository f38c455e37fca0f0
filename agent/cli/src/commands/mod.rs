mod act;
mod bond_view;
mod chain;
pub mod contributors;
pub mod delegation;
mod docs;
mod fleet_view;
mod form;
mod form_input;
mod hash;
mod inspect;
mod local;
pub mod points;
pub mod preflight;
mod preview;
mod propose;
mod rebalance_chain;
mod rules_view;
mod show_text;
mod submit;
mod validate_config;
pub mod validators;

use crate::cli::Command;
use crate::out::outln;
use std::process::ExitCode;

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Hash {
            repo,
            base,
            head,
            json,
        } => hash::run(&repo, &base, &head, json),
        Command::ValidateConfig { file, json } => validate_config::run(&file, json),
        Command::Validators(a) => validators::validators(&a),
        Command::Attestations(a) => validators::attestations(&a),
        Command::ClaimReward(c) => validators::claim_reward(c.id, &c.chain, &c.key, c.json),
        Command::ProposeValidator(a) => validators::propose_validator(&a),
        Command::ProposeAttestationPolicy(a) => validators::propose_policy(&a),
        Command::ProposeRebalance(a) => rebalance_chain::propose(&a),
        Command::ProposePointWeights(a) => points::propose(&a),
        Command::ProposeMembership(a) => propose::membership(&a),
        Command::ProposeHost(a) => propose::host(&a),
        Command::ProposeParameters(a) => propose::parameters(&a),
        Command::ProposeTreasury(a) => propose::treasury(&a),
        Command::Deposit(a) => propose::deposit(&a),
        Command::Preview(a) => preview::run(&a),
        Command::Fleet(a) => fleet_view::fleet(&a),
        Command::Audit(a) => fleet_view::run_audit(&a),
        Command::Contributors(a) => contributors::run_contributors(&a),
        Command::Rebalance(a) => contributors::run_rebalance(&a),
        Command::Form(a) => form::run(&a),
        Command::Submit(a) => submit::run(&a),
        Command::Vote {
            id,
            choice,
            chain,
            key,
            json,
        } => act::run(act::Action::Vote(choice), id, &chain, &key, json),
        Command::Delegate(a) => delegation::delegate(&a),
        Command::Undelegate(a) => delegation::undelegate(&a),
        Command::Finalize(c) => act::run(act::Action::Finalize, c.id, &c.chain, &c.key, c.json),
        Command::Execute(c) => act::run(act::Action::Execute, c.id, &c.chain, &c.key, c.json),
        Command::Cancel(c) => act::run(act::Action::Cancel, c.id, &c.chain, &c.key, c.json),
        Command::RefundBond(c) => act::run(act::Action::RefundBond, c.id, &c.chain, &c.key, c.json),
        Command::Proposals { chain, json } => inspect::proposals(&chain, json),
        Command::Show {
            id,
            chain,
            json,
            rebalance,
        } => inspect::show(id, &chain, json, &rebalance),
        Command::Rules(a) => rules_view::run(&a),
        Command::Members { chain, json } => inspect::members(&chain, json),
        Command::Hosts { chain, json } => inspect::hosts(&chain, json),
        Command::Status(l) => local::status(&l),
        Command::Deployments(l) => local::deployments(&l),
        Command::Rollback { to, reason, local } => local::rollback(to, &reason, &local),
        Command::Pause { reason, local } => local::pause(&reason, &local),
        Command::Resume(l) => local::resume(&l),
        Command::Skip {
            proposal,
            reason,
            local,
        } => local::skip(proposal, &reason, &local),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(&out),
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

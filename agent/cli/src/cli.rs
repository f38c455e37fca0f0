//! The command line, as clap definitions: shared by the program, its completions and man pages.

pub use crate::args::{ChainArgs, KeyArgs, ProposalOpts};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Governance-gated GitOps for NixOS fleets: propose, vote, verify and operate.
#[derive(Debug, Parser)]
#[command(name = "dao-agentctl", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the canonical diff hash of the change from BASE to HEAD (docs/diff-hash.md).
    ///
    /// This is the hash a proposal carries and every host verifies before it builds anything.
    Hash {
        /// The git repository (a work tree or a bare repository).
        #[arg(long, default_value = ".", value_name = "PATH")]
        repo: PathBuf,
        /// The commit the change starts from (any revision naming a commit).
        base: String,
        /// The commit the change ends at.
        head: String,
        /// Print JSON: the hash, both commit ids, changed paths and bytes hashed.
        #[arg(long)]
        json: bool,
    },
    /// Points per contributor from the repository's history, and the addresses each bound in
    /// daoContributors.txt (docs/contributors.md).
    Contributors(crate::args::ContributorsArgs),
    /// Compute the weight to mint so members' shares move to their contributors' points; prints
    /// the table and its hash and sends nothing (docs/contributors.md).
    Rebalance(crate::args::RebalanceArgs),
    /// List the reproducible-build validators, the attestation quorum and the reward.
    Validators(ListArgs),
    /// Show who attested what for each host of a deploy proposal, and whether they agree.
    Attestations(AttestationsArgs),
    /// Claim the reward for your attestations on a proposal that matched the validators'
    /// agreement on hosts that applied it (once per proposal).
    ClaimReward(ProposalCall),
    /// Propose adding or removing a validator.
    ProposeValidator(ProposeValidatorArgs),
    /// Propose the attestation quorum and the reward per matching attestation.
    ProposeAttestationPolicy(ProposePolicyArgs),
    /// Propose a contributor rebalance (kind 8): the table `rebalance` prints, computed from the
    /// members' weights on chain, with its commit and hash (docs/contributors.md).
    ProposeRebalance(ProposeRebalanceArgs),
    /// Propose adding a member, changing a member's weight, or removing one.
    ProposeMembership(ProposeMembershipArgs),
    /// Propose registering a host, rotating its agent's key, or retiring it.
    ProposeHost(ProposeHostArgs),
    /// Propose new governance rules (--set RULE=VALUE); shows each change beside the rule in force.
    ProposeParameters(ProposeParametersArgs),
    /// Propose a payment from the treasury (the app's account).
    ProposeTreasury(ProposeTreasuryArgs),
    /// Pay Algo into the treasury (the app's account): it funds validator rewards and treasury
    /// proposals.
    Deposit(DepositArgs),
    /// Propose what a line of each class is worth in contributor tables (kind 9); classes left
    /// out keep the value in force.
    ProposePointWeights(ProposePointWeightsArgs),
    /// Check an agent configuration file and report every problem with its key path.
    ///
    /// Exits 0 when the file is valid, 1 when it is not. The NixOS module runs this at build time.
    ValidateConfig {
        /// The TOML configuration file.
        file: PathBuf,
        /// Print JSON: validity, the problems, and the configuration with its defaults.
        #[arg(long)]
        json: bool,
    },
    /// Deploy the governance app, add members and hosts, seal it, and write the repo-spec file.
    ///
    /// The repo-spec file (commit it to the governed repository) points at the app; the chain
    /// stays the source of truth.
    Form(FormArgs),
    /// Propose deploying the change BASE..HEAD of a local checkout; prints the proposal's id.
    Submit(SubmitArgs),
    /// Vote for, against or abstain on a proposal.
    Vote {
        /// The proposal id.
        id: u64,
        /// How to vote.
        #[arg(value_enum)]
        choice: Choice,
        #[command(flatten)]
        chain: ChainArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delegate all of your own weight to another member: it votes with it on proposals created
    /// while you delegate (re-run with another address to move it; `undelegate` to take it back).
    Delegate(DelegateArgs),
    /// Take your own weight back from your delegate, for proposals created from now on.
    Undelegate(UndelegateArgs),
    /// End a proposal's vote once its outcome is decided (anyone may).
    Finalize(ProposalCall),
    /// Carry out a queued membership, hosts, parameters or treasury proposal (anyone may).
    Execute(ProposalCall),
    /// Cancel your own proposal while it is still being voted on.
    Cancel(ProposalCall),
    /// Pay a proposal's bond back to its proposer (anyone may): once it passed, was defeated
    /// with its quorum within reach, or was canceled before voting started.
    RefundBond(ProposalCall),
    /// List proposals: id, kind, state, tally, end of voting, targets.
    Proposals {
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Build each targeted host's system at a deploy proposal's base and head and show what
    /// changes: packages, systemd units, whether a reboot is needed (needs Nix).
    Preview(PreviewArgs),
    /// Every host as the chain tells it: its last report, deploys waiting for it, its success
    /// over its last deploys.
    Fleet(FleetArgs),
    /// The lineage each host ran from the genesis commit, with every inconsistency named
    /// (exits 1 when there is one).
    Audit(AuditArgs),
    /// Show one proposal: everything stored, the tally re-computed locally, each host's report.
    Show {
        /// The proposal id.
        id: u64,
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rebalance: ShowRebalanceArgs,
    },
    /// Show the rules in force, the timelock floor, and whether the DAO is live: whether some
    /// vote of its members can still pass every kind of proposal (the app refuses changes that
    /// would end that).
    Rules(ListArgs),
    /// List members and their weights.
    Members {
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List hosts and their agents' addresses.
    Hosts {
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show what this host's agent is doing: paused or not, the deployment in progress, the last
    /// outcome, an operator rollback, the generation the host runs.
    Status(LocalArgs),
    /// List this host's deployments from the agent's journal, newest first.
    Deployments(LocalArgs),
    /// Go back to an earlier system generation now, pause automatic deployment, and amend the
    /// host's on-chain report of the undone deployment to "rolled back" (root or operators).
    Rollback {
        /// The profile generation to go back to; by default the one the host ran before its
        /// current deployment.
        #[arg(long = "to", value_name = "GENERATION")]
        to: Option<u64>,
        /// Why (recorded, logged and hashed into the on-chain report), at most 512 bytes.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Stop applying approved proposals on this host until `resume` (root or operators).
    Pause {
        /// Why, at most 512 bytes.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Apply approved proposals again after `pause` or `rollback` (root or operators).
    Resume(LocalArgs),
    /// Give up a proposal that is waiting on this host (say, its commit can never be fetched):
    /// it is reported failed (skipped) on chain and the queue moves on (root or operators).
    /// Refused once the proposal has started changing the host.
    Skip {
        /// The proposal to give up on this host.
        proposal: u64,
        /// Why (recorded and logged), at most 512 bytes.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (dao-agentctl.1 and one per command) into a directory.
    Man {
        /// Where to write them.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Talking to this host's agent over D-Bus.
#[derive(Debug, clap::Args)]
pub struct LocalArgs {
    /// The bus the agent is on: a D-Bus address; the system bus by default (which also honours
    /// DBUS_SYSTEM_BUS_ADDRESS).
    #[arg(long, value_name = "ADDRESS")]
    pub bus: Option<String>,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `delegate ADDRESS`.
#[derive(Debug, clap::Args)]
pub struct DelegateArgs {
    /// The member who will cast your weight.
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `undelegate`.
#[derive(Debug, clap::Args)]
pub struct UndelegateArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A signed call about one proposal (finalize, execute, cancel).
#[derive(Debug, clap::Args)]
pub struct ProposalCall {
    /// The proposal id.
    pub id: u64,
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Choice {
    For,
    Against,
    Abstain,
}

#[derive(Debug, clap::Args)]
pub struct FormArgs {
    /// URL of the governed repository, pinned in the app for ever.
    #[arg(long, value_name = "URL")]
    pub repository: String,
    /// The genesis commit (any revision naming a commit in --repo): the root every approved
    /// change must descend from.
    #[arg(long, value_name = "REV")]
    pub genesis: String,
    /// The local checkout of the governed repository.
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// A member and its weight, ADDRESS=WEIGHT (repeat for each member).
    #[arg(long = "member", value_name = "ADDRESS=WEIGHT", required = true)]
    pub members: Vec<String>,
    /// A host and its agent's address, ID=ADDRESS (repeat for each host).
    #[arg(long = "host", value_name = "ID=ADDRESS")]
    pub hosts: Vec<String>,
    /// The rules as a TOML file with all ten rules (docs/governance-rules.md); defaults otherwise.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The network the app lives on: devnet, localnet, testnet, betanet or mainnet.
    #[arg(long, default_value = "localnet")]
    pub network: String,
    /// algod's REST endpoint.
    #[arg(long, value_name = "URL")]
    pub algod: String,
    /// A file holding algod's API token.
    #[arg(long, value_name = "FILE")]
    pub algod_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// A reproducible-build validator's address (repeat for each validator).
    #[arg(long = "validator", value_name = "ADDRESS")]
    pub validators: Vec<String>,
    /// Validators that must agree on a host's closure before it may switch (0: off).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub attest_quorum: u64,
    /// µAlgo the treasury pays per attestation that matched the agreement.
    #[arg(long, value_name = "MICROALGOS", default_value_t = 0)]
    pub attest_reward: u64,
    /// Contributor point weights, e.g. code=1,comment=0.5,text=0.5 (the app's defaults when
    /// left out); after seal only a point-weights proposal changes them.
    #[arg(long, value_name = "CLASS=POINTS,...")]
    pub point_weights: Option<dao_core::contributors::PointWeights>,
    /// Where to write the repo-spec file.
    #[arg(long, value_name = "FILE", default_value = "dao-spec.toml")]
    pub out: PathBuf,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The commit the change starts from.
    #[arg(long, value_name = "REV")]
    pub base: String,
    /// The commit the change ends at.
    #[arg(long, value_name = "REV")]
    pub head: String,
    /// The local checkout holding both commits.
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// Target these host ids (repeat), or use --all-hosts.
    #[arg(long = "target", value_name = "HOST_ID", conflicts_with = "all_hosts")]
    pub targets: Vec<u64>,
    /// Target every host.
    #[arg(long)]
    pub all_hosts: bool,
    /// An emergency proposal: shorter vote, higher support.
    #[arg(long)]
    pub emergency: bool,
    /// Where members read about the change (a pull request, say), at most 256 bytes.
    #[arg(long, value_name = "URL")]
    pub description: String,
    /// Build each named host's system at base and head first and show what changes (needs
    /// Nix; name the hosts with --host).
    #[arg(long, requires = "hosts")]
    pub preview: bool,
    /// A targeted host and its configuration, for --preview: ID=NAME (nixosConfigurations.NAME)
    /// or ID=ATTRIBUTE (repeat).
    #[arg(long = "host", value_name = "ID=NAME")]
    pub hosts: Vec<String>,
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Run on a host: also compare what it runs (--current-system) with its last report.
    #[arg(long, value_name = "HOST_ID")]
    pub host: Option<u64>,
    /// The link to the running system that --host reads.
    #[arg(long, value_name = "PATH", default_value = "/run/current-system")]
    pub current_system: std::path::PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct AttestationsArgs {
    /// The deploy proposal.
    pub id: u64,
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProposeValidatorArgs {
    /// Add this address to the validator set when the proposal is executed.
    #[arg(
        long,
        value_name = "ADDRESS",
        conflicts_with = "remove",
        required_unless_present = "remove"
    )]
    pub add: Option<String>,
    /// Remove this address from the validator set when the proposal is executed.
    #[arg(long, value_name = "ADDRESS")]
    pub remove: Option<String>,
    #[command(flatten)]
    pub common: ProposalOpts,
}

#[derive(Debug, clap::Args)]
pub struct ProposePolicyArgs {
    /// Validators that must agree on a host's closure before it may switch (0 turns it off).
    #[arg(long, value_name = "K")]
    pub quorum: u64,
    /// µAlgo paid from the treasury per attestation that matched the agreement.
    #[arg(long, value_name = "MICROALGOS")]
    pub reward: u64,
    #[command(flatten)]
    pub common: ProposalOpts,
}

/// propose-rebalance, and what `show` needs to recompute a rebalance proposal's table.
#[derive(Debug, clap::Args)]
pub struct ProposeRebalanceArgs {
    /// The governed repository (a work tree or a bare repository).
    #[arg(long, value_name = "PATH")]
    pub repo: PathBuf,
    /// The commit whose history sets the targets; recorded in the proposal.
    #[arg(long, value_name = "COMMIT")]
    pub at: String,
    /// How much to mint: `minimal` or an exact number of weight units (refused if someone
    /// would lose weight).
    #[arg(long, default_value = "minimal", value_name = "minimal|UNITS")]
    pub mint: dao_core::contributors::rebalance::Mint,
    #[command(flatten)]
    pub rules: crate::args::RulesArgs,
    #[command(flatten)]
    pub common: ProposalOpts,
}

#[derive(Debug, clap::Args)]
pub struct ProposeMembershipArgs {
    /// The member's address.
    #[arg(long, value_name = "ADDRESS")]
    pub member: String,
    /// The weight it should hold (adds the member if it holds none).
    #[arg(
        long,
        value_name = "WEIGHT",
        required_unless_present = "remove",
        conflicts_with = "remove"
    )]
    pub weight: Option<u64>,
    /// Remove the member (weight 0).
    #[arg(long)]
    pub remove: bool,
    #[command(flatten)]
    pub common: ProposalOpts,
}

#[derive(Debug, clap::Args)]
pub struct ProposeHostArgs {
    /// The host's id (from 1).
    #[arg(long, value_name = "HOST_ID")]
    pub id: u64,
    /// The address its agent reports with: registers the host, or rotates its agent's key.
    #[arg(
        long,
        value_name = "ADDRESS",
        required_unless_present = "retire",
        conflicts_with = "retire"
    )]
    pub agent: Option<String>,
    /// Retire the host (its agent becomes the zero address and can no longer report).
    #[arg(long)]
    pub retire: bool,
    #[command(flatten)]
    pub common: ProposalOpts,
}

#[derive(Debug, clap::Args)]
pub struct ProposeParametersArgs {
    /// A rule and its new value, e.g. timelock=86400 (repeatable; durations in seconds, shares
    /// in parts per million). Rules not named keep their value.
    #[arg(long, value_name = "RULE=VALUE")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub common: ProposalOpts,
}

#[derive(Debug, clap::Args)]
pub struct ProposeTreasuryArgs {
    /// Who receives the payment.
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    /// How much: µAlgo (2500000) or Algo with a suffix (2.5algo).
    #[arg(long, value_name = "AMOUNT", value_parser = crate::args::parse_amount)]
    pub amount: u64,
    #[command(flatten)]
    pub common: ProposalOpts,
}

#[derive(Debug, clap::Args)]
pub struct DepositArgs {
    /// How much: µAlgo (2500000) or Algo with a suffix (2.5algo).
    #[arg(long, value_name = "AMOUNT", value_parser = crate::args::parse_amount)]
    pub amount: u64,
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProposePointWeightsArgs {
    /// Points per line of code (whole or half, at most 1000).
    #[arg(long, value_name = "POINTS", value_parser = crate::args::parse_points)]
    pub code: Option<u64>,
    /// Points per comment line.
    #[arg(long, value_name = "POINTS", value_parser = crate::args::parse_points)]
    pub comment: Option<u64>,
    /// Points per line of text (markdown, plain text, documentation formats).
    #[arg(long, value_name = "POINTS", value_parser = crate::args::parse_points)]
    pub text: Option<u64>,
    #[command(flatten)]
    pub common: ProposalOpts,
}

#[derive(Debug, clap::Args)]
pub struct ShowRebalanceArgs {
    /// For a rebalance proposal: the governed repository, to recompute the table at the
    /// recorded commit from the weights at the proposal's creation and compare.
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    #[command(flatten)]
    pub rules: crate::args::RulesArgs,
}

#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The deploy proposal.
    pub id: u64,
    /// A clone of the governed repository holding the proposal's commits.
    #[arg(long, default_value = ".", value_name = "PATH")]
    pub repo: PathBuf,
    /// A targeted host and its configuration: ID=NAME (nixosConfigurations.NAME), or
    /// ID=ATTRIBUTE for another flake output (repeat for each host to preview).
    #[arg(long = "host", value_name = "ID=NAME")]
    pub hosts: Vec<String>,
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// How many of each host's last reported deploys the success rate counts.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub last: usize,
    /// Print again at every new block (with --json, one JSON document a line) until
    /// interrupted.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
#[path = "cli_help_tests.rs"]
mod help_tests;

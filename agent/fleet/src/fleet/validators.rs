//! The fleet's validators: the treasury their rewards come from, their agents, and the chain
//! commands about them (`validators`, `attestations`, `claim-reward`).

use super::ctl::ctl_run;
use super::{CtlRun, Fleet};
use crate::story::short;
use crate::validator::ValidatorSettings;
use anyhow::{bail, Context, Result};
use dao_chain::Signer;
use dao_core::address::Address;
use std::time::{Duration, Instant};

/// How long a validator's agent may take to be ready (preflight against the devnet).
const VALIDATOR_READY: Duration = Duration::from_secs(60);

impl Fleet {
    /// alice pays `amount` µAlgo into the app's account, the treasury: rewards are paid from
    /// there, and never from the part that keeps the account's minimum balance.
    pub(super) fn fund_treasury(&self, amount: u64) -> Result<()> {
        let signer = Signer::from_file(&self.root.join("keys/alice.key"))
            .context("alice's key, to fund the treasury")?;
        let treasury = self.app.address();
        let txid = self.chain(self.app.node.pay(&signer, &treasury, amount))?;
        let (balance, min) = self.chain(self.app.node.balance(&treasury))?;
        self.story.ok(&format!(
            "treasury: alice pays {amount} µAlgo into the app's account {} (tx {}): it holds \
             {balance} µAlgo, {} of them above its minimum balance and so available for rewards",
            short(&treasury.to_string()),
            short(&txid),
            balance.saturating_sub(min)
        ));
        Ok(())
    }

    /// Writes a validator's configuration, checks it with `dao-agentctl validate-config` (shown
    /// for the first one), starts `dao-agent --role validator` and waits until it is ready.
    pub fn start_validator(&mut self, name: &str) -> Result<()> {
        let t = Instant::now();
        let i = self
            .validators
            .iter()
            .position(|v| v.name == name)
            .with_context(|| format!("no validator {name}"))?;
        if self.validators[i].started() {
            bail!("validator {name} runs already");
        }
        let first = !self.validators.iter().any(|v| v.started());
        let hosts: Vec<(u64, String)> = self.hosts.iter().map(|h| (h.id, h.name.clone())).collect();
        let v = &self.validators[i];
        v.write_config(&ValidatorSettings {
            algod_url: &self.devnet.url,
            token_file: &self.devnet.token_file,
            app_id: self.app.app_id,
            remote: &self.repo.url,
            hosts: &hosts,
        })?;
        let cfg = v.config_path();
        let r = ctl_run(
            &self.bins.agentctl,
            &self.repo.work,
            &["validate-config".into(), cfg.display().to_string()],
        )?;
        if !r.success {
            bail!(
                "the configuration of validator {name} is not valid: {}{}",
                r.stdout,
                r.stderr
            );
        }
        if first {
            self.story
                .cmd(&format!("dao-agentctl validate-config {}", self.rel(&cfg)));
            self.story.output(&r.stdout);
        }
        let agent = self.bins.agent.clone();
        let v = &mut self.validators[i];
        v.start_agent(&agent)?;
        v.wait_ready(VALIDATOR_READY)?;
        let (address, pid, store) = (v.address.clone(), v.agent_pid().unwrap_or(0), v.store());
        let names: Vec<&str> = hosts.iter().map(|(_, n)| n.as_str()).collect();
        self.story.ok(&format!(
            "validator {name} ({}) running: dao-agent --role validator (pid {pid}), building \
             every proposal for {} in its own chroot store {} [{:.1} s]",
            short(&address),
            names.join(" and "),
            self.rel(&store),
            t.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// Whether every started validator still runs (an error names how one ended).
    pub fn check_validators(&mut self) -> Result<()> {
        for v in &mut self.validators {
            v.check_agent()?;
        }
        Ok(())
    }

    /// Validators' and members' addresses in a command's output, named: `vera (ABCDEF…WXYZ)`.
    pub fn name_addresses(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let named = self
            .validators
            .iter()
            .map(|v| (&v.name, &v.address))
            .chain(self.members.iter().map(|m| (&m.name, &m.address)));
        for (name, address) in named {
            out = out.replace(address.as_str(), &format!("{name} ({})", short(address)));
        }
        out
    }

    /// `dao-agentctl validators`, shown with its output.
    pub fn show_validators(&self) -> Result<CtlRun> {
        let r = self.ctl_ok(&self.chain_args(vec!["validators".into()], None))?;
        self.story.output(&self.name_addresses(&r.stdout));
        Ok(r)
    }

    /// `dao-agentctl attestations ID`, shown with its output; returns its `--json` form.
    pub fn attestations(&self, id: u64) -> Result<serde_json::Value> {
        let r = self.ctl_ok(&self.chain_args(vec!["attestations".into(), id.to_string()], None))?;
        self.story.output(&self.name_addresses(&r.stdout));
        let args = self.chain_args(
            vec!["attestations".into(), id.to_string(), "--json".into()],
            None,
        );
        let r = self.ctl_quiet(&args)?;
        if !r.success {
            bail!(
                "`dao-agentctl attestations {id} --json` failed: {}",
                r.stderr.trim()
            );
        }
        r.json()
    }

    /// `dao-agentctl claim-reward ID --json` as a validator, shown; its result, failed or not.
    pub fn claim_reward(&self, id: u64, validator: &str) -> Result<CtlRun> {
        let key = self.validator(validator)?.key.clone();
        let args = vec!["claim-reward".into(), id.to_string(), "--json".into()];
        self.ctl(&self.chain_args(args, Some(&key)))
    }

    /// An account's balance, µAlgo.
    pub fn balance(&self, address: &str) -> Result<u64> {
        let a: Address = address
            .parse()
            .map_err(|e| anyhow::anyhow!("{address} is not an address: {e}"))?;
        Ok(self.chain(self.app.node.balance(&a))?.0)
    }
}

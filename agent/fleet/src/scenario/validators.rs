//! The validators in the scenario: a host that waits for the attestation quorum (the second
//! validator is held back until the hosts say they wait), `dao-agentctl attestations`, the
//! rewards claimed from the treasury, and the tally the summary shows.

use super::{Scenario, ATTEST_REWARD, REPORT_TIMEOUT};
use crate::fleet::CtlRun;
use crate::host::HostState;
use crate::interrupt;
use anyhow::{bail, Context, Result};
use dao_chain::decode::ReportStatus;
use dao_chain::events::AppEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A host's word while the scenario held a validator back.
#[derive(Debug, Clone)]
pub struct Held {
    /// Its status's state line: `awaiting attestations: proposal 1: …`.
    pub state: String,
    /// Its profile and running system at that moment.
    pub host: HostState,
}

/// One validator's claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub run: CtlRun,
    /// µAlgo the app paid, and for which hosts (from `claim-reward --json`).
    pub amount: u64,
    pub hosts: Vec<u64>,
    /// The validator's balance before and after, µAlgo.
    pub before: u64,
    pub after: u64,
}

/// The rewards of one proposal.
#[derive(Debug, Clone)]
pub struct Rewards {
    /// Validator name → its claim.
    pub claims: BTreeMap<String, Claimed>,
    /// The first validator claiming again.
    pub again: CtlRun,
    /// The treasury's balance before and after the claims, µAlgo.
    pub treasury_before: u64,
    pub treasury_after: u64,
}

/// What the validators did over the whole scenario, from the chain and the hosts' journals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// (proposal, host) → attestations on chain (Attested events).
    pub attestations: BTreeMap<(u64, u64), usize>,
    /// (proposal, host) pairs the validators agreed on (Agreed events).
    pub agreed: BTreeSet<(u64, u64)>,
    /// (proposal, host) pairs whose host waited for the quorum (an `await_attestations` step
    /// started in its journal).
    pub waited: BTreeSet<(u64, u64)>,
    /// Reports `not_reproducible` on chain.
    pub not_reproducible: usize,
    /// µAlgo paid as rewards (RewardClaimed events).
    pub rewards: u64,
}

/// `web 2 built, agreed` for each host of `attestations --json`.
pub fn attestation_lines(v: &serde_json::Value, names: &BTreeMap<u64, String>) -> Vec<String> {
    let mut out = Vec::new();
    for h in v["hosts"].as_array().into_iter().flatten() {
        let id = h["host_id"].as_u64().unwrap_or(0);
        let name = names.get(&id).cloned().unwrap_or_else(|| id.to_string());
        let list = h["attested"].as_array().map_or(&[][..], Vec::as_slice);
        let built = list.iter().filter(|x| x["outcome"] == "built").count();
        let agreed = if h["agreed_closure"].is_string() {
            "agreed"
        } else {
            "not agreed"
        };
        out.push(format!("{name} {built} built, {agreed}"));
    }
    out
}

impl Scenario {
    fn host_names(&self) -> BTreeMap<u64, String> {
        self.fleet
            .hosts
            .iter()
            .map(|h| (h.id, h.name.clone()))
            .collect()
    }

    /// With validators not yet started: waits until every host of `targets` says (its status,
    /// over its bus) that it built proposal `id` and awaits attestations, then starts them.
    /// Nothing when every validator runs already.
    pub(super) fn hold_quorum(&mut self, id: u64, targets: &[u64]) -> Result<BTreeMap<u64, Held>> {
        let held_back: Vec<String> = self
            .fleet
            .validators
            .iter()
            .filter(|v| !v.started())
            .map(|v| v.name.clone())
            .collect();
        if held_back.is_empty() {
            return Ok(BTreeMap::new());
        }
        let running: Vec<String> = self
            .fleet
            .validators
            .iter()
            .filter(|v| v.started())
            .map(|v| v.name.clone())
            .collect();
        self.fleet.story.say(&format!(
            "only {} runs so far, and a host switches only to a closure 2 validators agreed \
             on: the hosts build proposal {id} and wait; {} starts once they say so",
            running.join(", "),
            held_back.join(", ")
        ));
        let start = Instant::now();
        let mut held: BTreeMap<u64, Held> = BTreeMap::new();
        while held.len() < targets.len() {
            interrupt::check()?;
            for h in &mut self.fleet.hosts {
                h.check_agent()?;
            }
            self.fleet.check_validators()?;
            for &hid in targets {
                if held.contains_key(&hid) {
                    continue;
                }
                let host = self
                    .fleet
                    .hosts
                    .iter()
                    .find(|h| h.id == hid)
                    .with_context(|| format!("no host {hid}"))?;
                if let Some(s) = host
                    .journal(id)?
                    .and_then(|j| j["outcome"]["status"].as_str().map(str::to_owned))
                {
                    bail!(
                        "{}: proposal {id} ended {s} before {} attested: the host did not wait \
                         for the attestation quorum",
                        host.name,
                        held_back.join(", ")
                    );
                }
                let v = self.fleet.status_quiet(host)?;
                if v["awaiting_attestations"]["proposal"].as_u64() == Some(id) {
                    let state = v["state"].as_str().unwrap_or("").to_owned();
                    held.insert(
                        hid,
                        Held {
                            state,
                            host: host.state()?,
                        },
                    );
                }
            }
            if held.len() == targets.len() {
                break;
            }
            if start.elapsed() > REPORT_TIMEOUT {
                bail!(
                    "proposal {id}: no host status said \"awaiting attestations\" within {} s \
                     (hosts {:?} did); their logs are in {}/hosts/*/var/log/dao-agent.log (run \
                     with --keep to look)",
                    REPORT_TIMEOUT.as_secs(),
                    held.keys().collect::<Vec<_>>(),
                    self.fleet.root.display()
                );
            }
            let shown: Vec<String> = self
                .fleet
                .hosts
                .iter()
                .filter(|h| targets.contains(&h.id))
                .map(|h| format!("{} {}", h.name, self.fleet.host_step(h, id)))
                .collect();
            self.fleet.story.progress(
                &format!("proposal {id}: {}", shown.join(" · ")),
                &format!("{:.1} s", start.elapsed().as_secs_f64()),
            );
            interrupt::sleep(Duration::from_millis(200))?;
        }
        if let Some(first) = self.fleet.hosts.iter().find(|h| targets.contains(&h.id)) {
            let r = self.fleet.local(first, &["status"], false)?;
            self.fleet.story.output(&r.stdout);
        }
        let names = self.host_names();
        let got: Vec<String> = held
            .iter()
            .map(|(hid, h)| {
                let name = names.get(hid).cloned().unwrap_or_default();
                let what = if h.state.starts_with("awaiting attestations:") {
                    "awaiting attestations"
                } else {
                    h.state.as_str()
                };
                let generation = h.host.generation.map_or("none".into(), |g| g.to_string());
                format!("{name} {what} on generation {generation}")
            })
            .collect();
        self.fleet.story.ok(&format!(
            "{} — built, not switched; now {} starts",
            got.join("; "),
            held_back.join(", ")
        ));
        let expected: Vec<String> = held
            .keys()
            .map(|hid| {
                let name = names.get(hid).cloned().unwrap_or_default();
                format!("{name} awaiting attestations on generation 1")
            })
            .collect();
        self.check(
            &format!("proposal {id}: hosts await the quorum"),
            &expected.join("; "),
            &got.join("; "),
        );
        for name in held_back {
            self.fleet.start_validator(&name)?;
        }
        Ok(held)
    }

    /// `dao-agentctl attestations ID`, and a check that every host (all are targeted) has
    /// `built` attestations, agreed (`agreed`) or not.
    pub fn show_attestations(
        &mut self,
        id: u64,
        built: usize,
        agreed: bool,
    ) -> Result<serde_json::Value> {
        let v = self.fleet.attestations(id)?;
        let n = built;
        let names = self.host_names();
        let expected: Vec<String> = names
            .values()
            .map(|name| {
                format!(
                    "{name} {n} built, {}",
                    if agreed { "agreed" } else { "not agreed" }
                )
            })
            .collect();
        let got = attestation_lines(&v, &names);
        self.check(
            &format!("attestations on proposal {id}"),
            &expected.join("; "),
            &got.join("; "),
        );
        Ok(v)
    }

    /// Each validator claims its reward for proposal `id` (applied on every host it targets);
    /// the first one then claims again and is refused.
    pub fn claim_rewards(&mut self, id: u64) -> Result<Rewards> {
        self.fleet.story.say(&format!(
            "proposal {id} was applied on every host, as both validators attested: each claims \
             its reward from the treasury"
        ));
        let treasury = self.fleet.app.address().to_string();
        let treasury_before = self.fleet.balance(&treasury)?;
        let names: Vec<(String, String)> = self
            .fleet
            .validators
            .iter()
            .map(|v| (v.name.clone(), v.address.clone()))
            .collect();
        let mut claims = BTreeMap::new();
        for (name, address) in &names {
            let before = self.fleet.balance(address)?;
            let run = self.fleet.claim_reward(id, name)?;
            if !run.success {
                bail!(
                    "validator {name} could not claim its reward for proposal {id}: {}",
                    run.stderr.trim()
                );
            }
            let v = run.json()?;
            // One line, not the pretty JSON: the narration shows what was paid for which hosts.
            self.fleet.story.output(&serde_json::to_string(&v)?);
            let amount = v["amount"]
                .as_u64()
                .context("claim-reward printed no amount")?;
            let hosts: Vec<u64> = v["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_u64)
                .collect();
            let after = self.fleet.balance(address)?;
            self.fleet.story.ok(&format!(
                "{name}: paid {amount} µAlgo ({} host(s) × {ATTEST_REWARD}); its balance {before} \
                 → {after} µAlgo ({:+}, net of the fees and the claim record's deposit)",
                hosts.len(),
                i128::from(after) - i128::from(before)
            ));
            claims.insert(
                name.clone(),
                Claimed {
                    run,
                    amount,
                    hosts,
                    before,
                    after,
                },
            );
        }
        let first = names.first().map(|(n, _)| n.clone()).unwrap_or_default();
        let again = self.fleet.claim_reward(id, &first)?;
        self.fleet.story.output(&again.stderr);
        if again.success {
            self.fleet
                .story
                .bad(&format!("{first}'s second claim was paid"));
        } else {
            self.fleet.story.ok(&format!(
                "{first}'s second claim is refused: a reward is paid once per proposal"
            ));
        }
        let treasury_after = self.fleet.balance(&treasury)?;
        self.fleet.story.ok(&format!(
            "treasury: {treasury_before} → {treasury_after} µAlgo"
        ));
        let targets = self.fleet.hosts.len() as u64;
        let expected: Vec<String> = names
            .iter()
            .map(|(n, _)| format!("{n} paid {} µAlgo, balance up", ATTEST_REWARD * targets))
            .chain(["second claim refused".to_owned()])
            .collect();
        let got: Vec<String> = claims
            .iter()
            .map(|(n, c)| {
                format!(
                    "{n} paid {} µAlgo, balance {}",
                    c.amount,
                    if c.after > c.before { "up" } else { "not up" }
                )
            })
            .chain([if again.success {
                "second claim paid".to_owned()
            } else {
                "second claim refused".to_owned()
            }])
            .collect();
        self.check(
            &format!("rewards for proposal {id}"),
            &expected.join("; "),
            &got.join("; "),
        );
        Ok(Rewards {
            claims,
            again,
            treasury_before,
            treasury_after,
        })
    }

    /// Counts what the validators did, from the app's events and the hosts' journals, checks
    /// the attestations per (proposal, host) — both validators on every host of proposals 1, 2
    /// and 4, agreed except on 4; none on the tampered 3, which does not verify — and keeps the
    /// tally for the summary.
    pub fn validator_tally(&mut self) -> Result<Tally> {
        let mut t = Tally::default();
        for (_, e) in self.fleet.app_events()? {
            match e {
                AppEvent::Attested { id, host_id, .. } => {
                    *t.attestations.entry((id, host_id)).or_insert(0) += 1;
                }
                AppEvent::Agreed { id, host_id, .. } => {
                    t.agreed.insert((id, host_id));
                }
                AppEvent::ExecutionReported {
                    status: ReportStatus::NotReproducible,
                    ..
                } => {
                    t.not_reproducible += 1;
                }
                AppEvent::RewardClaimed { amount, .. } => t.rewards += amount,
                _ => {}
            }
        }
        let count = self.fleet.chain(self.fleet.app.global())?.proposal_count;
        for h in &self.fleet.hosts {
            for id in 1..=count {
                let waited = h.journal(id)?.is_some_and(|j| {
                    j["steps"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|s| s["step"] == "await_attestations" && s["state"] == "started")
                });
                if waited {
                    t.waited.insert((id, h.id));
                }
            }
        }
        let got: Vec<String> = t
            .attestations
            .iter()
            .map(|((id, host), n)| {
                let agreed = if t.agreed.contains(&(*id, *host)) {
                    "agreed"
                } else {
                    "not agreed"
                };
                format!("{id}/{host} {n} {agreed}")
            })
            .collect();
        self.check(
            "Attested events (proposal/host)",
            "1/1 2 agreed, 1/2 2 agreed, 2/1 2 agreed, 4/1 2 not agreed, 4/2 2 not agreed",
            &got.join(", "),
        );
        self.tally = Some(t.clone());
        Ok(t)
    }
}

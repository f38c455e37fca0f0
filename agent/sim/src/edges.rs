//! The simulated edges. Every call is one step of the schedule: the clock moves, faults are
//! rolled (a crash unwinds out of the real code as `kill -9` would stop it), operators and
//! second instances may act, and the invariants are checked.

use crate::invariants;
use crate::world::{Decided, Effect, InFlight, World};
use dao_agent::daemon::survey::{Action, Cache, Survey};
use dao_agent::edges::{
    Action as SwitchAction, BuildTarget, Builder, Chain, Clock, Health, Source, System,
};
use dao_agent::executor::activate::ActivateError;
use dao_agent::executor::command::CommandError;
use dao_agent::executor::fetch::{Attempt, FetchError, Fetched};
use dao_agent::executor::pipeline::{
    Attestations, Gate, OutcomeReport, ReportError, Reporter, Standing,
};
use dao_agent::executor::Approved;
use dao_agent::journal::{Generation, Status};
use git2::Oid;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod files;

/// What unwinds out of the real code when the simulated process is killed.
pub struct Crash;

pub const HOST_AGENT: &str = "HOSTAGENT";
pub const OTHER_KEY: &str = "SOMEONEELSE";
const REMOTE: &str = "git://sim/fleet.git";

pub struct Sim {
    pub world: Mutex<World>,
    /// The running instance, for operators' calls.
    pub current: Mutex<Option<Arc<dao_agent::daemon::deployer::Deployer>>>,
    pub setup: Arc<dao_agent::daemon::setup::Setup>,
    /// What happens beside the agent at each step (operators, a second instance): the run
    /// sets it, so that these edges need not know the hooks that use them.
    pub on_step: fn(&Arc<Sim>, &'static str),
}

impl Sim {
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One step: time passes, a crash may come before the effect, hooks may act.
    fn enter(self: &Arc<Self>, site: &'static str, cost_ms: u64) {
        let crash = {
            let mut w = self.world();
            w.steps += 1;
            w.advance(cost_ms);
            if !matches!(site, "files.replace" | "profile.set" | "system.switch") {
                w.gate_open_for = None;
            }
            if w.trace {
                println!(
                    "step {} t={} {site}",
                    w.steps,
                    w.clock_ms - crate::world::T0_MS
                );
            }
            if w.roll("clock_jump", 0.004) {
                let jump = 60_000 * (1 + w.steps % 90);
                w.advance(jump);
            }
            invariants::after_step(&mut w);
            let crash = w.planned_crash(site) || (!w.nested && w.roll("crash", 0.02));
            crash || crate::reactivation::crash_mid_way(&mut w, site)
        };
        if crash {
            std::panic::resume_unwind(Box::new(Crash));
        }
        (self.on_step)(self, site);
    }
}

/// Every edge shares the one simulated world.
#[derive(Clone)]
pub struct SimEdge(pub Arc<Sim>);

impl Clock for SimEdge {
    fn now_ms(&self) -> u64 {
        self.0.world().clock_ms
    }

    fn sleep(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.0.world().advance(ms);
    }
}

impl Source for SimEdge {
    fn fetch(&self, commits: &[Oid], timeout: Duration) -> Result<Fetched, FetchError> {
        self.0.enter("git.fetch", 300);
        let mut w = self.0.world();
        if w.clock_ms >= w.git_down_until && w.roll("git_down", 0.05) {
            w.git_down_until = w.clock_ms + 30_000 * (1 + w.steps % 20);
        }
        let fail = |reason: String| FetchError::AllRemotesFailed {
            commits: commits
                .iter()
                .map(Oid::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            attempts: vec![Attempt {
                url: REMOTE.into(),
                reason,
            }],
        };
        if w.clock_ms < w.git_down_until {
            let t = u64::try_from(timeout.as_millis()).unwrap_or(0).min(20_000);
            w.advance(t);
            return Err(fail("unreachable: connection refused".into()));
        }
        let now = w.now_s();
        let genesis = w.genesis;
        let missing: Vec<String> = commits
            .iter()
            .filter(|c| {
                **c != genesis
                    && !w
                        .proposals
                        .iter()
                        .any(|p| p.head == **c && p.pushed_at.is_some_and(|t| t <= now))
            })
            .map(Oid::to_string)
            .collect();
        if !missing.is_empty() {
            w.count("commit_missing");
            return Err(fail(format!(
                "the remote answers but does not have commit(s) {}",
                missing.join(", ")
            )));
        }
        Ok(Fetched::Remote(REMOTE.into()))
    }

    fn verify(&self, plan: &[Approved]) -> Result<(), String> {
        self.0.enter("git.verify", 20);
        let w = self.0.world();
        for a in plan {
            if w.proposals.iter().any(|p| p.id == a.proposal && p.tampered) {
                return Err(format!(
                    "proposal {}: the diff hash of the fetched commits is not the approved one",
                    a.proposal
                ));
            }
        }
        Ok(())
    }
}

impl Builder for SimEdge {
    fn dry_build(&self, t: BuildTarget, _timeout: Duration) -> Result<(), String> {
        self.0.enter("nix.dry_build", 1500);
        let w = self.0.world();
        match w.proposals.iter().find(|p| p.id == t.proposal) {
            Some(p) if p.eval_fails => Err("error: undefined variable 'nginxx'".into()),
            _ => Ok(()),
        }
    }

    fn build(&self, t: BuildTarget, timeout: Duration) -> Result<PathBuf, String> {
        self.0.enter("nix.build", 8000);
        let mut w = self.0.world();
        let Some(p) = w.proposals.iter().find(|p| p.id == t.proposal).cloned() else {
            return Err(format!("no such proposal {}", t.proposal));
        };
        if p.build_fails || w.roll("build_failure", 0.01) {
            return Err("builder for '/nix/store/…-etc.drv' failed with exit code 1".into());
        }
        if w.roll("build_hang", 0.01) {
            w.advance(u64::try_from(timeout.as_millis()).unwrap_or(0));
            return Err(format!(
                "`nix build` did not finish within {} s",
                timeout.as_secs()
            ));
        }
        Ok(p.toplevel())
    }

    fn closure(&self, toplevel: &Path) -> Result<[u8; 32], String> {
        self.0.enter("nix.path_info", 300);
        let w = self.0.world();
        w.proposal_of(toplevel)
            .map(|p| p.host_closure)
            .ok_or_else(|| format!("{} is not in the store", toplevel.display()))
    }
}

fn command_failed(what: &str, why: &str) -> ActivateError {
    ActivateError::Command {
        step: "switch_configuration",
        source: CommandError::Failed {
            command: what.into(),
            status: "exit status: 1".into(),
            stdout: String::new(),
            stderr: why.into(),
        },
    }
}

impl System for SimEdge {
    fn current(&self) -> Result<Option<Generation>, ActivateError> {
        let w = self.0.world();
        Ok(w.generation(w.current).map(|p| Generation {
            number: w.current,
            store_path: p.clone(),
        }))
    }

    fn generation(&self, number: u64) -> Result<Generation, ActivateError> {
        let w = self.0.world();
        w.generation(number)
            .map(|p| Generation {
                number,
                store_path: p.clone(),
            })
            .ok_or_else(|| command_failed("nix-env --list-generations", "no such generation"))
    }

    fn set(&self, toplevel: &Path, _timeout: Duration) -> Result<Generation, ActivateError> {
        self.0.enter("profile.set", 200);
        let mut w = self.0.world();
        w.last_set = Some(toplevel.to_path_buf());
        w.generations.push(toplevel.to_path_buf());
        w.current = w.generations.len() as u64;
        Ok(Generation {
            number: w.current,
            store_path: toplevel.to_path_buf(),
        })
    }

    fn restore(&self, g: &Generation, _timeout: Duration) -> Result<(), ActivateError> {
        self.0.enter("profile.restore", 200);
        let mut w = self.0.world();
        if w.generation(g.number) != Some(&g.store_path) {
            w.apart_excused = true;
            return Err(command_failed(
                "nix-env --switch-generation",
                "generation changed",
            ));
        }
        w.current = g.number;
        w.last_set = None;
        if w.planned_crash("profile.restore.after")
            || crate::reactivation::crash_after_profile_moved(&mut w)
        {
            drop(w);
            std::panic::resume_unwind(Box::new(Crash));
        }
        Ok(())
    }

    fn switch(&self, toplevel: &Path, timeout: Duration) -> Result<(), ActivateError> {
        self.activate(toplevel, SwitchAction::Switch, timeout)
    }

    fn activate(
        &self,
        toplevel: &Path,
        action: SwitchAction,
        timeout: Duration,
    ) -> Result<(), ActivateError> {
        let took = {
            let mut w = self.0.world();
            invariants::at_switch(&mut w, toplevel);
            let at_ms = w.clock_ms;
            w.effects.push(Effect::Switch {
                toplevel: toplevel.to_path_buf(),
                at_ms,
            });
            // NixOS switches take seconds to minutes (services restart).
            let took = 5_000 + (w.steps % 12) * 10_000;
            // The switch runs as a child: a crash of the agent from here on leaves it running.
            w.in_flight.push(InFlight {
                toplevel: toplevel.to_path_buf(),
                until_ms: at_ms + took,
                action,
            });
            took
        };
        self.0.enter("system.switch", 0);
        let mut w = self.0.world();
        w.in_flight.retain(|f| f.toplevel != toplevel);
        if w.roll("switch_hang", 0.01) {
            w.apart_excused = true;
            w.advance(u64::try_from(timeout.as_millis()).unwrap_or(0));
            return Err(ActivateError::Command {
                step: "switch_configuration",
                source: CommandError::TimedOut {
                    command: "switch-to-configuration switch".into(),
                    timeout,
                },
            });
        }
        w.advance(took);
        if w.roll("switch_failure", 0.02) {
            w.apart_excused = true;
            return Err(command_failed(
                "switch-to-configuration switch",
                "activation failed",
            ));
        }
        w.finish_switch(toplevel, action);
        Ok(())
    }

    fn settle(&self, _timeout: Duration) -> Result<Vec<String>, ActivateError> {
        let mut w = self.0.world();
        let Some(until) = w.in_flight.iter().map(|f| f.until_ms).max() else {
            return Ok(Vec::new());
        };
        let names = w
            .in_flight
            .iter()
            .map(|f| f.toplevel.display().to_string())
            .collect();
        let wait = until.saturating_sub(w.clock_ms);
        w.advance(wait);
        Ok(names)
    }

    fn running(&self) -> io::Result<Option<PathBuf>> {
        Ok(Some(self.0.world().active.clone()))
    }
}

impl Health for SimEdge {
    fn confirm(&self, timeout: Duration, _interval: Duration) -> Result<(), String> {
        self.0.enter("health.confirm", 500);
        let mut w = self.0.world();
        let active = w.active.clone();
        let unhealthy = w.proposal_of(&active).is_some_and(|p| p.unhealthy);
        if crate::reactivation::health_fails(&mut w) || unhealthy || w.roll("health_failure", 0.02)
        {
            w.advance(u64::try_from(timeout.as_millis()).unwrap_or(0));
            return Err("health checks still failing: nginx.service is failed".into());
        }
        Ok(())
    }
}

impl SimEdge {
    /// algod: down for a while, slow, or answering garbage.
    fn algod(&self, site: &'static str) -> Result<(), String> {
        self.0.enter(site, 30);
        let mut w = self.0.world();
        if w.clock_ms >= w.algod_down_until && w.roll("algod_down", 0.02) {
            w.algod_down_until = w.clock_ms + 10_000 * (1 + w.steps % 30);
        }
        if w.clock_ms < w.algod_down_until {
            return Err("algod at http://127.0.0.1:4001: connection refused".into());
        }
        if w.roll("algod_slow", 0.02) {
            w.advance(5_000);
        }
        if w.roll("algod_garbage", 0.01) {
            return Err("algod sent a box that does not decode: unexpected end of input".into());
        }
        Ok(())
    }
}

impl Reporter for SimEdge {
    fn find(&self, proposal: u64, _host: u64) -> Result<Option<Status>, ReportError> {
        self.algod("chain.find").map_err(ReportError)?;
        Ok(self.0.world().reports.get(&proposal).copied())
    }

    fn send(&self, r: &OutcomeReport) -> Result<(String, u64), ReportError> {
        self.algod("chain.send").map_err(ReportError)?;
        let mut w = self.0.world();
        if w.wrong_key {
            return Err(ReportError("logic eval error: not_host_agent".into()));
        }
        // The app refuses an applied report before the proposal's quorum agreed.
        let now = w.now_s();
        let unagreed = w
            .proposals
            .iter()
            .any(|p| p.id == r.proposal && p.quorum > 0 && p.validation(now).agreed.is_none());
        if r.status == Status::Applied && unagreed {
            return Err(ReportError(
                "logic eval error: attest_quorum_missing".into(),
            ));
        }
        if r.status == Status::NotReproducible {
            w.count("not_reproducible");
        }
        if r.status == Status::RolledBack && w.reports.get(&r.proposal) == Some(&Status::Applied) {
            // The operator rollback's amendment.
            if !w.amendments.insert(r.proposal) {
                w.violation(
                    "exactly_one_report",
                    format!("second amendment of proposal {}", r.proposal),
                );
            }
            return Ok(("amend".into(), w.now_s()));
        }
        if w.reports.contains_key(&r.proposal) {
            w.violation(
                "exactly_one_report",
                format!("a second report of proposal {} was sent", r.proposal),
            );
            return Err(ReportError("logic eval error: already_reported".into()));
        }
        w.reports.insert(r.proposal, r.status);
        w.effects.push(Effect::Report {
            proposal: r.proposal,
            status: r.status,
        });
        Ok((format!("tx-{}", r.proposal), w.now_s()))
    }
}

impl Gate for SimEdge {
    fn attestations(&self, proposal: u64, _host: u64) -> Result<Attestations, ReportError> {
        let quorum = {
            let w = self.0.world();
            w.proposals
                .iter()
                .find(|p| p.id == proposal)
                .map_or(0, |p| p.quorum)
        };
        if quorum == 0 {
            // A proposal without a quorum costs one box read that finds nothing: no step.
            return Ok(Attestations::default());
        }
        self.algod("chain.attestations").map_err(ReportError)?;
        let mut w = self.0.world();
        let now = w.now_s();
        let validation = w
            .proposals
            .iter()
            .find(|p| p.id == proposal)
            .map(|p| p.validation(now))
            .unwrap_or_default();
        // The validator dimension's figures: a host kept waiting, validators that disagree.
        if validation.agreed.is_none() {
            if validation.can_still_agree(quorum, w.validators) {
                w.count("awaiting_attestations");
            } else {
                w.count("validators_disagree");
            }
        }
        Ok(Attestations {
            quorum,
            validators: w.validators,
            validation,
        })
    }

    fn standing(&self, proposal: u64) -> Result<Standing, ReportError> {
        self.algod("chain.gate").map_err(ReportError)?;
        let mut w = self.0.world();
        let now = w.now_s();
        let Some(p) = w.proposals.iter().find(|p| p.id == proposal) else {
            return Ok(Standing::NotApproved(format!("no proposal {proposal}")));
        };
        Ok(match p.decided {
            Decided::Queued { eta, .. } if eta > now => {
                return Err(ReportError(format!(
                    "proposal {proposal} is in its timelock"
                )))
            }
            Decided::Queued { expiry, .. } if now >= expiry => {
                Standing::Expired(format!("window ended at {expiry}, chain time {now}"))
            }
            Decided::Queued { .. } => {
                w.gate_open_for = Some(proposal);
                Standing::Open
            }
            other => Standing::NotApproved(format!("{other:?}")),
        })
    }
}

impl Chain for SimEdge {
    fn survey(&self, _host: u64, _cache: &mut Cache) -> Result<Survey, String> {
        self.algod("chain.survey")?;
        let w = self.0.world();
        let now = w.now_s();
        let mut s = Survey {
            now,
            ..Survey::default()
        };
        for p in w.proposals.iter().filter(|p| p.targets_host) {
            let a = Approved {
                proposal: p.id,
                base: p.base,
                head: p.head,
                diff_hash: p.diff_hash,
            };
            if let Some(status) = w.reports.get(&p.id) {
                if *status == Status::Applied && s.last_applied.is_none_or(|(l, _)| p.id > l) {
                    s.last_applied = Some((p.id, p.head));
                }
                if *status != Status::Refused {
                    s.approved.push(a);
                }
                continue;
            }
            if let Decided::Queued { eta, expiry } = p.decided {
                if now >= expiry {
                    s.actions.push(Action::Expired(a));
                } else if eta <= now {
                    s.actions.push(Action::Apply(a.clone()));
                    s.approved.push(a);
                } else {
                    s.next_eta = Some(s.next_eta.map_or(eta, |e: u64| e.min(eta)));
                    s.in_timelock.push(a.clone());
                    s.approved.push(a);
                }
            }
        }
        Ok(s)
    }

    fn reports(&self, proposal: u64, _host: u64) -> Result<(Option<Status>, bool), ReportError> {
        self.algod("chain.reports").map_err(ReportError)?;
        let w = self.0.world();
        Ok((
            w.reports.get(&proposal).copied(),
            w.amendments.contains(&proposal),
        ))
    }

    fn host_agent(&self, _host: u64) -> Result<Option<String>, String> {
        Ok(Some(HOST_AGENT.into()))
    }

    fn signer_address(&self) -> String {
        if self.0.world().wrong_key {
            OTHER_KEY.into()
        } else {
            HOST_AGENT.into()
        }
    }
}

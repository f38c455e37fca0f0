//! What happens beside the agent at random moments: an operator's pause, resume, rollback or
//! skip arriving over D-Bus in the middle of a step, and a second instance started on the same
//! state directory. Both call the real code, as the D-Bus face and a second process would.

use crate::edges::{Sim, SimEdge};
use crate::instance::start_instance;
use rand::Rng;
use std::sync::Arc;

pub fn maybe_act(sim: &Arc<Sim>, site: &'static str) {
    let action = {
        let mut w = sim.world();
        if w.nested {
            return;
        }
        if w.roll("second_instance", 0.003) {
            Some(Act::Second)
        } else if w.roll("operator", 0.01) {
            Some(match w.rng.gen_range(0..4) {
                0 => Act::Pause,
                1 => Act::Resume,
                2 => Act::Rollback,
                _ => {
                    let n = w.proposals.len() as u64;
                    Act::Skip(w.rng.gen_range(1..=n.max(1)))
                }
            })
        } else {
            None
        }
    };
    let Some(action) = action else { return };
    sim.world().nested = true;
    let trace = sim.world().trace;
    let current = sim
        .current
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let said = match (&action, current) {
        (Act::Second, _) => second_instance(sim),
        (_, None) => "no agent runs".into(),
        (Act::Pause, Some(d)) => {
            sim.world().count("operator_pause");
            format!("{:?}", d.pause("simulated operator".into(), 0))
        }
        (Act::Resume, Some(d)) => format!("{:?}", d.resume(0)),
        (Act::Rollback, Some(d)) => {
            sim.world().count("operator_rollback");
            format!(
                "{:?}",
                d.rollback(None, "simulated emergency".into(), 0)
                    .map(|r| r.to.number)
            )
        }
        (Act::Skip(p), Some(d)) => {
            sim.world().count("operator_skip");
            format!(
                "{:?}",
                d.skip(*p, "simulated skip".into(), 0, std::time::Duration::ZERO)
                    .map(|r| r.proposal)
            )
        }
    };
    if trace {
        println!("  during {site}: {action:?} -> {said}");
    }
    sim.world().nested = false;
}

#[derive(Debug)]
enum Act {
    Pause,
    Resume,
    Rollback,
    Skip(u64),
    Second,
}

/// Starts a second instance beside the running one: it must refuse to start. (Under the
/// `two_agents` mutant it starts, and runs passes, as a second process would.)
fn second_instance(sim: &Arc<Sim>) -> String {
    match start_instance(sim) {
        Err(why) => why,
        Ok(d) => {
            let edge = SimEdge(Arc::clone(sim));
            for _ in 0..3 {
                let _ = d.pass();
            }
            drop(edge);
            "the second instance started and ran".into()
        }
    }
}

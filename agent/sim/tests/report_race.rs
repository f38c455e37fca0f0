//! Finding 7: an operator's Rollback sent the moment the outcome's report is on chain was
//! refused with "a change is being applied right now", because the report was sent while the
//! activation lock was still held. Reports now run outside that lock. Here the rollback arrives
//! from inside the report's own send, right after the chain accepted it: the tightest timing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dao_agent::daemon::deployer::{Deployer, Pass, Shared};
use dao_agent::daemon::survey::{Cache, Survey};
use dao_agent::edges::Chain;
use dao_agent::executor::pipeline::{
    Attestations, Gate, OutcomeReport, ReportError, Reporter, Standing,
};
use dao_agent::journal::Status;
use dao_sim::edges::{Sim, SimEdge};
use dao_sim::world::{Decided, World};
use std::sync::{Arc, Mutex, OnceLock};

struct RollbackOnReport {
    inner: SimEdge,
    agent: OnceLock<Arc<Deployer>>,
    said: Mutex<Option<Result<u64, String>>>,
}

impl Reporter for RollbackOnReport {
    fn find(&self, p: u64, h: u64) -> Result<Option<Status>, ReportError> {
        self.inner.find(p, h)
    }
    fn send(&self, r: &OutcomeReport) -> Result<(String, u64), ReportError> {
        let sent = self.inner.send(r)?;
        let first = r.status == Status::Applied && self.said.lock().unwrap().is_none();
        if first {
            *self.said.lock().unwrap() = Some(Err("pending".into()));
            let d = self.agent.get().unwrap();
            let rb = d
                .rollback(None, "502s right after the deploy".into(), 0)
                .map(|rb| rb.to.number);
            *self.said.lock().unwrap() = Some(rb);
        }
        Ok(sent)
    }
}

impl Gate for RollbackOnReport {
    fn standing(&self, p: u64) -> Result<Standing, ReportError> {
        self.inner.standing(p)
    }
    fn attestations(&self, p: u64, h: u64) -> Result<Attestations, ReportError> {
        self.inner.attestations(p, h)
    }
}

impl Chain for RollbackOnReport {
    fn survey(&self, host: u64, cache: &mut Cache) -> Result<Survey, String> {
        self.inner.survey(host, cache)
    }
    fn reports(&self, p: u64, h: u64) -> Result<(Option<Status>, bool), ReportError> {
        self.inner.reports(p, h)
    }
    fn host_agent(&self, host: u64) -> Result<Option<String>, String> {
        self.inner.host_agent(host)
    }
    fn signer_address(&self) -> String {
        self.inner.signer_address()
    }
}

#[test]
fn a_rollback_right_after_the_report_is_not_refused() {
    let mut world = World::new(1, false);
    world.fault_rate = 0.0;
    world.wrong_key = false;
    let now = world.now_s();
    world.proposals.truncate(1);
    let p = &mut world.proposals[0];
    p.targets_host = true;
    p.decided = Decided::Queued {
        eta: now,
        expiry: now + 3600,
    };
    p.tampered = false;
    p.eval_fails = false;
    p.build_fails = false;
    p.unhealthy = false;
    p.pushed_at = Some(0);
    let genesis = world.genesis;
    let sim = Arc::new(Sim {
        world: Mutex::new(world),
        current: Mutex::new(None),
        setup: Arc::new(dao_sim::instance::setup(genesis)),
        on_step: dao_sim::hooks::maybe_act,
    });
    let edge = SimEdge(Arc::clone(&sim));
    let chain = Arc::new(RollbackOnReport {
        inner: edge,
        agent: OnceLock::new(),
        said: Mutex::new(None),
    });
    let edges = dao_sim::instance::sim_edges(&sim);
    let d = Arc::new(
        Deployer::start(
            Arc::clone(&sim.setup),
            edges,
            Arc::clone(&chain) as Arc<dyn Chain>,
            Arc::new(Mutex::new(Shared::default())),
            None,
        )
        .unwrap(),
    );
    chain.agent.set(Arc::clone(&d)).ok().unwrap();
    for _ in 0..10 {
        if d.pass()
            == (Pass::Idle {
                next_eta: None,
                now: 0,
            })
        {
            break;
        }
    }
    let said = chain.said.lock().unwrap().clone();
    assert_eq!(said, Some(Ok(1)), "the rollback was refused");
    let w = sim.world();
    assert_eq!(w.reports.get(&1), Some(&Status::Applied));
    assert!(w.amendments.contains(&1), "the amendment was not sent");
    assert_eq!(w.current, 1, "the host is not back on generation 1");
}

//! The executor's dependencies — algod, the git remotes, the journal — as the agent last found
//! them, with since-when: shown by `dao-agentctl status`, logged when they change.

use serde::Serialize;
use tracing::{error, info};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub ok: bool,
    /// Unix ms since which it has been in this state (0: not checked yet).
    pub since_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Default for Dependency {
    fn default() -> Self {
        Dependency {
            ok: true,
            since_ms: 0,
            problem: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Dependencies {
    pub algod: Dependency,
    pub git: Dependency,
    pub journal: Dependency,
}

impl Dependencies {
    fn slot(&mut self, name: &str) -> Option<&mut Dependency> {
        match name {
            "algod" => Some(&mut self.algod),
            "git" => Some(&mut self.git),
            "journal" => Some(&mut self.journal),
            _ => None,
        }
    }

    /// Records `name` as working; logs the recovery when it was down.
    pub fn up(&mut self, name: &str, now_ms: u64) {
        let Some(d) = self.slot(name) else { return };
        if !d.ok {
            let down_s = now_ms.saturating_sub(d.since_ms) / 1000;
            info!(
                dependency = name,
                down_s, "{name} works again after {down_s} s"
            );
        }
        if !d.ok || d.since_ms == 0 {
            *d = Dependency {
                ok: true,
                since_ms: now_ms,
                problem: None,
            };
        }
    }

    /// Records `name` as failing with `problem`; logs when it goes down or the problem changes.
    pub fn down(&mut self, name: &str, now_ms: u64, problem: &str) {
        let Some(d) = self.slot(name) else { return };
        if d.ok || d.problem.as_deref() != Some(problem) {
            error!(
                dependency = name,
                problem, "{name} is not usable: {problem}"
            );
        }
        let since_ms = if d.ok { now_ms } else { d.since_ms };
        *d = Dependency {
            ok: false,
            since_ms,
            problem: Some(problem.to_owned()),
        };
    }

    /// The failing dependencies, for a one-line summary.
    pub fn failing(&self) -> Vec<(&'static str, &Dependency)> {
        [
            ("algod", &self.algod),
            ("git", &self.git),
            ("journal", &self.journal),
        ]
        .into_iter()
        .filter(|(_, d)| !d.ok)
        .collect()
    }
}

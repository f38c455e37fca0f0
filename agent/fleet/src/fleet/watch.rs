//! Reading the chain while the hosts work: rounds, reports and events, what each host is doing
//! about a proposal (from its journal), and waiting for every targeted host's report.

use super::{now_ms, BlockClock, Fleet, Landed};
use crate::host::Host;
use crate::interrupt;
use anyhow::{bail, Context, Result};
use dao_chain::decode::ReportStatus;
use dao_chain::events::{decode_log, AppEvent, Log};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Fleet {
    /// Runs an async chain call on the fleet's runtime.
    pub fn chain<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    pub fn last_round(&self) -> Result<u64> {
        Ok(self.chain(self.app.node.last_round())?)
    }

    /// The report (and its rollback amendment) of a host on a proposal.
    pub fn reports(
        &self,
        id: u64,
        host: u64,
    ) -> Result<(
        Option<dao_chain::decode::Report>,
        Option<dao_chain::decode::Report>,
    )> {
        Ok(self.chain(self.app.reports(id, host))?)
    }

    /// What a host is doing about a proposal, from its journal: the outcome, or the last step.
    pub fn host_step(&self, host: &Host, id: u64) -> String {
        match host.journal(id) {
            Ok(Some(j)) => match j["outcome"]["status"].as_str() {
                Some(s) => match j["report"].as_object().and_then(|o| o.keys().next()) {
                    Some(r) if r == "confirmed" => format!("{s}, reported"),
                    _ => format!("{s}, reporting"),
                },
                None => j["steps"]
                    .as_array()
                    .and_then(|s| s.last())
                    .and_then(|e| e["step"].as_str())
                    .unwrap_or("starting")
                    .to_owned(),
            },
            Ok(None) => "waiting".into(),
            Err(e) => format!("journal unreadable: {e}"),
        }
    }

    /// Waits until every host in `hosts` (ids) has a report of `id` on chain, showing progress.
    /// A host is looked up on chain once its journal says its report is confirmed, and every
    /// few seconds regardless (the chain is the truth; the journal only says when to look).
    pub fn wait_reports(
        &mut self,
        id: u64,
        hosts: &[u64],
        since: Instant,
        timeout: Duration,
    ) -> Result<BTreeMap<u64, Landed>> {
        let mut landed: BTreeMap<u64, Landed> = BTreeMap::new();
        let mut last_look: BTreeMap<u64, Instant> = BTreeMap::new();
        let fallback = Duration::from_millis(2000 + 100 * hosts.len() as u64);
        let step = Duration::from_millis(300);
        let start = Instant::now();
        let mut last_error: Option<String> = None;
        loop {
            interrupt::check()?;
            for h in &mut self.hosts {
                h.check_agent()?;
            }
            self.check_validators()?;
            for &hid in hosts {
                if landed.contains_key(&hid) {
                    continue;
                }
                let host = self
                    .hosts
                    .iter()
                    .find(|h| h.id == hid)
                    .with_context(|| format!("no host {hid}"))?;
                let journal = host.journal(id)?;
                // The agent saw its report confirmed: the chain has it. Otherwise look now and
                // then (a host may report without a journal record), not to load the devnet.
                let confirmed = journal
                    .as_ref()
                    .is_some_and(|j| !j["report"]["confirmed"].is_null());
                let due = last_look.get(&hid).is_none_or(|t| t.elapsed() >= fallback);
                if !(confirmed && last_look.get(&hid).is_none_or(|t| t.elapsed() >= step) || due) {
                    continue;
                }
                last_look.insert(hid, Instant::now());
                // A busy devnet may not answer in time: look again later, until the deadline.
                let report = match self.reports(id, hid) {
                    Ok((report, _)) => report,
                    Err(e) => {
                        last_error = Some(format!("{e:#}"));
                        None
                    }
                };
                if let Some(r) = report {
                    let round = journal
                        .as_ref()
                        .and_then(|j| j["report"]["confirmed"]["round"].as_u64());
                    landed.insert(
                        hid,
                        Landed {
                            status: r.status,
                            generation: r.generation,
                            toplevel_sha256: r.toplevel_sha256,
                            after: since.elapsed(),
                            round,
                        },
                    );
                }
            }
            if landed.len() == hosts.len() {
                // The report's round, once the journals record its confirmation.
                let t = Instant::now();
                while landed.values().any(|l| l.round.is_none())
                    && t.elapsed() < Duration::from_secs(5)
                {
                    interrupt::sleep(Duration::from_millis(50))?;
                    for (hid, l) in landed.iter_mut().filter(|(_, l)| l.round.is_none()) {
                        if let Some(h) = self.hosts.iter().find(|h| h.id == *hid) {
                            l.round = h
                                .journal(id)?
                                .and_then(|j| j["report"]["confirmed"]["round"].as_u64());
                        }
                    }
                }
                return Ok(landed);
            }
            if start.elapsed() > timeout {
                bail!(
                    "proposal {id}: no report after {} s from host(s) {:?}; their logs are in \
                     {}/hosts/*/var/log/dao-agent.log (run with --keep to look){}",
                    timeout.as_secs(),
                    hosts
                        .iter()
                        .filter(|h| !landed.contains_key(h))
                        .collect::<Vec<_>>(),
                    self.root.display(),
                    last_error
                        .map(|e| format!("; the last chain error: {e}"))
                        .unwrap_or_default()
                );
            }
            let shown: Vec<String> = self
                .hosts
                .iter()
                .filter(|h| hosts.contains(&h.id))
                .take(4)
                .map(|h| format!("{} {}", h.name, self.host_step(h, id)))
                .collect();
            let more = if hosts.len() > 4 {
                format!(" (+{} more; {} reported)", hosts.len() - 4, landed.len())
            } else {
                String::new()
            };
            let round = self.last_round().unwrap_or(0);
            self.story.progress(
                &format!("proposal {id}: {}{more}", shown.join(" · ")),
                &format!("{:.1} s, round {round}", since.elapsed().as_secs_f64()),
            );
            interrupt::sleep(Duration::from_millis(100))?;
        }
    }

    /// Every event of the app since it was sealed, with its round.
    pub fn app_events(&self) -> Result<Vec<(u64, AppEvent)>> {
        let last = self.last_round()?;
        let mut out = Vec::new();
        for round in self.sealed_round..=last {
            for (_, app_id, lines) in self.chain(self.app.node.block_logs(round))? {
                if app_id != self.app.app_id {
                    continue;
                }
                for l in lines {
                    if let Ok(Log::Event(e)) = decode_log(&l) {
                        out.push((round, e));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every ExecutionReported event of the app: `(round, proposal, host, status)`.
    pub fn report_events(&self) -> Result<Vec<(u64, u64, u64, ReportStatus)>> {
        Ok(self
            .app_events()?
            .into_iter()
            .filter_map(|(round, e)| match e {
                AppEvent::ExecutionReported {
                    id,
                    host_id,
                    status,
                    ..
                } => Some((round, id, host_id, status)),
                _ => None,
            })
            .collect())
    }

    /// The last round and when it was made (wall-clock ms), from algod's
    /// `time-since-last-round`: exact to a millisecond or so, whatever the answer's latency.
    pub fn last_block_made(&self) -> Result<(u64, u64)> {
        use std::io::{Read, Write};
        let addr = self.devnet.url.trim_start_matches("http://").to_owned();
        let mut s = std::net::TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(15)))?;
        let asked = now_ms();
        write!(
            s,
            "GET /v2/status HTTP/1.0\r\nHost: {addr}\r\nX-Algo-API-Token: {}\r\n\r\n",
            self.devnet.token()?
        )?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .context("algod's status has no body")?;
        let v: serde_json::Value = serde_json::from_str(body).context("algod's status")?;
        let round = v["last-round"].as_u64().context("status: no last-round")?;
        let since_ns = v["time-since-last-round"].as_u64().unwrap_or(0);
        Ok((round, asked.saturating_sub(since_ns / 1_000_000)))
    }

    /// Records when each new block appears, from now on.
    pub fn block_clock(&self) -> Result<BlockClock> {
        let clock = BlockClock::default();
        let seen = Arc::clone(&clock.seen);
        let node = self.app.node.clone();
        let mut last = self.last_round()?;
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(last, now_ms());
        self.rt.spawn(async move {
            while let Ok(r) = node.wait_for_block_after(last).await {
                let t = now_ms();
                let mut m = seen.lock().unwrap_or_else(|e| e.into_inner());
                for round in last + 1..=r {
                    m.insert(round, t);
                }
                drop(m);
                last = last.max(r);
            }
        });
        Ok(clock)
    }
}

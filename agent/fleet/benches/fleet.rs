//! The fleet benchmark: N agents (default 1, 10, 50) follow one devnet; one proposal targets all
//! of them. Per host, from the finalize block (made at t0, from algod's `time-since-last-round`):
//!
//! - **seen**: the agent logs the finalize event (its follower read the block);
//! - **acted**: the first step of its journal (after its survey of the chain);
//! - **switch**: `switch_configuration` started in its journal;
//! - **report**: its report's round on chain, and the last write of its journal (the report's
//!   confirmation as the agent learned it);
//!
//! in blocks (rounds made since the finalize block, as the bench's own block follower saw them;
//! exact for the report) and in ms; median and max. Also the devnet requests per block per agent
//! (a counting proxy in front of the devnet for each agent) while idle and during the
//! deployment, and each agent's resident memory (VmRSS, VmHWM) after idling and after the
//! deployment.
//!
//!     cargo build --release --workspace --bins && cargo bench -p dao-fleet --bench fleet [-- 1 10 50]
//!
//! Targets: every agent sees the proposal within one block; requests per agent per block do not
//! grow with N; no agent above 20 MiB resident.

use anyhow::{bail, Context, Result};
use dao_chain::decode::Targets;
use dao_fleet::fleet::{BlockClock, Fleet, FleetOptions};
use dao_fleet::process::memory_kib;
use dao_fleet::repo::Flake;
use dao_fleet::Story;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const IDLE_BLOCKS: u64 = 8;
/// After a block appears, how long to wait before reading the counters: every agent has read it.
const SETTLE: Duration = Duration::from_millis(700);

/// One host's timings after the finalize block: (blocks, ms).
#[derive(Debug, Default, Clone)]
struct HostTimes {
    seen: Option<(u64, u64)>,
    acted: Option<(u64, u64)>,
    switch: Option<(u64, u64)>,
    report: Option<(u64, u64)>,
}

struct Row {
    n: usize,
    times: Vec<HostTimes>,
    idle_per_block: Vec<f64>,
    idle_kinds: BTreeMap<&'static str, f64>,
    deploy_requests: Vec<u64>,
    deploy_blocks: u64,
    deploy_kinds: BTreeMap<&'static str, f64>,
    rss_idle: Vec<(u64, u64)>,
    rss_after: Vec<(u64, u64)>,
    wall: Duration,
}

/// Unix ms of an RFC 3339 UTC time stamp as the agent logs it (`2026-11-21T09:16:14.349687Z`).
fn log_ms(stamp: &str) -> Option<u64> {
    let (date, time) = stamp.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms).ok()
}

fn median(v: &mut [u64]) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn stat(values: impl Iterator<Item = u64>) -> String {
    let mut v: Vec<u64> = values.collect();
    match (median(&mut v), v.last()) {
        (Some(m), Some(max)) => format!("{m} / {max}"),
        _ => "-".into(),
    }
}

fn counts_of(fleet: &Fleet) -> Vec<BTreeMap<&'static str, u64>> {
    fleet.proxies.iter().map(|p| p.counts.snapshot()).collect()
}

fn diff_total(a: &BTreeMap<&'static str, u64>, b: &BTreeMap<&'static str, u64>) -> u64 {
    b.values().sum::<u64>() - a.values().sum::<u64>()
}

fn kinds_mean(
    before: &[BTreeMap<&'static str, u64>],
    after: &[BTreeMap<&'static str, u64>],
    per: f64,
) -> BTreeMap<&'static str, f64> {
    let mut out: BTreeMap<&'static str, f64> = BTreeMap::new();
    for (a, b) in before.iter().zip(after) {
        for (k, v) in b {
            *out.entry(k).or_default() += (*v - a.get(k).copied().unwrap_or(0)) as f64;
        }
    }
    let n = before.len().max(1) as f64;
    for v in out.values_mut() {
        *v /= n * per;
    }
    out
}

fn wait_rounds(fleet: &Fleet, k: u64) -> Result<u64> {
    let start = fleet.last_round()?;
    let t = Instant::now();
    loop {
        let r = fleet.last_round()?;
        if r >= start + k {
            return Ok(r);
        }
        if t.elapsed() > Duration::from_secs(30 * k) {
            bail!("the devnet made no block for a long time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn at(clock: &BlockClock, finalize_round: u64, t0: u64, ms: u64) -> (u64, u64) {
    let blocks = clock
        .round_at(ms)
        .map_or(0, |r| r.saturating_sub(finalize_round));
    (blocks, ms.saturating_sub(t0))
}

fn run(n: usize) -> Result<Row> {
    let wall = Instant::now();
    let names: Vec<String> = (1..=n).map(|i| format!("h{i:02}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut opts = FleetOptions::new(&name_refs);
    opts.count_requests = true;
    opts.health_timeout = "10s".into();
    opts.ready_timeout = Duration::from_secs(180);
    eprintln!("N = {n}: setting up");
    let mut fleet = Fleet::start(opts, Story::new(true))?;
    let clock = fleet.block_clock()?;

    // Idle: let the agents settle, then count over IDLE_BLOCKS blocks.
    let r0 = wait_rounds(&fleet, 2)?;
    std::thread::sleep(SETTLE);
    let c0 = counts_of(&fleet);
    let r1 = wait_rounds(&fleet, IDLE_BLOCKS)?;
    std::thread::sleep(SETTLE);
    let c1 = counts_of(&fleet);
    let blocks = (r1 - r0) as f64;
    let idle_per_block: Vec<f64> = c0
        .iter()
        .zip(&c1)
        .map(|(a, b)| diff_total(a, b) as f64 / blocks)
        .collect();
    let idle_kinds = kinds_mean(&c0, &c1, blocks);
    let pids: Vec<u32> = fleet.hosts.iter().filter_map(|h| h.agent_pid()).collect();
    let rss_idle = pids
        .iter()
        .map(|p| memory_kib(*p))
        .collect::<Result<Vec<_>>>()?;

    // One proposal for every host.
    eprintln!("N = {n}: proposal for all hosts");
    let base = fleet.repo.genesis.clone();
    let mut flake: Flake = fleet.flake.clone();
    for (name, h) in &mut flake.hosts {
        h.version = 2;
        h.motd = format!("{name}: v2");
    }
    let head = fleet.commit("main", &base, "alice", "every host: v2", &flake)?;
    let alice = fleet.member("alice")?.clone();
    let bob = fleet.member("bob")?.clone();
    let (id, _) = fleet.submit(&base, &head, &Targets::All, "https://x/1", &alice)?;
    fleet.vote(id, &alice, "for")?;
    fleet.vote(id, &bob, "for")?;
    let r2 = fleet.last_round()?;
    let c2 = counts_of(&fleet);
    let (fin_round, state) = fleet.finalize(id, &alice)?;
    if state != "queued" {
        bail!("proposal {id} was not queued: {state}");
    }
    // When the finalize block was made, exactly (unless another block came first).
    let made = fleet.last_block_made()?;
    let since = Instant::now();
    let all = fleet.all_ids();
    let landed = fleet.wait_reports(id, &all, since, Duration::from_secs(900))?;
    // Let every agent finish with the proposal (its last survey after its report).
    std::thread::sleep(Duration::from_secs(2));
    let r3 = fleet.last_round()?;
    let c3 = counts_of(&fleet);

    // The finalize block's time: as algod tells it, else when the block clock saw it.
    let t0 = if made.0 == fin_round {
        made.1
    } else {
        let t = Instant::now();
        loop {
            if let Some(t0) = clock.at(fin_round) {
                break t0;
            }
            if t.elapsed() > Duration::from_secs(10) {
                bail!("the block clock never saw round {fin_round}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut times = Vec::new();
    for h in &fleet.hosts {
        let mut ht = HostTimes::default();
        let log = std::fs::read_to_string(h.log_path())?;
        let pattern = format!("proposal={id} ");
        ht.seen = log
            .lines()
            .find(|l| l.contains("ProposalFinalized") && l.contains(&pattern))
            .and_then(|l| l.split_whitespace().next())
            .and_then(log_ms)
            .map(|ms| at(&clock, fin_round, t0, ms));
        let j = h
            .journal(id)?
            .with_context(|| format!("{} has no journal of proposal {id}", h.name))?;
        let steps = j["steps"].as_array().cloned().unwrap_or_default();
        ht.acted = steps
            .first()
            .and_then(|e| e["at_ms"].as_u64())
            .map(|ms| at(&clock, fin_round, t0, ms));
        ht.switch = steps
            .iter()
            .find(|e| e["step"] == "switch_configuration" && e["state"] == "started")
            .and_then(|e| e["at_ms"].as_u64())
            .map(|ms| at(&clock, fin_round, t0, ms));
        let round = landed
            .get(&h.id)
            .and_then(|l| l.round)
            .or_else(|| j["report"]["confirmed"]["round"].as_u64());
        // The journal's last write is the report's confirmation: its time is when the report
        // landed, as the agent learned it.
        let journal_file = h
            .state_dir()
            .join(format!("executor/journal/proposal-{id}-host-{}.json", h.id));
        let written = std::fs::metadata(&journal_file)?
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis();
        ht.report = round.map(|r| {
            (
                r.saturating_sub(fin_round),
                u64::try_from(written).unwrap_or(0).saturating_sub(t0),
            )
        });
        times.push(ht);
    }
    let rss_after = pids
        .iter()
        .map(|p| memory_kib(*p))
        .collect::<Result<Vec<_>>>()?;
    let deploy_requests: Vec<u64> = c2.iter().zip(&c3).map(|(a, b)| diff_total(a, b)).collect();
    let deploy_blocks = r3 - r2;
    let deploy_kinds = kinds_mean(&c2, &c3, 1.0);
    fleet.stop()?;
    drop(fleet);
    Ok(Row {
        n,
        times,
        idle_per_block,
        idle_kinds,
        deploy_requests,
        deploy_blocks,
        deploy_kinds,
        rss_idle,
        rss_after,
        wall: wall.elapsed(),
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn print(rows: &[Row]) {
    println!();
    println!(
        "fleet benchmark: one devnet (a block every 2 s when idle; one block per transaction \
         group), one proposal for all N hosts"
    );
    println!("latency from the finalize block, median / max, in blocks and ms");
    println!(
        "{:>4} | {:>13} {:>13} | {:>13} {:>13} | {:>13} {:>15} | {:>13} {:>15}",
        "N",
        "seen blocks",
        "seen ms",
        "acted blocks",
        "acted ms",
        "switch blocks",
        "switch ms",
        "report blocks",
        "confirmed ms"
    );
    for r in rows {
        let f = |g: fn(&HostTimes) -> Option<(u64, u64)>, blocks: bool| {
            stat(
                r.times
                    .iter()
                    .filter_map(g)
                    .map(|(b, ms)| if blocks { b } else { ms }),
            )
        };
        println!(
            "{:>4} | {:>13} {:>13} | {:>13} {:>13} | {:>13} {:>15} | {:>13} {:>15}",
            r.n,
            f(|t| t.seen, true),
            f(|t| t.seen, false),
            f(|t| t.acted, true),
            f(|t| t.acted, false),
            f(|t| t.switch, true),
            f(|t| t.switch, false),
            f(|t| t.report, true),
            f(|t| t.report, false),
        );
    }
    println!();
    println!("devnet requests per agent, and resident memory per agent (MiB)");
    println!(
        "{:>4} | {:>22} | {:>38} | {:>17} {:>17} {:>10} | {:>7}",
        "N",
        "idle req/block/agent",
        "deployment req/agent med / max",
        "RSS idle med/max",
        "RSS after med/max",
        "HWM max",
        "wall s"
    );
    for r in rows {
        let mut idle = r.idle_per_block.clone();
        idle.sort_by(f64::total_cmp);
        let idle_s = format!(
            "{:.2} ({:.2}–{:.2})",
            idle.get(idle.len() / 2).copied().unwrap_or(0.0),
            idle.first().copied().unwrap_or(0.0),
            idle.last().copied().unwrap_or(0.0)
        );
        let mut dep = r.deploy_requests.clone();
        let med = median(&mut dep).unwrap_or(0);
        let dep_s = format!(
            "{med} / {} in {} blocks ({:.2}/block)",
            dep.last().copied().unwrap_or(0),
            r.deploy_blocks,
            med as f64 / r.deploy_blocks.max(1) as f64
        );
        let mut ri: Vec<u64> = r.rss_idle.iter().map(|x| x.0).collect();
        let mut ra: Vec<u64> = r.rss_after.iter().map(|x| x.0).collect();
        let hwm = r.rss_after.iter().map(|x| x.1).max().unwrap_or(0);
        println!(
            "{:>4} | {:>22} | {:>38} | {:>17} {:>17} {:>10} | {:>7.0}",
            r.n,
            idle_s,
            dep_s,
            format!(
                "{} / {}",
                mib(median(&mut ri).unwrap_or(0)),
                mib(ri.last().copied().unwrap_or(0))
            ),
            format!(
                "{} / {}",
                mib(median(&mut ra).unwrap_or(0)),
                mib(ra.last().copied().unwrap_or(0))
            ),
            mib(hwm),
            r.wall.as_secs_f64()
        );
    }
    println!();
    println!("requests by kind, mean per agent: idle (per block) | deployment (whole)");
    for r in rows {
        let fmt = |m: &BTreeMap<&'static str, f64>| {
            m.iter()
                .filter(|(_, v)| **v > 0.0)
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{:>4} | {} | {}",
            r.n,
            fmt(&r.idle_kinds),
            fmt(&r.deploy_kinds)
        );
    }
    println!();
    let seen_ok = rows
        .iter()
        .all(|r| r.times.iter().all(|t| t.seen.is_some_and(|(b, _)| b <= 1)));
    let rss_ok = rows.iter().all(|r| {
        r.rss_after
            .iter()
            .chain(&r.rss_idle)
            .all(|x| x.0 <= 20 * 1024)
    });
    let idle: Vec<f64> = rows
        .iter()
        .map(|r| r.idle_per_block.iter().sum::<f64>() / r.idle_per_block.len().max(1) as f64)
        .collect();
    let flat = idle
        .iter()
        .all(|x| (x - idle.first().copied().unwrap_or(0.0)).abs() <= 0.5);
    println!(
        "targets: seen within one block: {}; idle requests per agent per block constant in N: \
         {} ({}); every agent under 20 MiB resident: {}",
        if seen_ok { "met" } else { "MISSED" },
        if flat { "met" } else { "MISSED" },
        idle.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        if rss_ok { "met" } else { "MISSED" }
    );
}

fn main() -> Result<()> {
    let _signals = dao_fleet::interrupt::install()?;
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![1, 10, 50];
    }
    let mut rows = Vec::new();
    for n in sizes {
        let row = run(n)?;
        eprintln!("N = {n}: done in {:.0} s", row.wall.as_secs_f64());
        rows.push(row);
    }
    print(&rows);
    Ok(())
}

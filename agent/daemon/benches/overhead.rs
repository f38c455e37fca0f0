//! The agent's own overhead, from "approved" (the finalize transaction confirmed) to "switch
//! started" (the journal's switch_configuration step), excluding Nix's time (dry-build and build
//! steps), on a governed repository of 10,000 files; then the idle agent's memory and CPU.
//!
//!     cargo bench -p dao-agent --bench overhead
//!
//! Real components: the `dao-agent` binary, the devnet (go-algorand's evaluator), git daemon on
//! 127.0.0.1, Debian's Nix, a private dbus-daemon. Targets (issue 5): overhead under 1 s; idle
//! under 20 MiB resident and no busy polling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench fails loudly

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{Fixture, GOOD};

const FILES: usize = 10_000;
const TRIALS: usize = 3;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The journal's step entries of a record: (step, state, at_ms).
fn steps(record: &serde_json::Value) -> Vec<(String, String, u64)> {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
                s["at_ms"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn at(steps: &[(String, String, u64)], step: &str, state: &str) -> u64 {
    steps
        .iter()
        .find(|(s, st, _)| s == step && st == state)
        .unwrap_or_else(|| panic!("no {step} {state} in the journal"))
        .2
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    print!("setting up a {FILES}-file fleet repository, the devnet and an agent... ");
    let f = Fixture::new(FILES).await;
    let agent = f.spawn_agent(&[]);
    let pid = agent.pid();
    std::thread::sleep(Duration::from_secs(2));
    println!("done");

    let mut rows = Vec::new();
    let mut base = f.genesis.clone();
    for trial in 1..=TRIALS {
        // A change touching 100 of the 10,000 files, and a new toplevel.
        for i in (0..FILES).step_by(FILES / 100) {
            let file = f.work.join(format!("modules/m{:02}/f{i:05}.nix", i % 100));
            std::fs::write(
                &file,
                format!("{{ services.s{i}.enable = true; # trial {trial}\n}}\n"),
            )
            .unwrap();
        }
        let head = f.commit(&format!("t{trial}"), GOOD);
        let id = f.approve(&base, &head, None).await;
        let approved_ms = now_ms();
        let record = f.wait_reported(id);
        assert_eq!(record["outcome"]["status"], "applied", "{record}");
        let s = steps(&record);
        let first = s[0].2;
        let fetch = at(&s, "fetch_commits", "done") - at(&s, "fetch_commits", "started");
        let verify = at(&s, "verify_change", "done") - at(&s, "verify_change", "started");
        let dry = at(&s, "dry_build", "done") - at(&s, "dry_build", "started");
        let build = at(&s, "build_toplevel", "done") - at(&s, "build_toplevel", "started");
        let switch = at(&s, "switch_configuration", "started");
        let total = switch.saturating_sub(approved_ms);
        let overhead = total.saturating_sub(dry + build);
        rows.push((
            trial,
            first.saturating_sub(approved_ms),
            fetch,
            verify,
            dry + build,
            total,
            overhead,
        ));
        base = head;
    }

    println!();
    println!(
        "Approved → switch started, {FILES}-file repository, 100 files changed per proposal (ms):"
    );
    println!(
        "{:>5}  {:>10}  {:>6}  {:>7}  {:>15}  {:>6}  {:>14}",
        "trial", "detection", "fetch", "verify", "nix (dry+build)", "total", "agent overhead"
    );
    for (t, det, f, v, nix, total, o) in &rows {
        println!("{t:>5}  {det:>10}  {f:>6}  {v:>7}  {nix:>15}  {total:>6}  {o:>14}");
    }
    let mut o: Vec<u64> = rows.iter().map(|r| r.6).collect();
    o.sort_unstable();
    println!(
        "agent overhead: median {} ms, max {} ms   | target: under 1000 ms",
        o[o.len() / 2],
        o[o.len() - 1]
    );

    // Idle: no proposal in flight; the agent long-polls algod for the next block.
    let idle = Duration::from_secs(30);
    let ticks_per_s = 100.0; // USER_HZ on Linux
    let t0 = cpu_ticks(pid);
    std::thread::sleep(idle);
    let t1 = cpu_ticks(pid);
    let cpu_pct = (t1 - t0) as f64 / ticks_per_s / idle.as_secs_f64() * 100.0;
    let rss = proc_status(pid, "VmRSS:");
    let hwm = proc_status(pid, "VmHWM:");
    println!();
    println!(
        "Idle agent over {} s (devnet makes a block every 2 s):",
        idle.as_secs()
    );
    println!("{:>22}  {:>10}  {:>10}", "", "measured", "target");
    println!(
        "{:>22}  {:>7.2} MiB  {:>6} MiB",
        "resident (VmRSS)",
        rss as f64 / 1024.0,
        20
    );
    println!(
        "{:>22}  {:>7.2} MiB  {:>10}",
        "peak resident (VmHWM)",
        hwm as f64 / 1024.0,
        "-"
    );
    println!("{:>22}  {:>9.3} %  {:>10}", "CPU", cpu_pct, "no busy poll");
    drop(agent);
}

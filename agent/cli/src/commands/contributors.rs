//! `contributors` and `rebalance`: points, bindings and the rebalance table from a repository's
//! history (docs/contributors.md). Both only read; nothing is sent anywhere.

use super::points::choose;
use super::print_json;
use crate::args::{ContributorsArgs, RebalanceArgs};
use crate::out::{out, outln};
use anyhow::Context;
use dao_core::address::Address;
use dao_core::contributors::rebalance::{parse_members, rebalance, Table};
use dao_core::contributors::{contributors, show_half, Options, Report};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

/// Parts per million as a percentage with two decimals, rounded down.
fn percent(ppm: u64) -> String {
    format!("{}.{:02}%", ppm / 10_000, (ppm % 10_000) / 100)
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn report(repo: &Path, at: &str, options: &Options) -> anyhow::Result<Report> {
    contributors(repo, at, options)
        .with_context(|| format!("cannot count contributors of {} at {at}", repo.display()))
}

pub fn run_contributors(args: &ContributorsArgs) -> anyhow::Result<ExitCode> {
    let chosen = choose(&args.rules, &args.chain)?;
    let r = report(&args.repo, &args.at, &args.rules.options(chosen.weights))?;
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["point_weights_source"] = serde_json::Value::String(chosen.source);
        print_json(&v)?;
    } else {
        outln!("point weights from {}", chosen.source);
        out!("{}", render_report(&r));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_report(r: &Report) -> String {
    let mut s = format!(
        "contributors at {} (points per line: {}; commits counted: {}, merges skipped: {}{}{})\n\n",
        r.commit,
        r.weights,
        r.commits_counted,
        r.merges_skipped,
        if r.mailmap { "; .mailmap applied" } else { "" },
        if r.signatures_required {
            "; signed entries only"
        } else {
            ""
        },
    );
    s.push_str(&format!(
        "{:<32} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
        "author", "points", "share", "code", "comment", "text", "commits"
    ));
    for a in &r.authors {
        s.push_str(&format!(
            "{:<32} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
            a.email,
            a.points,
            percent(a.share_ppm),
            a.lines.code,
            a.lines.comment,
            a.lines.text,
            a.commits
        ));
    }
    s.push_str(&format!(
        "{:<32} {:>10}\n\nbindings (daoContributors.txt, whole history):\n",
        "total",
        show_half(r.total_half_points)
    ));
    let mut any = false;
    for a in r.authors.iter().filter(|a| !a.bindings.is_empty()) {
        any = true;
        for (i, b) in a.bindings.iter().enumerate() {
            let who = if i == 0 { a.email.as_str() } else { "" };
            let receives = if Some(b.address) == a.receiving {
                "  receives"
            } else {
                ""
            };
            s.push_str(&format!(
                "  {who:<30} {}  {}{receives}\n",
                b.address,
                short(&b.commit)
            ));
        }
    }
    if !any {
        s.push_str("  none\n");
    }
    if !r.ignored.is_empty() {
        s.push_str("\nignored entries:\n");
        for i in &r.ignored {
            s.push_str(&format!(
                "  {} by {}: `{}`: {}\n",
                short(&i.commit),
                i.written_by,
                i.entry,
                i.reason
            ));
        }
    }
    s
}

/// Inline pairs or JSON, else a file holding them.
fn members_from(arg: &str) -> anyhow::Result<BTreeMap<Address, u64>> {
    let t = arg.trim();
    let text = if t.contains('=') || t.starts_with('[') || t.starts_with('{') {
        t.to_owned()
    } else {
        std::fs::read_to_string(Path::new(arg)).with_context(|| {
            format!("--members `{arg}` is neither ADDRESS=WEIGHT pairs nor a readable JSON file")
        })?
    };
    parse_members(&text).map_err(|e| anyhow::anyhow!("--members: {e}"))
}

pub fn run_rebalance(args: &RebalanceArgs) -> anyhow::Result<ExitCode> {
    let members = members_from(&args.members)?;
    let chosen = choose(&args.rules, &args.chain)?;
    let r = report(&args.repo, &args.at, &args.rules.options(chosen.weights))?;
    let table = rebalance(&r, &members, args.mint)
        .with_context(|| format!("cannot rebalance at {}", r.commit))?;
    if args.json {
        // The bytes the hash is over, so anyone can check it with sha256sum.
        let mut v = serde_json::to_value(&table)?;
        v["canonical"] = serde_json::Value::String(table.canonical());
        v["point_weights_source"] = serde_json::Value::String(chosen.source);
        print_json(&v)?;
    } else {
        outln!("point weights from {}", chosen.source);
        out!("{}", render_table(&table));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_table(t: &Table) -> String {
    let mut s = format!(
        "rebalance at {} (mint: {}; points per line: {})\n\n",
        t.commit, t.mint, t.weights
    );
    let row = |a: &str, who: &str, p: &str, tgt: &str, c: &str, m: &str, n: &str| {
        format!("{a:<58} {who:<24} {p:>9} {tgt:>8} {c:>12} {m:>12} {n:>12}\n")
    };
    s.push_str(&row(
        "address", "author", "points", "target", "current", "mint", "new",
    ));
    for r in &t.rows {
        s.push_str(&row(
            &r.address.to_string(),
            r.author.as_deref().unwrap_or("(no contributor)"),
            &r.points,
            &percent(r.target_ppm),
            &r.current.to_string(),
            &format!("+{}", r.mint),
            &r.new.to_string(),
        ));
    }
    s.push_str(&row(
        "total",
        "",
        "",
        "",
        &t.total_current.to_string(),
        &format!("+{}", t.total_mint),
        &t.total_new.to_string(),
    ));
    let held: Vec<_> = t
        .rows
        .iter()
        .flat_map(|r| r.held.iter().map(move |h| (r, h)))
        .collect();
    if !held.is_empty() {
        s.push_str(
            "\nearlier addresses whose weight counts in `current` (nothing is minted to them):\n",
        );
        for (r, h) in held {
            let who = r.author.as_deref().unwrap_or("");
            s.push_str(&format!("  {} {} {}\n", h.address, who, h.weight));
        }
    }
    if !t.unbound.is_empty() {
        s.push_str("\nauthors with points and no bound address (excluded from the targets; bind one in daoContributors.txt):\n");
        for u in &t.unbound {
            s.push_str(&format!("  {:<32} {:>10}\n", u.email, u.points));
        }
    }
    s.push_str(&format!(
        "\ntable hash: {}\nnothing was sent: this prints the table only\n",
        t.hash
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use dao_core::contributors::rebalance::Mint;
    use dao_core::contributors::{PointWeights, Signatures};

    const A: &str = "AEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEA5RCDXMI";

    #[test]
    fn the_briefs_command_line_parses() {
        let cli = Cli::try_parse_from([
            "dao-agentctl",
            "rebalance",
            "--repo",
            "/r",
            "--at",
            "HEAD",
            "--weights",
            &format!("{A}=10"),
            "--mint",
            "3333",
            "--point-weights",
            "comment=1",
            "--json",
        ])
        .unwrap();
        let Command::Rebalance(a) = cli.command else {
            panic!("not rebalance")
        };
        assert_eq!(a.mint, Mint::Exact(3333));
        assert_eq!(a.members, format!("{A}=10"));
        assert_eq!(a.rules.point_weights.map(|w| w.comment), Some(2));
        assert!(a.json);

        let cli =
            Cli::try_parse_from(["dao-agentctl", "contributors", "--require-signed"]).unwrap();
        let Command::Contributors(c) = cli.command else {
            panic!("not contributors")
        };
        assert_eq!((c.at.as_str(), c.repo.as_path()), ("HEAD", Path::new(".")));
        assert!(matches!(
            c.rules.options(PointWeights::default()).signatures,
            Signatures::Require { .. }
        ));
    }

    #[test]
    fn bad_mint_and_weights_are_refused_with_the_fix() {
        let e = Cli::try_parse_from([
            "dao-agentctl",
            "rebalance",
            "--at",
            "HEAD",
            "--members",
            "x",
            "--mint",
            "33.33",
        ])
        .unwrap_err();
        assert!(
            e.to_string().contains("a whole number of weight units"),
            "{e}"
        );
        let e = Cli::try_parse_from([
            "dao-agentctl",
            "contributors",
            "--point-weights",
            "code=0.3",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("whole number or a half"), "{e}");
    }

    #[test]
    fn members_inline_json_or_file() {
        assert_eq!(
            members_from(&format!("{A}=7"))
                .unwrap()
                .values()
                .sum::<u64>(),
            7
        );
        let json = format!("[{{\"address\": \"{A}\", \"weight\": 9}}]");
        assert_eq!(members_from(&json).unwrap().values().sum::<u64>(), 9);
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("m.json");
        std::fs::write(&f, format!("{{\"{A}\": 11}}")).unwrap();
        assert_eq!(
            members_from(f.to_str().unwrap())
                .unwrap()
                .values()
                .sum::<u64>(),
            11
        );
        let e = members_from("/nonexistent/members.json").unwrap_err();
        assert!(format!("{e:#}").contains("neither ADDRESS=WEIGHT pairs nor a readable JSON file"));
        let e = members_from(&format!("{A}=1,{A}=2")).unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        let e = members_from("NOTANADDRESS=1").unwrap_err();
        assert!(e.to_string().contains("58 characters"), "{e}");
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(450_000), "45.00%");
        assert_eq!(percent(333_333), "33.33%");
        assert_eq!(percent(1_000_000), "100.00%");
    }
}

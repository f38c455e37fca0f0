//! How proposals read to people (issue 17): times as UTC dates with how long ago or how soon,
//! and deploy proposals by what the hosts did with them — a deploy that every targeted host
//! applied reads `applied`, not `queued` (or `expired` once its grace period ran out, which
//! only ends the window in which hosts may still apply it).

use serde_json::Value;
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z); a node that says later is
/// shown as it said, in seconds.
const LAST_DATE: u64 = 253_402_300_799;

/// `2026-12-07 05:10:00 UTC`.
pub fn date(ts: u64) -> String {
    rfc3339(ts).replacen('T', " ", 1).replacen('Z', " UTC", 1)
}

/// `2026-12-07T05:10:00Z`, for JSON beside the epoch seconds.
pub fn rfc3339(ts: u64) -> String {
    if ts > LAST_DATE {
        return format!("{ts} s after 1970");
    }
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(ts)).to_string()
}

/// `in 45m`, `3h 2m ago`, `now`: to the minute past an hour, to the second below one.
pub fn relative(ts: u64, now: u64) -> String {
    let d = ts.abs_diff(now);
    if d == 0 {
        return "now".into();
    }
    let rounded = if d >= 3600 { d - d % 60 } else { d };
    let text = humantime::format_duration(Duration::from_secs(rounded)).to_string();
    if ts > now {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `date (relative)`.
pub fn when(ts: u64, now: u64) -> String {
    format!("{} ({})", date(ts), relative(ts, now))
}

/// What the targeted hosts did with a deploy, from its `reports` as `show --json` lists them
/// (each with `report` and `amended`): `None` before any host reported; the one status all
/// reported when they agree (an amendment counts: applied then rolled back is `rolled_back`);
/// `mixed` when they differ; `applying (n/m reported)` while some have not.
pub fn outcome(reports: &[Value]) -> Option<String> {
    let statuses: Vec<Option<&str>> = reports
        .iter()
        .map(|r| {
            let last = if r["amended"].is_null() {
                &r["report"]
            } else {
                &r["amended"]
            };
            last["status"].as_str()
        })
        .collect();
    let done: Vec<&str> = statuses.iter().flatten().copied().collect();
    if done.is_empty() {
        return None;
    }
    if done.len() < statuses.len() {
        return Some(format!(
            "applying ({}/{} reported)",
            done.len(),
            statuses.len()
        ));
    }
    if done.iter().all(|s| *s == done[0]) {
        Some(done[0].to_owned())
    } else {
        Some("mixed".into())
    }
}

/// The state a person should see: a queued or expired deploy reads as its outcome.
pub fn shown_state(v: &Value) -> String {
    let state = v["state"].as_str().unwrap_or("?");
    let deploy = matches!(v["kind"].as_str(), Some("deploy" | "emergency"));
    match (deploy, state, v["outcome"].as_str()) {
        (true, "queued" | "expired", Some(o)) => o.to_owned(),
        _ => state.to_owned(),
    }
}

/// `show` as text: the proposal, its votes and its hosts' reports.
pub fn render(v: &Value, now: u64) -> String {
    let mut s = String::new();
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    let _ = writeln!(
        s,
        "proposal {} · {} · {}",
        v["id"],
        v["kind"].as_str().unwrap_or("?"),
        shown_state(v)
    );
    let _ = writeln!(s, "  proposer  {}", v["proposer"].as_str().unwrap_or("?"));
    let p = &v["payload"];
    if let (Some(base), Some(head)) = (p["base"].as_str(), p["head"].as_str()) {
        let targets = p["targets"]
            .as_str()
            .map_or_else(|| p["targets"].to_string(), str::to_owned);
        let _ = writeln!(s, "  change    {base}..{head}");
        let _ = writeln!(s, "  diff hash {}", p["diff_hash"].as_str().unwrap_or("?"));
        let _ = writeln!(s, "  targets   {targets}");
        let _ = writeln!(
            s,
            "  preview   dao-agentctl preview {} --repo CLONE --host ID=NAME … (what changes per host)",
            v["id"]
        );
    } else if let Some(fields) = p.as_object() {
        for (k, x) in fields.iter().filter(|(k, _)| *k != "description_url") {
            let text = x.as_str().map_or_else(|| x.to_string(), str::to_owned);
            let _ = writeln!(s, "  {k:<9} {text}");
        }
    }
    if let Some(url) = p["description_url"].as_str() {
        let _ = writeln!(s, "  about     {url}");
    }
    let _ = writeln!(
        s,
        "  voting    {} → {}",
        when(n(&v["start"]), now),
        when(n(&v["end"]), now)
    );
    let t = &v["tally"];
    let _ = writeln!(
        s,
        "  tally     for {} · against {} · abstain {} (voted {} of {}; quorum {}, support {}%)",
        t["for"],
        t["against"],
        t["abstain"],
        v["voted_weight"],
        v["total"],
        v["quorum_votes"],
        n(&v["support_ppm"]) as f64 / 10_000.0
    );
    if let Some(eta) = v["eta"].as_u64() {
        let _ = writeln!(s, "  eta       {}", when(eta, now));
    }
    if let Some(b) = super::bond_view::bond_text(&v["bond"], &v["id"], now) {
        let _ = writeln!(s, "  bond      {b}");
    }
    for vote in v["votes"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "  vote      {} {} ({})",
            vote["voter"].as_str().unwrap_or("?"),
            vote["choice"].as_str().unwrap_or("?"),
            vote["weight"]
        );
    }
    for r in v["reports"].as_array().into_iter().flatten() {
        let line = |x: &Value| {
            format!(
                "{} generation {} ({})",
                x["status"].as_str().unwrap_or("?"),
                x["generation"],
                when(n(&x["reported_at"]), now)
            )
        };
        let text = match (r["report"].is_null(), r["amended"].is_null()) {
            (true, _) => "no report yet".to_owned(),
            (false, true) => line(&r["report"]),
            (false, false) => format!("{}, then {}", line(&r["report"]), line(&r["amended"])),
        };
        let _ = writeln!(s, "  host {:<4} {text}", r["host"]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_read_as_dates_and_distances() {
        assert_eq!(date(1_765_084_200), "2025-12-07 05:10:00 UTC");
        assert_eq!(rfc3339(1_765_084_200), "2025-12-07T05:10:00Z");
        assert_eq!(relative(1_000 + 2_700, 1_000), "in 45m");
        assert_eq!(relative(1_000, 1_000 + 10_930), "3h 2m ago");
        assert_eq!(relative(5, 5), "now");
        assert_eq!(rfc3339(u64::MAX), format!("{} s after 1970", u64::MAX));
        assert_eq!(date(LAST_DATE), "9999-12-31 23:59:59 UTC");
    }

    fn report(status: &str) -> Value {
        json!({"status": status, "generation": 2, "reported_at": 0})
    }

    #[test]
    fn a_deploy_reads_as_what_its_hosts_did() {
        let both = [
            json!({"host": 1, "report": report("applied"), "amended": null}),
            json!({"host": 2, "report": report("applied"), "amended": null}),
        ];
        assert_eq!(outcome(&both).as_deref(), Some("applied"));
        let one = [
            json!({"host": 1, "report": report("applied"), "amended": null}),
            json!({"host": 2, "report": null, "amended": null}),
        ];
        assert_eq!(outcome(&one).as_deref(), Some("applying (1/2 reported)"));
        let undone =
            [json!({"host": 1, "report": report("applied"), "amended": report("rolled_back")})];
        assert_eq!(outcome(&undone).as_deref(), Some("rolled_back"));
        let mixed = [
            json!({"host": 1, "report": report("applied"), "amended": null}),
            json!({"host": 2, "report": report("refused"), "amended": null}),
        ];
        assert_eq!(outcome(&mixed).as_deref(), Some("mixed"));
        assert_eq!(
            outcome(&[json!({"host": 1, "report": null, "amended": null})]),
            None
        );

        let v = json!({"kind": "deploy", "state": "expired", "outcome": "applied"});
        assert_eq!(shown_state(&v), "applied");
        let v = json!({"kind": "membership", "state": "queued", "outcome": "applied"});
        assert_eq!(shown_state(&v), "queued");
        let v = json!({"kind": "deploy", "state": "active", "outcome": null});
        assert_eq!(shown_state(&v), "active");
    }
}

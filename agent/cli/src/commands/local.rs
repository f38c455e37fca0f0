//! Commands for this host's agent, over D-Bus (io.github.nixos_dao_governance.Agent1).
//!
//! Who may change anything is decided by the agent from the caller's credentials on the bus;
//! this side only asks and prints the answer (or the refusal, which names what is needed).

use super::chain::block_on;
use super::print_json;
use crate::cli::LocalArgs;
use crate::out::outln;
use anyhow::{anyhow, Context};
use serde_json::Value;
use std::process::ExitCode;
use zbus::Connection;

const BUS_NAME: &str = "io.github.nixos_dao_governance.Agent1";
const OBJECT_PATH: &str = "/io/github/nixos_dao_governance/Agent1";
const INTERFACE: &str = "io.github.nixos_dao_governance.Agent1";

async fn connect(bus: Option<&str>) -> anyhow::Result<Connection> {
    let c = match bus {
        Some(a) => zbus::connection::Builder::address(a)?.build().await,
        None => Connection::system().await,
    };
    c.with_context(|| format!("cannot connect to the {} bus", bus.unwrap_or("system")))
}

/// Calls a method of the agent; D-Bus errors come back with the agent's own message.
fn call<B>(args: &LocalArgs, method: &str, body: &B) -> anyhow::Result<Option<String>>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    block_on(async {
        let conn = connect(args.bus.as_deref()).await?;
        let reply = conn
            .call_method(Some(BUS_NAME), OBJECT_PATH, Some(INTERFACE), method, body)
            .await
            .map_err(|e| match e {
                zbus::Error::MethodError(name, Some(msg), _) => {
                    if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
                        || name.as_str() == "org.freedesktop.DBus.Error.NameHasNoOwner"
                    {
                        anyhow!("no agent is running on this bus ({BUS_NAME} has no owner): is dao-executor.service active?")
                    } else {
                        // The agent's message names the method already.
                        anyhow!("{msg}")
                    }
                }
                other => anyhow!("{method}: {other}"),
            })?;
        let body = reply.body();
        if body.signature().to_string().is_empty() {
            return Ok(None);
        }
        let s: String = body
            .deserialize()
            .with_context(|| format!("{method}: the agent's answer is not a string"))?;
        Ok(Some(s))
    })?
}

fn parse(method: &str, text: Option<String>) -> anyhow::Result<Value> {
    let text = text.ok_or_else(|| anyhow!("{method}: the agent sent no answer"))?;
    serde_json::from_str(&text).with_context(|| format!("{method}: the agent's answer is not JSON"))
}

fn opt(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The status line of the last drift reactivation (the agent's `reactivation` record): one in
/// progress is said loudly, since the host may be between two systems until it ends.
fn reactivation_line(r: &Value) -> Option<String> {
    if !r.is_object() {
        return None;
    }
    let generation = opt(&r["target"]["number"]);
    let o = &r["outcome"];
    Some(match o {
        Value::Object(_) => format!(
            "reactivate  last: {} (generation {generation}, {}){}",
            opt(&o["ended"]),
            opt(&r["approved_by"]),
            match &o["reason"] {
                Value::String(why) => format!(": {why}"),
                _ => String::new(),
            }
        ),
        // A failed step or a revert begun: it is going back to what ran, not forward.
        _ if r["steps"].as_array().is_some_and(|steps| {
            steps
                .iter()
                .any(|e| e["step"] == "revert_configuration" || e["state"] == "failed")
        }) =>
        {
            format!(
                "reactivate  IN PROGRESS, FAILED: going back to {} (it ran before), from \
                 generation {generation} ({})",
                opt(&r["running"]),
                opt(&r["approved_by"])
            )
        }
        _ => format!(
            "reactivate  IN PROGRESS: back to generation {generation} ({}), from {}",
            opt(&r["approved_by"]),
            opt(&r["running"])
        ),
    })
}

pub fn status(args: &LocalArgs) -> anyhow::Result<ExitCode> {
    let v = parse("GetStatus", call(args, "GetStatus", &())?)?;
    if args.json {
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    for line in status_lines(&v) {
        outln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The text of `status`, from the agent's answer; a field the agent left out is shown as
/// missing, never a panic.
fn status_lines(v: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(format!(
        "host        {} (id {}), app {}",
        opt(&v["host"]["name"]),
        opt(&v["host"]["id"]),
        opt(&v["app_id"])
    ));
    lines.push(format!(
        "generation  {} {}",
        opt(&v["generation"]["number"]),
        opt(&v["generation"]["store_path"])
    ));
    match (&v["state"], &v["paused"]) {
        (_, p @ Value::Object(_)) => lines.push(format!(
            "deploying   PAUSED by uid {}: {}",
            opt(&p["uid"]),
            opt(&p["reason"])
        )),
        (Value::String(state), _) => lines.push(format!("state       {state}")),
        _ => lines.push("deploying   automatically".to_owned()),
    }
    if let Value::Object(deps) = &v["dependencies"] {
        for (name, d) in deps {
            if d["ok"] == Value::Bool(false) {
                lines.push(format!(
                    "{name:<11} FAILING since {} (unix ms): {}",
                    opt(&d["since_ms"]),
                    opt(&d["problem"])
                ));
            }
        }
    }
    let d = &v["drift"];
    if d.is_object() {
        lines.push(format!(
            "drift       DRIFT: runs {}, approved {} ({}); policy {}{}",
            opt(&d["running"]),
            opt(&d["approved"]),
            opt(&d["approved_by"]),
            opt(&d["policy"]),
            match &d["refused"] {
                Value::String(r) => format!("; not reactivated: {r}"),
                _ => String::new(),
            }
        ));
    }
    if let Some(line) = reactivation_line(&v["reactivation"]) {
        lines.push(line);
    }
    let h = &v["heartbeat"];
    if h.is_object() {
        lines.push(format!(
            "heartbeat   last at {} (chain time), next from {}{}",
            opt(&h["last_at"]),
            opt(&h["next_at"]),
            match &h["problem"] {
                Value::String(p) => format!("; FAILING: {p}"),
                _ => String::new(),
            }
        ));
    }
    let c = &v["current"];
    if c.is_object() {
        lines.push(format!(
            "now         proposal {}: {} {}",
            opt(&c["proposal"]),
            opt(&c["step"]),
            opt(&c["state"])
        ));
    }
    let l = &v["last"];
    if l.is_object() {
        lines.push(format!(
            "last        proposal {}: {}{}",
            opt(&l["proposal"]),
            opt(&l["outcome"]["status"]),
            match &l["outcome"]["reason"] {
                Value::String(r) => format!(" ({r})"),
                _ => String::new(),
            }
        ));
    }
    if let Value::String(w) = &v["waiting"] {
        lines.push(format!("waiting     {w}"));
    }
    let r = &v["rollback"];
    if r.is_object() {
        lines.push(format!(
            "rollback    to generation {} by uid {}: {} [{}; amendment {}]",
            opt(&r["to"]["number"]),
            opt(&r["uid"]),
            opt(&r["reason"]),
            phase(&r["phase"]),
            phase(&r["amendment"])
        ));
    }
    if let Value::Array(u) = &v["unverified"] {
        for e in u {
            lines.push(format!(
                "unverified  proposal {}: {}",
                opt(&e[0]),
                opt(&e[1])
            ));
        }
    }
    lines
}

/// A serde enum tag: "switched", or the key of {"failed": {...}}.
fn phase(v: &Value) -> String {
    match v {
        Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
        other => opt(other),
    }
}

pub fn deployments(args: &LocalArgs) -> anyhow::Result<ExitCode> {
    let v = parse("ListDeployments", call(args, "ListDeployments", &())?)?;
    if args.json {
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(err) = v.get("error") {
        return Err(anyhow!("the agent cannot read its journal: {}", opt(err)));
    }
    let list = v.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        outln!("no deployments yet");
    }
    outln!(
        "{:>8}  {:<12}  {:<12}  {:<10}  {:<11}  reason",
        "proposal",
        "head",
        "status",
        "from gen.",
        "report"
    );
    for r in list {
        let head = opt(&r["head"]);
        outln!(
            "{:>8}  {:<12}  {:<12}  {:<10}  {:<11}  {}",
            opt(&r["proposal"]),
            head.get(..12).unwrap_or(&head),
            r["outcome"]["status"].as_str().unwrap_or("in progress"),
            opt(&r["previous"]["number"]),
            phase(&r["report"]),
            r["outcome"]["reason"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rollback(to: Option<u64>, reason: &str, args: &LocalArgs) -> anyhow::Result<ExitCode> {
    if to == Some(0) {
        return Err(anyhow!("--to 0: generations are numbered from 1"));
    }
    let v = parse(
        "Rollback",
        call(args, "Rollback", &(to.unwrap_or(0), reason))?,
    )?;
    if args.json {
        print_json(&v)?;
    } else {
        outln!(
            "rolled back to generation {} ({}); automatic deployment is paused until \
             `dao-agentctl resume`",
            opt(&v["to"]["number"]),
            opt(&v["to"]["store_path"])
        );
        match &v["amendment"] {
            Value::Object(m) if m.contains_key("confirmed") => outln!(
                "reported on chain: proposal {} rolled back (transaction {})",
                opt(&v["proposal"]),
                opt(&m["confirmed"]["txid"])
            ),
            Value::Object(m) if m.contains_key("not_applicable") => outln!(
                "nothing reported on chain: {}",
                opt(&m["not_applicable"]["why"])
            ),
            other => outln!("on-chain amendment: {}", phase(other)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn pause(reason: &str, args: &LocalArgs) -> anyhow::Result<ExitCode> {
    call(args, "Pause", &(reason,))?;
    if args.json {
        print_json(&serde_json::json!({ "paused": true, "reason": reason }))?;
    } else {
        outln!("paused: approved proposals wait until `dao-agentctl resume`");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn resume(args: &LocalArgs) -> anyhow::Result<ExitCode> {
    let was = call_bool(args, "Resume")?;
    if args.json {
        print_json(&serde_json::json!({ "paused": false, "was_paused": was }))?;
    } else if was {
        outln!("resumed: approved proposals are applied again");
    } else {
        outln!("the agent was not paused: approved proposals are applied as before");
    }
    Ok(ExitCode::SUCCESS)
}

/// Calls a method that answers a boolean.
fn call_bool(args: &LocalArgs, method: &str) -> anyhow::Result<bool> {
    block_on(async {
        let conn = connect(args.bus.as_deref()).await?;
        let reply = conn
            .call_method(Some(BUS_NAME), OBJECT_PATH, Some(INTERFACE), method, &())
            .await
            .map_err(|e| match e {
                zbus::Error::MethodError(_, Some(msg), _) => anyhow!("{msg}"),
                other => anyhow!("{method}: {other}"),
            })?;
        let body = reply.body();
        if body.signature().to_string().is_empty() {
            return Ok(true);
        }
        body.deserialize::<bool>()
            .with_context(|| format!("{method}: the agent's answer is not a boolean"))
    })?
}

pub fn skip(proposal: u64, reason: &str, args: &LocalArgs) -> anyhow::Result<ExitCode> {
    let v = parse("Skip", call(args, "Skip", &(proposal, reason))?)?;
    if args.json {
        print_json(&v)?;
    } else {
        outln!(
            "proposal {proposal} skipped on this host: it is reported failed on chain ({}); \
             the next proposal goes ahead",
            opt(&v["outcome"]["reason"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{reactivation_line, status_lines};
    use serde_json::json;

    /// The agent leaves out fields that are none (`refused`, `problem`, ...): the text said so
    /// by panicking ("no entry found for key") whenever drift was shown without a refusal.
    #[test]
    fn fields_the_agent_leaves_out_are_shown_missing_not_a_panic() {
        let v = json!({
            "host": {"id": 1, "name": "web"},
            "app_id": 7,
            "drift": {"running": "/nix/store/x", "approved": "/nix/store/a",
                      "approved_by": "proposal 4 (applied)", "since_ms": 1, "policy": "report"},
            "heartbeat": {"last_at": 10},
            "current": {"proposal": 5},
            "last": {"proposal": 4},
            "rollback": {"uid": 0},
        });
        let text = status_lines(&v).join("\n");
        assert!(
            text.contains("drift       DRIFT: runs /nix/store/x, approved /nix/store/a (proposal 4 (applied)); policy report\n"),
            "{text}"
        );
        assert!(
            text.contains("heartbeat   last at 10 (chain time), next from -\n"),
            "{text}"
        );
        assert!(text.contains("last        proposal 4: -"), "{text}");
        assert!(
            text.contains("rollback    to generation - by uid 0"),
            "{text}"
        );
        assert_eq!(status_lines(&json!({})).len(), 3);
    }

    #[test]
    fn a_reactivation_in_progress_and_one_that_ended_are_told_apart() {
        assert_eq!(reactivation_line(&json!(null)), None);
        let mut r = json!({
            "approved_by": "proposal 4 (applied)",
            "target": {"number": 7, "store_path": "/nix/store/a"},
            "running": "/nix/store/b",
        });
        assert_eq!(
            reactivation_line(&r).as_deref(),
            Some(
                "reactivate  IN PROGRESS: back to generation 7 (proposal 4 (applied)), \
                 from /nix/store/b"
            )
        );
        r["steps"] = json!([
            {"step": "switch_configuration", "state": "done", "at_ms": 1},
            {"step": "confirm_health", "state": "failed", "at_ms": 2},
        ]);
        assert_eq!(
            reactivation_line(&r).as_deref(),
            Some(
                "reactivate  IN PROGRESS, FAILED: going back to /nix/store/b (it ran before), \
                 from generation 7 (proposal 4 (applied))"
            )
        );
        r["outcome"] = json!({"ended": "reactivated"});
        assert_eq!(
            reactivation_line(&r).as_deref(),
            Some("reactivate  last: reactivated (generation 7, proposal 4 (applied))")
        );
        r["outcome"] = json!({"ended": "reverted", "reason": "health check failed"});
        assert_eq!(
            reactivation_line(&r).as_deref(),
            Some(
                "reactivate  last: reverted (generation 7, proposal 4 (applied)): health check \
                 failed"
            )
        );
    }
}

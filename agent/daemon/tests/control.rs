//! The D-Bus face on a private dbus-daemon whose default policy is the system bus's (deny, then
//! the agent's shipped policy file), with callers of other uids and groups made by setpriv.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_agent::control::{self, Agent1, Request, BUS_NAME, INTERFACE, OBJECT_PATH};
use dao_testkit::bus::{Bus, Policy};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const NOBODY: &str = "65534";
/// `adm` exists on Debian with gid 4; the tests use it as the operator group.
const OPERATORS: u32 = 4;

fn shipped_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dbus/io.github.nixos_dao_governance.Agent1.conf")
}

fn start_bus() -> Bus {
    dao_testkit::bus::start(Policy::Strict(&shipped_policy()))
}

/// What the state loop was asked, as text; it answers each request plainly.
type Log = Arc<Mutex<Vec<String>>>;

fn backend(mut rx: tokio::sync::mpsc::Receiver<Request>, log: Log) {
    // Each request is logged before it is answered: a caller that checks the log right after
    // its answer must find its request there (logging after the reply raced with the test).
    let note = move |entry: String| log.lock().unwrap().push(entry);
    tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            match r {
                Request::Status { reply } => {
                    note("status".to_owned());
                    let _ = reply.send(r#"{"paused":false}"#.into());
                }
                Request::Deployments { reply } => {
                    note("deployments".to_owned());
                    let _ = reply.send("[]".into());
                }
                Request::Rollback {
                    generation,
                    reason,
                    caller,
                    reply,
                } => {
                    note(format!(
                        "rollback {generation:?} {reason:?} by {}",
                        caller.uid
                    ));
                    let _ = reply.send(Ok(r#"{"generation":1}"#.into()));
                }
                Request::Pause {
                    reason,
                    caller,
                    reply,
                } => {
                    note(format!("pause {reason:?} by {}", caller.uid));
                    let _ = reply.send(Ok(()));
                }
                Request::Resume { caller, reply } => {
                    note(format!("resume by {}", caller.uid));
                    let _ = reply.send(Ok(true));
                }
                Request::Skip {
                    proposal,
                    reason,
                    caller,
                    reply,
                } => {
                    note(format!("skip {proposal} {reason:?} by {}", caller.uid));
                    let _ = reply.send(Ok("{}".into()));
                }
            }
        }
    });
}

async fn serve(bus: &Bus, log: Log) -> zbus::Connection {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    backend(rx, log);
    let agent = Agent1::new(tx, Some((OPERATORS, "adm".into())));
    control::serve(Some(&bus.address), agent).await.unwrap()
}

/// dbus-send as another user: `groups` are its supplementary groups ("" for none).
fn dbus_send_as(bus: &Bus, uid: &str, groups: &str, method: &str, args: &[&str]) -> (bool, String) {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", uid, "--regid", uid]);
    if groups.is_empty() {
        c.arg("--clear-groups");
    } else {
        c.args(["--groups", groups]);
    }
    let out = c
        .arg("dbus-send")
        .arg(format!("--bus={}", bus.address))
        .args(["--print-reply", &format!("--dest={BUS_NAME}"), OBJECT_PATH])
        .arg(method)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn m(name: &str) -> String {
    format!("{INTERFACE}.{name}")
}

async fn call(
    conn: &zbus::Connection,
    method: &str,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) -> zbus::Result<zbus::Message> {
    conn.call_method(Some(BUS_NAME), OBJECT_PATH, Some(INTERFACE), method, body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_may_do_everything() {
    let bus = start_bus();
    let log: Log = Arc::default();
    let _server = serve(&bus, log.clone()).await;
    let client = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let status: String = call(&client, "GetStatus", &())
        .await
        .unwrap()
        .body()
        .deserialize()
        .unwrap();
    assert_eq!(status, r#"{"paused":false}"#);
    call(&client, "Pause", &("maintenance window",))
        .await
        .unwrap();
    call(&client, "Resume", &()).await.unwrap();
    let r: String = call(&client, "Rollback", &(0u64, "  nginx broke  "))
        .await
        .unwrap()
        .body()
        .deserialize()
        .unwrap();
    assert_eq!(r, r#"{"generation":1}"#);
    call(&client, "Rollback", &(41u64, "back to 41"))
        .await
        .unwrap();
    call(&client, "Skip", &(7u64, "remote lost the commit"))
        .await
        .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "status",
            "pause \"maintenance window\" by 0",
            "resume by 0",
            "rollback None \"nginx broke\" by 0",
            "rollback Some(41) \"back to 41\" by 0",
            "skip 7 \"remote lost the commit\" by 0",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprivileged_caller_may_read_but_not_act() {
    let bus = start_bus();
    let log: Log = Arc::default();
    let _server = serve(&bus, log.clone()).await;
    let (ok, text) = dbus_send_as(&bus, NOBODY, "", &m("GetStatus"), &[]);
    assert!(ok, "{text}");
    assert!(text.contains("paused"), "{text}");
    for (method, args) in [
        ("Rollback", vec!["uint64:0", "string:because"]),
        ("Pause", vec!["string:because"]),
        ("Resume", vec![]),
        ("Skip", vec!["uint64:7", "string:because"]),
    ] {
        let (ok, text) = dbus_send_as(&bus, NOBODY, "", &m(method), &args);
        assert!(!ok, "{method} was allowed: {text}");
        assert!(
            text.contains("org.freedesktop.DBus.Error.AccessDenied"),
            "{text}"
        );
        assert!(text.contains("uid 65534 is not"), "{text}");
        assert!(text.contains("member of group adm"), "{text}");
    }
    // The state loop never heard of the refused calls.
    assert_eq!(*log.lock().unwrap(), ["status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_the_operator_group_may_act() {
    let bus = start_bus();
    let log: Log = Arc::default();
    let _server = serve(&bus, log.clone()).await;
    let (ok, text) = dbus_send_as(
        &bus,
        NOBODY,
        &OPERATORS.to_string(),
        &m("Pause"),
        &["string:on call"],
    );
    assert!(ok, "{text}");
    // Another group is not the operator group.
    let (ok, _) = dbus_send_as(&bus, NOBODY, "5", &m("Resume"), &[]);
    assert!(!ok);
    assert_eq!(*log.lock().unwrap(), ["pause \"on call\" by 65534"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_arguments_are_refused_before_reaching_the_agent() {
    let bus = start_bus();
    let log: Log = Arc::default();
    let _server = serve(&bus, log.clone()).await;
    let client = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let long = "x".repeat(control::MAX_REASON + 1);
    for (reason, needle) in [
        ("", "empty"),
        ("   ", "empty"),
        ("a\u{7}b", "control"),
        (long.as_str(), "at most"),
    ] {
        let e = call(&client, "Pause", &(reason,)).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("InvalidArgs") && text.contains(needle),
            "{reason:?}: {text}"
        );
    }
    // Wrong signatures are refused by the bus machinery itself.
    assert!(call(&client, "Rollback", &("not a number",)).await.is_err());
    assert!(call(&client, "Pause", &(7u64,)).await.is_err());
    let (ok, text) = dbus_send_as(&bus, "0", "", &m("Rollback"), &["string:x", "string:y"]);
    assert!(!ok, "{text}");
    assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_root_may_own_the_name_and_signals_reach_listeners() {
    let bus = start_bus();
    // Before the agent is up, an unprivileged process cannot take its name.
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            "dbus-send",
        ])
        .arg(format!("--bus={}", bus.address))
        .args([
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.RequestName",
            &format!("string:{BUS_NAME}"),
            "uint32:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AccessDenied"));

    let log: Log = Arc::default();
    let server = serve(&bus, log).await;
    let listener = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(INTERFACE)
        .unwrap()
        .member("DeploymentChanged")
        .unwrap()
        .build();
    let mut stream = zbus::MessageStream::for_match_rule(rule, &listener, None)
        .await
        .unwrap();
    control::deployment_changed(&server, 12, "switch_configuration")
        .await
        .unwrap();
    use futures_util::StreamExt;
    let msg = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (proposal, state): (u64, String) = msg.body().deserialize().unwrap();
    assert_eq!((proposal, state.as_str()), (12, "switch_configuration"));

    // Introspection names every method.
    let xml: String = listener
        .call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some("org.freedesktop.DBus.Introspectable"),
            "Introspect",
            &(),
        )
        .await
        .unwrap()
        .body()
        .deserialize()
        .unwrap();
    for name in [
        "GetStatus",
        "ListDeployments",
        "Rollback",
        "Pause",
        "Resume",
        "DeploymentChanged",
    ] {
        assert!(xml.contains(name), "{name} missing from introspection");
    }
}

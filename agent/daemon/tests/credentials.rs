//! The real `dao-agent` reads its secrets as systemd credentials when its configuration names
//! no file, as the NixOS module runs it: `$CREDENTIALS_DIRECTORY/algod-token` and
//! `$CREDENTIALS_DIRECTORY/account-key`. A missing one is named, with the option to set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{Agent, Fixture};

/// The fixture's configuration without `algod_token_file` and without `[keys]`: what the
/// module generates now.
fn without_secret_paths(f: &Fixture) {
    let text = std::fs::read_to_string(f.config()).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            !l.starts_with("algod_token_file")
                && *l != "[keys]"
                && !l.starts_with("account_key_file")
        })
        .collect();
    assert_eq!(kept.len() + 3, text.lines().count(), "{text}");
    std::fs::write(f.config(), kept.join("\n") + "\n").unwrap();
}

fn credential(dir: &Path, name: &str, from: &Path) {
    let p = dir.join(name);
    std::fs::copy(from, &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o400)).unwrap();
}

/// Starts the agent with `credentials` as its credentials directory (none: not set at all).
fn spawn(f: &Fixture, credentials: Option<&Path>) -> Agent {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(f.host.join("agent.log"))
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dao-agent"));
    cmd.arg("--config")
        .arg(f.config())
        .env("NIX_CONFIG", dao_testkit::NIX_CONFIG)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &f.bus.address)
        .env_remove("CREDENTIALS_DIRECTORY")
        .stderr(log);
    if let Some(dir) = credentials {
        cmd.env("CREDENTIALS_DIRECTORY", dir);
    }
    Agent(cmd.spawn().unwrap())
}

async fn owns_bus_name(f: &Fixture) -> bool {
    let conn = zbus::connection::Builder::address(f.bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.unwrap();
    let name = zbus::names::BusName::try_from(dao_agent::control::BUS_NAME).unwrap();
    dbus.name_has_owner(name).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_come_from_the_credentials_directory_and_a_missing_one_is_named() {
    let f = Fixture::new(0).await;
    without_secret_paths(&f);
    let creds = f.root.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();

    // No token anywhere: the devnet answers 401, and the error says where a token comes from.
    let status = spawn(&f, None).wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{}", f.log());
    let log = f.log();
    for needle in [
        "no algod token is configured",
        "chain.algod_token_file",
        "algod-token",
        "services.dao-governance.algodTokenFile",
    ] {
        assert!(log.contains(needle), "no {needle:?} in:\n{log}");
    }

    // The token as a credential, but no key: the agent reaches the chain, then refuses to
    // start naming the credential and the option.
    credential(&creds, "algod-token", &f.dn.token_file);
    let status = spawn(&f, Some(&creds)).wait(Duration::from_secs(120));
    assert_eq!(status.code(), Some(1), "{}", f.log());
    let log = f.log();
    let line = log
        .lines()
        .find(|l| l.contains("cannot load the account key"))
        .unwrap_or_else(|| panic!("no key error in:\n{log}"));
    for needle in [
        "systemd credential account-key",
        &creds.join("account-key").display().to_string(),
        "keys.account_key_file",
        "services.dao-governance.keyFile",
    ] {
        assert!(line.contains(needle), "no {needle:?} in {line}");
    }
    assert!(!owns_bus_name(&f).await);

    // Both credentials: the executor starts, owns its bus name (its key was checked against
    // the host's registered agent on chain) and stops cleanly.
    credential(&creds, "account-key", &f.dn.key_file(4));
    let agent = spawn(&f, Some(&creds));
    let mut owned = false;
    for _ in 0..600 {
        if owns_bus_name(&f).await {
            owned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(owned, "the agent did not start:\n{}", f.log());
    assert_eq!(agent.terminate().code(), Some(0), "{}", f.log());
}

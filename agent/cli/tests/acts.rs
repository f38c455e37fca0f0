//! Membership, hosts, parameters and treasury proposals and deposits from dao-agentctl alone,
//! against the devnet: each bad input is refused with its reason before anything is sent (the
//! proposal count does not move), and each good one goes through propose, vote and execute to
//! its effect on chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::Devnet;
use support::{fleet, form, Ctl};

const URL: &str = "https://git.example.org/fleet/issues/17";

fn proposals(ctl: &Ctl) -> usize {
    ctl.ok(&["proposals"], None).as_array().unwrap().len()
}

/// Each call must fail with a message containing its expected text, and send nothing.
fn refused(ctl: &Ctl, cases: &[(&[&str], Option<u32>, &str)]) {
    let before = proposals(ctl);
    for (args, key, expect) in cases {
        let e = ctl.fails(args, *key);
        assert!(e.contains(expect), "{args:?}: expected `{expect}` in: {e}");
    }
    assert_eq!(proposals(ctl), before, "a refused call created a proposal");
}

fn weight_of(ctl: &Ctl, address: &str) -> Option<u64> {
    ctl.ok(&["members"], None)
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["address"] == address)
        .map(|m| m["weight"].as_u64().unwrap())
}

#[test]
fn membership_and_hosts_are_proposed_checked_and_executed() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let ctl = Ctl {
        dn: &dn,
        spec: form(&dn, dir.path(), &work, &[]),
    };
    let (a1, a4, a5, a6, a7) = (
        dn.address(1),
        dn.address(4),
        dn.address(5),
        dn.address(6),
        dn.address(7),
    );
    let m = "propose-membership";
    refused(
        &ctl,
        &[
            (
                &[m, "--member", "NOTANADDRESS", "--weight", "5", "--url", URL],
                Some(1),
                "not an Algorand address",
            ),
            (
                &[m, "--member", &a5, "--weight", "0", "--url", URL],
                Some(1),
                "say --remove",
            ),
            (
                &[m, "--member", &a1, "--weight", "50", "--url", URL],
                Some(1),
                "nothing would change",
            ),
            (
                &[m, "--member", &a5, "--remove", "--url", URL],
                Some(1),
                "is not a member",
            ),
            (
                &[
                    m,
                    "--member",
                    &a5,
                    "--weight",
                    "1000000000001",
                    "--url",
                    URL,
                ],
                Some(1),
                "above the most",
            ),
            (
                &[m, "--member", &a5, "--weight", "5", "--url", "see the wiki"],
                Some(1),
                "not an http(s) URL",
            ),
            // dev5 holds no weight: refused as a proposer, not with an "overspend" dump
            (
                &[m, "--member", &a5, "--weight", "5", "--url", URL],
                Some(5),
                "proposing needs at least 1",
            ),
        ],
    );
    // --dry-run checks everything and says what it would send, and sends nothing.
    let out = ctl.run(
        &[
            m,
            "--member",
            &a5,
            "--weight",
            "10",
            "--url",
            URL,
            "--dry-run",
        ],
        Some(1),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with("dry run: would send 2 transaction(s): pay ") && said.contains("call app"),
        "{said}"
    );
    assert_eq!(proposals(&ctl), 0);
    let p = ctl.ok(
        &[m, "--member", &a5, "--weight", "10", "--url", URL],
        Some(1),
    );
    assert_eq!(
        (p["kind"].as_str(), p["current_weight"].as_u64()),
        (Some("membership"), Some(0))
    );
    let id = p["id"].as_u64().unwrap().to_string();
    // an unfunded non-member is told it is not a member, not shown an overspend dump
    let e = ctl.fails(&["vote", &id, "for"], Some(5));
    assert!(e.contains("not a member who can vote"), "{e}");
    let out = ctl.run(&["vote", &id, "against"], Some(3));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with(&format!("voted against proposal {id} with weight 20")),
        "{said}"
    );
    let e = ctl.fails(&["vote", &id, "for"], Some(3));
    assert!(e.contains("already voted"), "{e}");
    ctl.pass_and_execute(p["id"].as_u64().unwrap());
    assert_eq!(weight_of(&ctl, &a5), Some(10));
    let p = ctl.ok(&[m, "--member", &a5, "--remove", "--url", URL], Some(1));
    ctl.pass_and_execute(p["id"].as_u64().unwrap());
    assert_eq!(weight_of(&ctl, &a5).unwrap_or(0), 0, "removed");

    let h = "propose-host";
    refused(
        &ctl,
        &[
            (
                &[h, "--id", "0", "--agent", &a6, "--url", URL],
                Some(1),
                "host ids start at 1",
            ),
            (
                &[h, "--id", "2", "--retire", "--url", URL],
                Some(1),
                "not registered",
            ),
            (
                &[h, "--id", "1", "--agent", &a4, "--url", URL],
                Some(1),
                "nothing would change",
            ),
            (
                &[
                    h,
                    "--id",
                    "2",
                    "--agent",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                    "--url",
                    URL,
                ],
                Some(1),
                "not an Algorand address",
            ),
        ],
    );
    let reg = ctl.ok(&[h, "--id", "2", "--agent", &a6, "--url", URL], Some(1));
    assert!(reg["current_agent"].is_null());
    ctl.pass_and_execute(reg["id"].as_u64().unwrap());
    let rot = ctl.ok(&[h, "--id", "1", "--agent", &a7, "--url", URL], Some(1));
    assert_eq!(rot["current_agent"], a4.as_str());
    ctl.pass_and_execute(rot["id"].as_u64().unwrap());
    let ret = ctl.ok(&[h, "--id", "2", "--retire", "--url", URL], Some(1));
    ctl.pass_and_execute(ret["id"].as_u64().unwrap());
    let hosts = ctl.ok(&["hosts"], None);
    let agent = |id: u64| {
        hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["host_id"] == id)
            .map(|x| x["agent"].as_str().unwrap().to_owned())
    };
    assert_eq!(agent(1).as_deref(), Some(a7.as_str()));
    assert_ne!(
        agent(2).as_deref(),
        Some(a6.as_str()),
        "host 2 is retired: {hosts}"
    );
    refused(
        &ctl,
        &[(
            &[h, "--id", "2", "--retire", "--url", URL],
            Some(1),
            "not registered",
        )],
    );
}

#[test]
fn parameters_treasury_and_deposits_are_proposed_checked_and_executed() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let ctl = Ctl {
        dn: &dn,
        spec: form(&dn, dir.path(), &work, &[]),
    };
    let p = "propose-parameters";
    refused(
        &ctl,
        &[
            (&[p, "--url", URL], Some(1), "say what to change"),
            (
                &[p, "--set", "timelok=20", "--url", URL],
                Some(1),
                "not a rule",
            ),
            (
                &[p, "--set", "timelock=10", "--url", URL],
                Some(1),
                "nothing would change",
            ),
            (
                &[p, "--set", "support_ppm=1000000", "--url", URL],
                Some(1),
                "would be invalid",
            ),
            // issue 21: no rush, no freeze; each refusal names the rule
            (
                &[p, "--set", "timelock=5", "--url", URL],
                Some(1),
                "timelock: 5 s is below the floor of 10 s",
            ),
            (
                &[p, "--set", "vote_cap_ppm=1", "--url", URL],
                Some(1),
                "would_freeze_vote",
            ),
            (
                &[p, "--set", "min_proposer_weight=40", "--url", URL],
                Some(1),
                "would_freeze_proposer",
            ),
            (
                &[p, "--set", "heartbeat_interval=60", "--url", URL],
                Some(1),
                "heartbeat_interval: must be 3600 s (an hour) to 2592000 s (30 days), got 60",
            ),
            (
                &[p, "--set", "proposal_bond=1000000000001", "--url", URL],
                Some(1),
                "proposal_bond: must be 0 (no bond) to 1000000000000 microAlgos",
            ),
        ],
    );
    let rules = ctl.ok(&["rules"], None);
    assert_eq!(rules["timelock_floor"], 10, "{rules}");
    assert_eq!(rules["members"], 3, "{rules}");
    assert_eq!(rules["liveness"]["live"], true, "{rules}");
    assert_eq!(rules["rules"]["timelock"], 10, "{rules}");
    assert_eq!(rules["rules"]["heartbeat_interval"], 86_400, "{rules}");
    assert_eq!(rules["rules"]["proposal_bond"], 0, "{rules}");
    let text = String::from_utf8_lossy(&ctl.run(&["rules"], None).stdout).into_owned();
    assert!(
        text.contains("timelock floor")
            && text.contains("live:")
            && text.contains(&format!("{:<22} {:>14}", "heartbeat_interval", 86_400)),
        "{text}"
    );
    let out = ctl.run(
        &[
            p,
            "--set",
            "timelock=20",
            "--set",
            "quorum_ppm=250000",
            "--url",
            URL,
        ],
        Some(1),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // the change beside the value in force, unchanged rules left out
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["timelock", "10", "20"])),
        "{text}"
    );
    assert!(!text.contains("voting_period"), "{text}");
    let id: u64 = text
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .parse()
        .unwrap();
    ctl.pass_and_execute(id);
    refused(
        &ctl,
        &[(
            &[p, "--set", "timelock=20", "--url", URL],
            Some(1),
            "nothing would change",
        )],
    );

    let a6 = dn.address(6);
    let fresh = dao_core::address::Address([7; 32]).to_string();
    let t = "propose-treasury";
    refused(
        &ctl,
        &[
            (
                &[t, "--to", &a6, "--amount", "1000algo", "--url", URL],
                Some(1),
                "deposit first",
            ),
            (
                &[t, "--to", "nobody", "--amount", "1algo", "--url", URL],
                Some(1),
                "not an Algorand address",
            ),
            (
                &[t, "--to", &a6, "--amount", "0", "--url", URL],
                Some(1),
                "pays nothing",
            ),
        ],
    );
    let d = ctl.ok(&["deposit", "--amount", "3algo"], Some(2));
    assert_eq!(d["amount"], 3_000_000);
    // With money in the treasury: an account nobody funded cannot be paid less than the
    // minimum balance every account keeps (the ledger would refuse it at execute).
    refused(
        &ctl,
        &[(
            &[t, "--to", &fresh, "--amount", "0.05algo", "--url", URL],
            Some(1),
            "below the 0.100000 Algo every account must keep",
        )],
    );
    let pay = ctl.ok(
        &[t, "--to", &a6, "--amount", "1.5algo", "--url", URL],
        Some(1),
    );
    assert_eq!(pay["amount"], 1_500_000);
    let id = pay["id"].as_u64().unwrap().to_string();
    ctl.ok(&["vote", &id, "for"], Some(1));
    ctl.ok(&["vote", &id, "for"], Some(2));
    ctl.ok(&["finalize", &id], Some(3));
    dn.advance(31);
    // the treasury's balance just before and after the execution (a 1 µAlgo deposit reads it)
    let balance = || {
        ctl.ok(&["deposit", "--amount", "1"], Some(2))["treasury_balance"]
            .as_u64()
            .unwrap()
    };
    let before = balance();
    ctl.ok(&["execute", &id], Some(3));
    assert_eq!(
        balance(),
        before - 1_500_000 + 1,
        "the treasury paid exactly 1.5 Algo"
    );
    // an amount with more than six decimals is refused by the argument parser (status 2)
    let out = ctl.run(&["deposit", "--amount", "0.0000001algo"], Some(2));
    assert_eq!(out.status.code(), Some(2));
}

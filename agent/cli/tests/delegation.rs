//! Delegation from dao-agentctl alone, against the devnet (issue 21, item 4): dev1 (50)
//! delegates to dev2 (30); a deploy is proposed; dev2 votes with both weights; dev1's vote is
//! refused with weight_delegated, by the CLI and by the app; the proposal passes and verifies
//! with the rules engine; after undelegate the next proposal sees dev1's own weight again.
//! Every refusal names the app's code, and the app refuses the same calls on its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_chain::decode::VoteChoice;
use dao_chain::Signer;
use dao_testkit::{git, Devnet};
use support::{fleet, form_at, runtime, Ctl};

/// A deploy proposal by dev `key` of one more commit, pushed where the hosts fetch from.
fn deploy(ctl: &Ctl, work: &std::path::Path, served: &str, key: u32, n: u32) -> u64 {
    let base = git(work, &["rev-parse", "HEAD"]).trim().to_owned();
    std::fs::write(work.join("web.nix"), format!("{{ x = {n}; }}\n")).unwrap();
    git(work, &["commit", "-q", "-am", "change"]);
    let head = git(work, &["rev-parse", "HEAD"]).trim().to_owned();
    git(work, &["push", "-q", served, "main"]);
    let p = ctl.ok(
        &[
            "submit",
            "--repo",
            work.to_str().unwrap(),
            "--base",
            &base,
            "--head",
            &head,
            "--target",
            "1",
            "--description",
            "https://git.example.org/fleet/pulls/21",
        ],
        Some(key),
    );
    p["id"].as_u64().unwrap()
}

fn member<'a>(members: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["address"] == address)
        .unwrap_or_else(|| panic!("{address} not in {members}"))
}

#[test]
fn a_delegate_votes_with_both_weights_and_undelegate_gives_the_weight_back() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let served = dir.path().join("served.git");
    git(dir.path(), &["init", "-q", "--bare", "served.git"]);
    let served = served.to_str().unwrap().to_owned();
    git(&work, &["push", "-q", &served, "main"]);
    let spec = form_at(&dn, dir.path(), &work, &format!("file://{served}"), &[]);
    let ctl = Ctl { dn: &dn, spec };
    let (alice, bob, outsider) = (dn.address(1), dn.address(2), dn.address(5));
    let app = ctl.app();
    let rt = runtime();
    let code = |r: Result<dao_chain::txn::Confirmed, dao_chain::ChainError>| {
        r.unwrap_err().app_code().map(str::to_owned)
    };

    // Refusals before anything is delegated, each naming the code and what to do.
    for (args, key, expect) in [
        (vec!["delegate", alice.as_str()], 1, "self_delegation"),
        (
            vec!["delegate", outsider.as_str()],
            1,
            "delegate_not_member",
        ),
        (vec!["delegate", bob.as_str()], 5, "not_member"),
        (vec!["undelegate"], 1, "not_delegating"),
    ] {
        let e = ctl.fails(&args, Some(key));
        assert!(e.contains(expect), "{args:?}: expected {expect} in {e}");
    }
    // The app refuses the same calls on its own, with the same codes.
    let dev1 = Signer::from_file(&dn.key_file(1)).unwrap();
    let dev5 = Signer::from_file(&dn.key_file(5)).unwrap();
    let (a_alice, a_bob, a_out) = (
        alice.parse().unwrap(),
        bob.parse().unwrap(),
        outsider.parse().unwrap(),
    );
    assert_eq!(
        code(rt.block_on(app.delegate(&dev1, &a_alice))).as_deref(),
        Some("self_delegation")
    );
    assert_eq!(
        code(rt.block_on(app.delegate(&dev1, &a_out))).as_deref(),
        Some("delegate_not_member")
    );
    assert_eq!(
        code(rt.block_on(app.delegate(&dev5, &a_bob))).as_deref(),
        Some("not_member")
    );
    assert_eq!(
        code(rt.block_on(app.undelegate(&dev1))).as_deref(),
        Some("not_delegating")
    );

    // alice delegates to bob.
    let d = ctl.ok(&["delegate", &bob], Some(1));
    assert_eq!(
        (d["weight"].as_u64(), d["delegate_power"].as_u64()),
        (Some(50), Some(80)),
        "{d}"
    );
    let e = ctl.fails(&["delegate", &bob], Some(1));
    assert!(e.contains("already_delegated"), "{e}");
    assert_eq!(
        code(rt.block_on(app.delegate(&dev1, &a_bob))).as_deref(),
        Some("already_delegated")
    );
    let members = ctl.ok(&["members"], None);
    let m = member(&members, &alice);
    assert_eq!(
        (m["weight"].as_u64(), m["power"].as_u64()),
        (Some(50), Some(0)),
        "{m}"
    );
    assert_eq!(m["delegate"], bob.as_str(), "{m}");
    let m = member(&members, &bob);
    assert_eq!(
        (m["weight"].as_u64(), m["power"].as_u64()),
        (Some(30), Some(80)),
        "{m}"
    );
    assert!(m["delegate"].is_null(), "{m}");
    let text = String::from_utf8_lossy(&ctl.run(&["members"], None).stdout).into_owned();
    assert!(text.contains(&format!("delegates to {bob}")), "{text}");

    // A deploy proposed by alice: proposing still takes her own weight.
    let id = deploy(&ctl, &work, &served, 1, 1);
    let s = id.to_string();
    let e = ctl.fails(&["vote", &s, "for"], Some(1));
    assert!(
        e.contains("weight_delegated") && e.contains("undelegate"),
        "{e}"
    );
    assert_eq!(
        code(rt.block_on(app.vote(&dev1, id, VoteChoice::For))).as_deref(),
        Some("weight_delegated")
    );
    let v = ctl.ok(&["vote", &s, "for"], Some(2));
    assert_eq!(v["weight"], 80, "{v}");
    let f = ctl.ok(&["finalize", &s], Some(3));
    assert_eq!(f["state"], "queued", "{f}");
    let show = ctl.ok(&["show", &s], None);
    assert_eq!(show["tally"]["for"], 80, "{show}");

    // The rules engine re-computes the tally from the vote and history boxes and agrees.
    let verified = rt.block_on(async {
        let k = app.rules_knowledge().await.unwrap();
        let now = app
            .node
            .block_timestamp(app.node.last_round().await.unwrap())
            .await
            .unwrap();
        app.verify_proposal(id, &k, now).await.unwrap()
    });
    assert_eq!(
        (verified.engine.tally.for_, verified.engine.voted_weight),
        (80, 80)
    );

    // Undelegate: the next proposal sees alice's own weight again, and bob's alone.
    let u = ctl.ok(&["undelegate"], Some(1));
    assert_eq!(u["from"], bob.as_str(), "{u}");
    let members = ctl.ok(&["members"], None);
    assert_eq!(member(&members, &alice)["power"], 50);
    assert!(member(&members, &alice)["delegate"].is_null());
    assert_eq!(member(&members, &bob)["power"], 30);
    let next = deploy(&ctl, &work, &served, 1, 2);
    let s = next.to_string();
    assert_eq!(ctl.ok(&["vote", &s, "for"], Some(1))["weight"], 50);
    assert_eq!(ctl.ok(&["vote", &s, "against"], Some(2))["weight"], 30);
    let show = ctl.ok(&["show", &s], None);
    assert_eq!(
        (&show["tally"]["for"], &show["tally"]["against"]),
        (&serde_json::json!(50), &serde_json::json!(30)),
        "{show}"
    );
}

#[test]
fn weight_changes_of_a_delegator_move_its_delegates_power_and_a_removed_delegate_keeps_it() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let served = dir.path().join("served.git");
    git(dir.path(), &["init", "-q", "--bare", "served.git"]);
    let served = served.to_str().unwrap().to_owned();
    git(&work, &["push", "-q", &served, "main"]);
    let spec = form_at(&dn, dir.path(), &work, &format!("file://{served}"), &[]);
    let ctl = Ctl { dn: &dn, spec };
    let (bob, carol) = (dn.address(2), dn.address(3));
    const URL: &str = "https://git.example.org/fleet/issues/21";
    let power = |who: &str| {
        ctl.ok(&["members"], None)
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["address"] == who)
            .map(|m| (m["weight"].as_u64().unwrap(), m["power"].as_u64().unwrap()))
            .unwrap()
    };

    // carol (20) delegates to bob (30); a membership proposal raises carol to 25: the change
    // goes to bob's power, carol's own weight changes.
    ctl.ok(&["delegate", &bob], Some(3));
    let p = ctl.ok(
        &[
            "propose-membership",
            "--member",
            &carol,
            "--weight",
            "25",
            "--url",
            URL,
        ],
        Some(1),
    );
    ctl.pass_and_execute(p["id"].as_u64().unwrap());
    assert_eq!(power(&carol), (25, 0));
    assert_eq!(power(&bob), (30, 55));

    // bob is removed: he keeps carol's 25 and votes with it until she takes it back.
    let p = ctl.ok(
        &[
            "propose-membership",
            "--member",
            &bob,
            "--remove",
            "--url",
            URL,
        ],
        Some(1),
    );
    ctl.pass_and_execute(p["id"].as_u64().unwrap());
    assert_eq!(power(&bob), (0, 25));
    let text = String::from_utf8_lossy(&ctl.run(&["members"], None).stdout).into_owned();
    assert!(
        text.contains(&bob),
        "a removed delegate holding power is listed: {text}"
    );
    let e = ctl.fails(&["delegate", &bob], Some(1));
    assert!(e.contains("delegate_not_member"), "{e}");
    let id = deploy(&ctl, &work, &served, 1, 1);
    assert_eq!(
        ctl.ok(&["vote", &id.to_string(), "for"], Some(2))["weight"],
        25
    );
    ctl.ok(&["undelegate"], Some(3));
    assert_eq!(power(&bob), (0, 0));
    assert_eq!(power(&carol), (25, 25));
}

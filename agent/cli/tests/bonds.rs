//! Proposal bonds from dao-agentctl alone, against the devnet (issue 21, item 3): a governed
//! bond is paid with each proposal, shown by `show` and `proposals`, refunded once by
//! `refund-bond` after the proposal passed, and kept by the treasury when the quorum fails; each
//! refusal names the rule.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::Devnet;
use support::{fleet, form, Ctl};

const URL: &str = "https://git.example.org/fleet/issues/21";
const BOND: u64 = 1_000_000;

fn balance(ctl: &Ctl, n: u32) -> u64 {
    let app = ctl.app();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(app.node.balance(&ctl.dn.address(n).parse().unwrap()))
        .unwrap()
        .0
}

fn membership(ctl: &Ctl, key: u32) -> u64 {
    let a7 = ctl.dn.address(7);
    let p = ctl.ok(
        &[
            "propose-membership",
            "--member",
            &a7,
            "--weight",
            "5",
            "--url",
            URL,
        ],
        Some(key),
    );
    p["id"].as_u64().unwrap()
}

#[test]
fn a_bond_is_paid_shown_refunded_once_or_kept() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let ctl = Ctl {
        dn: &dn,
        spec: form(&dn, dir.path(), &work, &[]),
    };
    // The DAO votes itself a bond.
    let p = ctl.ok(
        &[
            "propose-parameters",
            "--set",
            &format!("proposal_bond={BOND}"),
            "--url",
            URL,
        ],
        Some(1),
    );
    let change = p["id"].as_u64().unwrap();
    ctl.pass_and_execute(change);
    assert_eq!(ctl.ok(&["rules"], None)["rules"]["proposal_bond"], BOND);
    let e = ctl.fails(&["refund-bond", &change.to_string()], Some(3));
    assert!(e.contains("without a bond"), "{e}");

    let before = balance(&ctl, 1);
    let id = membership(&ctl, 1);
    assert!(before - balance(&ctl, 1) >= BOND);
    let show = ctl.ok(&["show", &id.to_string()], None);
    assert_eq!(show["bond"]["amount"], BOND, "{show}");
    assert_eq!(show["bond"]["status"], "held", "{show}");
    assert_eq!(show["bond"]["refundable_now"], false, "{show}");
    let e = ctl.fails(&["refund-bond", &id.to_string()], Some(3));
    assert!(e.contains("still voting"), "{e}");

    let s = id.to_string();
    ctl.ok(&["vote", &s, "for"], Some(1));
    ctl.ok(&["vote", &s, "for"], Some(2));
    ctl.ok(&["finalize", &s], Some(3));
    let list = ctl.ok(&["proposals"], None);
    assert_eq!(
        list[id as usize - 1]["bond"]["refundable_now"],
        true,
        "{list}"
    );
    let before = balance(&ctl, 1);
    // Anyone may ask (dev3 here); the proposer (dev1) is paid.
    let r = ctl.ok(&["refund-bond", &s], Some(3));
    assert_eq!(r["refunded"], BOND, "{r}");
    assert_eq!(balance(&ctl, 1) - before, BOND);
    let text = String::from_utf8_lossy(&ctl.run(&["show", &s], None).stdout).into_owned();
    assert!(text.contains("refunded to the proposer"), "{text}");
    let e = ctl.fails(&["refund-bond", &s], Some(1));
    assert!(e.contains("refunded already"), "{e}");

    // Nobody votes on the next one: it fails its quorum and the treasury keeps the bond.
    let id = membership(&ctl, 2);
    let s = id.to_string();
    dn.advance(101);
    ctl.ok(&["finalize", &s], Some(3));
    let show = ctl.ok(&["show", &s], None);
    assert_eq!(show["bond"]["status"], "kept", "{show}");
    let e = ctl.fails(&["refund-bond", &s], Some(2));
    assert!(
        e.contains("treasury keeps") && e.contains("proposal_bond"),
        "{e}"
    );
}

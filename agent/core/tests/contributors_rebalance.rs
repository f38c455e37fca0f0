//! Rebalance tables from real repositories, the refusals that name the member, and the
//! arithmetic's invariants over many generated cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod contributors_support;

use contributors_support::{build, script, vectors, CommitSpec};
use dao_core::address::Address;
use dao_core::contributors::rebalance::{
    apportion, parse_members, rebalance, Apportioned, MathError, Mint, RebalanceError, Share,
};
use dao_core::contributors::{contributors_at, Options, Report, BINDINGS_FILE};
use serde_json::Value;
use std::collections::BTreeMap;

const A1: &str = "AEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEA5RCDXMI";
const A2: &str = "AIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBMXPWWNQ";
const A4: &str = "AQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCABXO5EU";

fn members(pairs: &[(&str, u64)]) -> BTreeMap<Address, u64> {
    pairs
        .iter()
        .map(|(a, w)| (a.parse().unwrap(), *w))
        .collect()
}

#[test]
fn tables_from_the_vectors_with_their_hashes() {
    let v = vectors();
    for case in v["tables"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let built = build(&script(case));
        let at = built.id(case["at"].as_str().unwrap());
        // The vector's commit id was computed without git (see the generator's note in the
        // docs): the script fixes every byte of every commit.
        assert_eq!(
            at.to_string(),
            case["at_commit"].as_str().unwrap(),
            "{name}"
        );
        let report = contributors_at(&built.repo, at, &Options::default()).unwrap();
        let m = parse_members(&case["members"].to_string()).unwrap();
        for t in case["tables"].as_array().unwrap() {
            let mint: Mint = t["mint"].as_str().unwrap().parse().unwrap();
            let table = rebalance(&report, &m, mint).unwrap();
            let rows = serde_json::to_value(&table.rows).unwrap();
            let want_rows: Vec<Value> = t["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    let hp = r["half_points"].as_u64().unwrap();
                    let points = dao_core::contributors::show_half(hp);
                    r["points"] = Value::String(points);
                    r
                })
                .collect();
            assert_eq!(rows, Value::Array(want_rows), "{name}, mint {mint}");
            assert_eq!(
                table.canonical(),
                t["canonical"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(table.hash, t["hash"].as_str().unwrap(), "{name}");
            let unbound = serde_json::to_value(&table.unbound).unwrap();
            for (got, want) in unbound
                .as_array()
                .unwrap()
                .iter()
                .zip(case["unbound"].as_array().unwrap())
            {
                assert_eq!(got["email"], want["email"]);
                assert_eq!(got["half_points"], want["half_points"]);
            }
            assert_eq!(
                unbound.as_array().unwrap().len(),
                case["unbound"].as_array().unwrap().len()
            );
            let sum: u64 = table.rows.iter().map(|r| r.new).sum();
            assert_eq!(sum, table.total_new);
            assert_eq!(table.total_new - table.total_current, table.total_mint);
        }
    }
}

fn gitdao_report() -> (contributors_support::Built, Report) {
    let v = vectors();
    let case = &v["tables"][0];
    let built = build(&script(case));
    let at = built.id(case["at"].as_str().unwrap());
    let report = contributors_at(&built.repo, at, &Options::default()).unwrap();
    (built, report)
}

#[test]
fn an_exact_mint_that_would_take_weight_is_refused_naming_the_member() {
    let (_built, report) = gitdao_report();
    let m = members(&[(A1, 4000), (A2, 6000)]);
    let e = rebalance(&report, &m, Mint::Exact(500)).unwrap_err();
    assert!(matches!(e, RebalanceError::CannotReach { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(A2) && msg.contains("alice@example.org") && msg.contains("holds 6000"),
        "{msg}"
    );
    assert!(
        msg.contains("target at a total of 10500 is 5775.00"),
        "{msg}"
    );
    assert!(msg.contains("mint at least 909"), "{msg}");
    // At the minimal mint it is accepted.
    assert!(rebalance(&report, &m, Mint::Exact(909)).is_ok());
}

#[test]
fn a_member_no_contributor_owns_blocks_the_table_by_name() {
    let (_built, report) = gitdao_report();
    let m = members(&[(A1, 4000), (A2, 6000), (A4, 5)]);
    let e = rebalance(&report, &m, Mint::Minimal).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(A4)
            && msg.contains("bound to no contributor")
            && msg.contains("holds weight 5"),
        "{msg}"
    );
    assert!(msg.contains("daoContributors.txt"), "{msg}");
    // A member listed with weight 0 is nobody's concern.
    let m = members(&[(A1, 4000), (A2, 6000), (A4, 0)]);
    assert!(rebalance(&report, &m, Mint::Minimal).is_ok());
}

#[test]
fn without_a_bound_contributor_there_is_no_target() {
    let built = build(&[CommitSpec::new(
        "c1",
        "alice@example.org",
        &[("a.rs", Some("fn a() {}\n"))],
    )]);
    let report = contributors_at(&built.repo, built.id("c1"), &Options::default()).unwrap();
    let e = rebalance(&report, &members(&[(A1, 10)]), Mint::Minimal).unwrap_err();
    assert!(matches!(e, RebalanceError::NoPoints { .. }), "{e}");
    assert!(e.to_string().contains("bind their addresses"), "{e}");
}

#[test]
fn an_entry_by_someone_else_earns_the_named_author_nothing() {
    // Mallory writes an entry binding his address for Alice: were it trusted, Alice's weight
    // would be minted to Mallory.
    let built = build(&[
        CommitSpec::new("c1", "alice@example.org", &[("a.rs", Some("fn a() {}\n"))]),
        CommitSpec::new(
            "c2",
            "mallory@example.org",
            &[(BINDINGS_FILE, Some(&format!("alice@example.org {A4}\n")))],
        ),
        CommitSpec::new(
            "c3",
            "bob@example.org",
            &[(
                BINDINGS_FILE,
                Some(&format!("alice@example.org {A4}\nbob@example.org {A1}\n")),
            )],
        ),
    ]);
    let report = contributors_at(&built.repo, built.id("c3"), &Options::default()).unwrap();
    let table = rebalance(&report, &BTreeMap::new(), Mint::Exact(100)).unwrap();
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0].address.to_string(), A1);
    assert_eq!(table.rows[0].new, 100);
    assert!(table.unbound.iter().any(|u| u.email == "alice@example.org"));
}

fn check(shares: &[Share], a: &Apportioned) {
    let p: u128 = shares.iter().map(|s| u128::from(s.points)).sum();
    let t = u128::from(a.total);
    assert_eq!(
        a.new.iter().map(|n| u128::from(*n)).sum::<u128>(),
        t,
        "{shares:?}"
    );
    for (s, n) in shares.iter().zip(&a.new) {
        assert!(*n >= s.current, "someone lost weight: {shares:?} → {a:?}");
        // |new − T·pᵢ/P| < 1, without division.
        let ideal = u128::from(s.points) * t;
        let got = u128::from(*n) * p;
        assert!(
            got.abs_diff(ideal) < p,
            "more than a unit off: {shares:?} → {a:?}"
        );
    }
}

#[test]
fn the_arithmetic_keeps_its_promises_on_generated_cases() {
    let mut rng = dao_testkit::Rng(0x9e37_79b9_7f4a_7c15);
    let mut refused = 0;
    for _ in 0..3000 {
        let n = 1 + rng.below(6) as usize;
        let shares: Vec<Share> = (0..n)
            .map(|_| Share {
                current: rng.below(5) * rng.below(10_000),
                points: 1 + rng.below(500),
            })
            .collect();
        let minimal = apportion(&shares, Mint::Minimal).unwrap();
        check(&shares, &minimal);
        // T = round(max cᵢ·P/pᵢ): |2·T·pₖ − 2·cₖ·P| ≤ pₖ for the binding holder k, and
        // T is the current total when that is more.
        let p: u128 = shares.iter().map(|s| u128::from(s.points)).sum();
        let current: u64 = shares.iter().map(|s| s.current).sum();
        let k = shares
            .iter()
            .max_by(|a, b| {
                (u128::from(a.current) * u128::from(b.points))
                    .cmp(&(u128::from(b.current) * u128::from(a.points)))
            })
            .unwrap();
        let t = u128::from(minimal.total);
        let off = (2 * t * u128::from(k.points)).abs_diff(2 * u128::from(k.current) * p);
        assert!(
            off <= u128::from(k.points) || minimal.total == current,
            "{shares:?} → {minimal:?}"
        );
        // Any exact mint from the minimal one up is accepted and keeps the promises.
        let least = minimal.total - current;
        for extra in [0, 1, 7, rng.below(100_000)] {
            let exact = apportion(&shares, Mint::Exact(least + extra)).unwrap();
            check(&shares, &exact);
            assert_eq!(exact.total, minimal.total + extra);
        }
        // Below it, either refused with the minimal mint named, or still within a unit.
        if least > 0 {
            match apportion(&shares, Mint::Exact(rng.below(least))) {
                Ok(a) => check(&shares, &a),
                Err(MathError::CannotReach { minimal_mint, .. })
                | Err(MathError::CannotReachTogether { minimal_mint, .. }) => {
                    assert_eq!(minimal_mint, least);
                    refused += 1;
                }
                Err(e) => panic!("{shares:?}: {e:?}"),
            }
        }
    }
    assert!(refused > 100, "the refusal path ran only {refused} times");
}

#[test]
fn huge_weights_are_refused_not_wrapped() {
    let shares = [
        Share {
            current: u64::MAX,
            points: 1,
        },
        Share {
            current: 0,
            points: u64::MAX / 2,
        },
    ];
    assert_eq!(apportion(&shares, Mint::Minimal), Err(MathError::Overflow));
    let shares = [Share {
        current: u64::MAX,
        points: 1,
    }];
    assert_eq!(apportion(&shares, Mint::Exact(1)), Err(MathError::Overflow));
}

//! Replays tests/vectors/contributors.json: every section against repositories built with git2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod contributors_support;

use contributors_support::{build, script, vectors, CommitSpec};
use dao_core::contributors::rebalance::{apportion, MathError, Mint, Share};
use dao_core::contributors::{contributors_at, Options, PointWeights};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn classification_per_family() {
    let v = vectors();
    let cases = v["classification"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let path = case["path"].as_str().unwrap();
        let content = case["content"].as_str().unwrap();
        // One root commit holding the file: the real path through git objects, not only the
        // classifier.
        let built = build(&[CommitSpec::new(
            "c1",
            "a@example.org",
            &[(path, Some(content))],
        )]);
        let report = contributors_at(&built.repo, built.id("c1"), &Options::default()).unwrap();
        let lines = match report.authors.as_slice() {
            [a] => serde_json::to_value(a.lines).unwrap(),
            other => panic!("{name}: expected one author, got {other:?}"),
        };
        assert_eq!(lines, case["lines"], "{name} ({path})");
    }
}

#[test]
fn points_scenarios() {
    let v = vectors();
    for case in v["points"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let built = build(&script(case));
        let weights: PointWeights = case["weights"]
            .as_str()
            .map_or(PointWeights::default(), |w| w.parse().unwrap());
        let options = Options {
            weights,
            ..Options::default()
        };
        for expect in case["expect"].as_array().unwrap() {
            let at = expect["at"].as_str().unwrap();
            let report = contributors_at(&built.repo, built.id(at), &options).unwrap();
            let got: BTreeMap<String, Value> = report
                .authors
                .iter()
                .map(|a| {
                    let v = json!({"lines": a.lines, "commits": a.commits, "half_points": a.half_points});
                    (a.email.clone(), v)
                })
                .collect();
            let want: BTreeMap<String, Value> =
                serde_json::from_value(expect["authors"].clone()).unwrap();
            assert_eq!(got, want, "{name} at {at}");
            assert_eq!(
                report.commits_counted,
                u(&expect["commits_counted"]),
                "{name}"
            );
            assert_eq!(
                report.merges_skipped,
                u(&expect["merges_skipped"]),
                "{name}"
            );
            let sum: u64 = report.authors.iter().map(|a| a.half_points).sum();
            assert_eq!(report.total_half_points, sum, "{name}");
        }
    }
}

#[test]
fn binding_scenarios() {
    let v = vectors();
    for case in v["bindings"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let built = build(&script(case));
        let at = built.id(case["at"].as_str().unwrap());
        let report = contributors_at(&built.repo, at, &Options::default()).unwrap();
        let bound: BTreeMap<String, Vec<String>> = report
            .authors
            .iter()
            .filter(|a| !a.bindings.is_empty())
            .map(|a| {
                let list = a.bindings.iter().map(|b| b.address.to_string()).collect();
                (a.email.clone(), list)
            })
            .collect();
        let want: BTreeMap<String, Vec<String>> =
            serde_json::from_value(case["bound"].clone()).unwrap();
        assert_eq!(bound, want, "{name}: bound");
        let receiving: BTreeMap<String, String> = report
            .authors
            .iter()
            .filter_map(|a| a.receiving.map(|r| (a.email.clone(), r.to_string())))
            .collect();
        let want: BTreeMap<String, String> =
            serde_json::from_value(case["receiving"].clone()).unwrap();
        assert_eq!(receiving, want, "{name}: receiving");
        // The vector names commits by script id; the report by commit id.
        let by_oid: BTreeMap<String, String> = built
            .ids
            .iter()
            .map(|(k, v)| (v.to_string(), k.clone()))
            .collect();
        let ignored: Vec<Value> = report
            .ignored
            .iter()
            .map(|i| {
                json!({
                    "commit": by_oid[&i.commit],
                    "written_by": i.written_by,
                    "entry": i.entry,
                    "kind": serde_json::to_value(&i.reason).unwrap()["kind"],
                })
            })
            .collect();
        assert_eq!(Value::Array(ignored), case["ignored"], "{name}: ignored");
    }
}

#[test]
fn rebalance_arithmetic() {
    let v = vectors();
    for case in v["rebalance"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let shares: Vec<Share> = case["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Share {
                current: u(&s["current"]),
                points: u(&s["half_points"]),
            })
            .collect();
        let mint: Mint = case["mint"].as_str().unwrap().parse().unwrap();
        let got = apportion(&shares, mint);
        match (&case["error"], got) {
            (Value::Null, Ok(a)) => {
                assert_eq!(a.total, u(&case["total"]), "{name}: total");
                let want: Vec<u64> = serde_json::from_value(case["new"].clone()).unwrap();
                assert_eq!(a.new, want, "{name}: new weights");
            }
            (err, Err(e)) if !err.is_null() => {
                let got = match e {
                    MathError::NoPoints => json!({"kind": "no_points"}),
                    MathError::NoTarget { index } => json!({"kind": "no_target", "index": index}),
                    MathError::CannotReach {
                        index,
                        minimal_mint,
                        ..
                    } => {
                        json!({"kind": "cannot_reach", "index": index, "minimal_mint": minimal_mint})
                    }
                    MathError::CannotReachTogether {
                        indices,
                        minimal_mint,
                    } => {
                        json!({"kind": "cannot_reach_together", "indices": indices, "minimal_mint": minimal_mint})
                    }
                    MathError::Overflow => json!({"kind": "overflow"}),
                };
                assert_eq!(&got, err, "{name}");
            }
            (want, got) => panic!("{name}: expected {want}, got {got:?}"),
        }
    }
}

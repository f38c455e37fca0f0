//! Replays every committed seed of every target (agent/fuzz/seeds/<target>/): the seeds, and any
//! input a fuzzer once crashed on and that was added as a seed after its fix, stay passing in the
//! ordinary test suite, without libFuzzer.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

#[test]
fn every_seed_of_every_target_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for (name, target) in dao_fuzz::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 3, "{name}: only {} seed(s)", files.len());
        let mut total = 0;
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            total += bytes.len();
            if let Err(e) = std::panic::catch_unwind(|| target(&bytes)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{name}: seed {} fails: {msg}", f.display());
            }
        }
        // Seeds live in the repository: keep them small.
        assert!(total < 256 * 1024, "{name}: {total} bytes of seeds");
    }
}

/// The hand-made seeds are real-shaped: each valid one decodes (a seed that silently stopped
/// decoding, after a format change, would leave the fuzzer starting from nothing).
#[test]
fn the_valid_seeds_decode() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let read = |t: &str, n: &str| std::fs::read(root.join(t).join(n)).unwrap();
    for n in ["executor.toml", "watcher.toml", "watcher-defaults.toml"] {
        let text = String::from_utf8(read("config", n)).unwrap();
        dao_core::config::parse(&text).unwrap_or_else(|p| panic!("{n}: {p:?}"));
    }
    for n in [
        "new",
        "switched",
        "rolled-back-submitted",
        "rolled-back-confirmed",
    ] {
        dao_agent::journal::parse_record(Path::new("proposal-7-host-1.json"), &read("journal", n))
            .unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    for n in [
        "member",
        "vote",
        "report",
        "proposal-deploy-hosts",
        "proposal-treasury",
    ] {
        let b = read("chain_box", n);
        let (name, value) = b[2..].split_at(usize::from(b[0]));
        let key = dao_chain::decode::BoxKey::parse(name).unwrap();
        let ok = match key {
            dao_chain::decode::BoxKey::Member(_) => {
                dao_chain::decode::decode_member(&key, value).is_ok()
            }
            dao_chain::decode::BoxKey::Vote(..) => {
                dao_chain::decode::decode_vote(&key, value).is_ok()
            }
            dao_chain::decode::BoxKey::Report(..) => {
                dao_chain::decode::decode_report(&key, value).is_ok()
            }
            _ => dao_chain::decode::decode_proposal(&key, value).is_ok(),
        };
        assert!(ok, "{n}");
    }
}

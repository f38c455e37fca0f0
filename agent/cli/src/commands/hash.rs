use super::print_json;
use crate::out::outln;
use anyhow::Context;
use dao_core::diff_hash::diff_hash_revisions;
use std::path::Path;
use std::process::ExitCode;

pub fn run(repo: &Path, base: &str, head: &str, json: bool) -> anyhow::Result<ExitCode> {
    let summary = diff_hash_revisions(repo, base, head)
        .with_context(|| format!("cannot hash the change {base}..{head}"))?;
    if summary.is_empty() {
        eprintln!(
            "note: {base} and {head} have identical trees; this is the empty change \
             (a proposal must change something)"
        );
    }
    if json {
        print_json(&serde_json::json!({
            "diff_hash": summary.diff_hash,
            "base": summary.base,
            "head": summary.head,
            "changed_paths": summary.changed_paths,
            "bytes_hashed": summary.bytes_hashed,
            "empty": summary.is_empty(),
        }))?;
    } else {
        outln!("{}", summary.diff_hash);
    }
    Ok(ExitCode::SUCCESS)
}

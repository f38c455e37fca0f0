//! The journal record parser.

use dao_agent::journal::{parse_record, JournalError, Record};
use std::path::{Path, PathBuf};

/// The bytes are a record file. They are read from the file the record should be in (named by
/// its own proposal and host, when it has them) and from one it should not be in.
pub fn journal(data: &[u8]) {
    let wrong =
        Path::new("/var/lib/dao-governance/journal/proposal-18446744073709551615-host-0.json");
    let mut paths = vec![wrong.to_path_buf()];
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let (Some(p), Some(h)) = (v["proposal"].as_u64(), v["host"].as_u64()) {
            paths.push(
                PathBuf::from("/var/lib/dao-governance/journal").join(Record::file_name(p, h)),
            );
        }
    }
    for path in &paths {
        match parse_record(path, data) {
            Ok(r) => {
                assert_eq!(
                    path.file_name().and_then(|n| n.to_str()),
                    Some(Record::file_name(r.proposal, r.host).as_str()),
                    "a record was accepted from the wrong file"
                );
                // What the journal writes back (Journal::put) reads back the same.
                let bytes = serde_json::to_vec_pretty(&r).unwrap();
                match parse_record(path, &bytes) {
                    Ok(again) => assert_eq!(again, r),
                    Err(e) => panic!("{r:?} written back does not parse: {e}"),
                }
                // Every state the record holds can be named (logs, status, D-Bus use the tags).
                for s in &r.steps {
                    assert!(!dao_agent::journal::tag(&s.step).is_empty());
                    assert!(!dao_agent::journal::tag(&s.state).is_empty());
                }
            }
            Err(e) => {
                let JournalError::Corrupt {
                    path: named,
                    problem,
                } = &e
                else {
                    panic!("parsing bytes gave an I/O error: {e}");
                };
                assert_eq!(named, path);
                assert!(!problem.is_empty());
                assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            }
        }
    }
}

//! The follower's watermark file: the last round whose events were all handed out, written
//! atomically so that a crash replays at most one round.

use crate::follow::FollowError;
use std::path::Path;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FollowError + '_ {
    move |source| FollowError::Watermark {
        path: path.to_owned(),
        source,
    }
}

/// Reads a watermark file: `{"app_id": N, "round": R}`.
pub fn read_watermark(path: &Path, app_id: u64) -> Result<Option<u64>, FollowError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let malformed = |reason: &str| FollowError::WatermarkMalformed {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(&e.to_string()))?;
    let found = v["app_id"].as_u64().ok_or_else(|| malformed("no app_id"))?;
    let round = v["round"].as_u64().ok_or_else(|| malformed("no round"))?;
    if found != app_id {
        return Err(FollowError::WatermarkOtherApp {
            path: path.to_owned(),
            found,
            expected: app_id,
        });
    }
    Ok(Some(round))
}

/// Writes a watermark file atomically ([`dao_core::fsio::replace`]: a temporary file in the same
/// directory, fsync, rename, fsync of the directory). Mode 0666 less the umask, as before.
pub fn write_watermark(path: &Path, app_id: u64, round: u64) -> Result<(), FollowError> {
    let text = format!("{{\"app_id\": {app_id}, \"round\": {round}}}\n");
    match dao_core::fsio::replace(path, text.as_bytes(), 0o666) {
        Ok(()) => Ok(()),
        // Best effort: some file systems refuse fsync on a directory; the new watermark is in
        // place, and at worst a crash replays one more round (delivery is at-least-once).
        Err(e) if e.renamed => Ok(()),
        Err(e) => Err(io_err(&e.path)(e.source)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn watermarks_round_trip_atomically_and_refuse_other_apps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wm.json");
        assert_eq!(read_watermark(&p, 5).unwrap(), None);
        write_watermark(&p, 5, 42).unwrap();
        assert_eq!(read_watermark(&p, 5).unwrap(), Some(42));
        assert!(matches!(
            read_watermark(&p, 6),
            Err(FollowError::WatermarkOtherApp { .. })
        ));
        std::fs::write(&p, "garbage").unwrap();
        assert!(matches!(
            read_watermark(&p, 5),
            Err(FollowError::WatermarkMalformed { .. })
        ));
        // no temporary file left behind
        write_watermark(&p, 5, 43).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}

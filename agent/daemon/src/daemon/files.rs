//! Small state files of the executor (pause, operator rollback): JSON, replaced atomically and
//! durably as journal records are ([`crate::journal::replace_file`]), never half-written.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{self, File};
use std::path::Path;

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::journal::replace_file(path, &bytes).map_err(|(p, e)| format!("{}: {e}", p.display()))
}

/// The file's value, None when it does not exist; a file that does not parse is an error that
/// names it (the agent does not guess).
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            format!(
                "{} is corrupt ({e}); inspect it and move it aside once the host's state is known",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn remove(path: &Path) -> Result<(), String> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

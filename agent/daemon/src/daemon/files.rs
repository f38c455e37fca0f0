//! Small state files of the executor (pause, operator rollback): JSON, replaced atomically and
//! durably through the files edge, as journal records are, never half-written.

use crate::edges::Files;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

pub fn write_json<T: Serialize>(files: &dyn Files, path: &Path, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| format!("{}: {e}", path.display()))?;
    files
        .replace(path, &bytes)
        .map_err(|(p, e)| format!("{}: {e}", p.display()))
}

/// The file's value, None when it does not exist; a file that does not parse is an error that
/// names it (the agent does not guess).
pub fn read_json<T: DeserializeOwned>(files: &dyn Files, path: &Path) -> Result<Option<T>, String> {
    match files.read(path) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            format!(
                "{} is corrupt ({e}); inspect it and move it aside once the host's state is known",
                path.display()
            )
        }),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn remove(files: &dyn Files, path: &Path) -> Result<(), String> {
    files
        .remove(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

//! Replacing a file atomically and durably, for the agent's journal and the follower's watermark.
//!
//! `tempfile` makes the temporary file beside the target (a fresh name, created exclusively, so
//! two writers never share one) and renames it over the target with `persist`; it does not make
//! the rename durable, so the directory is fsynced here afterwards.

use std::fmt;
use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A step of [`replace`] failed on `path` (the temporary file, the target or its directory).
#[derive(Debug)]
pub struct ReplaceError {
    pub path: PathBuf,
    pub source: io::Error,
    /// The new content is in place: only the directory's fsync, which makes the rename survive a
    /// crash, failed (some file systems refuse fsync on a directory).
    pub renamed: bool,
}

impl fmt::Display for ReplaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for ReplaceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Replaces `path` with `bytes`: a temporary file `.NAME.<6 random characters>.tmp` in the same
/// directory, created with `mode` (less the umask, as `open(2)` does), written and fsynced,
/// renamed over `path`, then the directory fsynced. A crash leaves the old file or the new one,
/// never a mix; at worst a `*.tmp` leftover, which never counted. On an error before the rename
/// the temporary file is removed.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ReplaceError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let at = |p: &Path, renamed: bool| {
        let path = p.to_path_buf();
        move |source| ReplaceError {
            path,
            source,
            renamed,
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(at(dir, false))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.write_all(bytes).map_err(at(&tmp_path, false))?;
    tmp.as_file().sync_all().map_err(at(&tmp_path, false))?;
    tmp.persist(path).map_err(|e| ReplaceError {
        path: path.to_path_buf(),
        source: e.error,
        renamed: false,
    })?;
    // The rename is durable only once the directory is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(at(dir, true))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_content_with_the_mode_and_leaves_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        replace(&p, b"one", 0o600).unwrap();
        replace(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(names(d.path()), ["state.json"]);
    }

    #[test]
    fn the_mode_is_masked_like_open() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("wm.json");
        replace(&p, b"x", 0o666).unwrap();
        let mode = std::fs::metadata(&p).unwrap().mode() & 0o777;
        // No bit beyond what was asked; the umask may take some away (0644 under 022).
        assert_eq!(mode & !0o666, 0, "{mode:o}");
        assert_ne!(mode & 0o600, 0, "{mode:o}");
    }

    #[test]
    fn a_failure_names_the_path_and_leaves_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("no-such-dir").join("state.json");
        let e = replace(&missing, b"x", 0o600).unwrap_err();
        assert_eq!(e.path, d.path().join("no-such-dir"));
        assert!(!e.renamed);
        assert!(e.to_string().contains("no-such-dir"), "{e}");

        // A directory where the file should go: the rename fails, the temporary file is removed.
        let p = d.path().join("taken");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("inside"), b"keep").unwrap();
        let e = replace(&p, b"x", 0o600).unwrap_err();
        assert_eq!(e.path, p);
        assert!(!e.renamed);
        assert_eq!(names(d.path()), ["taken"]);
        assert_eq!(std::fs::read(p.join("inside")).unwrap(), b"keep");
    }
}

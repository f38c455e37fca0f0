//! The journal: one record per (proposal, host), written atomically before and after every step
//! of the executor pipeline, so that recovery after a crash at any point knows exactly what was
//! done. A record is replaced whole (temp file, fsync, rename, fsync of the directory): a reader
//! sees the old record or the new one, never a mix. Records are read strictly: a record that
//! does not parse is an error naming the file, never a guess and never silently skipped.

use crate::edges::host::DiskFiles;
use crate::edges::Files;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

pub mod reactivation;
pub mod record;

pub use record::{
    tag, Generation, Outcome, Record, Report, Status, Step, StepEntry, StepState, VERSION,
};

#[derive(Debug, Error)]
pub enum JournalError {
    #[error("journal directory {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal record {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal record {} is corrupt ({problem}); the agent will not guess what happened: \
         inspect it, and move it aside only once the host's state is known",
        path.display()
    )]
    Corrupt { path: PathBuf, problem: String },
}

/// Called with every record right after it is durably written (the daemon turns records into
/// its status, sd-notify STATUS lines and D-Bus signals).
pub type Observer = Box<dyn Fn(&Record) + Send + Sync>;

/// The journal directory.
pub struct Journal {
    dir: PathBuf,
    files: Arc<dyn Files>,
    observer: Option<Observer>,
}

impl Journal {
    /// Opens (creating, mode 0700) the journal directory on disk.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        Journal::open_in(Arc::new(DiskFiles), dir)
    }

    /// Opens the journal directory `dir` of `files`. Leftover temporary files of a write that a
    /// crash interrupted are removed: their rename never happened, so they never counted.
    pub fn open_in(files: Arc<dyn Files>, dir: &Path) -> Result<Journal, JournalError> {
        let dir_err = |source| JournalError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        files.create_dir(dir).map_err(dir_err)?;
        for path in files.list(dir).map_err(dir_err)? {
            if path.extension().is_some_and(|e| e == "tmp") {
                files
                    .remove(&path)
                    .map_err(|source| JournalError::Io { path, source })?;
            }
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            files,
            observer: None,
        })
    }

    /// The same journal, telling `observer` of every record written.
    pub fn observed(self, observer: Observer) -> Journal {
        Journal {
            observer: Some(observer),
            ..self
        }
    }

    pub fn path_of(&self, proposal: u64, host: u64) -> PathBuf {
        self.dir.join(Record::file_name(proposal, host))
    }

    /// Replaces the record of its (proposal, host) atomically and durably.
    pub fn put(&self, record: &Record) -> Result<(), JournalError> {
        let path = self.path_of(record.proposal, record.host);
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| JournalError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        self.files
            .replace(&path, &bytes)
            .map_err(|(path, source)| JournalError::Io { path, source })?;
        if let Some(observe) = &self.observer {
            observe(record);
        }
        Ok(())
    }

    /// The record of (proposal, host), if there is one.
    pub fn get(&self, proposal: u64, host: u64) -> Result<Option<Record>, JournalError> {
        let path = self.path_of(proposal, host);
        match self.files.read(&path) {
            Ok(Some(bytes)) => parse_record(&path, &bytes).map(Some),
            Ok(None) => Ok(None),
            Err(source) => Err(JournalError::Io { path, source }),
        }
    }

    /// Every record, by proposal then host. Any file that is not a record is an error.
    pub fn all(&self) -> Result<Vec<Record>, JournalError> {
        let dir_err = |source| JournalError::Dir {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        for path in self.files.list(&self.dir).map_err(dir_err)? {
            let bytes = self
                .files
                .read(&path)
                .map_err(|source| JournalError::Io {
                    path: path.clone(),
                    source,
                })?
                .unwrap_or_default();
            out.push(parse_record(&path, &bytes)?);
        }
        out.sort_by_key(|r| (r.proposal, r.host));
        Ok(out)
    }
}

/// Reads one record strictly: a record that does not parse, or is not of this version, or lies in
/// the wrong file, is [`JournalError::Corrupt`] naming `path`.
pub fn parse_record(path: &Path, bytes: &[u8]) -> Result<Record, JournalError> {
    let corrupt = |problem: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    let record: Record = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if record.version != VERSION {
        return Err(corrupt(format!(
            "version {} is not {VERSION}, the version this agent writes",
            record.version
        )));
    }
    let expected = Record::file_name(record.proposal, record.host);
    if path.file_name().and_then(|n| n.to_str()) != Some(expected.as_str()) {
        return Err(corrupt(format!(
            "it holds proposal {} host {}, which belongs in {expected}",
            record.proposal, record.host
        )));
    }
    Ok(record)
}

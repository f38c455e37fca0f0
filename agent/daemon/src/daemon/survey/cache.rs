//! What a survey learned that can never change, kept across passes and restarts so that the
//! next survey reads only what still can: the survey's cost follows the proposals still open for
//! this host, not the DAO's history (issue 19).
//!
//! **The floor.** Every proposal below it is final for this host: not a deploy targeting it
//! (a payload is fixed at creation), reported by it (the app refuses a second report), or
//! verified defeated or canceled (neither can ever be queued). The floor only moves over such
//! proposals, each classified from the chain by this agent, so a proposal below it is never one
//! the host still has to act on. A proposal still open (voting, succeeded, queued, expired and
//! not yet reported, or one that does not verify) holds the floor where it is.
//!
//! **Persisted** in the state directory (`survey.json`, replaced atomically), bound to the app,
//! the host and the DAO's identity (its repository and genesis commit, pinned at creation): a
//! file of another app, host or DAO (an app id reused by a reset devnet or another network),
//! from a chain with fewer proposals than its floor, or one that does not parse is dropped with
//! a warning and the survey starts again from proposal 1. Losing it only costs time.

use crate::executor::Approved;
use dao_chain::decode::ReportStatus;
use dao_core::diff_hash::DiffHash;
use git2::Oid;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The file format's version; another version is dropped (and rebuilt from the chain).
const VERSION: u32 = 2;

/// What a cache describes: the app, the host, and the DAO's repository and genesis commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Binding {
    pub app_id: u64,
    pub host: u64,
    pub repo: String,
    pub genesis: String,
}

#[derive(Debug, Default)]
pub struct Cache {
    /// Where the cache is kept; None: in memory only (the operator's one-off surveys).
    path: Option<PathBuf>,
    /// Whether the file was read (on the first survey, when the app and host are known).
    loaded: bool,
    /// What this cache describes.
    bound: Option<Binding>,
    /// Every proposal id below it is final for this host (see the module doc).
    pub(super) floor: u64,
    /// At or above the floor: proposals that are not deploys targeting this host.
    pub(super) elsewhere: BTreeSet<u64>,
    /// At or above the floor: deploys targeting this host verified defeated or canceled.
    pub(super) settled: BTreeSet<u64>,
    /// Every parameters proposal seen (below the floor too): while there are none, the rules
    /// never changed; otherwise only these are read to know past rules.
    pub(super) parameters: BTreeSet<u64>,
    /// Reported deploy proposals targeting this host: the report's status and the change. Those
    /// below the last applied one are dropped: no lineage or standing needs them.
    pub(super) reported: BTreeMap<u64, (ReportStatus, Approved)>,
    /// Something changed since the file was written.
    dirty: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    app_id: u64,
    host: u64,
    repo: String,
    genesis: String,
    floor: u64,
    elsewhere: BTreeSet<u64>,
    settled: BTreeSet<u64>,
    parameters: BTreeSet<u64>,
    reported: Vec<FileReport>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReport {
    proposal: u64,
    status: u64,
    base: String,
    head: String,
    diff_hash: String,
}

impl Cache {
    /// A cache kept in `path` (read at the first survey).
    pub fn persisted(path: PathBuf) -> Cache {
        Cache {
            path: Some(path),
            floor: 1,
            ..Cache::default()
        }
    }

    /// The lowest proposal id that can still matter to this host.
    pub fn floor(&self) -> u64 {
        self.floor.max(1)
    }

    /// Binds the cache to `binding` (reading its file the first time); a cache of another app,
    /// host or DAO, or whose floor is beyond the chain's proposals, starts over.
    pub(super) fn bind(&mut self, binding: Binding, proposal_count: u64) {
        if !self.loaded {
            self.loaded = true;
            if let Some(path) = self.path.clone() {
                match read(&path) {
                    Ok(Some(f)) => self.adopt(f, &path),
                    Ok(None) => {}
                    Err(why) => {
                        tracing::warn!(
                            file = %path.display(),
                            "survey cache dropped ({why}); the survey reads every proposal again"
                        );
                        // Replaced by the next save.
                        self.dirty = true;
                    }
                }
            }
        }
        let fits = self.floor() <= proposal_count.saturating_add(1)
            && self
                .elsewhere
                .iter()
                .chain(&self.settled)
                .chain(&self.parameters)
                .chain(self.reported.keys())
                .all(|id| *id <= proposal_count);
        let same = self.bound.as_ref().is_none_or(|b| *b == binding);
        if !(fits && same) {
            tracing::warn!(
                app = binding.app_id,
                host = binding.host,
                floor = self.floor(),
                proposal_count,
                "survey cache is of another app, host, DAO or chain; the survey reads every \
                 proposal again"
            );
            self.reset();
        }
        self.bound = Some(binding);
    }

    fn reset(&mut self) {
        let (path, loaded) = (self.path.take(), self.loaded);
        *self = Cache {
            path,
            loaded,
            floor: 1,
            dirty: true,
            ..Cache::default()
        };
    }

    fn adopt(&mut self, f: File, path: &Path) {
        let mut reported = BTreeMap::new();
        for r in f.reported {
            match decode_report(&r) {
                Some(v) => {
                    reported.insert(r.proposal, v);
                }
                None => {
                    tracing::warn!(
                        file = %path.display(),
                        proposal = r.proposal,
                        "survey cache dropped (a report does not decode); the survey reads \
                         every proposal again"
                    );
                    self.dirty = true;
                    return;
                }
            }
        }
        if f.version != VERSION || f.floor == 0 {
            tracing::warn!(
                file = %path.display(),
                version = f.version,
                "survey cache of another version dropped; the survey reads every proposal again"
            );
            self.dirty = true;
            return;
        }
        *self = Cache {
            path: self.path.take(),
            loaded: true,
            bound: Some(Binding {
                app_id: f.app_id,
                host: f.host,
                repo: f.repo,
                genesis: f.genesis,
            }),
            floor: f.floor,
            elsewhere: f.elsewhere,
            settled: f.settled,
            parameters: f.parameters,
            reported,
            dirty: false,
        };
    }

    pub(super) fn mark(&mut self) {
        self.dirty = true;
    }

    /// Moves the floor over every final proposal at its place and drops what it passed, and
    /// the reports no standing needs (below the last applied one).
    pub(super) fn advance(&mut self, proposal_count: u64) {
        let start = self.floor();
        let mut floor = start;
        while floor <= proposal_count
            && (self.elsewhere.contains(&floor)
                || self.settled.contains(&floor)
                || self.reported.contains_key(&floor))
        {
            floor += 1;
        }
        if floor != start {
            self.elsewhere = self.elsewhere.split_off(&floor);
            self.settled = self.settled.split_off(&floor);
            self.floor = floor;
            self.dirty = true;
        }
        let last_applied = self
            .reported
            .iter()
            .rev()
            .find(|(_, (status, _))| *status == ReportStatus::Applied)
            .map(|(id, _)| *id);
        if let Some(last) = last_applied {
            let kept = self.reported.split_off(&last);
            if !self.reported.is_empty() {
                self.dirty = true;
            }
            self.reported = kept;
        }
    }

    /// Writes the file when something changed; a failure is logged, not fatal (the cache is
    /// still in memory, and a lost file only costs time).
    pub(super) fn save(&mut self) {
        let (Some(path), Some(b), true) = (&self.path, &self.bound, self.dirty) else {
            return;
        };
        let f = File {
            version: VERSION,
            app_id: b.app_id,
            host: b.host,
            repo: b.repo.clone(),
            genesis: b.genesis.clone(),
            floor: self.floor(),
            elsewhere: self.elsewhere.clone(),
            settled: self.settled.clone(),
            parameters: self.parameters.clone(),
            reported: self
                .reported
                .iter()
                .map(|(id, (status, a))| FileReport {
                    proposal: *id,
                    status: u64::from(status.code()),
                    base: a.base.to_string(),
                    head: a.head.to_string(),
                    diff_hash: hex::encode(a.diff_hash.0),
                })
                .collect(),
        };
        let written = serde_json::to_vec(&f)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                dao_core::fsio::replace(path, &bytes, 0o600).map_err(|e| e.to_string())
            });
        match written {
            Ok(()) => self.dirty = false,
            Err(e) => tracing::warn!(
                file = %path.display(),
                "cannot write the survey cache ({e}); the next start surveys from proposal 1"
            ),
        }
    }
}

fn read(path: &Path) -> Result<Option<File>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} does not parse: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn decode_report(r: &FileReport) -> Option<(ReportStatus, Approved)> {
    let status = ReportStatus::from_code(r.status)?;
    let diff_hash: [u8; 32] = hex::decode(&r.diff_hash).ok()?.try_into().ok()?;
    Some((
        status,
        Approved {
            proposal: r.proposal,
            base: Oid::from_str(&r.base).ok()?,
            head: Oid::from_str(&r.head).ok()?,
            diff_hash: DiffHash(diff_hash),
        },
    ))
}

//! `daoContributors.txt`: which Algorand address receives whose weight (docs/contributors.md,
//! "Bindings").
//!
//! The file at the repository root holds lines `<author email> <address>`. It is read over its
//! whole history, not at one commit: every line any non-merge commit added (relative to its
//! first parent) is an entry, so an address added and later removed stays bound. An entry is
//! trusted only when the commit that added it was written by the author it names (both emails
//! through the `.mailmap` of the counted commit); someone writing an entry for someone else
//! binds nothing.

use super::history::{resolve_email, History};
use super::points::MAX_FILE_BYTES;
use super::ContributorsError;
use crate::address::Address;
use git2::{Mailmap, Oid, Repository};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

/// The file's name, at the repository root.
pub const BINDINGS_FILE: &str = "daoContributors.txt";

/// Whether entries must come from commits with a verified signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Signatures {
    #[default]
    Ignore,
    /// Only entries from commits that `git verify-commit` accepts, signed by their author.
    Require { git: PathBuf },
}

impl Signatures {
    pub fn require() -> Signatures {
        Signatures::Require {
            git: PathBuf::from("git"),
        }
    }
}

/// A trusted entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub author: String,
    pub address: Address,
    pub commit: String,
}

/// An entry that binds nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    pub commit: String,
    /// The commit's author (after the mailmap).
    pub written_by: String,
    /// The line as written (trimmed), at most 200 characters.
    pub entry: String,
    pub reason: IgnoredReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IgnoredReason {
    /// The entry names another author than the commit's.
    WrittenByAnother {
        entry_author: String,
    },
    /// Not `<email> <address>`.
    MalformedEntry,
    MalformedAddress {
        problem: String,
    },
    /// This author bound this address before.
    Duplicate {
        first_commit: String,
    },
    /// Another author bound this address first: one address receives for one author.
    AddressTaken {
        author: String,
        commit: String,
    },
    /// `--require-signed`: the commit has no signature.
    Unsigned,
    /// `--require-signed`: `git verify-commit` refused the signature.
    BadSignature {
        message: String,
    },
    /// `--require-signed`: the signature is good but the key belongs to someone else.
    SignerNotAuthor {
        signer: String,
    },
    /// The file in that commit is larger than the limit and was not read.
    FileTooLarge {
        bytes: u64,
    },
}

impl fmt::Display for IgnoredReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgnoredReason::WrittenByAnother { entry_author } => write!(
                f,
                "written by another author: an entry for {entry_author} binds only when {entry_author} commits it"
            ),
            IgnoredReason::MalformedEntry => {
                f.write_str("malformed entry: expected `<author email> <Algorand address>`")
            }
            IgnoredReason::MalformedAddress { problem } => {
                write!(f, "malformed address: {problem}")
            }
            IgnoredReason::Duplicate { first_commit } => {
                write!(f, "duplicate: already bound by commit {first_commit}")
            }
            IgnoredReason::AddressTaken { author, commit } => write!(
                f,
                "duplicate: the address is bound to {author} since commit {commit}"
            ),
            IgnoredReason::Unsigned => f.write_str("the commit is not signed (--require-signed)"),
            IgnoredReason::BadSignature { message } => {
                write!(f, "the commit's signature does not verify: {message}")
            }
            IgnoredReason::SignerNotAuthor { signer } => write!(
                f,
                "the commit is signed by {signer}, not by its author"
            ),
            IgnoredReason::FileTooLarge { bytes } => write!(
                f,
                "the file is {bytes} bytes, over the {MAX_FILE_BYTES}-byte limit, and was not read"
            ),
        }
    }
}

/// The file's blob in a commit's root tree, if it is a regular file there.
fn file_blob(repo: &Repository, commit: Oid) -> Result<Option<Oid>, ContributorsError> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|source| ContributorsError::History {
            at: commit.to_string(),
            source,
        })?;
    Ok(tree
        .get_name(BINDINGS_FILE)
        .filter(|e| e.filemode() & 0o170000 == 0o100000)
        .map(|e| e.id()))
}

/// The file's trimmed, non-blank, non-comment lines, or its size when it is too large to read.
fn file_lines(
    repo: &Repository,
    commit: Oid,
    blob: Oid,
) -> Result<Result<Vec<String>, u64>, ContributorsError> {
    let missing = |source| ContributorsError::MissingObject {
        commit: commit.to_string(),
        path: BINDINGS_FILE.to_owned(),
        oid: blob.to_string(),
        source,
    };
    let (size, _) = repo
        .odb()
        .and_then(|o| crate::git_header::read_header(&o, blob))
        .map_err(missing)?;
    if size > MAX_FILE_BYTES {
        return Ok(Err(size as u64));
    }
    let blob = repo.find_blob(blob).map_err(missing)?;
    Ok(Ok(blob
        .content()
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(super::classify::trim(l)).into_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()))
}

/// Reads the file's history: the trusted bindings in history order, and the ignored entries.
pub(crate) fn read(
    repo: &Repository,
    history: &History,
    map: &Mailmap,
    signatures: &Signatures,
) -> Result<(Vec<Binding>, Vec<Ignored>), ContributorsError> {
    let mut bound: Vec<Binding> = Vec::new();
    let mut ignored = Vec::new();
    // (author, address) → commit, and address → (author, commit), for duplicates.
    let mut pairs: HashMap<(String, Address), String> = HashMap::new();
    let mut owners: BTreeMap<Address, (String, String)> = BTreeMap::new();
    let mut verified: HashMap<Oid, Option<IgnoredReason>> = HashMap::new();
    for c in history.commits.iter().filter(|c| !c.is_merge()) {
        let new = file_blob(repo, c.oid)?;
        let old = match c.parents.first() {
            Some(p) => file_blob(repo, *p)?,
            None => None,
        };
        let Some(new) = new.filter(|n| Some(*n) != old) else {
            continue;
        };
        let commit = c.oid.to_string();
        let ignore = |entry: &str, reason| Ignored {
            commit: commit.clone(),
            written_by: c.author.clone(),
            entry: entry.chars().take(200).collect(),
            reason,
        };
        let new_lines = match file_lines(repo, c.oid, new)? {
            Ok(lines) => lines,
            Err(bytes) => {
                ignored.push(ignore(BINDINGS_FILE, IgnoredReason::FileTooLarge { bytes }));
                continue;
            }
        };
        let old_lines: HashSet<String> = match old {
            Some(o) => file_lines(repo, c.parents[0], o)?
                .unwrap_or_default()
                .into_iter()
                .collect(),
            None => HashSet::new(),
        };
        for line in new_lines.iter().filter(|l| !old_lines.contains(*l)) {
            let mut fields = line.split_ascii_whitespace();
            let (Some(who), Some(addr), None) = (fields.next(), fields.next(), fields.next())
            else {
                ignored.push(ignore(line, IgnoredReason::MalformedEntry));
                continue;
            };
            let address = match addr.parse::<Address>() {
                Ok(a) => a,
                Err(e) => {
                    let problem = e.to_string();
                    ignored.push(ignore(line, IgnoredReason::MalformedAddress { problem }));
                    continue;
                }
            };
            let entry_author = resolve_email(map, who);
            if entry_author != c.author {
                ignored.push(ignore(
                    line,
                    IgnoredReason::WrittenByAnother { entry_author },
                ));
                continue;
            }
            if let Signatures::Require { git } = signatures {
                let verdict = match verified.get(&c.oid) {
                    Some(v) => v.clone(),
                    None => {
                        let v = verify(repo, git, c.oid, &[&c.author, &c.author_raw])?;
                        verified.insert(c.oid, v.clone());
                        v
                    }
                };
                if let Some(reason) = verdict {
                    ignored.push(ignore(line, reason));
                    continue;
                }
            }
            let key = (entry_author.clone(), address);
            if let Some(first_commit) = pairs.get(&key) {
                let first_commit = first_commit.clone();
                ignored.push(ignore(line, IgnoredReason::Duplicate { first_commit }));
                continue;
            }
            if let Some((author, commit)) = owners.get(&address) {
                let (author, commit) = (author.clone(), commit.clone());
                ignored.push(ignore(line, IgnoredReason::AddressTaken { author, commit }));
                continue;
            }
            pairs.insert(key, commit.clone());
            owners.insert(address, (entry_author.clone(), commit.clone()));
            bound.push(Binding {
                author: entry_author,
                address,
                commit: commit.clone(),
            });
        }
    }
    Ok((bound, ignored))
}

/// Asks `git verify-commit` about a commit: `None` when its signature verifies and the key's
/// identity (an ssh principal, or the email of the gpg uid) is one of `authors`; the reason
/// otherwise. A missing git, gpg or ssh-keygen, or a verifier that is not configured, is an
/// error, not a reason: the answer would say nothing about the entry.
fn verify(
    repo: &Repository,
    git: &PathBuf,
    commit: Oid,
    authors: &[&str],
) -> Result<Option<IgnoredReason>, ContributorsError> {
    // libgit2 tells an unsigned commit apart without running anything.
    if repo.extract_signature(&commit, None).is_err() {
        return Ok(Some(IgnoredReason::Unsigned));
    }
    let out = Command::new(git)
        .arg("--git-dir")
        .arg(repo.path())
        .args(["verify-commit", "--raw"])
        .arg(commit.to_string())
        .env("LC_ALL", "C")
        .output()
        .map_err(|source| ContributorsError::GitMissing {
            program: git.clone(),
            source,
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The verdict is the last line that is not gpg's machine status ("No principal matched.",
    // "gpg: Can't check signature: No public key").
    let verdict = |t: &str| {
        let lines: Vec<&str> = t.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let human = lines.iter().rev().find(|l| !l.starts_with("[GNUPG:]"));
        human
            .or(lines.last())
            .map_or("git verify-commit failed without a message", |l| l)
            .chars()
            .take(300)
            .collect::<String>()
    };
    // These say the verifier cannot work here, which says nothing about the entry.
    const SETUP: [&str; 4] = [
        "cannot run",
        "cannot exec",
        "needs to be configured",
        "Unable to open allowed keys file",
    ];
    if let Some(line) = text.lines().find(|l| SETUP.iter().any(|m| l.contains(m))) {
        return Err(ContributorsError::Verifier {
            commit: commit.to_string(),
            message: format!(
                "{}; install gnupg or openssh, and for ssh signatures set gpg.ssh.allowedSignersFile \
                 to a file of `<email> <public key>` lines",
                line.trim()
            ),
        });
    }
    if !out.status.success() {
        return Ok(Some(IgnoredReason::BadSignature {
            message: verdict(&text),
        }));
    }
    let signer = signer_of(&text);
    match signer {
        Some(s) if authors.contains(&s.as_str()) => Ok(None),
        Some(signer) => Ok(Some(IgnoredReason::SignerNotAuthor { signer })),
        None => Ok(Some(IgnoredReason::SignerNotAuthor {
            signer: "an unnamed key".to_owned(),
        })),
    }
}

/// The signer's identity in `git verify-commit --raw` output, lowercased: the principal of
/// `Good "git" signature for P with …` (ssh), or the email of `[GNUPG:] GOODSIG KEYID Name
/// <email>` (gpg).
fn signer_of(text: &str) -> Option<String> {
    for line in text.lines() {
        if let Some(rest) = line.split("signature for ").nth(1) {
            if line.starts_with("Good ") {
                let p = rest.split(" with ").next().unwrap_or(rest).trim();
                return Some(p.to_lowercase());
            }
        }
        if let Some(rest) = line.strip_prefix("[GNUPG:] GOODSIG ") {
            let uid = rest.split_once(' ').map_or("", |(_, uid)| uid);
            let email = match (uid.rfind('<'), uid.rfind('>')) {
                (Some(a), Some(b)) if a < b => &uid[a + 1..b],
                _ => uid,
            };
            return Some(email.trim().to_lowercase());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signers_of_ssh_and_gpg_output() {
        let ssh = "Good \"git\" signature for Alice@Example.org with ED25519 key SHA256:abc\n";
        assert_eq!(signer_of(ssh).as_deref(), Some("alice@example.org"));
        let gpg =
            "[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 0123456789ABCDEF Alice A <alice@example.org>\n";
        assert_eq!(signer_of(gpg).as_deref(), Some("alice@example.org"));
        assert_eq!(
            signer_of("Good \"git\" signature with ED25519 key SHA256:x"),
            None
        );
        assert_eq!(signer_of(""), None);
    }

    #[test]
    fn reasons_say_what_is_wrong() {
        let r = IgnoredReason::WrittenByAnother {
            entry_author: "alice@example.org".into(),
        };
        assert!(r
            .to_string()
            .contains("only when alice@example.org commits it"));
        assert!(IgnoredReason::MalformedEntry
            .to_string()
            .contains("<author email> <Algorand address>"));
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["kind"], "written_by_another");
    }
}

//! Contributor points, address bindings and the rebalance of members' weights, all derived from
//! a repository's history at one commit (docs/contributors.md).
//!
//! - Points ([`points`]): every non-merge commit reachable from the commit is credited to its
//!   author (email, through the `.mailmap` of that commit) with the lines it adds relative to its
//!   first parent, compared as multisets of trimmed lines over all the files it changes, and
//!   classified per language family ([`classify`]) as code, comment or text.
//! - Bindings ([`bindings`]): entries `<author> <address>` of `daoContributors.txt`, trusted
//!   only where the commit that added the line was written by that author, over the file's whole
//!   history.
//! - Rebalance ([`rebalance`]): the weight to mint per member so shares move to the points.
//!
//! Everything is a function of the git objects alone (no working tree, no configuration, no
//! clock), so every member recomputes the same table from the same commit. The exception is
//! `--require-signed`, which asks `git verify-commit` and so depends on the keys the verifier
//! trusts.

pub mod bindings;
pub mod classify;
mod error;
pub mod families;
mod history;
pub mod points;
pub mod rebalance;

pub use bindings::{Binding, Ignored, IgnoredReason, Signatures, BINDINGS_FILE};
pub use classify::LineClass;
pub use error::ContributorsError;
pub use points::{Limits, LineCounts};

use crate::address::Address;
use crate::diff_hash::resolve_commit;
use git2::{Oid, Repository};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// What one line of each class is worth, in half points: exact integers, so sums never round.
/// The defaults are the gitdao document's: code 1 point, comment or text 0.5. The DAO governs
/// them (the app's global `points`, kind-9 proposals); a rebalance proposal records the ones it
/// was computed with, and whoever recomputes its table uses those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PointWeights {
    pub code: u64,
    pub comment: u64,
    pub text: u64,
}

impl Default for PointWeights {
    fn default() -> Self {
        PointWeights {
            code: 2,
            comment: 1,
            text: 1,
        }
    }
}

/// Most half points one line of a class may be worth (1,000 points), as the app enforces it:
/// sums over any repository stay far below 2^64.
pub const MAX_HALF_POINTS: u64 = 2000;

impl PointWeights {
    /// What is wrong with these weights for the app: a class above [`MAX_HALF_POINTS`], or all
    /// three zero (no line would be worth anything, so no table could be computed).
    pub fn problem(&self) -> Option<String> {
        for (class, v) in [
            ("code", self.code),
            ("comment", self.comment),
            ("text", self.text),
        ] {
            if v > MAX_HALF_POINTS {
                return Some(format!(
                    "{class} = {} points per line is above the most the app accepts, {}",
                    show_half(v),
                    show_half(MAX_HALF_POINTS)
                ));
            }
        }
        (self.code == 0 && self.comment == 0 && self.text == 0)
            .then(|| "all three classes are worth 0 points: no line would count".to_owned())
    }

    /// Half points for these line counts.
    pub fn half_points(&self, lines: &LineCounts) -> Option<u64> {
        let code = self.code.checked_mul(lines.code)?;
        let comment = self.comment.checked_mul(lines.comment)?;
        let text = self.text.checked_mul(lines.text)?;
        code.checked_add(comment)?.checked_add(text)
    }
}

impl fmt::Display for PointWeights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "code={},comment={},text={}",
            show_half(self.code),
            show_half(self.comment),
            show_half(self.text)
        )
    }
}

/// Parses `code=1,comment=0.5,text=0.5` (points per line, whole or halves); a class left out
/// keeps its default.
impl FromStr for PointWeights {
    type Err = String;

    fn from_str(s: &str) -> Result<PointWeights, String> {
        let mut w = PointWeights::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected CLASS=POINTS, e.g. comment=0.5"))?;
            let half = parse_half(value.trim()).ok_or_else(|| {
                format!("`{value}`: points per line are a whole number or a half (1, 0.5, 2.5)")
            })?;
            match key.trim() {
                "code" => w.code = half,
                "comment" => w.comment = half,
                "text" => w.text = half,
                other => {
                    return Err(format!(
                        "`{other}` is not a line class: use code, comment or text"
                    ))
                }
            }
        }
        Ok(w)
    }
}

/// `3` → 6, `0.5` → 1, `2.5` → 5 half points; anything finer than a half is refused.
pub fn parse_half(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let half = match frac.trim_end_matches('0') {
        "" => 0,
        "5" => 1,
        _ => return None,
    };
    whole.parse::<u64>().ok()?.checked_mul(2)?.checked_add(half)
}

/// Half points written as points: 25 → "12.5", 24 → "12".
pub fn show_half(half: u64) -> String {
    if half % 2 == 0 {
        (half / 2).to_string()
    } else {
        format!("{}.5", half / 2)
    }
}

/// How to compute a report.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub weights: PointWeights,
    pub signatures: Signatures,
    pub limits: Limits,
}

fn ser_address<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

fn ser_opt_address<S: Serializer>(a: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.collect_str(a),
        None => s.serialize_none(),
    }
}

/// An address an author bound to themselves, and the commit that did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundAddress {
    #[serde(serialize_with = "ser_address")]
    pub address: Address,
    pub commit: String,
}

/// One contributor: an email after `.mailmap`, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Author {
    pub email: String,
    pub lines: LineCounts,
    /// Non-merge commits credited to this author.
    pub commits: u64,
    pub half_points: u64,
    /// `half_points` as points ("12.5").
    pub points: String,
    /// Share of all authors' points (bound or not), in parts per million, rounded down.
    pub share_ppm: u64,
    /// In history order, oldest first.
    pub bindings: Vec<BoundAddress>,
    /// The address that receives this author's weight: the most recently bound one.
    #[serde(serialize_with = "ser_opt_address")]
    pub receiving: Option<Address>,
}

/// Points and bindings at one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub commit: String,
    pub weights: PointWeights,
    /// Whether the commit has a `.mailmap` that identities went through.
    pub mailmap: bool,
    pub signatures_required: bool,
    /// Non-merge commits counted, and merge commits skipped.
    pub commits_counted: u64,
    pub merges_skipped: u64,
    pub total_half_points: u64,
    /// By email.
    pub authors: Vec<Author>,
    /// In history order.
    pub ignored: Vec<Ignored>,
}

/// The report at revision `rev` of the repository at `repo_path`.
pub fn contributors(
    repo_path: &Path,
    rev: &str,
    options: &Options,
) -> Result<Report, ContributorsError> {
    let repo = Repository::open(repo_path).map_err(|source| ContributorsError::NotARepository {
        path: repo_path.to_path_buf(),
        source,
    })?;
    let at = resolve_commit(&repo, rev)?;
    contributors_at(&repo, at, options)
}

/// The report at commit `at`.
pub fn contributors_at(
    repo: &Repository,
    at: Oid,
    options: &Options,
) -> Result<Report, ContributorsError> {
    if repo.is_shallow() {
        return Err(ContributorsError::Shallow {
            path: repo.path().to_path_buf(),
        });
    }
    let mailmap = history::mailmap_at(repo, at)?;
    let history = history::History::walk(repo, at, &mailmap.map)?;
    let counted = points::count(repo, &history, &options.limits)?;
    let (bound, ignored) = bindings::read(repo, &history, &mailmap.map, &options.signatures)?;

    let mut authors: BTreeMap<String, Author> = BTreeMap::new();
    let blank = |email: &str| Author {
        email: email.to_owned(),
        lines: LineCounts::default(),
        commits: 0,
        half_points: 0,
        points: String::new(),
        share_ppm: 0,
        bindings: Vec::new(),
        receiving: None,
    };
    let mut total: u64 = 0;
    for (email, p) in &counted.authors {
        let half =
            options
                .weights
                .half_points(&p.lines)
                .ok_or_else(|| ContributorsError::Overflow {
                    what: format!("the points of {email}"),
                })?;
        total = total
            .checked_add(half)
            .ok_or_else(|| ContributorsError::Overflow {
                what: "the sum of all points".to_owned(),
            })?;
        let a = authors.entry(email.clone()).or_insert_with(|| blank(email));
        a.lines = p.lines;
        a.commits = p.commits;
        a.half_points = half;
    }
    for b in bound {
        let a = authors
            .entry(b.author.clone())
            .or_insert_with(|| blank(&b.author));
        a.receiving = Some(b.address);
        a.bindings.push(BoundAddress {
            address: b.address,
            commit: b.commit,
        });
    }
    for a in authors.values_mut() {
        a.points = show_half(a.half_points);
        a.share_ppm = ppm(a.half_points, total);
    }
    Ok(Report {
        commit: at.to_string(),
        weights: options.weights,
        mailmap: mailmap.present,
        signatures_required: matches!(options.signatures, Signatures::Require { .. }),
        commits_counted: counted.commits,
        merges_skipped: counted.merges,
        total_half_points: total,
        authors: authors.into_values().collect(),
        ignored,
    })
}

/// `part / whole` in parts per million, rounded down; 0 when `whole` is 0.
pub fn ppm(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    let v = u128::from(part) * 1_000_000 / u128::from(whole);
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse_halves_and_refuse_the_rest() {
        assert_eq!("".parse::<PointWeights>(), Ok(PointWeights::default()));
        let w: PointWeights = "code=3, comment=0.5,text=0".parse().unwrap();
        assert_eq!((w.code, w.comment, w.text), (6, 1, 0));
        assert_eq!(w.to_string(), "code=3,comment=0.5,text=0");
        for bad in [
            "code=0.25",
            "code=-1",
            "code=",
            "blank=1",
            "code",
            "code=1.5.5",
        ] {
            assert!(bad.parse::<PointWeights>().is_err(), "{bad}");
        }
        let e = "docs=1".parse::<PointWeights>().unwrap_err();
        assert!(e.contains("use code, comment or text"), "{e}");
    }

    #[test]
    fn half_points_show_and_ppm() {
        assert_eq!(show_half(25), "12.5");
        assert_eq!(show_half(24), "12");
        assert_eq!(show_half(1), "0.5");
        assert_eq!(ppm(1, 3), 333_333);
        assert_eq!(ppm(5, 0), 0);
        let lines = LineCounts {
            code: 3,
            comment: 1,
            text: 2,
        };
        assert_eq!(PointWeights::default().half_points(&lines), Some(9));
        let huge = PointWeights {
            code: u64::MAX,
            comment: 1,
            text: 1,
        };
        assert_eq!(huge.half_points(&lines), None);
    }
}

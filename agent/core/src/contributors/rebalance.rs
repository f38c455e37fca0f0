//! The weight to mint per member so that shares move to the contributors' points without anyone
//! losing weight (docs/contributors.md, "Rebalance").
//!
//! Each bound author is one holder: its target share is its points over all bound authors'
//! points; its current weight is the sum of the member weights of every address it ever bound
//! (so moving to a new address loses nothing); what is minted goes to its receiving address,
//! the most recently bound. A member whose address no bound author owns is a holder with no
//! points. Authors with points but no binding are listed and excluded.
//!
//! Rounding: at a total T, holder i's exact target is T·pᵢ/P. Each new weight is that target
//! rounded down or up (never more than one unit off), never below the current weight, and the
//! new weights add up to T exactly; units left after rounding down go to the largest remainders
//! (ties: the holder listed first, by address text).

use super::{ppm, show_half, Report};
use crate::address::Address;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How much to mint in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mint {
    /// The smallest total at which every holder's target is at least its current weight:
    /// T = max over holders of currentᵢ·P/pᵢ, rounded to the nearest unit (halves up).
    Minimal,
    /// Exactly this many units; refused when some holder would have to lose weight.
    Exact(u64),
}

impl FromStr for Mint {
    type Err = String;

    fn from_str(s: &str) -> Result<Mint, String> {
        match s.trim() {
            "minimal" => Ok(Mint::Minimal),
            n => n.parse::<u64>().map(Mint::Exact).map_err(|_| {
                format!("`{s}`: give `minimal` or a whole number of weight units to mint")
            }),
        }
    }
}

impl fmt::Display for Mint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mint::Minimal => f.write_str("minimal"),
            Mint::Exact(n) => write!(f, "exact {n}"),
        }
    }
}

/// One holder, for the arithmetic alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub current: u64,
    pub points: u64,
}

/// Why the arithmetic refuses; indices are into the shares given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MathError {
    NoPoints,
    /// Holds weight but has no points: no mint brings a share down to 0.
    NoTarget {
        index: usize,
    },
    /// At this total the holder's exact target is more than one unit below its current weight.
    CannotReach {
        index: usize,
        total: u64,
        ideal: String,
        minimal_mint: u64,
    },
    /// Each of these is within a unit of its target, but they cannot all round up at once.
    CannotReachTogether {
        indices: Vec<usize>,
        minimal_mint: u64,
    },
    Overflow,
}

/// New weights, one per share, adding up to `total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apportioned {
    pub total: u64,
    pub new: Vec<u64>,
}

/// x·y/d written with two decimals, rounded down (for messages only).
fn decimal(num: u128, den: u128) -> String {
    let hundredths = num.saturating_mul(100) / den;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// The new weights for `shares` under `mint`.
pub fn apportion(shares: &[Share], mint: Mint) -> Result<Apportioned, MathError> {
    let p_total: u128 = shares.iter().map(|s| u128::from(s.points)).sum();
    if p_total == 0 {
        return Err(MathError::NoPoints);
    }
    if let Some(index) = shares.iter().position(|s| s.points == 0 && s.current > 0) {
        return Err(MathError::NoTarget { index });
    }
    let current: u128 = shares.iter().map(|s| u128::from(s.current)).sum();
    let minimal = minimal_total(shares, p_total, current)?;
    let minimal_mint = u64::try_from(minimal - current).map_err(|_| MathError::Overflow)?;
    let total = match mint {
        Mint::Minimal => minimal,
        Mint::Exact(m) => current + u128::from(m),
    };
    let total = u64::try_from(total).map_err(|_| MathError::Overflow)?;
    split(shares, p_total, total)
        .map_err(|e| match e {
            Split::One(index) => {
                let p = u128::from(shares[index].points);
                MathError::CannotReach {
                    index,
                    total,
                    ideal: decimal(p * u128::from(total), p_total),
                    minimal_mint,
                }
            }
            Split::Together(indices) => MathError::CannotReachTogether {
                indices,
                minimal_mint,
            },
        })
        .map(|new| Apportioned { total, new })
}

/// max over holders of currentᵢ·P/pᵢ, rounded half up; at least the current total.
fn minimal_total(shares: &[Share], p_total: u128, current: u128) -> Result<u128, MathError> {
    // The binding holder k maximises cᵢ/pᵢ: compare cᵢ·pₖ with cₖ·pᵢ, no division.
    let mut k: Option<&Share> = None;
    for s in shares.iter().filter(|s| s.points > 0) {
        let better = match k {
            None => true,
            Some(b) => {
                u128::from(s.current) * u128::from(b.points)
                    > u128::from(b.current) * u128::from(s.points)
            }
        };
        if better {
            k = Some(s);
        }
    }
    let Some(k) = k else {
        return Err(MathError::NoPoints);
    };
    let (c, p) = (u128::from(k.current), u128::from(k.points));
    let twice = c
        .checked_mul(p_total)
        .and_then(|x| x.checked_mul(2))
        .and_then(|x| x.checked_add(p))
        .ok_or(MathError::Overflow)?;
    Ok((twice / (2 * p)).max(current))
}

enum Split {
    One(usize),
    Together(Vec<usize>),
}

fn split(shares: &[Share], p_total: u128, total: u64) -> Result<Vec<u64>, Split> {
    let t = u128::from(total);
    let mut new = Vec::with_capacity(shares.len());
    let mut remainders = Vec::new();
    let mut pinned = Vec::new();
    let mut sum: u128 = 0;
    for (i, s) in shares.iter().enumerate() {
        // pᵢ < 2⁶⁴ and T < 2⁶⁴: the product fits in 128 bits.
        let num = u128::from(s.points) * t;
        let (floor, rem) = (num / p_total, num % p_total);
        let ceil = floor + u128::from(rem > 0);
        let c = u128::from(s.current);
        if c > ceil {
            return Err(Split::One(i));
        }
        if c > floor {
            pinned.push(i);
            new.push(c);
        } else {
            if rem > 0 {
                remainders.push((rem, i));
            }
            new.push(floor);
        }
        sum += new[i];
    }
    if sum > t {
        return Err(Split::Together(pinned));
    }
    // Σ ceil ≥ T, so there are enough remainders for the units left.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = usize::try_from(t - sum).unwrap_or(usize::MAX);
    for (_, i) in remainders.into_iter().take(left) {
        new[i] += 1;
    }
    Ok(new
        .into_iter()
        .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
        .collect())
}

fn ser_address<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

/// A member address whose weight counts for a holder without being its receiving address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    #[serde(serialize_with = "ser_address")]
    pub address: Address,
    pub weight: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The receiving address (for a member no author owns: the member's address).
    #[serde(serialize_with = "ser_address")]
    pub address: Address,
    pub author: Option<String>,
    pub half_points: u64,
    pub points: String,
    /// Points over all bound authors' points, in parts per million, rounded down.
    pub target_ppm: u64,
    /// The holder's weight now: the receiving address's and every `held` address's.
    pub current: u64,
    /// Minted to `address`.
    pub mint: u64,
    pub new: u64,
    pub held: Vec<Held>,
}

/// An author with points and no bound address: excluded from the targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unbound {
    pub email: String,
    pub half_points: u64,
    pub points: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub commit: String,
    pub weights: super::PointWeights,
    pub mint: String,
    /// By address text.
    pub rows: Vec<Row>,
    pub unbound: Vec<Unbound>,
    pub total_current: u64,
    pub total_mint: u64,
    pub total_new: u64,
    /// `sha256:` and the hex of SHA-256 over [`Table::canonical`].
    pub hash: String,
}

/// The first line of the canonical encoding; the version is part of what is hashed.
pub const TABLE_HEADER: &str = "dao-contributors-rebalance/v1";

impl Table {
    /// The bytes the hash is taken over (docs/contributors.md, "Table hash"): ASCII lines, each
    /// ended by `\n`, numbers in decimal without leading zeros, addresses in their 58-character
    /// form.
    pub fn canonical(&self) -> String {
        let w = &self.weights;
        let mut s = format!(
            "{TABLE_HEADER}\ncommit {}\nweights {} {} {}\n",
            self.commit, w.code, w.comment, w.text
        );
        for r in &self.rows {
            s.push_str(&format!(
                "holder {} {} {} {} {}\n",
                r.address, r.half_points, r.target_ppm, r.current, r.new
            ));
            for h in &r.held {
                s.push_str(&format!("held {} {}\n", h.address, h.weight));
            }
        }
        s
    }
}

/// Why a rebalance table cannot be computed; each names the member and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebalanceError {
    #[error("no bound contributor has points at {commit}: there is no target to move towards; contributors bind their addresses in daoContributors.txt")]
    NoPoints { commit: String },
    #[error("member {address} ({who}) holds weight {weight} but has no points at {commit}: no mint lowers its share to 0 %; bind it to its author in daoContributors.txt, or remove it by a membership proposal first")]
    NoTarget {
        address: String,
        who: String,
        weight: u64,
        commit: String,
    },
    #[error("minting {mint} cannot reach the targets without taking weight from {address} ({who}): it holds {current}, its target at a total of {total} is {ideal}; mint at least {minimal_mint}, or use --mint minimal")]
    CannotReach {
        mint: u64,
        address: String,
        who: String,
        current: u64,
        total: u64,
        ideal: String,
        minimal_mint: u64,
    },
    #[error("minting {mint} cannot reach the targets without taking weight from {members}: each is within a unit of its target, but not all at once; mint at least {minimal_mint}, or use --mint minimal")]
    CannotReachTogether {
        mint: u64,
        members: String,
        minimal_mint: u64,
    },
    #[error("the weights are too large to compute with (over 2^64 units)")]
    Overflow,
}

struct Holder {
    address: Address,
    author: Option<String>,
    half_points: u64,
    current: u64,
    held: Vec<Held>,
}

impl Holder {
    fn who(&self) -> String {
        self.author
            .clone()
            .unwrap_or_else(|| "bound to no contributor".to_owned())
    }
}

/// The rebalance table for `report`, given the members' current weights.
pub fn rebalance(
    report: &Report,
    members: &BTreeMap<Address, u64>,
    mint: Mint,
) -> Result<Table, RebalanceError> {
    let mut holders = Vec::new();
    let mut unbound = Vec::new();
    let mut owned = std::collections::BTreeSet::new();
    for a in &report.authors {
        let Some(receiving) = a.receiving else {
            if a.half_points > 0 {
                unbound.push(Unbound {
                    email: a.email.clone(),
                    half_points: a.half_points,
                    points: a.points.clone(),
                });
            }
            continue;
        };
        let mut current = members.get(&receiving).copied().unwrap_or(0);
        let mut held = Vec::new();
        for b in &a.bindings {
            owned.insert(b.address);
            if b.address == receiving {
                continue;
            }
            if let Some(w) = members.get(&b.address) {
                current = current.checked_add(*w).ok_or(RebalanceError::Overflow)?;
                held.push(Held {
                    address: b.address,
                    weight: *w,
                });
            }
        }
        held.sort_by_key(|h| h.address.to_string());
        holders.push(Holder {
            address: receiving,
            author: Some(a.email.clone()),
            half_points: a.half_points,
            current,
            held,
        });
    }
    for (address, weight) in members {
        if !owned.contains(address) && *weight > 0 {
            holders.push(Holder {
                address: *address,
                author: None,
                half_points: 0,
                current: *weight,
                held: Vec::new(),
            });
        }
    }
    holders.retain(|h| h.half_points > 0 || h.current > 0);
    holders.sort_by_key(|h| h.address.to_string());

    let shares: Vec<Share> = holders
        .iter()
        .map(|h| Share {
            current: h.current,
            points: h.half_points,
        })
        .collect();
    let commit = report.commit.clone();
    let exact = match mint {
        Mint::Exact(m) => m,
        Mint::Minimal => 0,
    };
    let result = apportion(&shares, mint).map_err(|e| match e {
        MathError::NoPoints => RebalanceError::NoPoints {
            commit: commit.clone(),
        },
        MathError::NoTarget { index } => RebalanceError::NoTarget {
            address: holders[index].address.to_string(),
            who: holders[index].who(),
            weight: holders[index].current,
            commit: commit.clone(),
        },
        MathError::CannotReach {
            index,
            total,
            ideal,
            minimal_mint,
        } => RebalanceError::CannotReach {
            mint: exact,
            address: holders[index].address.to_string(),
            who: holders[index].who(),
            current: holders[index].current,
            total,
            ideal,
            minimal_mint,
        },
        MathError::CannotReachTogether {
            indices,
            minimal_mint,
        } => RebalanceError::CannotReachTogether {
            mint: exact,
            members: indices
                .iter()
                .map(|i| format!("{} ({})", holders[*i].address, holders[*i].who()))
                .collect::<Vec<_>>()
                .join(", "),
            minimal_mint,
        },
        MathError::Overflow => RebalanceError::Overflow,
    })?;

    // Both fit: the points are a part of the report's checked total, and apportion refused any
    // current total over 64 bits; saturating keeps a mistake from wrapping silently.
    let p_total = holders
        .iter()
        .fold(0u64, |a, h| a.saturating_add(h.half_points));
    let total_current = holders
        .iter()
        .fold(0u64, |a, h| a.saturating_add(h.current));
    let rows: Vec<Row> = holders
        .into_iter()
        .zip(result.new)
        .map(|(h, new)| Row {
            address: h.address,
            points: show_half(h.half_points),
            target_ppm: ppm(h.half_points, p_total),
            mint: new.saturating_sub(h.current),
            author: h.author,
            half_points: h.half_points,
            current: h.current,
            new,
            held: h.held,
        })
        .collect();
    let mut table = Table {
        commit,
        weights: report.weights,
        mint: mint.to_string(),
        rows,
        unbound,
        total_current,
        total_mint: result.total.saturating_sub(total_current),
        total_new: result.total,
        hash: String::new(),
    };
    table.hash = format!("sha256:{}", hex::encode(Sha256::digest(table.canonical())));
    Ok(table)
}

/// Members' current weights from text: inline `ADDRESS=WEIGHT,ADDRESS=WEIGHT`, or JSON: the
/// output of `dao-agentctl members --json` (`[{"address": …, "weight": …}]`) or an object
/// `{"ADDRESS": WEIGHT}`.
pub fn parse_members(text: &str) -> Result<BTreeMap<Address, u64>, String> {
    let t = text.trim();
    let pairs: Vec<(String, u64)> = if t.starts_with('[') {
        #[derive(serde::Deserialize)]
        struct Member {
            address: String,
            weight: u64,
        }
        let list: Vec<Member> = serde_json::from_str(t).map_err(|e| {
            format!("members JSON: {e}; expected [{{\"address\": …, \"weight\": …}}]")
        })?;
        list.into_iter().map(|m| (m.address, m.weight)).collect()
    } else if t.starts_with('{') {
        let map: BTreeMap<String, u64> = serde_json::from_str(t)
            .map_err(|e| format!("members JSON: {e}; expected {{\"ADDRESS\": WEIGHT}}"))?;
        map.into_iter().collect()
    } else {
        t.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (a, w) = p
                    .split_once('=')
                    .ok_or_else(|| format!("`{p}`: expected ADDRESS=WEIGHT"))?;
                let w = w
                    .parse::<u64>()
                    .map_err(|_| format!("`{p}`: the weight is not a whole number"))?;
                Ok((a.to_owned(), w))
            })
            .collect::<Result<_, String>>()?
    };
    let mut out = BTreeMap::new();
    for (a, w) in pairs {
        let address = a
            .parse::<Address>()
            .map_err(|e| format!("member `{a}`: {e}"))?;
        if out.insert(address, w).is_some() {
            return Err(format!("member {a} is listed twice"));
        }
    }
    Ok(out)
}

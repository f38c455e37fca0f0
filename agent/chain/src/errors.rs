//! The error type of chain access, and the map from a rejected program counter to the app's
//! error code (ARC-56 `sourceInfo`, built into the crate from contracts/GovernanceApp.arc56.json).

use crate::decode::DecodeError;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

const ARC56: &str = include_str!("../../../contracts/GovernanceApp.arc56.json");

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("algod at {url}: {what} failed: {source}")]
    Algod {
        url: String,
        what: String,
        #[source]
        source: Box<algonaut::Error>,
    },
    /// algod (or a proxy in front of it) answered a request of ours with a non-2xx status.
    #[error("algod at {url}: {what} failed with HTTP {status}: {message}{}", retry_hint(*.retry_after))]
    Http {
        url: String,
        what: String,
        status: u16,
        message: String,
        /// What the answer's `Retry-After` asked for.
        retry_after: Option<Duration>,
    },
    /// A request of ours did not get an answer (connection refused or cut, TLS, a bad body).
    #[error("algod at {url}: {what} failed: {source}")]
    Transport {
        url: String,
        what: String,
        #[source]
        source: Box<reqwest::Error>,
    },
    #[error("algod at {url}: {what} did not answer within {after:?}")]
    Timeout {
        url: String,
        what: String,
        after: Duration,
    },
    #[error("malformed chain data: {0}")]
    Decode(#[from] DecodeError),
    #[error("{what} does not exist on chain")]
    NotFound { what: String },
    /// The app refused the call: one of its documented error codes (docs/contract.md).
    #[error("the app refused the call with {code} (pc={pc})")]
    AppError { code: String, pc: u64, raw: String },
    /// The node refused the transaction group for another reason (fees, balance, validity).
    #[error("the node refused the transaction: {raw}")]
    Rejected { raw: String },
    /// The group's last valid round passed without it being confirmed: it never will be.
    #[error("transaction {txid} was not confirmed by its last valid round {last_valid} (the node is at round {round}); it can no longer confirm, send it again")]
    NotConfirmed {
        txid: String,
        last_valid: u64,
        round: u64,
    },
    /// The node asks a higher fee than `chain.max_fee` allows.
    #[error("the node asks a fee of {fee} µAlgo for this transaction, above chain.max_fee = {max_fee} µAlgo; wait for the congestion to pass or raise chain.max_fee")]
    FeeTooHigh { fee: u64, max_fee: u64 },
    #[error("cannot build the transaction: {0}")]
    Build(String),
    /// A dry run stopped before sending: what would have been sent.
    #[error("dry run: would send {0}; nothing was sent")]
    DryRun(String),
    #[error("cannot read the algod token file {path}: {source}")]
    Token {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl ChainError {
    /// The app's error code when the app refused the call.
    pub fn app_code(&self) -> Option<&str> {
        match self {
            ChainError::AppError { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether retrying later may help (algod unreachable, slow, 5xx, rate limited).
    pub fn is_transient(&self) -> bool {
        match self {
            ChainError::Timeout { .. } | ChainError::Transport { .. } => true,
            ChainError::Http { status, .. } => *status >= 500 || self.is_rate_limited(),
            ChainError::Algod { source, .. } => match source.as_ref() {
                algonaut::Error::Request(r) => match &r.details {
                    // 429 (algod over its connection limit, a provider's rate limit) passes with
                    // time, like a 5xx. 403 does not: a wrong or expired token would be retried
                    // for ever instead of being named.
                    algonaut::error::RequestErrorDetails::Http { status, .. } => {
                        *status >= 500 || *status == 429
                    }
                    _ => true,
                },
                _ => false,
            },
            _ => false,
        }
    }
}

impl ChainError {
    /// Whether the node (or a provider in front of it) refused for the request rate: 429, or a
    /// 403 carrying `Retry-After`. A 403 without it is a refusal of the token and stays
    /// permanent so that a wrong token is named instead of retried for ever; a provider's 403
    /// that says when to come back is its rate limit (abuse shields answer so), and no
    /// authentication failure has a reason to say when to retry.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            ChainError::Http {
                status,
                retry_after,
                ..
            } => *status == 429 || (*status == 403 && retry_after.is_some()),
            ChainError::Algod { source, .. } => matches!(
                source.as_ref(),
                algonaut::Error::Request(r) if matches!(
                    r.details,
                    algonaut::error::RequestErrorDetails::Http { status: 429, .. }
                )
            ),
            _ => false,
        }
    }

    /// How long the node asked us to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ChainError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the node answered 404 (algonaut's client or ours).
    pub fn is_http_404(&self) -> bool {
        match self {
            ChainError::Http { status, .. } => *status == 404,
            ChainError::Algod { source, .. } => source.is_404(),
            _ => false,
        }
    }
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (Retry-After: {}s)", d.as_secs()),
        None => String::new(),
    }
}

/// pc → error code of the released approval program.
pub fn error_map() -> &'static BTreeMap<u64, String> {
    static MAP: OnceLock<BTreeMap<u64, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = BTreeMap::new();
        let spec: serde_json::Value = serde_json::from_str(ARC56).unwrap_or_default();
        let infos = spec["sourceInfo"]["approval"]["sourceInfo"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for info in infos {
            let Some(code) = info["errorMessage"].as_str() else {
                continue;
            };
            for pc in info["pc"].as_array().cloned().unwrap_or_default() {
                if let Some(pc) = pc.as_u64() {
                    map.insert(pc, code.to_owned());
                }
            }
        }
        map
    })
}

/// The first `pc=N` in a rejection message.
pub fn parse_pc(message: &str) -> Option<u64> {
    let i = message.find("pc=")?;
    let digits: String = message[i + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Classifies a node's refusal: an app error code when the message names a pc of the app,
/// otherwise a plain rejection.
pub fn classify_rejection(raw: String) -> ChainError {
    let logic = raw.contains("logic eval error") || raw.contains("rejected by logic");
    match parse_pc(&raw) {
        Some(pc) if logic => match error_map().get(&pc) {
            Some(code) => ChainError::AppError {
                code: code.clone(),
                pc,
                raw,
            },
            None => ChainError::AppError {
                code: "unknown".to_owned(),
                pc,
                raw,
            },
        },
        _ => ChainError::Rejected { raw },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn http(status: u16) -> ChainError {
        ChainError::Algod {
            url: "http://algod".into(),
            what: "GET /v2/status".into(),
            source: Box::new(algonaut::Error::Request(
                algonaut::error::RequestError::new(
                    None,
                    algonaut::error::RequestErrorDetails::Http {
                        status,
                        message: String::new(),
                    },
                ),
            )),
        }
    }

    #[test]
    fn rate_limits_and_server_errors_pass_with_time_client_errors_do_not() {
        for s in [429, 500, 503] {
            assert!(http(s).is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404] {
            assert!(!http(s).is_transient(), "{s}");
        }
    }

    fn ours(status: u16, retry_after: Option<u64>) -> ChainError {
        ChainError::Http {
            url: "http://algod".into(),
            what: "GET /v2/status".into(),
            status,
            message: "x".into(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn a_403_is_a_rate_limit_only_when_it_says_when_to_come_back() {
        for (e, limited, transient) in [
            (ours(429, None), true, true),
            (ours(429, Some(3)), true, true),
            (ours(403, Some(3)), true, true),
            (ours(403, None), false, false),
            (ours(401, Some(3)), false, false),
            (ours(503, Some(3)), false, true),
            (ours(404, None), false, false),
            (http(429), true, true),
            (http(403), false, false),
        ] {
            assert_eq!(e.is_rate_limited(), limited, "{e}");
            assert_eq!(e.is_transient(), transient, "{e}");
        }
        assert_eq!(
            ours(429, Some(3)).retry_after(),
            Some(Duration::from_secs(3))
        );
        assert!(ours(429, Some(3)).to_string().contains("Retry-After: 3s"));
        assert!(ours(404, None).is_http_404() && http(404).is_http_404());
        assert!(!ours(400, None).is_http_404());
    }

    #[test]
    fn the_error_map_has_the_documented_codes() {
        let m = error_map();
        assert!(m.len() > 30, "{m:?}");
        assert!(m.values().any(|c| c == "already_voted"));
        assert!(m.values().any(|c| c == "not_member"));
        assert!(m.values().any(|c| c == "mbr_not_paid"));
    }

    #[test]
    fn rejections_map_to_codes() {
        let pc = error_map()
            .iter()
            .find(|(_, c)| *c == "already_voted")
            .map(|(pc, _)| *pc)
            .unwrap();
        let raw = format!("TransactionPool.Remember: transaction ABC: logic eval error: assert failed pc={pc}. Details: pc={pc}, opcodes=box_len");
        let e = classify_rejection(raw);
        assert_eq!(e.app_code(), Some("already_voted"));
        assert!(matches!(e, ChainError::AppError { pc: p, .. } if p == pc));
        assert!(e.to_string().contains("already_voted"));
        let e = classify_rejection("TransactionPool.Remember: overspend".to_owned());
        assert!(matches!(e, ChainError::Rejected { .. }));
        assert_eq!(parse_pc("x pc=12."), Some(12));
        assert_eq!(parse_pc("no pc"), None);
    }
}

//! algod's REST reads done with our own request instead of algonaut's generated client, for
//! what that client cannot do:
//!
//! - pass query parameters it does not know (`header-only=true` on `/v2/blocks/{round}`: the
//!   agent needs a block's timestamp only, and algonaut 0.9 fails to decode whole blocks of
//!   real networks, docs/real-nodes.md);
//! - see a refusal's `Retry-After` header (algonaut keeps only the status and the body), which a
//!   rate-limited client must honour;
//! - follow no redirect (reqwest's default follows ten, token header and all) and cap what an
//!   answer may make the agent hold.
//!
//! Sends (`POST /v2/transactions`, a msgpack body of algonaut's signed transactions) and the
//! suggested parameters go through it too, with the same policies. The bodies decode into
//! algonaut's own model types, so callers see the same values as before.

use crate::budget::Meter;
use crate::errors::ChainError;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The largest answer read: a box page of 1,000 names or a block's logs is far below it, and a
/// hostile node or proxy must not be able to make the agent hold gigabytes.
pub(crate) const MAX_BODY: usize = 32 << 20;

/// A plain JSON client of one algod (the same reqwest that algonaut uses).
#[derive(Clone)]
pub(crate) struct Rest {
    client: reqwest::Client,
    base: String,
    token: String,
    /// The request budget and count, shared by every clone (and by algonaut's requests,
    /// [`crate::node::Node::call`]).
    pub(crate) meter: Arc<Meter>,
}

/// Without the token.
impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Rest {
    pub(crate) fn new(base: &str, token: &str) -> Result<Rest, ChainError> {
        // No redirects: the token header would follow a `Location:` to any host, over plain
        // http too; an algod that answers with a redirect is named instead (its 3xx status).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                ChainError::Invalid(format!(
                    "cannot create the HTTP client for algod at {base}: {e}"
                ))
            })?;
        Ok(Rest {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            meter: Arc::new(Meter::default()),
        })
    }

    /// `GET path?query` within `limit`, decoded as `T`; a non-2xx answer is
    /// [`ChainError::Http`] with algod's message and the `Retry-After` it asked for.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
        limit: Duration,
    ) -> Result<T, ChainError> {
        let body = self.exchange(what, path, query, None, limit).await?;
        self.decode(what, &body)
    }

    /// `POST path` of a msgpack body (algod's `application/x-binary`, e.g. a signed group to
    /// `/v2/transactions`) within `limit`, the JSON answer decoded as `T`; refusals as
    /// [`Rest::get`].
    pub(crate) async fn post_msgpack<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<T, ChainError> {
        let answer = self.exchange(what, path, &[], Some(body), limit).await?;
        self.decode(what, &answer)
    }

    fn decode<T: DeserializeOwned>(&self, what: &str, body: &[u8]) -> Result<T, ChainError> {
        serde_json::from_slice(body).map_err(|e| ChainError::Invalid(format!(
            "algod at {}: {what}: the answer does not decode ({e}); is this an algod v2 REST endpoint?",
            self.base
        )))
    }

    /// One request (a GET, or a POST when there is a body) and its whole answer, at most
    /// [`MAX_BODY`].
    async fn exchange(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
        post: Option<Vec<u8>>,
        limit: Duration,
    ) -> Result<Vec<u8>, ChainError> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| {
            ChainError::Invalid(format!(
                "algod URL {}{path} is not a URL ({e}); check chain.algod_url",
                self.base
            ))
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = match post {
            None => self.client.get(url),
            Some(body) => self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-binary")
                .body(body),
        };
        if !self.token.is_empty() {
            req = req.header("X-Algo-API-Token", &self.token);
        }
        let transport = |source: reqwest::Error| ChainError::Transport {
            url: self.base.clone(),
            what: what.to_owned(),
            source: Box::new(source),
        };
        let exchange = async {
            let resp = req.send().await.map_err(transport)?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let mut resp = resp;
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(transport)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(ChainError::Invalid(format!(
                        "algod at {}: {what}: the answer is larger than {} MiB; is this an algod \
                         v2 REST endpoint?",
                        self.base,
                        MAX_BODY >> 20
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            if status.is_success() {
                return Ok(body);
            }
            Err(ChainError::Http {
                url: self.base.clone(),
                what: what.to_owned(),
                status: status.as_u16(),
                message: match error_message(&body) {
                    m if m.is_empty() => status.canonical_reason().unwrap_or_default().to_owned(),
                    m => m,
                },
                retry_after,
            })
        };
        // Waiting for the budget is not part of the request's time limit: it is not a failure.
        self.meter.admit().await;
        match tokio::time::timeout(limit, exchange).await {
            Ok(r) => r,
            Err(_) => Err(ChainError::Timeout {
                url: self.base.clone(),
                what: what.to_owned(),
                after: limit,
            }),
        }
    }
}

/// algod's `{"message": …}`, or the body itself (a proxy's HTML page, cut short).
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(m) = v["message"].as_str() {
            return m.to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Longest wait a `Retry-After` may impose: a provider asking for more is not obeyed beyond it
/// (the follower's own cap then applies), so a wrong header cannot stall a host for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date; a date in the past means
/// now. None when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let d = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

/// The timestamp in a `/v2/blocks/{round}` answer: `block.ts` of the header. Only the header is
/// read, whatever else the block carries (a node that ignores `header-only` sends its payset,
/// whose transaction types and omitted empty fields this function never looks at).
pub fn block_timestamp_of(round: u64, body: &serde_json::Value) -> Result<u64, ChainError> {
    let block = body.get("block").ok_or_else(|| {
        ChainError::Invalid(format!("algod's block {round} has no \"block\" field"))
    })?;
    if let Some(r) = block.get("rnd").and_then(serde_json::Value::as_u64) {
        if r != round {
            return Err(ChainError::Invalid(format!(
                "asked algod for block {round}, it answered with block {r}"
            )));
        }
    }
    block
        .get("ts")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| ChainError::NotFound {
            what: format!("the timestamp of block {round}"),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot HTTP server on 127.0.0.1 that answers `head` then `body_len` zero bytes, and
    /// tells (through the returned receiver) whether a request came at all.
    async fn one_answer(
        head: String,
        body_len: usize,
    ) -> (String, tokio::sync::oneshot::Receiver<bool>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let accepted = tokio::time::timeout(Duration::from_secs(2), l.accept()).await;
            let Ok(Ok((mut c, _))) = accepted else {
                let _ = tx.send(false);
                return;
            };
            let _ = tx.send(true);
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf).await;
            let _ = c.write_all(head.as_bytes()).await;
            let zeros = vec![0u8; 1 << 20];
            let mut left = body_len;
            while left > 0 {
                let n = left.min(zeros.len());
                if c.write_all(&zeros[..n]).await.is_err() {
                    return;
                }
                left -= n;
            }
        });
        (url, rx)
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_so_the_token_stays_home() {
        let (elsewhere, reached) =
            one_answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".into(), 0).await;
        let (url, _) = one_answer(
            format!("HTTP/1.1 302 Found\r\nLocation: {elsewhere}/v2/status\r\nContent-Length: 0\r\n\r\n"),
            0,
        )
        .await;
        let rest = Rest::new(&url, "secret-token").unwrap();
        let e = rest
            .get::<serde_json::Value>("GET /v2/status", "/v2/status", &[], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, ChainError::Http { status: 302, .. }), "{e}");
        assert!(
            !reached.await.unwrap(),
            "the redirect was followed, token and all"
        );
        assert!(!format!("{rest:?}").contains("secret-token"));
    }

    #[tokio::test]
    async fn a_send_is_not_redirected_either() {
        let (elsewhere, reached) =
            one_answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".into(), 0).await;
        let (url, _) = one_answer(
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {elsewhere}/v2/transactions\r\nContent-Length: 0\r\n\r\n"),
            0,
        )
        .await;
        let rest = Rest::new(&url, "secret-token").unwrap();
        let e = rest
            .post_msgpack::<serde_json::Value>(
                "POST /v2/transactions",
                "/v2/transactions",
                vec![0x80],
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, ChainError::Http { status: 307, .. }), "{e}");
        assert!(
            !reached.await.unwrap(),
            "the signed group and the token went elsewhere"
        );
        assert_eq!(rest.meter.requests(), 1);
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_cap_is_refused_not_held() {
        let len = MAX_BODY + 1;
        let (url, _) = one_answer(
            format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n"),
            len,
        )
        .await;
        let rest = Rest::new(&url, "").unwrap();
        let e = rest
            .get::<serde_json::Value>("GET /v2/status", "/v2/status", &[], Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("larger than 32 MiB"), "{e}");
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date already past: retry now (the schedule's own delay still applies).
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn error_messages_are_algods_or_the_body_cut_short() {
        assert_eq!(
            error_message(br#"{"message":"failed to retrieve information from the ledger"}"#),
            "failed to retrieve information from the ledger"
        );
        assert_eq!(error_message(b"  Too Many Requests\n"), "Too Many Requests");
        let long = "x".repeat(500);
        assert_eq!(error_message(long.as_bytes()).chars().count(), 201);
    }
}

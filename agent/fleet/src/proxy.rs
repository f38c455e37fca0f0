//! A counting HTTP proxy on 127.0.0.1: put one in front of the devnet per agent to count the
//! requests that agent makes, by kind. It forwards bytes unchanged (long polls included) and
//! parses only the request heads going upstream.

use anyhow::Result;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Requests seen, by kind (see [`kind`]).
#[derive(Debug, Default)]
pub struct Counts {
    by_kind: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counts {
    fn add(&self, k: &'static str) {
        let mut m = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(k).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.by_kind
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

/// The algod endpoint a request line names, as a short kind.
pub fn kind(method: &str, path: &str) -> &'static str {
    let p = path.split('?').next().unwrap_or("");
    let parts: Vec<&str> = p.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["v2", "status", "wait-for-block-after", _]) => "wait-for-block",
        ("GET", ["v2", "status"]) => "status",
        ("GET", ["v2", "blocks", _, "logs"]) => "block-logs",
        ("GET", ["v2", "blocks", _]) => "block",
        ("GET", ["v2", "applications", _, "box"]) => "box",
        ("GET", ["v2", "applications", _, "boxes"]) => "box-list",
        ("GET", ["v2", "applications", _]) => "app",
        ("GET", ["v2", "transactions", "params"]) => "params",
        ("GET", ["v2", "transactions", "pending", _]) => "pending",
        ("POST", ["v2", "transactions"]) => "send",
        ("GET", ["v2", "accounts", ..]) => "account",
        _ => "other",
    }
}

pub struct CountingProxy {
    pub url: String,
    pub counts: Arc<Counts>,
}

impl CountingProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`; runs on `rt` until the
    /// runtime is dropped.
    pub fn start(rt: &tokio::runtime::Runtime, upstream: SocketAddr) -> Result<CountingProxy> {
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let c = Arc::clone(&counts);
        rt.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let c = Arc::clone(&c);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        let up = tokio::spawn(forward_requests(cr, sw, c));
                        let _ = forward(sr, cw).await;
                        up.abort();
                    }
                });
            }
        });
        Ok(CountingProxy {
            url: format!("http://{addr}"),
            counts,
        })
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
) -> std::io::Result<()> {
    tokio::io::copy(&mut from, &mut to).await?;
    to.shutdown().await
}

/// Forwards client bytes upstream and counts each request head (`Content-Length` bodies are
/// skipped; algod clients send no chunked requests).
async fn forward_requests(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counts: Arc<Counts>,
) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut body_left: usize = 0;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buf[..n]).await?;
        pending.extend_from_slice(&buf[..n]);
        loop {
            if body_left > 0 {
                let k = body_left.min(pending.len());
                pending.drain(..k);
                body_left -= k;
                if body_left > 0 {
                    break;
                }
            }
            let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            pending.drain(..end + 4);
            let mut lines = head.lines();
            let mut first = lines.next().unwrap_or("").split_whitespace();
            let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
            counts.add(kind(method, path));
            body_left = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
        }
    }
}

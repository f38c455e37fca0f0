//! The HTTP face of the metrics: `GET /metrics` on the configured address, nothing else.
//!
//! hyper's HTTP/1 server over a tokio listener: each connection is served on a task of its own,
//! so a slow scraper holds up nobody else. Any local user can reach the port, so nobody may use it
//! to hurt the agent: at most [`MAX_CONNECTIONS`] at once (the rest wait in the kernel's backlog),
//! a deadline on each connection and its headers, one request per connection, and one page
//! rendered per [`PAGE_TTL`] however many ask (each render asks algod for its round).
//!
//! Metrics are never a reason to stop deploying: a port that is taken (by another program, or by
//! a user squatting it while the unit restarts) is logged and tried again ([`serve_when_free`]).

use super::Metrics;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE as TEXT_FORMAT;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, info, warn};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// A rendered page is answered again for this long.
pub const PAGE_TTL: Duration = Duration::from_secs(1);
/// Time a client has to send its request headers, and to finish the whole exchange.
const HEADER_DEADLINE: Duration = Duration::from_secs(10);
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);
/// How often a taken port is tried again.
pub const REBIND_EVERY: Duration = Duration::from_secs(30);

/// The last page and when it was rendered; the lock also makes concurrent scrapes share one render.
type Page = Arc<Mutex<Option<(Instant, Bytes)>>>;

/// Binds `addr`; an error names the address and the settings to change.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| {
        format!(
            "cannot serve metrics on {addr}: {e}; choose another metrics.port (the role units \
             use port, port+1 and port+2) or turn metrics off"
        )
    })
}

/// Binds `addr` and serves `/metrics` until the task is aborted; while the port is taken, says
/// so and tries again every `retry` ([`REBIND_EVERY`] in the agent).
pub async fn serve_when_free(addr: SocketAddr, metrics: Arc<Metrics>, retry: Duration) {
    let mut said = false;
    let listener = loop {
        match bind(addr).await {
            Ok(l) => break l,
            Err(e) => {
                if !said {
                    warn!(address = %addr, "{e}; the agent goes on without metrics and tries the port again every {} s", retry.as_secs());
                    said = true;
                }
                tokio::time::sleep(retry).await;
            }
        }
    };
    serve(listener, metrics).await;
}

/// Serves `/metrics` on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    if let Ok(addr) = listener.local_addr() {
        info!(address = %addr, "serving metrics on http://{addr}/metrics");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let page: Page = Arc::new(Mutex::new(None));
    loop {
        // Wait for a free slot before accepting: the kernel's backlog holds the rest.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors, mostly: the next accept may work.
                debug!("accepting a metrics connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (m, page) = (Arc::clone(&metrics), Arc::clone(&page));
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                answer(req, Arc::clone(&m), Arc::clone(&page))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_DEADLINE, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(peer = %peer, "metrics connection: {e}"),
                Err(_) => {
                    debug!(peer = %peer, "metrics connection: closed after {} s", CONNECTION_DEADLINE.as_secs())
                }
            }
            drop(slot);
        });
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn answer(
    req: Request<Incoming>,
    metrics: Arc<Metrics>,
    page: Page,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/metrics" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            "not found: the agent serves /metrics only\n".to_owned(),
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD\n".to_owned(),
        );
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let body = {
        let mut last = page.lock().await;
        match &*last {
            Some((at, body)) if at.elapsed() < PAGE_TTL => body.clone(),
            _ => {
                let body = Bytes::from(metrics.render().await);
                *last = Some((Instant::now(), body.clone()));
                body
            }
        }
    };
    let mut r = reply(StatusCode::OK, body);
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(TEXT_FORMAT),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    fn metrics() -> Arc<Metrics> {
        // No algod there: the page says algod is down, which is all these tests need.
        let node = dao_chain::Node::new("http://127.0.0.1:9", "").unwrap();
        Arc::new(Metrics::new(node, "test"))
    }

    /// One scrape: the status line, or None when the connection gave no answer.
    async fn scrape(addr: SocketAddr) -> Option<String> {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .ok()?;
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
            .await
            .ok()?
            .ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        text.lines().next().map(str::to_owned)
    }

    #[tokio::test]
    async fn a_taken_port_is_waited_for_not_fatal() {
        let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = squatter.local_addr().unwrap();
        let server = tokio::spawn(serve_when_free(addr, metrics(), Duration::from_millis(50)));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!server.is_finished(), "the server gave up on a taken port");
        drop(squatter);
        let mut answer = None;
        for _ in 0..100 {
            answer = scrape(addr).await;
            if answer.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(answer.as_deref(), Some("HTTP/1.1 200 OK"));
        server.abort();
    }

    #[tokio::test]
    async fn idle_connections_cannot_starve_a_scrape() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, metrics()));
        // Every slot taken by a client that never sends its request.
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        // Answered once the header deadline frees a slot, not never.
        assert_eq!(scrape(addr).await.as_deref(), Some("HTTP/1.1 200 OK"));
        // And the idle ones were closed by the server, not left holding a descriptor.
        for mut s in idle {
            let mut buf = [0u8; 64];
            // EOF or a reset: either way the server let go.
            let _ = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
                .await
                .expect("an idle connection was left open");
        }
        server.abort();
    }
}

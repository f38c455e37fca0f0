//! Test helpers: a devnet subprocess (killed by PID on drop), raw HTTP for the devnet's test
//! endpoints, a pausable TCP proxy, and a formed DAO.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use dao_chain::decode::ReportStatus;
use dao_chain::keys::Signer;
use dao_chain::node::{App, Node};
use dao_core::address::Address;
use dao_core::rules::Rules;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub fn repo_root() -> PathBuf {
    dao_testkit::repo_root()
}

/// The shared devnet launcher (dao-testkit), with the typed handles these tests use.
pub struct Devnet {
    inner: dao_testkit::Devnet,
    pub url: String,
    pub token: String,
}

impl Devnet {
    /// A devnet; with `DAO_TEST_DEVNET_SWITCHES` set (a JSON object, devnet/README.md), its
    /// real-node switches are set before the test uses it, so that the whole suite can run
    /// against e.g. asynchronous confirmation: `DAO_TEST_DEVNET_SWITCHES='{"confirm_every_ms":
    /// 300}' cargo test -p dao-chain`.
    pub fn start() -> Devnet {
        let inner = dao_testkit::Devnet::start();
        let token = std::fs::read_to_string(&inner.token_file)
            .unwrap()
            .trim()
            .to_owned();
        let dn = Devnet {
            url: inner.url.clone(),
            token,
            inner,
        };
        if let Ok(switches) = std::env::var("DAO_TEST_DEVNET_SWITCHES") {
            use std::io::{Read, Write};
            let addr = dn.addr();
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            write!(
                s,
                "POST /devnet/switches HTTP/1.1\r\nHost: {addr}\r\nX-Algo-API-Token: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{switches}",
                dn.token,
                switches.len()
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            assert!(
                out.starts_with("HTTP/1.1 200"),
                "DAO_TEST_DEVNET_SWITCHES: {out}"
            );
        }
        dn
    }

    pub fn node(&self) -> Node {
        Node::new(&self.url, &self.token).unwrap()
    }

    pub fn account(&self, n: u32) -> Signer {
        Signer::from_file(&self.inner.key_file(n)).unwrap()
    }

    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// POST a devnet test endpoint; returns the response body.
    pub async fn post(&self, path: &str, body: &str) -> String {
        http_post(&self.addr(), path, &self.token, body).await
    }

    /// Changes the devnet's real-node switches (devnet/README.md): `body` is a JSON object.
    pub async fn switch(&self, body: &str) -> serde_json::Value {
        let r = self.post("/devnet/switches", body).await;
        let (head, json) = r.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "switches {body}: {r}"
        );
        serde_json::from_str(json).unwrap()
    }

    /// The switches and the pool (GET /devnet/switches).
    pub async fn switches(&self) -> serde_json::Value {
        let r = http_request(&self.addr(), "GET", "/devnet/switches", &self.token, "").await;
        serde_json::from_str(r.split_once("\r\n\r\n").unwrap().1).unwrap()
    }

    /// Moves block time forward by `seconds` (one empty block).
    pub async fn advance(&self, seconds: u64) {
        let r = self
            .post("/devnet/advance", &format!("{{\"seconds\": {seconds}}}"))
            .await;
        assert!(r.contains("round"), "advance: {r}");
    }
}

pub async fn http_post(addr: &str, path: &str, token: &str, body: &str) -> String {
    http_request(addr, "POST", path, token, body).await
}

pub async fn http_request(addr: &str, method: &str, path: &str, token: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Algo-API-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// A TCP proxy on 127.0.0.1 to `upstream` that can be paused: while paused, new connections are
/// dropped at once and open ones are cut, as if algod were down.
pub struct Proxy {
    pub url: String,
    pause: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (pause, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *rx.borrow() {
                    drop(inbound);
                    continue;
                }
                let up = upstream.clone();
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&up).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|p| *p) => {}
                    }
                });
            }
        });
        Proxy { url, pause, task }
    }

    pub fn set_paused(&self, paused: bool) {
        self.pause.send_replace(paused);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn test_rules() -> Rules {
    Rules {
        voting_delay: 0,
        voting_period: 3600,
        support_ppm: 500_000,
        quorum_ppm: 200_000,
        emergency_period: 600,
        emergency_support_ppm: 666_667,
        timelock: 60,
        grace_period: 3600,
        min_proposer_weight: 1,
        vote_cap_ppm: 0,
        proposal_bond: 0,
        heartbeat_interval: dao_core::rules::HEARTBEAT_DEFAULT,
    }
}

pub const REPO: &str = "https://git.example/fleet.git";

pub fn released_programs() -> (Vec<u8>, Vec<u8>) {
    let root = repo_root().join("contracts/build");
    (
        std::fs::read(root.join("app.bin")).unwrap(),
        std::fs::read(root.join("clear.bin")).unwrap(),
    )
}

/// A formed DAO: dev1 creator, members dev2 (50), dev3 (30), dev4 (20), host 1 → dev5.
pub struct Dao {
    pub app: App,
    pub creator: Signer,
    pub members: Vec<Signer>,
    pub agent: Signer,
    /// The last round before the app was created.
    pub before: u64,
}

pub async fn form(dn: &Devnet, seal: bool) -> Dao {
    let node = dn.node();
    let before = node.last_round().await.unwrap();
    let creator = dn.account(1);
    let (approval, clear) = released_programs();
    let app = node
        .create_app(&creator, &approval, &clear, &test_rules(), REPO, [7; 20])
        .await
        .unwrap();
    let members = vec![dn.account(2), dn.account(3), dn.account(4)];
    for (m, w) in members.iter().zip([50u64, 30, 20]) {
        app.set_member(&creator, &m.address(), w).await.unwrap();
    }
    let agent = dn.account(5);
    app.set_host(&creator, 1, &agent.address()).await.unwrap();
    if seal {
        app.seal(&creator).await.unwrap();
    }
    Dao {
        app,
        creator,
        members,
        agent,
        before,
    }
}

/// An emergency deploy of made-up commits to every host: what the chain-behaviour tests propose
/// when only the proposal's events and boxes matter.
pub fn emergency_deploy() -> dao_chain::txn::DeployProposal {
    dao_chain::txn::DeployProposal {
        emergency: true,
        base: [1; 20],
        head: [2; 20],
        diff_hash: [3; 32],
        targets: dao_chain::decode::Targets::All,
        description_url: String::new(),
    }
}

pub fn addr_of(s: &Signer) -> Address {
    s.address()
}

pub const APPLIED: ReportStatus = ReportStatus::Applied;

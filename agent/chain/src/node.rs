//! Reads from algod (through algonaut's client), each bounded by a timeout, and the app's state
//! decoded strictly.

use crate::decode::{
    self, BoxKey, GlobalState, GlobalValue, HistoryEntry, Member, ProposalBox, Report, Targets,
    VoteRecord,
};
use crate::errors::ChainError;
use crate::rest::{block_timestamp_of, Rest};
use algonaut::algod::v2::Algod;
use algonaut::model::algod::{Application, BlockLogs, NodeStatus};
use dao_core::address::Address;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// How long a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Ordinary requests.
    pub request: Duration,
    /// `wait-for-block-after` (algod answers after about a minute without a block).
    pub wait: Duration,
    /// How long a sent group is polled before the node's round is compared with the group's
    /// last valid round (then at every poll): a group is given up only once that round passed,
    /// since until then it may still confirm. Also how long a rate-limited send is retried.
    pub confirm: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(15),
            wait: Duration::from_secs(75),
            confirm: Duration::from_secs(60),
        }
    }
}

/// A connection to one algod.
#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) algod: Algod,
    pub(crate) rest: Rest,
    url: String,
    pub timeouts: Timeouts,
    /// The highest fee, µAlgo, paid for one transaction (config `chain.max_fee`); a congested
    /// node asking more makes the send fail with [`ChainError::FeeTooHigh`] before anything is
    /// sent. None: no ceiling.
    pub max_fee: Option<u64>,
}

/// The application's parameters, as far as the client needs them.
#[derive(Debug, Clone)]
pub struct AppInfo {
    pub id: u64,
    pub creator: String,
    pub approval_program: Vec<u8>,
    pub clear_program: Vec<u8>,
    pub global: Vec<(Vec<u8>, GlobalValue)>,
}

/// The address of an application's account: SHA-512/256("appID" ++ id), as algonaut derives it.
pub fn app_address(app_id: u64) -> Address {
    Address::of_app(app_id)
}

impl Node {
    /// Connects to `url` with an API token.
    pub fn new(url: &str, token: &str) -> Result<Node, ChainError> {
        let algod = Algod::new(url, token).map_err(|e| ChainError::Algod {
            url: url.to_owned(),
            what: "creating the client".into(),
            source: Box::new(e),
        })?;
        Ok(Node {
            algod,
            rest: Rest::new(url, token)?,
            url: url.trim_end_matches('/').to_owned(),
            timeouts: Timeouts::default(),
            max_fee: None,
        })
    }

    /// Connects with the token read from a file (config `chain.algod_token_file`).
    pub fn with_token_file(url: &str, token_file: Option<&Path>) -> Result<Node, ChainError> {
        let token = match token_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|source| ChainError::Token {
                    path: path.to_owned(),
                    source,
                })?
                .trim()
                .to_owned(),
            None => String::new(),
        };
        Node::new(url, &token)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Limits this node's requests to `per_second` (config `chain.max_requests_per_second`):
    /// one token bucket for this node and every clone made of it afterwards, so call it before
    /// handing the node to the roles. A request waiting for the budget waits; it does not fail.
    pub fn limit_requests(&mut self, per_second: f64) {
        self.rest.meter = std::sync::Arc::new(crate::budget::Meter {
            budget: Some(crate::budget::RequestBudget::new(per_second)),
            requests: std::sync::atomic::AtomicU64::new(self.requests_made()),
        });
    }

    /// The requests this node and its clones have made so far (every path, reads and sends).
    pub fn requests_made(&self) -> u64 {
        self.rest.meter.requests()
    }

    /// Runs one algod request with the request timeout, naming it in errors.
    pub(crate) async fn call<T, F>(
        &self,
        what: &str,
        limit: Duration,
        f: F,
    ) -> Result<T, ChainError>
    where
        F: Future<Output = Result<T, algonaut::Error>>,
    {
        // Waiting for the budget is not part of the request's time limit: it is not a failure.
        self.rest.meter.admit().await;
        match tokio::time::timeout(limit, f).await {
            Err(_) => Err(ChainError::Timeout {
                url: self.url.clone(),
                what: what.to_owned(),
                after: limit,
            }),
            Ok(Err(e)) => Err(ChainError::Algod {
                url: self.url.clone(),
                what: what.to_owned(),
                source: Box::new(e),
            }),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// The last round algod knows.
    pub async fn last_round(&self) -> Result<u64, ChainError> {
        let s: NodeStatus = self
            .rest
            .get("GET /v2/status", "/v2/status", &[], self.timeouts.request)
            .await?;
        Ok(s.last_round.0)
    }

    /// Waits until a block after `round` exists (or algod's own wait ends) and returns the last
    /// round.
    pub async fn wait_for_block_after(&self, round: u64) -> Result<u64, ChainError> {
        let s: NodeStatus = self
            .rest
            .get(
                "GET /v2/status/wait-for-block-after",
                &format!("/v2/status/wait-for-block-after/{round}"),
                &[],
                self.timeouts.wait,
            )
            .await?;
        Ok(s.last_round.0)
    }

    /// The timestamp of a block, from its header alone (`header-only=true`, algod.oas2.json's
    /// GetBlock): whole blocks of real networks carry transactions algonaut 0.9 cannot decode.
    pub async fn block_timestamp(&self, round: u64) -> Result<u64, ChainError> {
        let b: serde_json::Value = self
            .rest
            .get(
                &format!("GET /v2/blocks/{round}"),
                &format!("/v2/blocks/{round}"),
                &[("header-only", "true")],
                self.timeouts.request,
            )
            .await?;
        block_timestamp_of(round, &b)
    }

    /// The app-call logs of a block: `(txid, app id, logs)` in block order.
    pub async fn block_logs(
        &self,
        round: u64,
    ) -> Result<Vec<(String, u64, Vec<Vec<u8>>)>, ChainError> {
        let b: BlockLogs = self
            .rest
            .get(
                &format!("GET /v2/blocks/{round}/logs"),
                &format!("/v2/blocks/{round}/logs"),
                &[],
                self.timeouts.request,
            )
            .await?;
        Ok(b.logs
            .into_iter()
            .map(|l| {
                (
                    l.tx_id,
                    l.application_index,
                    l.logs.into_iter().map(|b| b.0).collect(),
                )
            })
            .collect())
    }

    /// An application's parameters and global state; `NotFound` when it does not exist.
    pub async fn app_info(&self, app_id: u64) -> Result<AppInfo, ChainError> {
        let what = format!("GET /v2/applications/{app_id}");
        let r: Result<Application, _> = self
            .rest
            .get(
                &what,
                &format!("/v2/applications/{app_id}"),
                &[],
                self.timeouts.request,
            )
            .await;
        let app = match r {
            Err(e) if e.is_http_404() => {
                return Err(ChainError::NotFound {
                    what: format!("application {app_id}"),
                })
            }
            other => other?,
        };
        let mut global = Vec::new();
        for kv in app.params.global_state.unwrap_or_default() {
            let key = data_encoding::BASE64
                .decode(kv.key.as_bytes())
                .map_err(|_| {
                    ChainError::Invalid(format!(
                        "application {app_id}: a global-state key is not base64"
                    ))
                })?;
            let value = match kv.value.value_type {
                1 => GlobalValue::Bytes(kv.value.bytes.clone()),
                2 => GlobalValue::Uint(kv.value.uint),
                other => {
                    return Err(ChainError::Invalid(format!(
                        "application {app_id}: global key {:?} has unknown value type {other}",
                        String::from_utf8_lossy(&key)
                    )))
                }
            };
            global.push((key, value));
        }
        Ok(AppInfo {
            id: app.id,
            creator: app.params.creator,
            approval_program: app.params.approval_program.0,
            clear_program: app.params.clear_state_program.0,
            global,
        })
    }

    /// The balance and minimum balance of an account, µAlgo.
    pub async fn balance(&self, address: &Address) -> Result<(u64, u64), ChainError> {
        let a = algonaut::core::Address::from(*address);
        let acct = self
            .call(
                "GET /v2/accounts",
                self.timeouts.request,
                self.algod.account(&a),
            )
            .await?;
        Ok((acct.amount, acct.min_balance))
    }
}

/// Box names asked per page (algod caps it at its MaxAPIBoxPerApplication and at 1 MB).
pub const BOX_PAGE: u64 = 1000;
/// The most pages listed: a million names, far beyond any DAO's boxes, and a bound on what a
/// node that never stops paging (a hostile one, or a proxy gone wrong) can make the agent hold.
pub const MAX_BOX_PAGES: usize = 1000;

/// One page of `GET /v2/applications/{id}/boxes` (OAS2 BoxesResponse).
#[derive(Debug, serde::Deserialize)]
struct BoxPage {
    boxes: Vec<BoxName>,
    #[serde(rename = "next-token")]
    next_token: Option<String>,
    round: Option<u64>,
}

#[derive(Debug, serde::Deserialize)]
struct BoxName {
    name: String,
}

/// A governance app on a node: typed, strictly decoded reads.
#[derive(Debug, Clone)]
pub struct App {
    pub node: Node,
    pub app_id: u64,
    /// Which proposals are parameters proposals, as far as read (shared by clones): a
    /// proposal's kind is fixed at creation, so [`App::rules_knowledge`] reads each proposal
    /// once per process and then only the parameters proposals.
    pub(crate) kinds: std::sync::Arc<std::sync::Mutex<crate::verify::KindIndex>>,
}

impl App {
    pub fn new(node: Node, app_id: u64) -> App {
        App {
            node,
            app_id,
            kinds: Default::default(),
        }
    }

    /// The app account's address (the treasury).
    pub fn address(&self) -> Address {
        app_address(self.app_id)
    }

    pub async fn global(&self) -> Result<GlobalState, ChainError> {
        let info = self.node.app_info(self.app_id).await?;
        Ok(decode::decode_global(&info.global)?)
    }

    /// The raw value of a box, `None` when it does not exist.
    pub async fn read_box(&self, key: &BoxKey) -> Result<Option<Vec<u8>>, ChainError> {
        let name = format!("b64:{}", data_encoding::BASE64.encode(&key.name()));
        let what = format!("GET /v2/applications/{}/box ({key})", self.app_id);
        let r: Result<algonaut::model::algod::Box, _> = self
            .node
            .rest
            .get(
                &what,
                &format!("/v2/applications/{}/box", self.app_id),
                &[("name", &name)],
                self.node.timeouts.request,
            )
            .await;
        match r {
            Ok(b) => {
                if b.name.0 != key.name() {
                    return Err(ChainError::Invalid(format!(
                        "algod answered {key} with another box's name"
                    )));
                }
                Ok(Some(b.value.0))
            }
            Err(e) if e.is_http_404() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names of all the app's boxes, decoded (an unknown name is an error), a page at a
    /// time: algod refuses to list more than its MaxAPIBoxPerApplication (100,000) names at
    /// once ("Result limit exceeded") unless asked with `limit`/`next` (algod.oas2.json,
    /// GetApplicationBoxes). Every page after the first is pinned to the first page's round so
    /// that the pages describe one state. A node without pagination answers the whole list
    /// without `next-token`, which ends the loop as well.
    pub async fn box_keys(&self) -> Result<Vec<BoxKey>, ChainError> {
        self.box_keys_with_prefix(&[]).await
    }

    /// The app's members: the names of its `m` boxes, listed by prefix (algod.oas2.json,
    /// GetApplicationBoxes `prefix`), so the answer grows with the members and not with the
    /// proposals and votes. A member's box is never deleted (docs/contract.md, "Boxes"), so
    /// every account that ever voted is among them.
    pub async fn member_addresses(&self) -> Result<Vec<Address>, ChainError> {
        Ok(self
            .box_keys_with_prefix(b"m")
            .await?
            .into_iter()
            .filter_map(|k| match k {
                BoxKey::Member(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    /// [`App::box_keys`] of the boxes whose names start with `prefix` (all when empty).
    pub async fn box_keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<BoxKey>, ChainError> {
        let what = format!("GET /v2/applications/{}/boxes", self.app_id);
        let path = format!("/v2/applications/{}/boxes", self.app_id);
        let mut keys = Vec::new();
        let mut next: Option<String> = None;
        let mut round: Option<String> = None;
        let limit = BOX_PAGE.to_string();
        let prefix_arg = format!("b64:{}", data_encoding::BASE64.encode(prefix));
        for _ in 0..MAX_BOX_PAGES {
            let mut query = vec![("limit", limit.as_str())];
            if !prefix.is_empty() {
                query.push(("prefix", &prefix_arg));
            }
            if let Some(n) = &next {
                query.push(("next", n));
            }
            if let Some(r) = &round {
                query.push(("round", r));
            }
            let page: BoxPage = self
                .node
                .rest
                .get(&what, &path, &query, self.node.timeouts.request)
                .await?;
            for b in &page.boxes {
                let name = data_encoding::BASE64
                    .decode(b.name.as_bytes())
                    .map_err(|_| {
                        ChainError::Invalid(format!("{what}: a box name is not base64"))
                    })?;
                // An algod from before pagination ignores `prefix` and lists every box.
                if name.starts_with(prefix) {
                    keys.push(BoxKey::parse(&name)?);
                }
            }
            match page.next_token {
                Some(token) if !token.is_empty() => {
                    if page.boxes.is_empty() || next.as_deref() == Some(token.as_str()) {
                        return Err(ChainError::Invalid(format!(
                            "{what}: algod's pagination does not advance (next-token {token:?}); is this algod?"
                        )));
                    }
                    round = round.or(page.round.map(|r| r.to_string()));
                    next = Some(token);
                }
                _ => {
                    keys.sort();
                    keys.dedup();
                    return Ok(keys);
                }
            }
        }
        Err(ChainError::Invalid(format!(
            "{what}: algod still had more after {MAX_BOX_PAGES} pages of {BOX_PAGE} names; is this \
             algod, and this app?"
        )))
    }

    pub async fn member(&self, a: &Address) -> Result<Option<Member>, ChainError> {
        let k = BoxKey::Member(*a);
        match self.read_box(&k).await? {
            Some(v) => Ok(Some(decode::decode_member(&k, &v)?)),
            None => Ok(None),
        }
    }

    pub async fn history(&self, a: &Address, index: u64) -> Result<HistoryEntry, ChainError> {
        let k = BoxKey::History(*a, index);
        let v = self
            .read_box(&k)
            .await?
            .ok_or_else(|| ChainError::NotFound {
                what: k.to_string(),
            })?;
        Ok(decode::decode_history(&k, &v)?)
    }

    pub async fn proposal(&self, id: u64) -> Result<ProposalBox, ChainError> {
        let k = BoxKey::Proposal(id);
        let v = self
            .read_box(&k)
            .await?
            .ok_or_else(|| ChainError::NotFound {
                what: k.to_string(),
            })?;
        Ok(decode::decode_proposal(&k, &v)?)
    }

    pub async fn vote_record(
        &self,
        id: u64,
        voter: &Address,
    ) -> Result<Option<VoteRecord>, ChainError> {
        let k = BoxKey::Vote(id, *voter);
        match self.read_box(&k).await? {
            Some(v) => Ok(Some(decode::decode_vote(&k, &v)?)),
            None => Ok(None),
        }
    }

    pub async fn host(&self, host_id: u64) -> Result<Option<Address>, ChainError> {
        let k = BoxKey::Host(host_id);
        match self.read_box(&k).await? {
            Some(v) => Ok(Some(decode::decode_host(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// The report of a host on a proposal and its rollback amendment.
    pub async fn reports(
        &self,
        id: u64,
        host_id: u64,
    ) -> Result<(Option<Report>, Option<Report>), ChainError> {
        let mut out = (None, None);
        for (k, slot) in [
            (BoxKey::Report(id, host_id), &mut out.0),
            (BoxKey::Rollback(id, host_id), &mut out.1),
        ] {
            if let Some(v) = self.read_box(&k).await? {
                *slot = Some(decode::decode_report(&k, &v)?);
            }
        }
        Ok(out)
    }

    /// The host ids a deploy targets: the listed ones, or every host registered in the app.
    pub async fn target_ids(&self, targets: &Targets) -> Result<Vec<u64>, ChainError> {
        Ok(match targets {
            Targets::Hosts(h) => h.clone(),
            Targets::All => self
                .box_keys()
                .await?
                .into_iter()
                .filter_map(|k| match k {
                    BoxKey::Host(h) => Some(h),
                    _ => None,
                })
                .collect(),
        })
    }

    /// A member's full weight history, in order.
    pub async fn member_history(&self, a: &Address) -> Result<Vec<HistoryEntry>, ChainError> {
        let Some(m) = self.member(a).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for i in 0..m.history_len {
            out.push(self.history(a, i).await?);
        }
        Ok(out)
    }

    /// The index of the history entry in force at `member_seq` (what `vote` takes), and the
    /// snapshot weight; `(0, 0)` for an account without an entry at or before it.
    pub async fn snapshot(&self, a: &Address, member_seq: u64) -> Result<(u64, u64), ChainError> {
        let history = self.member_history(a).await?;
        Ok(snapshot_of(&history, member_seq))
    }
}

/// The index and weight of the last entry with `seq <= member_seq`, or `(0, 0)`.
pub fn snapshot_of(history: &[HistoryEntry], member_seq: u64) -> (u64, u64) {
    history
        .iter()
        .enumerate()
        .rev()
        .find(|(_, e)| e.seq <= member_seq)
        .map_or((0, 0), |(i, e)| (i as u64, e.weight))
}

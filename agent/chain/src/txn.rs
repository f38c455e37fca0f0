//! ARC-4 method calls of the app, each with its box references and, where the call can create
//! boxes, the minimum-balance payment grouped right before it (docs/contract.md, "Paying for
//! boxes"). Refusals by the app come back as [`ChainError::AppError`] with the app's error code.

/// A confirmed application call's events and ABI return value, from its logs.
pub(crate) fn confirmed(
    txid: String,
    p: algonaut::model::algod::PendingTransactionResponse,
) -> Result<Confirmed, ChainError> {
    let mut events = Vec::new();
    let mut returned = None;
    for log in p.logs.unwrap_or_default() {
        match decode_log(&log.0) {
            Ok(Log::Event(e)) => events.push(e),
            Ok(Log::Return(v)) => returned = Some(v),
            Err(e) => {
                return Err(ChainError::Invalid(format!(
                    "transaction {txid} logged something the app never logs: {e}"
                )))
            }
        }
    }
    Ok(Confirmed {
        txid,
        round: p.confirmed_round.unwrap_or_default(),
        events,
        returned,
    })
}

#[cfg(test)]
use crate::decode::{deploy_payload_len, PROPOSAL_HEADER};
use crate::decode::{encode_arc4_bytes, encode_rules, BoxKey, Targets, MAX_REPO};
use crate::errors::{classify_rejection, ChainError};
use crate::events::{decode_log, selector, AppEvent, Log};
use crate::keys::Signer;
use crate::node::{App, Node};
use algonaut::core::{AppId, CompiledTeal, MicroAlgos};
use algonaut::transaction::builder::{CallApplication, CreateApplication, Pay};
use algonaut::transaction::group::TransactionGroup;
use algonaut::transaction::transaction::{BoxReference, StateSchema};
use algonaut::transaction::{SignedTransaction, Transaction};
use dao_core::address::Address;
use dao_core::rules::Rules;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Raises a transaction's fee to what a congested node asks: its fee per byte times the signed
/// transaction's encoded length, which go-algorand's pool requires of every transaction of a
/// group on its own (data/pools/transactionPool.go, checkSufficientFee). The length is measured
/// on the transaction signed as it will be sent (with a group id when grouped: the real one
/// depends on the fees, but every id has the same length). The fee as built (the minimum, or
/// more where the call pays for inner transactions) stays when it is higher. Until it settles,
/// because a larger fee can take more bytes to encode.
fn price(
    t: &mut Transaction,
    signer: &Signer,
    fee_per_byte: u64,
    grouped: bool,
) -> Result<(), ChainError> {
    if fee_per_byte == 0 {
        return Ok(());
    }
    let base = t.fee.0;
    for _ in 0..3 {
        let mut probe = t.clone();
        if grouped {
            probe.assign_group_id(algonaut::crypto::HashDigest([0; 32]));
        }
        let signed = signer.account().sign(probe).map_err(build_err)?;
        let size = algonaut::core::ToMsgPack::to_msg_pack(&signed)
            .map_err(build_err)?
            .len() as u64;
        let fee = base.max(fee_per_byte.saturating_mul(size));
        if fee == t.fee.0 {
            break;
        }
        t.fee = MicroAlgos(fee);
    }
    Ok(())
}

/// How often a pending transaction is polled while the node answers.
const POLL: Duration = Duration::from_millis(250);

/// The delay before the next poll: [`POLL`] while the node answers, doubling (to 8 s) with each
/// failed request in a row, and never less than the node's `Retry-After`.
fn poll_delay(troubled: u32, retry_after: Option<Duration>) -> Duration {
    let backoff = POLL.saturating_mul(1 << troubled.min(5));
    backoff.max(retry_after.unwrap_or_default())
}

/// The base minimum balance of an account, µAlgo.
pub const ACCOUNT_MIN_BALANCE: u64 = 100_000;

/// The minimum-balance cost of a box: 2,500 + 400 · (key + value) µAlgo.
pub const fn box_cost(key_len: usize, value_len: usize) -> u64 {
    2_500 + 400 * (key_len as u64 + value_len as u64)
}

/// What the creator spends forming a DAO: the minimum balance a created app adds to its
/// creator (100,000 per program page, 28,500 per uint64 and 50,000 per byte slice of global
/// state), the app account's own minimum balance, each member's `m` and first `w` box, each
/// host's `h` box, each validator's `V` box, and one minimum fee per transaction (create, fund,
/// a payment and a call per member, host and validator, the optional policy and point weights
/// calls, seal). With a minimum fee of 1,000 µAlgo this is exact (tests/form.rs measures it).
pub fn formation_cost(
    approval_len: usize,
    members: usize,
    hosts: usize,
    validators: usize,
    extra_calls: usize,
) -> u64 {
    let pages = approval_len.saturating_sub(1) / 2048;
    let app = 100_000 * (1 + pages as u64) + 28_500 * 9 + 50_000 * 4;
    let boxes = members as u64 * (box_cost(33, 16) + box_cost(41, 16))
        + hosts as u64 * box_cost(9, 32)
        + validators as u64 * box_cost(33, 8);
    let txns = 2 + 2 * (members + hosts + validators) + extra_calls + 1;
    app + ACCOUNT_MIN_BALANCE + boxes + 1_000 * txns as u64
}

/// Box references one transaction may carry (algod's MaxAppTotalTxnReferences).
const MAX_REFS: usize = 8;
/// A read-only method that changes nothing: the calls that carry extra box references call it.
const REFERENCE_CARRIER: &str = "get_attestation_policy()(uint64,uint64,uint64)";

/// What a confirmed call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub txid: String,
    pub round: u64,
    pub events: Vec<AppEvent>,
    /// The ARC-4 return value, without its prefix.
    pub returned: Option<Vec<u8>>,
}

/// A deploy or emergency proposal's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployProposal {
    pub emergency: bool,
    pub base: [u8; 20],
    pub head: [u8; 20],
    pub diff_hash: [u8; 32],
    pub targets: Targets,
    pub description_url: String,
}

pub(crate) fn method(sig: &str) -> Vec<u8> {
    selector(sig).to_vec()
}

pub(crate) fn build_err(e: impl std::fmt::Display) -> ChainError {
    ChainError::Build(e.to_string())
}

fn algo_addr(a: &Address) -> algonaut::core::Address {
    algonaut::core::Address::from(*a)
}

impl Node {
    /// Signs and submits a group and waits for the last transaction's confirmation.
    pub(crate) async fn submit(
        &self,
        signer: &Signer,
        txns: Vec<Transaction>,
    ) -> Result<(String, algonaut::model::algod::PendingTransactionResponse), ChainError> {
        let params = self.params().await?;
        let grouped = txns.len() > 1;
        let mut txns = txns;
        for t in &mut txns {
            price(t, signer, params.fee.0, grouped)?;
            if let Some(max_fee) = self.max_fee {
                if t.fee.0 > max_fee {
                    return Err(ChainError::FeeTooHigh {
                        fee: t.fee.0,
                        max_fee,
                    });
                }
            }
        }
        let txns = if txns.len() > 1 {
            TransactionGroup::try_from(txns)
                .map_err(build_err)?
                .into_transactions()
        } else {
            txns
        };
        let signed: Vec<SignedTransaction> = txns
            .into_iter()
            .map(|t| signer.account().sign(t))
            .collect::<Result<_, _>>()
            .map_err(build_err)?;
        let (last, last_valid) = signed
            .last()
            .map(|s| (s.transaction_id().0.clone(), s.transaction().last_valid.0))
            .ok_or_else(|| build_err("empty group"))?;
        if signer.is_dry_run() {
            return Err(ChainError::DryRun(describe(&signed)));
        }
        self.send_group(&signed).await?;
        self.wait_for_confirmation(&last, last_valid).await
    }

    /// Sends a signed group. A rate limit refused the request before algod looked at it, so the
    /// group is sent again when the node says (`Retry-After`), within the confirmation timeout.
    async fn send_group(&self, signed: &[SignedTransaction]) -> Result<(), ChainError> {
        // algod takes a group as its signed transactions' msgpack, one after the other.
        let mut body = Vec::new();
        for t in signed {
            body.extend(algonaut::core::ToMsgPack::to_msg_pack(t).map_err(build_err)?);
        }
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let sent: Result<serde_json::Value, _> = self
                .rest
                .post_msgpack(
                    "POST /v2/transactions",
                    "/v2/transactions",
                    body.clone(),
                    self.timeouts.request,
                )
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e) if e.is_rate_limited() && started.elapsed() < self.timeouts.confirm => {
                    attempt = attempt.saturating_add(1);
                    let left = self.timeouts.confirm.saturating_sub(started.elapsed());
                    tokio::time::sleep(poll_delay(attempt, e.retry_after()).min(left)).await;
                }
                // algod refused the group itself: its message says why (the app's pc, …).
                Err(ChainError::Http {
                    status: 400,
                    message,
                    ..
                }) => return Err(classify_rejection(message)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Polls the pending transaction until it is confirmed, refused, or its last valid round
    /// has passed. Trouble reaching the node (429, 5xx, timeouts) and "not found" (algod
    /// answers 404 for a transaction not in its pool, e.g. before it arrives or after another
    /// node's block took it) say nothing about the transaction, which may still confirm: the
    /// wait goes on, slower when the node asks. Only the node's round passing the last valid
    /// round ends it without an answer, and then for certain.
    pub(crate) async fn wait_for_confirmation(
        &self,
        txid: &str,
        last_valid: u64,
    ) -> Result<(String, algonaut::model::algod::PendingTransactionResponse), ChainError> {
        let started = Instant::now();
        let mut troubled = 0u32;
        loop {
            let p: Result<algonaut::model::algod::PendingTransactionResponse, _> = self
                .rest
                .get(
                    "GET /v2/transactions/pending",
                    &format!("/v2/transactions/pending/{txid}"),
                    &[],
                    self.timeouts.request,
                )
                .await;
            let mut asked = None;
            match p {
                Ok(p) if p.confirmed_round.is_some_and(|r| r > 0) => {
                    return Ok((txid.to_owned(), p))
                }
                Ok(p) if !p.pool_error.is_empty() => return Err(classify_rejection(p.pool_error)),
                Ok(_) => troubled = 0,
                Err(e) if e.is_http_404() => troubled = 0,
                Err(e) if e.is_transient() => {
                    troubled = troubled.saturating_add(1);
                    asked = e.retry_after();
                }
                Err(e) => return Err(e),
            }
            // An unreachable node cannot tell: give up (transiently) rather than hold the report
            // past the unit's stop timeout. The executor looks for the report on chain before
            // sending again, and the app refuses a second one.
            if troubled > 0 && started.elapsed() >= self.timeouts.confirm.saturating_mul(4) {
                return Err(ChainError::Timeout {
                    url: self.url().to_owned(),
                    what: format!("confirming transaction {txid}"),
                    after: started.elapsed(),
                });
            }
            if started.elapsed() >= self.timeouts.confirm {
                match self.last_round().await {
                    Ok(round) if round > last_valid => {
                        return Err(ChainError::NotConfirmed {
                            txid: txid.to_owned(),
                            last_valid,
                            round,
                        })
                    }
                    Ok(_) => {}
                    Err(e) if e.is_transient() => {
                        asked = asked.max(e.retry_after());
                        troubled = troubled.max(1);
                    }
                    Err(e) => return Err(e),
                }
            }
            tokio::time::sleep(poll_delay(troubled, asked)).await;
        }
    }

    /// The suggested parameters; a rate limit is waited out (within the confirmation timeout)
    /// as for a send: every transaction needs them first.
    pub(crate) async fn params(
        &self,
    ) -> Result<algonaut::model::algod::SuggestedParams, ChainError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let r = self
                .rest
                .get(
                    "GET /v2/transactions/params",
                    "/v2/transactions/params",
                    &[],
                    self.timeouts.request,
                )
                .await;
            match r {
                Err(e) if e.is_rate_limited() && started.elapsed() < self.timeouts.confirm => {
                    attempt = attempt.saturating_add(1);
                    let left = self.timeouts.confirm.saturating_sub(started.elapsed());
                    tokio::time::sleep(poll_delay(attempt, e.retry_after()).min(left)).await;
                }
                other => return other,
            }
        }
    }

    /// The genesis id of the network algod serves (`mainnet-v1.0`, `testnet-v1.0`, …).
    pub async fn genesis_id(&self) -> Result<String, ChainError> {
        Ok(self.params().await?.genesis_id)
    }

    /// Pays `amount` µAlgo from the signer to `receiver`.
    pub async fn pay(
        &self,
        signer: &Signer,
        receiver: &Address,
        amount: u64,
    ) -> Result<String, ChainError> {
        let params = self.params().await?;
        let t = Pay::new(
            algo_addr(&signer.address()),
            algo_addr(receiver),
            MicroAlgos(amount),
        )
        .build(&params)
        .map_err(build_err)?;
        Ok(self.submit(signer, vec![t]).await?.0)
    }

    /// Creates the governance app with these programs (the released ones normally) and funds
    /// its account with the base minimum balance.
    pub async fn create_app(
        &self,
        signer: &Signer,
        approval: &[u8],
        clear: &[u8],
        rules: &Rules,
        repo: &str,
        genesis: [u8; 20],
    ) -> Result<App, ChainError> {
        if repo.is_empty() || repo.len() > MAX_REPO {
            return Err(ChainError::Invalid(format!(
                "the repository URL must be 1 to {MAX_REPO} bytes, it has {}",
                repo.len()
            )));
        }
        let params = self.params().await?;
        let pages = approval.len().max(clear.len()).saturating_sub(1) / 2048;
        let args = vec![
            method("create((uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64),string,byte[20])void"),
            encode_rules(rules),
            encode_arc4_bytes(repo.as_bytes()).map_err(build_err)?,
            genesis.to_vec(),
        ];
        let t = CreateApplication::new(
            algo_addr(&signer.address()),
            CompiledTeal(approval.to_vec()),
            CompiledTeal(clear.to_vec()),
            StateSchema::new(9, 4),
            StateSchema::new(0, 0),
        )
        .extra_pages(u32::try_from(pages).map_err(build_err)?)
        .app_arguments(args)
        .build(&params)
        .map_err(build_err)?;
        let (txid, p) = self.submit(signer, vec![t]).await?;
        let app_id = p.application_index.ok_or_else(|| {
            ChainError::Invalid(format!("transaction {txid} created no application"))
        })?;
        let app = App::new(self.clone(), app_id);
        self.pay(signer, &app.address(), ACCOUNT_MIN_BALANCE)
            .await?;
        Ok(app)
    }
}

/// What a group would do, for people: `2 transactions: pay 109700 µAlgo to ADDRESS, call app 7`.
fn describe(group: &[SignedTransaction]) -> String {
    use algonaut::transaction::transaction::TransactionType as T;
    let each: Vec<String> = group
        .iter()
        .map(|s| match &s.transaction().txn_type {
            T::Payment(p) => format!("pay {} µAlgo to {}", p.amount.0, Address::from(p.receiver)),
            T::ApplicationCallTransaction(c) => match c.app_id {
                Some(id) => format!("call app {}", id.0),
                None => "create an app".to_owned(),
            },
            other => format!("{other:?}"),
        })
        .collect();
    format!("{} transaction(s): {}", group.len(), each.join(", "))
}

impl App {
    /// Calls a method: an optional box payment first, then the call with its box references.
    pub(crate) async fn call_method(
        &self,
        signer: &Signer,
        args: Vec<Vec<u8>>,
        boxes: &[BoxKey],
        payment: Option<u64>,
        fee: Option<u64>,
    ) -> Result<Confirmed, ChainError> {
        self.call_method_budget(signer, args, boxes, payment, fee, 1)
            .await
    }

    /// [`App::call_method`] in a group of at least `calls` application calls: the app's
    /// opcode budget is pooled over the group's calls (700 each), so a call whose work grows
    /// with its input (a rebalance of several members) gets read-only carrier calls even when
    /// its references fit one call.
    pub(crate) async fn call_method_budget(
        &self,
        signer: &Signer,
        args: Vec<Vec<u8>>,
        boxes: &[BoxKey],
        payment: Option<u64>,
        fee: Option<u64>,
        calls: usize,
    ) -> Result<Confirmed, ChainError> {
        self.call_method_accounts(signer, args, boxes, payment, fee, calls, &[])
            .await
    }

    /// [`App::call_method_budget`] with `accounts` in the call's foreign accounts: an inner
    /// payment's receiver must be among the group's references, or the AVM refuses it
    /// ("unavailable Account") — the executed treasury proposal pays one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call_method_accounts(
        &self,
        signer: &Signer,
        args: Vec<Vec<u8>>,
        boxes: &[BoxKey],
        payment: Option<u64>,
        fee: Option<u64>,
        calls: usize,
        accounts: &[Address],
    ) -> Result<Confirmed, ChainError> {
        let params = self.node.params().await?;
        let sender = algo_addr(&signer.address());
        let refs = |keys: &[BoxKey]| -> Vec<BoxReference> {
            keys.iter()
                .map(|k| BoxReference {
                    app_id: None,
                    name: k.name(),
                })
                .collect()
        };
        let (boxes, overflow) = boxes.split_at(boxes.len().min(MAX_REFS));
        let mut txns = Vec::new();
        // A transaction references at most eight boxes, but a group shares its references: any
        // further boxes ride on read-only calls placed first, so the payment stays right before
        // the call (the app checks that) and the call stays last (its logs are what we read).
        let mut chunks: Vec<&[BoxKey]> = overflow.chunks(MAX_REFS).collect();
        while chunks.len() + 1 < calls {
            chunks.push(&[]);
        }
        // A carrier without references is the same transaction for every call that needs
        // budget in the same rounds, which algod would refuse as already in the ledger: its
        // note is a digest of the call's arguments and its position.
        let digest = {
            use sha2::Digest;
            sha2::Sha512_256::digest(args.concat()).to_vec()
        };
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut carrier = CallApplication::new(sender, AppId(self.app_id))
                .app_arguments(vec![method(REFERENCE_CARRIER)])
                .boxes(refs(chunk));
            if chunk.is_empty() {
                carrier = carrier.note([digest.as_slice(), &[i as u8]].concat());
            }
            txns.push(carrier.build(&params).map_err(build_err)?);
        }
        if let Some(amount) = payment {
            txns.push(
                Pay::new(sender, algo_addr(&self.address()), MicroAlgos(amount))
                    .build(&params)
                    .map_err(build_err)?,
            );
        }
        let mut call = CallApplication::new(sender, AppId(self.app_id))
            .app_arguments(args)
            .boxes(refs(boxes));
        if !accounts.is_empty() {
            call = call.accounts(accounts.iter().map(algo_addr).collect());
        }
        if let Some(fee) = fee {
            call = call.fee(MicroAlgos(fee));
        }
        txns.push(call.build(&params).map_err(build_err)?);
        let (txid, p) = self.node.submit(signer, txns).await?;
        confirmed(txid, p)
    }

    pub(crate) async fn exists(&self, key: &BoxKey) -> Result<bool, ChainError> {
        Ok(self.read_box(key).await?.is_some())
    }

    /// Payment for a member weight change of `member`, and the boxes it touches: its `m` and
    /// `e` boxes (the app reads the latter to find where the power change goes) and the power
    /// boxes of the address whose power changes, its delegate if it has one, else itself
    /// (docs/contract.md, "Delegation"). `added` counts the history entries earlier changes of
    /// the same call append per holder (a rebalance of two members with one delegate).
    pub(crate) async fn member_change(
        &self,
        member: &Address,
        added: &mut BTreeMap<Address, u64>,
    ) -> Result<(u64, Vec<BoxKey>), ChainError> {
        let m = self.member(member).await?;
        let mut cost = box_cost(41, 16);
        if m.is_none() {
            cost += box_cost(33, 16);
        }
        let holder = self.delegate_of(member).await?.unwrap_or(*member);
        let mut boxes = vec![BoxKey::Member(*member), BoxKey::Delegate(*member)];
        boxes.extend(self.power_boxes(&holder, added).await?);
        Ok((cost, boxes))
    }

    /// `set_member`: the creator, before seal, sets a member's weight.
    pub async fn set_member(
        &self,
        signer: &Signer,
        member: &Address,
        weight: u64,
    ) -> Result<Confirmed, ChainError> {
        let (cost, boxes) = self.member_change(member, &mut BTreeMap::new()).await?;
        let args = vec![
            method("set_member(pay,address,uint64)void"),
            member.0.to_vec(),
            weight.to_be_bytes().to_vec(),
        ];
        self.call_method(signer, args, &boxes, Some(cost), None)
            .await
    }

    /// `set_host`: the creator, before seal, registers a host's agent address.
    pub async fn set_host(
        &self,
        signer: &Signer,
        host_id: u64,
        agent: &Address,
    ) -> Result<Confirmed, ChainError> {
        let k = BoxKey::Host(host_id);
        let cost = if self.exists(&k).await? {
            0
        } else {
            box_cost(9, 32)
        };
        let args = vec![
            method("set_host(pay,uint64,address)void"),
            host_id.to_be_bytes().to_vec(),
            agent.0.to_vec(),
        ];
        self.call_method(signer, args, &[k], Some(cost), None).await
    }

    /// `seal`: the creator ends its setup powers.
    pub async fn seal(&self, signer: &Signer) -> Result<Confirmed, ChainError> {
        self.call_method(signer, vec![method("seal()void")], &[], None, None)
            .await
    }
}

#[cfg(test)]
#[path = "txn_tests.rs"]
mod tests;

//! The app's governance calls: proposals of every kind, votes, finalize, cancel, execute and the
//! hosts' reports, each with its box references and box payment (docs/contract.md).

use crate::decode::{
    decode_heartbeat, deploy_payload_len, encode_arc4_bytes, encode_rules, encode_u64_array,
    parameters_payload_len, BoxKey, Heartbeat, ReportStatus, Targets, VoteChoice, BOND_LEN,
    HEARTBEAT_LEN, MAX_HOSTS, MAX_URL, PROPOSAL_HEADER,
};
use crate::errors::ChainError;
use crate::keys::Signer;
use crate::node::App;
use crate::txn::{box_cost, build_err, method, Confirmed, DeployProposal};
use dao_core::address::Address;
use dao_core::rules::Rules;
use std::collections::BTreeMap;

impl App {
    pub(crate) fn returned_id(c: &Confirmed) -> Result<u64, ChainError> {
        match c.returned.as_deref() {
            Some(v) if v.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(v);
                Ok(u64::from_be_bytes(b))
            }
            _ => Err(ChainError::Invalid(format!(
                "transaction {} returned no uint64 (a proposal id or an amount)",
                c.txid
            ))),
        }
    }

    /// Creates a proposal; a deploy (or emergency) proposal also stores the attestation policy
    /// it is created with (a `q` box).
    pub(crate) async fn propose_with(
        &self,
        signer: &Signer,
        args: Vec<Vec<u8>>,
        payload_len: usize,
        deploy: bool,
    ) -> Result<(u64, Confirmed), ChainError> {
        let g = self.global().await?;
        let next = g.proposal_count + 1;
        let mut boxes = vec![BoxKey::Proposal(next), BoxKey::Member(signer.address())];
        let mut cost = box_cost(9, PROPOSAL_HEADER + payload_len);
        if deploy {
            boxes.push(BoxKey::AttestPolicy(next));
            cost += box_cost(9, 16);
        }
        // The rules in force decide the bond (docs/governance-rules.md, "Proposal bond").
        let bond = g.rules.proposal_bond;
        let c = if bond > 0 {
            boxes.push(BoxKey::Bond(next));
            cost += box_cost(9, BOND_LEN);
            self.call_bonded(signer, args, &boxes, cost, bond).await?
        } else {
            self.call_method(signer, args, &boxes, Some(cost), None)
                .await?
        };
        let id = App::returned_id(&c)?;
        Ok((id, c))
    }

    pub(crate) fn url_arg(url: &str) -> Result<Vec<u8>, ChainError> {
        if url.len() > MAX_URL {
            return Err(ChainError::Invalid(format!(
                "the description URL has {} bytes, the limit is {MAX_URL}",
                url.len()
            )));
        }
        encode_arc4_bytes(url.as_bytes()).map_err(build_err)
    }

    /// `propose`: a deploy or emergency proposal; returns its id.
    pub async fn propose_deploy(
        &self,
        signer: &Signer,
        p: &DeployProposal,
    ) -> Result<(u64, Confirmed), ChainError> {
        let (all, hosts): (bool, &[u64]) = match &p.targets {
            Targets::All => (true, &[]),
            Targets::Hosts(h) => (false, h),
        };
        if !all && (hosts.is_empty() || hosts.len() > MAX_HOSTS) {
            return Err(ChainError::Invalid(format!(
                "a proposal targets 1 to {MAX_HOSTS} hosts or all hosts, not {}",
                hosts.len()
            )));
        }
        let args = vec![
            method("propose(pay,uint8,byte[20],byte[20],byte[32],bool,uint64[],string)uint64"),
            vec![u8::from(p.emergency)],
            p.base.to_vec(),
            p.head.to_vec(),
            p.diff_hash.to_vec(),
            vec![if all { 0x80 } else { 0 }],
            encode_u64_array(hosts).map_err(build_err)?,
            App::url_arg(&p.description_url)?,
        ];
        let len = deploy_payload_len(hosts.len(), p.description_url.len());
        self.propose_with(signer, args, len, true).await
    }

    /// `propose_membership`: set `member`'s weight when executed.
    pub async fn propose_membership(
        &self,
        signer: &Signer,
        member: &Address,
        weight: u64,
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        let args = vec![
            method("propose_membership(pay,address,uint64,string)uint64"),
            member.0.to_vec(),
            weight.to_be_bytes().to_vec(),
            App::url_arg(url)?,
        ];
        self.propose_with(signer, args, 44 + url.len(), false).await
    }

    /// `propose_hosts`: register `agent` for `host_id` when executed.
    pub async fn propose_hosts(
        &self,
        signer: &Signer,
        host_id: u64,
        agent: &Address,
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        let args = vec![
            method("propose_hosts(pay,uint64,address,string)uint64"),
            host_id.to_be_bytes().to_vec(),
            agent.0.to_vec(),
            App::url_arg(url)?,
        ];
        self.propose_with(signer, args, 44 + url.len(), false).await
    }

    /// `propose_parameters`: replace the rules when executed.
    pub async fn propose_parameters(
        &self,
        signer: &Signer,
        rules: &Rules,
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        let args = vec![
            method("propose_parameters(pay,(uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64),string)uint64"),
            encode_rules(rules),
            App::url_arg(url)?,
        ];
        self.propose_with(signer, args, parameters_payload_len(url.len()), false)
            .await
    }

    /// `propose_treasury`: pay `amount` µAlgo to `receiver` when executed.
    pub async fn propose_treasury(
        &self,
        signer: &Signer,
        receiver: &Address,
        amount: u64,
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        let args = vec![
            method("propose_treasury(pay,address,uint64,string)uint64"),
            receiver.0.to_vec(),
            amount.to_be_bytes().to_vec(),
            App::url_arg(url)?,
        ];
        self.propose_with(signer, args, 44 + url.len(), false).await
    }

    /// `vote`: the signer's vote, with the history index of its voting power at the snapshot
    /// found from the boxes.
    pub async fn vote(
        &self,
        signer: &Signer,
        id: u64,
        choice: VoteChoice,
    ) -> Result<Confirmed, ChainError> {
        let voter = signer.address();
        let p = self.proposal(id).await?;
        let (index, _) = self.snapshot(&voter, p.header.member_seq).await?;
        let boxes = [
            BoxKey::Proposal(id),
            BoxKey::Vote(id, voter),
            BoxKey::Member(voter),
            BoxKey::History(voter, index),
            BoxKey::History(voter, index + 1),
            // Read when the power at the snapshot is 0, to tell weight_delegated from not_member.
            BoxKey::Delegate(voter),
        ];
        let args = vec![
            method("vote(pay,uint64,uint8,uint64)void"),
            id.to_be_bytes().to_vec(),
            vec![choice.code()],
            index.to_be_bytes().to_vec(),
        ];
        self.call_method(signer, args, &boxes, Some(box_cost(41, 24)), None)
            .await
    }

    /// `finalize`: anyone, once the outcome is decided. The returned value is the new stored
    /// state (2 defeated, 3 queued).
    pub async fn finalize(&self, signer: &Signer, id: u64) -> Result<Confirmed, ChainError> {
        let args = vec![method("finalize(uint64)uint8"), id.to_be_bytes().to_vec()];
        // A defeat without quorum settles the bond (if any) for the treasury: its box is read.
        let boxes = [BoxKey::Proposal(id), BoxKey::Bond(id)];
        self.call_method(signer, args, &boxes, None, None).await
    }

    /// `cancel`: the proposer, while voting.
    pub async fn cancel(&self, signer: &Signer, id: u64) -> Result<Confirmed, ChainError> {
        let args = vec![method("cancel(uint64)void"), id.to_be_bytes().to_vec()];
        // A cancel records in the bond box (if any) whether voting had started.
        let boxes = [BoxKey::Proposal(id), BoxKey::Bond(id)];
        self.call_method(signer, args, &boxes, None, None).await
    }

    /// `execute`: anyone, for a queued proposal of a kind executed on chain (all but deploy and
    /// emergency). A rebalance references 1 + 2·n boxes; past eight they ride on extra calls.
    pub async fn execute(&self, signer: &Signer, id: u64) -> Result<Confirmed, ChainError> {
        use crate::decode::ProposalPayload as P;
        let p = self.proposal(id).await?;
        let mut boxes = vec![BoxKey::Proposal(id)];
        let mut cost = 0;
        let mut fee = None;
        let mut calls = 1;
        let mut accounts = Vec::new();
        match (&p.payload, p.header.kind) {
            (P::Membership { member, .. }, _) => {
                let (c, b) = self.member_change(member, &mut BTreeMap::new()).await?;
                cost = c;
                boxes.extend(b);
            }
            (P::Hosts { host_id, .. }, _) => {
                let k = BoxKey::Host(*host_id);
                if !self.exists(&k).await? {
                    cost = box_cost(9, 32);
                }
                boxes.push(k);
            }
            (P::Treasury { receiver, .. }, _) => {
                // the inner payment's fee is pooled from this call's, its receiver referenced
                fee = Some(2_000);
                accounts.push(*receiver);
            }
            (P::Parameters { .. } | P::AttestationPolicy { .. } | P::PointWeights { .. }, _) => {}
            (
                P::Validator {
                    validator, enabled, ..
                },
                _,
            ) => {
                let k = BoxKey::Validator(*validator);
                if *enabled && !self.exists(&k).await? {
                    cost = box_cost(33, 8);
                }
                boxes.push(k);
            }
            (P::Rebalance { weights, .. }, _) => {
                // Each listed member's weight change writes its m box and the next history entry
                // of its weight's holder; a holder met twice has one more entry the second time.
                let mut added = BTreeMap::new();
                for (member, _) in weights {
                    let (c, b) = self.member_change(member, &mut added).await?;
                    cost += c;
                    for k in b {
                        if !boxes.contains(&k) {
                            boxes.push(k);
                        }
                    }
                }
                calls = crate::rebalance::rebalance_execute_calls(weights.len());
            }
            (P::Deploy { .. }, kind) => {
                return Err(ChainError::Invalid(format!(
                    "proposal {id} is a {} proposal: hosts report it, nobody executes it",
                    kind.as_str()
                )))
            }
        }
        let args = vec![method("execute(pay,uint64)void"), id.to_be_bytes().to_vec()];
        self.call_method_accounts(signer, args, &boxes, Some(cost), fee, calls, &accounts)
            .await
    }

    /// `report`: a host's agent reports its execution of a queued deploy / emergency proposal
    /// (or amends an applied report to rolled back).
    #[allow(clippy::too_many_arguments)]
    pub async fn report(
        &self,
        signer: &Signer,
        id: u64,
        host_id: u64,
        status: ReportStatus,
        toplevel_sha256: [u8; 32],
        generation: u64,
        logs_sha256: [u8; 32],
    ) -> Result<Confirmed, ChainError> {
        let boxes = [
            BoxKey::Proposal(id),
            BoxKey::Host(host_id),
            BoxKey::Report(id, host_id),
            BoxKey::Rollback(id, host_id),
            // An applied report needs the validators' agreement when the proposal has a quorum.
            BoxKey::AttestPolicy(id),
            BoxKey::Validation(id, host_id),
        ];
        let args = vec![
            method("report(pay,uint64,uint64,uint8,byte[32],uint64,byte[32])void"),
            id.to_be_bytes().to_vec(),
            host_id.to_be_bytes().to_vec(),
            vec![status.code()],
            toplevel_sha256.to_vec(),
            generation.to_be_bytes().to_vec(),
            logs_sha256.to_vec(),
        ];
        self.call_method(signer, args, &boxes, Some(box_cost(17, 88)), None)
            .await
    }

    /// `heartbeat`: the host's agent records what the host runs (docs/heartbeats.md). The first
    /// heartbeat of a host pays for its `H` box; later ones replace it and pay nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn heartbeat(
        &self,
        signer: &Signer,
        host_id: u64,
        toplevel_sha256: [u8; 32],
        generation: u64,
        last_proposal: u64,
        drift: bool,
        first: bool,
    ) -> Result<Confirmed, ChainError> {
        let boxes = [BoxKey::Host(host_id), BoxKey::Heartbeat(host_id)];
        let args = vec![
            method("heartbeat(pay,uint64,byte[32],uint64,uint64,bool)void"),
            host_id.to_be_bytes().to_vec(),
            toplevel_sha256.to_vec(),
            generation.to_be_bytes().to_vec(),
            last_proposal.to_be_bytes().to_vec(),
            vec![if drift { 0x80 } else { 0 }],
        ];
        let pay = if first { box_cost(9, HEARTBEAT_LEN) } else { 0 };
        self.call_method(signer, args, &boxes, Some(pay), None)
            .await
    }

    /// A host's last heartbeat, None before its first.
    pub async fn last_heartbeat(&self, host_id: u64) -> Result<Option<Heartbeat>, ChainError> {
        let k = BoxKey::Heartbeat(host_id);
        match self.read_box(&k).await? {
            Some(v) => Ok(Some(decode_heartbeat(&k, &v)?)),
            None => Ok(None),
        }
    }
}

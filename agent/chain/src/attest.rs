//! The validator side of the app (docs/validators.md): the validator set and attestation policy,
//! attestations, the agreement per (proposal, host), and rewards — calls and typed reads.

use crate::decode::{BoxKey, MAX_HOSTS};
use crate::errors::ChainError;
use crate::events::selector;
use crate::keys::Signer;
use crate::node::App;
use crate::txn::{box_cost, Confirmed};
use crate::validation::{
    decode_attest_policy, decode_attestation, decode_claim, decode_validation, decode_validator,
    AttestPolicy, Attestation, Claim, Outcome, Validation,
};
use dao_core::address::Address;

/// The most a reward may be, per attestation, in µAlgo (the app refuses more).
pub const MAX_REWARD: u64 = 1_000_000_000_000;

fn method(sig: &str) -> Vec<u8> {
    selector(sig).to_vec()
}

fn arc4_bool(b: bool) -> Vec<u8> {
    vec![if b { 0x80 } else { 0 }]
}

/// One attestation as listed for a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    pub host: u64,
    pub validator: Address,
    pub attestation: Attestation,
}

impl App {
    /// The validators, sorted, with the time each was added.
    pub async fn validators(&self) -> Result<Vec<(Address, u64)>, ChainError> {
        let mut out = Vec::new();
        for k in self.box_keys().await? {
            if let BoxKey::Validator(a) = k {
                if let Some(v) = self.read_box(&k).await? {
                    out.push((a, decode_validator(&k, &v)?));
                }
            }
        }
        Ok(out)
    }

    pub async fn is_validator(&self, a: &Address) -> Result<bool, ChainError> {
        Ok(self.read_box(&BoxKey::Validator(*a)).await?.is_some())
    }

    /// The attestation policy a deploy proposal was created with (quorum off without a `q` box).
    pub async fn attest_policy(&self, id: u64) -> Result<AttestPolicy, ChainError> {
        let k = BoxKey::AttestPolicy(id);
        match self.read_box(&k).await? {
            Some(v) => Ok(decode_attest_policy(&k, &v)?),
            None => Ok(AttestPolicy::default()),
        }
    }

    /// The attestations summary for (proposal, host); all zero before the first attestation.
    pub async fn validation(&self, id: u64, host: u64) -> Result<Validation, ChainError> {
        let k = BoxKey::Validation(id, host);
        match self.read_box(&k).await? {
            Some(v) => Ok(decode_validation(&k, &v)?),
            None => Ok(Validation::default()),
        }
    }

    pub async fn attestation(
        &self,
        id: u64,
        host: u64,
        validator: &Address,
    ) -> Result<Option<Attestation>, ChainError> {
        let k = BoxKey::Attestation(id, host, *validator);
        match self.read_box(&k).await? {
            Some(v) => Ok(Some(decode_attestation(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// Every attestation recorded for a proposal, by host then validator.
    pub async fn attestations(&self, id: u64) -> Result<Vec<Attested>, ChainError> {
        let mut out = Vec::new();
        for k in self.box_keys().await? {
            if let BoxKey::Attestation(p, host, validator) = k {
                if p != id {
                    continue;
                }
                if let Some(v) = self.read_box(&k).await? {
                    out.push(Attested {
                        host,
                        validator,
                        attestation: decode_attestation(&k, &v)?,
                    });
                }
            }
        }
        Ok(out)
    }

    pub async fn claim(&self, id: u64, validator: &Address) -> Result<Option<Claim>, ChainError> {
        let k = BoxKey::Claim(id, *validator);
        match self.read_box(&k).await? {
            Some(v) => Ok(Some(decode_claim(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// `set_validator`: the creator, before seal, adds or removes a validator.
    pub async fn set_validator(
        &self,
        signer: &Signer,
        validator: &Address,
        enabled: bool,
    ) -> Result<Confirmed, ChainError> {
        let k = BoxKey::Validator(*validator);
        let cost = if enabled && !self.exists(&k).await? {
            box_cost(33, 8)
        } else {
            0
        };
        let args = vec![
            method("set_validator(pay,address,bool)void"),
            validator.0.to_vec(),
            arc4_bool(enabled),
        ];
        self.call_method(signer, args, &[k], Some(cost), None).await
    }

    /// `set_attestation_policy`: the creator, before seal, sets the quorum and the reward.
    pub async fn set_attestation_policy(
        &self,
        signer: &Signer,
        quorum: u64,
        reward: u64,
    ) -> Result<Confirmed, ChainError> {
        let args = vec![
            method("set_attestation_policy(uint64,uint64)void"),
            quorum.to_be_bytes().to_vec(),
            reward.to_be_bytes().to_vec(),
        ];
        self.call_method(signer, args, &[], None, None).await
    }

    /// `propose_validator`: add (`enabled`) or remove a validator when executed.
    pub async fn propose_validator(
        &self,
        signer: &Signer,
        validator: &Address,
        enabled: bool,
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        let args = vec![
            method("propose_validator(pay,address,bool,string)uint64"),
            validator.0.to_vec(),
            arc4_bool(enabled),
            App::url_arg(url)?,
        ];
        self.propose_with(signer, args, 37 + url.len(), false).await
    }

    /// `propose_attestation_policy`: set the quorum and the reward when executed.
    pub async fn propose_attestation_policy(
        &self,
        signer: &Signer,
        quorum: u64,
        reward: u64,
        url: &str,
    ) -> Result<(u64, Confirmed), ChainError> {
        if reward > MAX_REWARD {
            return Err(ChainError::Invalid(format!(
                "a reward of {reward} µAlgo per attestation is above the app's limit {MAX_REWARD}"
            )));
        }
        let args = vec![
            method("propose_attestation_policy(pay,uint64,uint64,string)uint64"),
            quorum.to_be_bytes().to_vec(),
            reward.to_be_bytes().to_vec(),
            App::url_arg(url)?,
        ];
        self.propose_with(signer, args, 20 + url.len(), false).await
    }

    /// `attest`: this validator's outcome for one targeted host of a deploy proposal.
    pub async fn attest(
        &self,
        signer: &Signer,
        id: u64,
        host: u64,
        outcome: Outcome,
        closure: [u8; 32],
    ) -> Result<Confirmed, ChainError> {
        let closure = if outcome == Outcome::Built {
            closure
        } else {
            [0; 32]
        };
        let me = signer.address();
        let mut boxes = vec![
            BoxKey::Validator(me),
            BoxKey::Proposal(id),
            BoxKey::AttestPolicy(id),
            BoxKey::Host(host),
            BoxKey::Report(id, host),
            BoxKey::Attestation(id, host, me),
            BoxKey::Validation(id, host),
        ];
        let mut cost = box_cost(49, 48);
        if !self.exists(&BoxKey::Validation(id, host)).await? {
            cost += box_cost(17, 64);
        }
        if outcome == Outcome::Built {
            let c = BoxKey::ClosureCount(id, host, closure);
            if !self.exists(&c).await? {
                cost += box_cost(49, 8);
            }
            boxes.push(c);
        }
        let args = vec![
            method("attest(pay,uint64,uint64,uint8,byte[32])void"),
            id.to_be_bytes().to_vec(),
            host.to_be_bytes().to_vec(),
            vec![outcome.code()],
            closure.to_vec(),
        ];
        self.call_method(signer, args, &boxes, Some(cost), None)
            .await
    }

    /// `claim_reward`: the reward for this validator's attestations on `hosts` (sorted, each
    /// agreed and applied); returns the µAlgo paid.
    pub async fn claim_reward(
        &self,
        signer: &Signer,
        id: u64,
        hosts: &[u64],
    ) -> Result<(u64, Confirmed), ChainError> {
        if hosts.is_empty() || hosts.len() > MAX_HOSTS || hosts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ChainError::Invalid(format!(
                "a claim lists 1 to {MAX_HOSTS} hosts in increasing order, not {hosts:?}"
            )));
        }
        let me = signer.address();
        let mut boxes = vec![
            BoxKey::Proposal(id),
            BoxKey::AttestPolicy(id),
            BoxKey::Claim(id, me),
        ];
        for &h in hosts {
            boxes.extend([
                BoxKey::Attestation(id, h, me),
                BoxKey::Validation(id, h),
                BoxKey::Report(id, h),
                BoxKey::Rollback(id, h),
            ]);
        }
        let args = vec![
            method("claim_reward(pay,uint64,uint64[])uint64"),
            id.to_be_bytes().to_vec(),
            crate::decode::encode_u64_array(hosts)
                .map_err(|e| ChainError::Invalid(e.to_string()))?,
        ];
        let c = self
            .call_method(signer, args, &boxes, Some(box_cost(41, 24)), Some(2_000))
            .await?;
        let amount = App::returned_id(&c)?;
        Ok((amount, c))
    }
}

//! The proposal bond on the client's side (docs/contract.md, "Proposal bond"): a proposal of a
//! DAO whose rules ask for a bond is sent as [bond payment, box payment, call], the bond box is
//! read and decoded, and `refund_bond` pays a bond back to its proposer.

use crate::decode::{decode_bond, BondBox, BoxKey};
use crate::errors::ChainError;
use crate::keys::Signer;
use crate::node::App;
use crate::txn::{build_err, confirmed, method, Confirmed};
use algonaut::core::{AppId, MicroAlgos};
use algonaut::transaction::builder::{CallApplication, Pay};
use algonaut::transaction::transaction::BoxReference;

/// The fee of a `refund_bond` call: its own and its inner payment's (pooled).
pub const REFUND_FEE: u64 = 2_000;

impl App {
    /// Proposal `id`'s bond, or None when it was made without one.
    pub async fn bond(&self, id: u64) -> Result<Option<BondBox>, ChainError> {
        match self.read_box(&BoxKey::Bond(id)).await? {
            None => Ok(None),
            Some(v) => Ok(Some(decode_bond(id, &v)?)),
        }
    }

    /// `refund_bond`: pays proposal `id`'s bond back to its proposer (whoever signs); returns
    /// the confirmed call, whose return value is the amount.
    pub async fn refund_bond(&self, signer: &Signer, id: u64) -> Result<Confirmed, ChainError> {
        let p = self.proposal(id).await?;
        let args = vec![
            method("refund_bond(uint64)uint64"),
            id.to_be_bytes().to_vec(),
        ];
        self.call_method_accounts(
            signer,
            args,
            &[BoxKey::Proposal(id), BoxKey::Bond(id)],
            None,
            Some(REFUND_FEE),
            1,
            &[p.header.proposer],
        )
        .await
    }

    /// A proposal call with its bond: the bond payment, then the box payment right before the
    /// call, which is where the app looks for each (docs/contract.md, "Proposal bond").
    pub(crate) async fn call_bonded(
        &self,
        signer: &Signer,
        args: Vec<Vec<u8>>,
        boxes: &[BoxKey],
        payment: u64,
        bond: u64,
    ) -> Result<Confirmed, ChainError> {
        let params = self.node.params().await?;
        let sender = algonaut::core::Address::from(signer.address());
        let app = algonaut::core::Address::from(self.address());
        let pay = |amount: u64| {
            Pay::new(sender, app, MicroAlgos(amount))
                .build(&params)
                .map_err(build_err)
        };
        let refs = boxes
            .iter()
            .map(|k| BoxReference {
                app_id: None,
                name: k.name(),
            })
            .collect();
        let call = CallApplication::new(sender, AppId(self.app_id))
            .app_arguments(args)
            .boxes(refs)
            .build(&params)
            .map_err(build_err)?;
        let (txid, p) = self
            .node
            .submit(signer, vec![pay(bond)?, pay(payment)?, call])
            .await?;
        confirmed(txid, p)
    }
}

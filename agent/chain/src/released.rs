//! The released programs of the governance app, built into the client: `dao-agentctl form`
//! deploys exactly these, and preflight accepts their hash.

/// The approval program, as assembled from contracts/app.teal and committed.
pub const APPROVAL: &[u8] = include_bytes!("../../../contracts/build/app.bin");
/// The clear-state program.
pub const CLEAR: &[u8] = include_bytes!("../../../contracts/build/clear.bin");

#[cfg(test)]
mod tests {
    use super::*;
    use dao_core::address::Address;

    #[test]
    fn the_built_in_approval_program_is_the_released_one() {
        let released = crate::preflight::released_program_hashes();
        assert!(released.contains(&Address::of_program(APPROVAL)));
        assert!(!CLEAR.is_empty());
    }
}

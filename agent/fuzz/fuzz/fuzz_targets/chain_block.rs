#![no_main]
// The target and its properties: dao_fuzz::chain_block (agent/fuzz/src).
libfuzzer_sys::fuzz_target!(|data: &[u8]| dao_fuzz::chain_block(data));

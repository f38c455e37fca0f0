#![no_main]
// The target and its properties: dao_fuzz::diff_hash_pack (agent/fuzz/src).
libfuzzer_sys::fuzz_target!(|data: &[u8]| dao_fuzz::diff_hash_pack(data));

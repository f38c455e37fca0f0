#![no_main]
// The target and its properties: dao_fuzz::config (agent/fuzz/src).
libfuzzer_sys::fuzz_target!(|data: &[u8]| dao_fuzz::config(data));

#![no_main]
// The target and its properties: dao_fuzz::arc4 (agent/fuzz/src).
libfuzzer_sys::fuzz_target!(|data: &[u8]| dao_fuzz::arc4(data));

#![no_main]
// The target and its properties: dao_fuzz::journal (agent/fuzz/src).
libfuzzer_sys::fuzz_target!(|data: &[u8]| dao_fuzz::journal(data));

//! Fuzz target `connection`: The session state machine: any role and options, arbitrary bytes cut
//! anywhere, commands and timeouts at arbitrary times.
//! The properties are in tests/harness/mod.rs (see its header).
#![no_main]

#[path = "../../tests/harness/mod.rs"]
mod harness;

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::check_connection(data));

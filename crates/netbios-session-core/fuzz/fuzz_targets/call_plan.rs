//! Fuzz target `call_plan`: The caller's plan across connections: negative and retarget responses
//! and timeouts in any order.
//! The properties are in tests/harness/mod.rs (see its header).
#![no_main]

#[path = "../../tests/harness/mod.rs"]
mod harness;

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::check_call_plan(data));

//! Fuzz target `session`: the whole session lifecycle: dial results, peer
//! bytes, ends of stream, commands and timeouts in any order.
//! The properties are in tests/harness/session.rs (see its header).
#![no_main]

#[path = "../../tests/harness/mod.rs"]
mod harness;

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::session::check_session(data));

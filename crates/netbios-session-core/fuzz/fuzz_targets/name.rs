//! Fuzz target `name`: NetBIOS name decoding against a reference decoder, decode/encode
//! round trips, and request trailers through a called node.
//! The properties are in tests/harness/mod.rs (see its header).
#![no_main]

#[path = "../../tests/harness/mod.rs"]
mod harness;

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::check_name(data));

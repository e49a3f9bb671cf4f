//! Fuzz target `frame`: The 4-byte header in every length encoding, then frame streams through
//! established sessions of each kind (NetBIOS, legacy 0x80 bit, 24-bit
//! NetBIOS, direct TCP) cut at arbitrary points.
//! The properties are in tests/harness/mod.rs (see its header).
#![no_main]

#[path = "../../tests/harness/mod.rs"]
mod harness;

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::check_frame(data));

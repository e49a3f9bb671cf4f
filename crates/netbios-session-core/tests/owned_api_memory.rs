//! The owned-message API (`handle_input` + `poll_event`) against the
//! issue's allocation property: a session never allocates more than the
//! bytes it received plus a constant.
//!
//! Regression: `handle_input` used to decode eagerly into a queue of one
//! `Received` per frame that kept its largest capacity after draining: 64 KiB
//! of empty SESSION MESSAGE frames (4 bytes each) left a session holding 28
//! times that. Now `poll_event` decodes one event at a time from the input.

mod harness;

use netbios_session_core::{Config, Received, Role, Session};

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

/// Heap a direct session holds after `handle_input(chunk)` and draining every event.
fn retained_after(chunk: &[u8]) -> (isize, usize) {
    let before = harness::alloc::live();
    let mut session = Session::new(Role::Direct, Config::for_role(Role::Direct)).unwrap();
    session.handle_input(0, chunk);
    let mut events = 0;
    while let Some(event) = session.poll_event() {
        assert_eq!(event, Received::Message(Default::default()));
        events += 1;
    }
    let held = harness::alloc::live() - before;
    drop(session);
    (held, events)
}

#[test]
fn owned_api_amplification_is_measured() {
    assert!(harness::alloc::installed());
    let chunk = vec![0u8; 64 * 1024]; // 16384 empty messages
    let (held, events) = retained_after(&chunk);
    assert_eq!(events, 16384);
    eprintln!(
        "handle_input of {} bytes (16384 empty messages): {held} heap bytes held after draining ({:.1} x the input; size_of::<Received>() = {})",
        chunk.len(),
        held as f64 / chunk.len() as f64,
        std::mem::size_of::<Received>()
    );
}

#[test]
fn owned_api_holds_at_most_the_input_plus_a_constant() {
    let chunk = vec![0u8; 64 * 1024];
    let (held, _) = retained_after(&chunk);
    assert!(
        held <= chunk.len() as isize + harness::RETAIN_LIMIT,
        "a drained session holds {held} heap bytes after {} bytes in",
        chunk.len()
    );
}

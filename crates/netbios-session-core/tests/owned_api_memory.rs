//! The owned-message API (`handle_input` + `poll_event`) against the
//! issue's allocation property: a session never allocates more than the
//! bytes it received plus a constant.
//!
//! Regression: `handle_input` used to decode eagerly into a queue of one
//! `Received` per frame that kept its largest capacity after draining: 64 KiB
//! of empty SESSION MESSAGE frames (4 bytes each) left a session holding 28
//! times that. Now `poll_event` decodes one event at a time from the input.

mod harness;

use netbios_session_core::{Config, Connection, ConnectionReceived as Received, Role};

#[global_allocator]
static ALLOCATOR: harness::alloc::Counting = harness::alloc::Counting;

/// Heap a direct session holds after `handle_input(chunk)` and draining every event.
fn retained_after(chunk: &[u8]) -> (isize, usize) {
    let before = harness::alloc::live();
    let mut session = Connection::new(Role::Direct, Config::for_role(Role::Direct)).unwrap();
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

/// Regression (fuzz target `connection`, tests/regressions/connection/owned-api-keeps-64k):
/// a session that failed on a deadline kept the message it was assembling.
#[test]
fn a_session_failed_by_a_deadline_lets_go_of_its_partial_message() {
    use netbios_session_core::{Timeout, Timers};
    let config = Config {
        timers: Timers {
            idle_timeout: Some(1000),
            ..Timers::default()
        },
        ..Config::for_role(Role::Direct)
    };
    let mut session = Connection::new(Role::Direct, config).unwrap();
    session.start(0);
    let before = harness::alloc::live();
    // A 1 MiB message of which 60 KiB arrive, in pieces the API assembles.
    session.handle_input(0, &[0x00, 0x10, 0x00, 0x00]);
    for _ in 0..60 {
        session.handle_input(0, &[0x61; 1024]);
        assert_eq!(session.poll_event(), None);
    }
    assert!(
        harness::alloc::live() - before >= 60 * 1024,
        "the partial message is held while the session runs"
    );
    assert_eq!(session.handle_timeout(1000), Some(Timeout::Idle(1000)));
    let held = harness::alloc::live() - before;
    assert!(
        held <= harness::RETAIN_LIMIT,
        "a failed session holds {held} heap bytes"
    );
}

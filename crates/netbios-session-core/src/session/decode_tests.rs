//! `Session::decode`, the owned-event form: whole messages as zero-copy
//! slices whatever the input's split, room reserved for a body once its
//! header is read, and the same events as `next_event`; and its usual case
//! alone, `Session::decode_message`.

use super::*;
use crate::connection::Timers;
use crate::frame::{FrameType, Header, LengthEncoding};

fn frame(frame_type: FrameType, encoding: LengthEncoding, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Header::encode(frame_type, payload.len() as u32, encoding)
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

fn message(payload: &[u8]) -> Vec<u8> {
    frame(
        FrameType::SessionMessage,
        LengthEncoding::Extension,
        payload,
    )
}

fn established() -> Session {
    Session::new(Start::Established, Config::for_role(Role::Called), 0).unwrap()
}

/// Gives `bytes` to `session` `step` bytes at a time; every event decoded.
fn decode_in_steps(session: &mut Session, bytes: &[u8], step: usize) -> Vec<Received> {
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        input.extend_from_slice(piece);
        while let Some(received) = session.decode(0, &mut input) {
            out.push(received);
        }
    }
    assert!(
        input.is_empty(),
        "everything was decoded: {} bytes left",
        input.len()
    );
    out
}

#[test]
fn an_established_start_reads_messages_at_once() {
    let session = established();
    assert_eq!(session.state(), State::Established);
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn messages_come_out_whole_whatever_the_split() {
    let payloads: Vec<Vec<u8>> = vec![
        b"one".to_vec(),
        Vec::new(),
        vec![7; 70_000],
        b"last".to_vec(),
    ];
    let mut bytes = Vec::new();
    for payload in &payloads {
        bytes.extend(message(payload));
        bytes.extend(frame(FrameType::KeepAlive, LengthEncoding::Extension, &[]));
    }
    for step in [1, 2, 3, 4, 5, 7, 1000, 65_536, bytes.len()] {
        let mut session = established();
        let received = decode_in_steps(&mut session, &bytes, step);
        let mut expected = Vec::new();
        for payload in &payloads {
            expected.push(Received::Message(Bytes::from(payload.clone())));
            expected.push(Received::KeepAlive);
        }
        assert_eq!(received, expected, "in steps of {step}");
    }
}

#[test]
fn a_whole_message_is_a_slice_of_the_input() {
    let mut session = established();
    let mut input = BytesMut::from(&message(b"zero copy")[..]);
    let start = input.as_ptr() as usize;
    let Some(Received::Message(payload)) = session.decode(0, &mut input) else {
        panic!("a message");
    };
    assert_eq!(&payload[..], b"zero copy");
    assert_eq!(payload.as_ptr() as usize, start + HEADER_LEN);
}

#[test]
fn room_for_the_body_is_reserved_once_its_header_is_read() {
    let mut session = established();
    let mut input = BytesMut::new();
    input.extend_from_slice(&message(&[1; 100_000])[..10]);
    assert_eq!(session.decode(0, &mut input), None);
    // The header is taken; the 6 body bytes wait with room for the rest.
    assert_eq!(input.len(), 6);
    assert!(input.capacity() >= 100_000);
}

#[test]
fn a_message_over_the_limit_fails_before_any_room_is_taken() {
    let config = Config {
        max_message_length: 1000,
        ..Config::for_role(Role::Called)
    };
    let mut session = Session::new(Start::Established, config, 0).unwrap();
    let mut input = BytesMut::from(
        &Header::encode(FrameType::SessionMessage, 1001, LengthEncoding::Extension).unwrap()[..],
    );
    let capacity = input.capacity();
    match session.decode(0, &mut input) {
        Some(Received::Failed(error)) => assert!(
            error.to_string().contains("expected at most 1000"),
            "{error}"
        ),
        other => panic!("a failure, got {other:?}"),
    }
    assert!(
        input.capacity() <= capacity,
        "no room taken for the refused body"
    );
    assert_eq!(session.state(), State::Failed);
    input.extend_from_slice(b"more");
    assert_eq!(
        session.decode(0, &mut input),
        None,
        "a failed session reads nothing"
    );
}

#[test]
fn direct_and_wide_lengths_decode_as_next_event_does() {
    let payload = vec![9; 200_000];
    let bytes = frame(FrameType::SessionMessage, LengthEncoding::Wide, &payload);
    let mut direct = Session::new(Start::Direct, Config::for_role(Role::Direct), 0).unwrap();
    assert_eq!(
        decode_in_steps(&mut direct, &bytes, 4096),
        [Received::Message(Bytes::from(payload.clone()))]
    );
    // A NetBIOS session whose limit is above 17 bits reads the 24-bit form.
    let wide = Config {
        max_message_length: 1 << 20,
        ..Config::for_role(Role::Called)
    };
    let mut netbios = Session::new(Start::Established, wide, 0).unwrap();
    assert_eq!(
        decode_in_steps(&mut netbios, &bytes, 4096),
        [Received::Message(Bytes::from(payload))]
    );
}

#[test]
fn a_request_keeps_what_came_behind_it_until_answered() {
    let mut called = Session::new(Start::Called, Config::for_role(Role::Called), 0).unwrap();
    let names = [
        NetbiosName::new("SERVER", 0x20, "").unwrap(),
        NetbiosName::new("CLIENT", 0, "").unwrap(),
    ];
    let mut trailer = Vec::new();
    names[0].encode(&mut trailer);
    names[1].encode(&mut trailer);
    let mut input = BytesMut::from(
        &frame(
            FrameType::SessionRequest,
            LengthEncoding::Extension,
            &trailer,
        )[..],
    );
    input.extend_from_slice(&message(b"pipelined"));
    assert_eq!(
        called.decode(0, &mut input),
        Some(Received::Request {
            called: names[0].clone(),
            calling: names[1].clone()
        })
    );
    assert_eq!(called.decode(0, &mut input), None);
    assert_eq!(input.len(), HEADER_LEN + 9, "the pipelined message waits");
    called.accept(0).unwrap();
    assert_eq!(
        called.decode(0, &mut input),
        Some(Received::Message(Bytes::from_static(b"pipelined")))
    );
}

#[test]
fn decode_message_takes_whole_messages_and_nothing_else() {
    let mut session = established();
    let mut input = BytesMut::new();
    input.extend_from_slice(&message(b"first"));
    input.extend_from_slice(&frame(FrameType::KeepAlive, LengthEncoding::Extension, &[]));
    input.extend_from_slice(&message(b"second")[..7]);
    let start = input.as_ptr() as usize;
    let first = session
        .decode_message(0, &mut input)
        .expect("a whole message");
    assert_eq!(&first[..], b"first");
    assert_eq!(
        first.as_ptr() as usize,
        start + HEADER_LEN,
        "a slice, not a copy"
    );
    // A keep-alive, then part of a message: not its case, and nothing taken.
    let held = input.len();
    assert_eq!(session.decode_message(0, &mut input), None);
    assert_eq!(input.len(), held);
    assert_eq!(session.decode(0, &mut input), Some(Received::KeepAlive));
    assert_eq!(session.decode_message(0, &mut input), None);
    assert_eq!(input.len(), 7);
}

#[test]
fn decode_message_reads_nothing_before_the_session_is_established() {
    let config = Config::for_role(Role::Called);
    let mut session = Session::new(Start::Called, config, 0).unwrap();
    let mut input = BytesMut::from(&message(b"too early")[..]);
    assert_eq!(session.decode_message(0, &mut input), None);
    assert_eq!(input.len(), HEADER_LEN + 9);
    // The general path refuses it with a reason.
    assert!(matches!(
        session.decode(0, &mut input),
        Some(Received::Failed(_))
    ));
}

#[test]
fn decode_message_leaves_a_due_deadline_to_the_driver_and_restarts_the_idle_timer() {
    let config = Config {
        timers: Timers {
            idle_timeout: Some(1000),
            ..Timers::default()
        },
        ..Config::for_role(Role::Called)
    };
    let mut session = Session::new(Start::Established, config, 0).unwrap();
    let mut input = BytesMut::new();
    input.extend_from_slice(&message(b"in time"));
    input.extend_from_slice(&message(b"late"));
    let message = session
        .decode_message(400, &mut input)
        .expect("nothing is due at 400");
    assert_eq!(&message[..], b"in time");
    assert_eq!(
        session.poll_timeout(),
        Some(1400),
        "the idle timer restarted"
    );
    // At the deadline: None, and the driver handles the timeout.
    let held = input.len();
    assert_eq!(session.decode_message(1400, &mut input), None);
    assert_eq!(input.len(), held);
    assert!(session.handle_timeout(1400).is_some());
    assert_eq!(session.decode_message(1400, &mut input), None);
}

#[test]
fn decode_message_reads_an_ending_session_until_its_close_deadline() {
    let mut session = established();
    session.end(100);
    assert_eq!(session.state(), State::Ending);
    let close_at = session.poll_timeout().expect("a close deadline");
    let mut input = BytesMut::new();
    input.extend_from_slice(&message(b"late reply"));
    input.extend_from_slice(&message(b"too late"));
    let reply = session
        .decode_message(close_at - 1, &mut input)
        .expect("before the deadline");
    assert_eq!(&reply[..], b"late reply");
    assert_eq!(session.decode_message(close_at, &mut input), None);
    assert_eq!(input.len(), HEADER_LEN + 8);
}

//! Session lifecycle tests: dialing, redialing, every deadline and every end
//! of stream, driven without sockets or clocks.

use super::*;
use crate::connection::Timers;
use crate::error::{ErrorKind, ProtocolError};
use crate::frame::FrameType;

fn name(text: &str, suffix: u8) -> NetbiosName {
    NetbiosName::new(text, suffix, "").unwrap()
}

fn host(text: &str) -> Host {
    Host::Name(text.into())
}

fn to(text: &str, port: u32) -> Dial {
    Dial::new(host(text), port).unwrap()
}

fn config(role: Role) -> Config {
    Config::for_role(role)
}

fn timed(role: Role, timers: Timers) -> Config {
    Config {
        timers,
        ..Config::for_role(role)
    }
}

/// A NetBIOS call to FILESERVER (then `fallbacks`) at fs.example:139.
fn call(fallbacks: &[&str], max_retargets: u32, timeout: Option<Millis>, now: Millis) -> Session {
    let mut called = vec![name("FILESERVER", 0x20)];
    called.extend(fallbacks.iter().map(|f| name(f, 0x20)));
    let start = Start::Call {
        to: to("fs.example", 139),
        called,
        calling: name("CLIENT", 0),
        max_retargets,
        timeout,
    };
    Session::new(start, config(Role::Caller), now).unwrap()
}

/// Every event `bytes` yields, the whole chunk read.
fn feed(session: &mut Session, now: Millis, bytes: &[u8]) -> Vec<Event> {
    let mut pos = 0;
    let mut events = Vec::new();
    while let Some(event) = session.next_event(now, bytes, &mut pos) {
        events.push(event);
    }
    assert_eq!(pos, bytes.len(), "the whole chunk is read or skipped");
    events
}

fn frame(frame_type: FrameType, trailer: &[u8]) -> Vec<u8> {
    let mut bytes = Header::encode(frame_type, trailer.len() as u32, LengthEncoding::Extension)
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(trailer);
    bytes
}

fn positive() -> Vec<u8> {
    frame(FrameType::PositiveResponse, &[])
}

fn negative(code: u8) -> Vec<u8> {
    frame(FrameType::NegativeResponse, &[code])
}

fn retarget_to(addr: [u8; 4], port: u16) -> Vec<u8> {
    let mut trailer = addr.to_vec();
    trailer.extend_from_slice(&port.to_be_bytes());
    frame(FrameType::RetargetResponse, &trailer)
}

fn message(payload: &[u8]) -> Vec<u8> {
    frame(FrameType::SessionMessage, payload)
}

/// The called and calling names a queued SESSION REQUEST carries.
fn request_names(bytes: &[u8]) -> (NetbiosName, NetbiosName) {
    let mut peer = Session::new(Start::Called, config(Role::Called), 0).unwrap();
    match feed(&mut peer, 0, bytes).as_slice() {
        [Event::Request { called, calling }] => (called.clone(), calling.clone()),
        other => panic!("expected one request, got {other:?}"),
    }
}

use crate::frame::{Header, LengthEncoding};

#[test]
fn a_call_dials_once_then_requests_on_connect() {
    let mut session = call(&[], 4, Some(20_000), 1_000);
    assert_eq!(session.state(), State::Dialing);
    assert_eq!(
        session.poll_transmit(),
        None,
        "nothing to send before the connection"
    );
    assert_eq!(session.poll_dial(), Some(to("fs.example", 139)));
    assert_eq!(session.poll_dial(), None, "one dial per decision");
    session.handle_connected(1_010).unwrap();
    assert_eq!(session.state(), State::AwaitingResponse);
    let request = session.poll_transmit().unwrap();
    assert_eq!(
        request_names(&request),
        (name("FILESERVER", 0x20), name("CLIENT", 0))
    );
    assert_eq!(feed(&mut session, 1_020, &positive()), [Event::Established]);
    assert_eq!(session.state(), State::Established);
    assert_eq!(
        session.poll_timeout(),
        None,
        "the setup deadline ends at establishment"
    );
    assert_eq!(
        session.handle_connected(1_030),
        Err(CommandError::WrongState {
            command: "start a connection",
            state: State::Established
        })
    );
}

#[test]
fn a_retarget_redials_the_named_address_and_skips_the_old_connection() {
    let mut session = call(&[], 4, None, 0);
    session.poll_dial();
    session.handle_connected(0).unwrap();
    let first = session.poll_transmit().unwrap();
    // Bytes behind the retarget on the old connection are skipped.
    let mut bytes = retarget_to([127, 0, 0, 2], 1139);
    bytes.extend_from_slice(&positive());
    assert_eq!(
        feed(&mut session, 5, &bytes),
        [Event::Retarget {
            addr: Ipv4Addr::new(127, 0, 0, 2),
            port: 1139
        }]
    );
    assert_eq!(session.state(), State::Dialing);
    assert_eq!(
        session.poll_dial(),
        Some(Dial {
            host: Host::Addr(Ipv4Addr::new(127, 0, 0, 2)),
            port: 1139
        })
    );
    session.handle_connected(6).unwrap();
    assert_eq!(
        session.poll_transmit().unwrap(),
        first,
        "the same request, on the new connection"
    );
    assert_eq!(feed(&mut session, 7, &positive()), [Event::Established]);
}

#[test]
fn retargets_past_the_bound_fail_the_session() {
    let mut session = call(&[], 1, None, 0);
    session.poll_dial();
    session.handle_connected(0).unwrap();
    feed(&mut session, 0, &retarget_to([10, 0, 0, 1], 139));
    session.poll_dial().unwrap();
    session.handle_connected(0).unwrap();
    let events = feed(&mut session, 0, &retarget_to([10, 0, 0, 2], 139));
    let [Event::Failed(error)] = events.as_slice() else {
        panic!("expected a failure, got {events:?}");
    };
    assert_eq!(error.kind(), ErrorKind::RetargetLoop);
    assert!(error
        .to_string()
        .contains("to 10.0.0.2:139, after following 1 retargets"));
    assert_eq!(session.state(), State::Failed);
    assert_eq!(session.poll_dial(), None);
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn a_negative_response_falls_back_to_the_next_name_on_the_same_address() {
    let mut session = call(&["*SMBSERVER"], 4, None, 0);
    session.poll_dial();
    session.handle_connected(0).unwrap();
    session.poll_transmit();
    assert_eq!(
        feed(&mut session, 0, &negative(0x82)),
        [Event::Fallback {
            called: name("*SMBSERVER", 0x20)
        }]
    );
    assert_eq!(session.poll_dial(), Some(to("fs.example", 139)));
    session.handle_connected(0).unwrap();
    let request = session.poll_transmit().unwrap();
    assert_eq!(request_names(&request).0, name("*SMBSERVER", 0x20));
    // No name left: the session fails with 0.1.6's text.
    let events = feed(&mut session, 0, &negative(0x80));
    let [Event::Failed(error)] = events.as_slice() else {
        panic!("expected a failure, got {events:?}");
    };
    assert_eq!(error.kind(), ErrorKind::Rejected);
    assert_eq!(
        error.to_string(),
        "Connection failed with response code [Not listening on called name]"
    );
}

#[test]
fn a_negative_response_without_a_fallback_code_fails_at_once() {
    let mut session = call(&["*SMBSERVER"], 4, None, 0);
    session.poll_dial();
    session.handle_connected(0).unwrap();
    let events = feed(&mut session, 0, &negative(0x83));
    assert!(matches!(
        events.as_slice(),
        [Event::Failed(SessionError::Call(CallError::Rejected {
            code: 0x83
        }))]
    ));
    let events = {
        let mut session = call(&[], 4, None, 0);
        session.poll_dial();
        session.handle_connected(0).unwrap();
        feed(&mut session, 0, &negative(0x42))
    };
    let [Event::Failed(error)] = events.as_slice() else {
        panic!("expected a failure, got {events:?}");
    };
    assert_eq!(
        error.to_string(),
        "Connection failed with response code [unknown error]"
    );
}

#[test]
fn one_setup_deadline_covers_the_dial_and_every_attempt() {
    let mut session = call(&[], 4, Some(20_000), 1_000);
    assert_eq!(session.poll_timeout(), Some(21_000), "the dial is timed");
    assert_eq!(session.handle_timeout(20_999), None);
    session.poll_dial();
    session.handle_connected(2_000).unwrap();
    feed(&mut session, 3_000, &retarget_to([127, 0, 0, 1], 1139));
    assert_eq!(
        session.poll_timeout(),
        Some(21_000),
        "a retarget does not extend it"
    );
    let error = session.handle_timeout(21_000).unwrap();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(
        error.to_string(),
        "Session setup did not complete within 20000 ms (timeout); expected a POSITIVE SESSION RESPONSE"
    );
    assert_eq!(session.state(), State::Failed);
    assert_eq!(session.poll_dial(), None, "a failed session dials no more");
}

#[test]
fn a_direct_call_times_its_tcp_connect_only() {
    let start = Start::DirectCall {
        to: to("::1", 445),
        timeout: Some(5_000),
    };
    let timers = Timers {
        idle_timeout: Some(60_000),
        ..Timers::default()
    };
    let mut session = Session::new(start.clone(), timed(Role::Direct, timers), 100).unwrap();
    assert_eq!(session.poll_dial(), Some(to("::1", 445)));
    assert_eq!(session.poll_timeout(), Some(5_100));
    session.handle_connected(200).unwrap();
    assert_eq!(session.state(), State::Established);
    assert_eq!(
        session.poll_transmit(),
        None,
        "direct mode sends no request"
    );
    assert_eq!(
        session.poll_timeout(),
        Some(60_200),
        "the idle clock starts at connect"
    );

    let mut late = Session::new(start, config(Role::Direct), 100).unwrap();
    late.poll_dial();
    let error = late.handle_timeout(5_100).unwrap();
    assert_eq!(
        error.to_string(),
        "TCP connection to ::1:445 did not complete within 5000 ms (timeout)"
    );
    assert_eq!(error.kind(), ErrorKind::Timeout);
}

#[test]
fn ports_outside_1_to_65535_are_refused() {
    for port in [0, 65_536, 70_000] {
        assert_eq!(Dial::new(host("h"), port), Err(ConfigError::Port(port)));
    }
    assert_eq!(Dial::new(host("h"), 65_535).unwrap().port, 65_535);
    let start = Start::Call {
        to: to("h", 139),
        called: Vec::new(),
        calling: name("C", 0),
        max_retargets: 4,
        timeout: None,
    };
    assert_eq!(
        Session::new(start, config(Role::Caller), 0).unwrap_err(),
        ConfigError::NoCalledName
    );
}

#[test]
fn a_called_node_times_the_request_then_answers() {
    let timers = Timers {
        request_timeout: Some(30_000),
        ..Timers::default()
    };
    let mut late = Session::new(Start::Called, timed(Role::Called, timers), 0).unwrap();
    assert_eq!(late.poll_timeout(), Some(30_000));
    let error = late.handle_timeout(30_000).unwrap();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.to_string().contains("(requestTimeout)"));

    let mut session = Session::new(Start::Called, timed(Role::Called, timers), 0).unwrap();
    let mut caller = call(&[], 4, None, 0);
    caller.poll_dial();
    caller.handle_connected(0).unwrap();
    let request = caller.poll_transmit().unwrap();
    let events = feed(&mut session, 10, &request);
    assert!(matches!(events.as_slice(), [Event::Request { .. }]));
    assert_eq!(session.state(), State::AwaitingDecision);
    assert_eq!(session.poll_timeout(), None, "the request arrived in time");
    session.accept(20).unwrap();
    assert_eq!(session.state(), State::Established);
    assert_eq!(
        feed(&mut caller, 30, &session.poll_transmit().unwrap()),
        [Event::Established]
    );
}

#[test]
fn answers_close_after_the_close_deadline() {
    let mut caller = call(&[], 4, None, 0);
    caller.poll_dial();
    caller.handle_connected(0).unwrap();
    let request = caller.poll_transmit().unwrap();
    for answer in 0..3 {
        let mut session = Session::new(Start::Called, config(Role::Called), 0).unwrap();
        feed(&mut session, 0, &request);
        match answer {
            0 => session.reject(0x82, 1_000).unwrap(),
            1 => session.retarget(Ipv4Addr::LOCALHOST, 1139, 1_000).unwrap(),
            _ => session.answer_unheard(false, 1_000).unwrap(),
        }
        assert_eq!(session.state(), State::Answered);
        let bytes = session.poll_transmit().unwrap();
        assert_eq!(bytes[0], [0x83, 0x84, 0x83][answer]);
        // What the caller sends after the answer is skipped.
        assert_eq!(feed(&mut session, 1_001, &message(b"late")), []);
        assert_eq!(session.poll_timeout(), Some(1_000 + CLOSE_TIMEOUT));
        assert_eq!(session.handle_timeout(1_000 + CLOSE_TIMEOUT - 1), None);
        assert_eq!(session.state(), State::Answered);
        assert_eq!(session.handle_timeout(1_000 + CLOSE_TIMEOUT), None);
        assert_eq!(session.state(), State::Closed, "closed, not failed");
        assert_eq!(session.poll_timeout(), None);
    }
    let mut session = Session::new(Start::Called, config(Role::Called), 0).unwrap();
    feed(&mut session, 0, &request);
    session.answer_unheard(true, 5).unwrap();
    assert_eq!(session.state(), State::Established);
    assert_eq!(session.poll_transmit().unwrap()[0], 0x82);
}

#[test]
fn reject_codes_come_from_rfc_texts_or_numbers() {
    assert_eq!(reject_code("Not listening on called name"), 0x80);
    assert_eq!(
        reject_code("Called name present, but insufficient resources"),
        0x83
    );
    assert_eq!(reject_code("no such reason"), UNSPECIFIED_ERROR);
    assert_eq!(reject_code_from_number(130.0), 0x82);
    assert_eq!(reject_code_from_number(0x8F as f64), 0x8F);
    for odd in [
        0.0,
        0x81 as f64 + 0.5,
        -0x80 as f64,
        0x42 as f64,
        1e30,
        f64::NAN,
    ] {
        assert_eq!(reject_code_from_number(odd), UNSPECIFIED_ERROR, "{odd}");
    }
}

#[test]
fn end_closes_at_once_before_establishment_and_waits_after() {
    let mut dialing = call(&[], 4, Some(1_000), 0);
    dialing.end(10);
    assert_eq!(dialing.state(), State::Closed);
    assert_eq!(dialing.poll_dial(), None);
    assert_eq!(dialing.poll_timeout(), None);

    let timers = Timers {
        idle_timeout: Some(100),
        keep_alive: Some(50),
        ..Timers::default()
    };
    let mut session = Session::new(Start::Direct, timed(Role::Direct, timers), 0).unwrap();
    assert_eq!(session.poll_timeout(), Some(50));
    session.end(10);
    assert_eq!(session.state(), State::Ending);
    assert_eq!(
        session.poll_timeout(),
        Some(10 + CLOSE_TIMEOUT),
        "idle and keep-alive stop"
    );
    assert!(matches!(
        session.message_header(1),
        Err(CommandError::WrongState {
            state: State::Ending,
            ..
        })
    ));
    // Still reads what the peer sends before it closes.
    let events = feed(&mut session, 20, &message(b"hi"));
    assert!(matches!(
        events.as_slice(),
        [Event::Message {
            first: true,
            last: true,
            ..
        }]
    ));
    assert_eq!(session.handle_end_of_input(), Ok(()));
    session.handle_timeout(10 + CLOSE_TIMEOUT);
    assert_eq!(session.state(), State::Closed);
}

#[test]
fn keep_alives_and_idle_deadlines_of_an_established_session() {
    let timers = Timers {
        idle_timeout: Some(1_000),
        keep_alive: Some(300),
        ..Timers::default()
    };
    let mut session = Session::new(Start::Direct, timed(Role::Direct, timers), 0).unwrap();
    assert_eq!(session.poll_timeout(), Some(300));
    assert_eq!(session.handle_timeout(300), None);
    assert_eq!(session.poll_transmit().unwrap()[..], [0x85, 0, 0, 0]);
    feed(&mut session, 500, &message(b"x"));
    assert_eq!(session.poll_timeout(), Some(600));
    session.handle_timeout(600);
    assert_eq!(session.poll_timeout(), Some(900));
    session.handle_timeout(900);
    assert_eq!(session.poll_timeout(), Some(1_200));
    session.poll_transmit();
    let error = session.handle_timeout(1_500).unwrap();
    assert_eq!(
        error,
        SessionError::Timeout(crate::connection::Timeout::Idle(1_000))
    );
    assert_eq!(session.state(), State::Failed);
}

#[test]
fn an_end_of_stream_means_what_the_state_says() {
    // Caller before the response.
    let mut session = call(&[], 4, None, 0);
    session.poll_dial();
    session.handle_connected(0).unwrap();
    assert_eq!(
        session.handle_end_of_input().unwrap_err().to_string(),
        "Connection ended by the peer before the session response arrived"
    );
    assert_eq!(session.state(), State::Failed);
    // Caller inside a response frame: the cut frame is the error.
    let mut session = call(&[], 4, None, 0);
    session.poll_dial();
    session.handle_connected(0).unwrap();
    feed(&mut session, 0, &retarget_to([1, 2, 3, 4], 5)[..5]);
    assert_eq!(
        session.handle_end_of_input().unwrap_err().to_string(),
        "Connection ended inside a frame: 5 of 10 bytes received"
    );
    // Called node, before and after the request.
    let mut session = Session::new(Start::Called, config(Role::Called), 0).unwrap();
    let error = session.handle_end_of_input().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert_eq!(
        error.to_string(),
        "Connection ended by the peer before a SESSION REQUEST arrived"
    );
    let mut caller = call(&[], 4, None, 0);
    caller.poll_dial();
    caller.handle_connected(0).unwrap();
    let mut session = Session::new(Start::Called, config(Role::Called), 0).unwrap();
    feed(&mut session, 0, &caller.poll_transmit().unwrap());
    assert_eq!(
        session.handle_end_of_input().unwrap_err().to_string(),
        "Connection ended by the peer before the SESSION REQUEST was answered"
    );
    // Established: a clean end between frames, an error inside one.
    let mut session = Session::new(Start::Direct, config(Role::Direct), 0).unwrap();
    assert_eq!(session.handle_end_of_input(), Ok(()));
    let mut session = Session::new(Start::Direct, config(Role::Direct), 0).unwrap();
    feed(&mut session, 0, &message(b"abc")[..5]);
    assert!(matches!(
        session.handle_end_of_input(),
        Err(SessionError::Protocol(ProtocolError::TruncatedFrame {
            received: 5,
            expected: 7
        }))
    ));
    // A connection that is no longer read (a caller between connections).
    let mut dialing = call(&[], 4, None, 0);
    assert!(matches!(
        dialing.handle_end_of_input(),
        Err(SessionError::EndedEarly {
            state: State::Dialing
        })
    ));
    // Over or answered: nothing more to say.
    assert_eq!(session.handle_end_of_input(), Ok(()));
}

#[test]
fn commands_in_the_wrong_state_are_refused_and_change_nothing() {
    let mut session = call(&[], 4, None, 0);
    assert!(session.accept(0).is_err());
    assert!(session.reject(0x80, 0).is_err());
    assert!(session.retarget(Ipv4Addr::LOCALHOST, 139, 0).is_err());
    assert!(session.message_header(0).is_err());
    assert!(session.send_message(b"x").is_err());
    assert_eq!(session.state(), State::Dialing);
    let mut called = Session::new(Start::Called, config(Role::Called), 0).unwrap();
    assert_eq!(called.poll_dial(), None, "only a call dials");
    assert!(called.handle_connected(0).is_err());
    assert_eq!(
        called.accept(0).unwrap_err().to_string(),
        "Cannot accept while waiting for a SESSION REQUEST"
    );
    assert_eq!(called.state(), State::AwaitingRequest);
}

#[test]
fn a_protocol_error_fails_the_session_and_skips_the_rest() {
    let mut session = Session::new(Start::Direct, config(Role::Direct), 0).unwrap();
    let mut bytes = vec![0x42, 0, 0, 0];
    bytes.extend_from_slice(&message(b"after"));
    let events = feed(&mut session, 0, &bytes);
    let [Event::Failed(error)] = events.as_slice() else {
        panic!("expected a failure, got {events:?}");
    };
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert_eq!(session.state(), State::Failed);
    assert_eq!(feed(&mut session, 0, &message(b"more")), []);
}

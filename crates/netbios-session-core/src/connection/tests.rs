use super::*;

fn name(text: &str, suffix: u8) -> NetbiosName {
    NetbiosName::new(text, suffix, "").unwrap()
}

fn session(role: Role) -> Connection {
    Connection::new(role, Config::for_role(role)).unwrap()
}

fn with_max(role: Role, max: u32) -> Connection {
    Connection::new(
        role,
        Config {
            legacy_length_bit: false,
            max_message_length: max,
            timers: Timers::default(),
        },
    )
    .unwrap()
}

fn feed(session: &mut Connection, data: &[u8]) -> Vec<Received> {
    feed_at(session, 0, data)
}

/// Gives `data` as received at `now` and takes every event it makes.
fn feed_at(session: &mut Connection, now: Millis, data: &[u8]) -> Vec<Received> {
    session.handle_input(now, data);
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn request_bytes(called: &NetbiosName, calling: &NetbiosName) -> Vec<u8> {
    let mut caller = session(Role::Caller);
    caller.request(called, calling).unwrap();
    caller.poll_transmit().unwrap().to_vec()
}

fn established_called() -> Connection {
    let mut called = session(Role::Called);
    feed(
        &mut called,
        &request_bytes(&name("DST", 0x20), &name("SRC", 0)),
    );
    called.accept(0).unwrap();
    called.poll_transmit();
    called
}

fn awaiting_response() -> Connection {
    let mut caller = session(Role::Caller);
    caller.request(&name("DST", 0x20), &name("SRC", 0)).unwrap();
    caller.poll_transmit();
    caller
}

fn protocol_error(events: &[Received]) -> &ProtocolError {
    match events.last() {
        Some(Received::Error(error)) => error,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn request_is_called_name_first_and_68_bytes() {
    let bytes = request_bytes(&name("DST", 0x20), &name("SRC", 0x00));
    assert_eq!(&bytes[..4], &[0x81, 0x00, 0x00, 68]);
    assert_eq!(&bytes[4..11], &[0x20, b'E', b'E', b'F', b'D', b'F', b'E']);
    let (called, used) = NetbiosName::decode(&bytes[4..]).unwrap();
    assert_eq!(called, name("DST", 0x20));
    assert_eq!(
        NetbiosName::decode(&bytes[4 + used..]).unwrap().0,
        name("SRC", 0)
    );
}

#[test]
fn called_node_handshake_vectors() {
    let mut called = session(Role::Called);
    let events = feed(
        &mut called,
        &request_bytes(&name("DST", 0x20), &name("SRC", 0)),
    );
    assert_eq!(
        events,
        [Received::Request {
            called: name("DST", 0x20),
            calling: name("SRC", 0)
        }]
    );
    assert_eq!(called.phase(), Phase::AwaitingDecision);
    called.accept(0).unwrap();
    assert_eq!(called.poll_transmit().unwrap(), &[0x82, 0, 0, 0][..]);
    assert_eq!(called.phase(), Phase::Established);
    assert_eq!(called.poll_transmit(), None);

    let mut rejecting = session(Role::Called);
    feed(
        &mut rejecting,
        &request_bytes(&name("DST", 0x20), &name("SRC", 0)),
    );
    rejecting.reject(0x82).unwrap();
    assert_eq!(
        rejecting.poll_transmit().unwrap(),
        &[0x83, 0, 0, 1, 0x82][..]
    );
    assert_eq!(rejecting.phase(), Phase::Closed);

    let mut retargeting = session(Role::Called);
    feed(
        &mut retargeting,
        &request_bytes(&name("DST", 0x20), &name("SRC", 0)),
    );
    retargeting
        .retarget(Ipv4Addr::new(10, 0, 0, 5), 139)
        .unwrap();
    assert_eq!(
        retargeting.poll_transmit().unwrap(),
        &[0x84, 0, 0, 6, 0x0a, 0, 0, 5, 0x00, 0x8b][..]
    );
}

#[test]
fn caller_response_vectors() {
    let mut caller = awaiting_response();
    assert_eq!(feed(&mut caller, &[0x82, 0, 0, 0]), [Received::Positive]);
    assert_eq!(caller.phase(), Phase::Established);

    let mut caller = awaiting_response();
    assert_eq!(
        feed(&mut caller, &[0x83, 0, 0, 1, 0x82]),
        [Received::Negative { code: 0x82 }]
    );
    assert_eq!(caller.phase(), Phase::Closed);

    let mut caller = awaiting_response();
    assert_eq!(
        feed(&mut caller, &[0x84, 0, 0, 6, 0x0a, 0, 0, 5, 0x00, 0x8b]),
        [Received::Retarget {
            addr: Ipv4Addr::new(10, 0, 0, 5),
            port: 139
        }]
    );

    // Keep-alives while waiting are skipped over.
    let mut caller = awaiting_response();
    assert_eq!(
        feed(&mut caller, &[0x85, 0, 0, 0, 0x82, 0, 0, 0]),
        [Received::KeepAlive, Received::Positive]
    );
}

#[test]
fn positive_response_with_names_is_tolerated() {
    let mut caller = awaiting_response();
    let mut data = vec![0x82, 0x00, 0x00, 0x44];
    data.extend_from_slice(&request_bytes(&name("DST", 0x20), &name("SRC", 0))[4..]);
    data.extend_from_slice(&[0x00, 0x00, 0x00, 0x02, b'h', b'i']);
    assert_eq!(
        feed(&mut caller, &data),
        [
            Received::Positive,
            Received::Message(Bytes::from_static(b"hi"))
        ]
    );
}

#[test]
fn not_netbios_vectors_fail_the_session() {
    let cases: [(Connection, &[u8]); 4] = [
        (session(Role::Called), &[0x00, 0x80, 0x00, 0x10]),
        (established_called(), &[0x86, 0x00, 0x00, 0x00]),
        (awaiting_response(), &[0x83, 0x00, 0x00, 0x00]),
        (established_called(), &[0x85, 0x00, 0x00, 0x01, 0x00]),
    ];
    for (mut session, bytes) in cases {
        let events = feed(&mut session, bytes);
        protocol_error(&events);
        assert_eq!(session.phase(), Phase::Failed);
        // Nothing more is decoded once failed.
        assert_eq!(feed(&mut session, &[0x00, 0x00, 0x00, 0x00]), []);
    }
    let mut caller = awaiting_response();
    let events = feed(&mut caller, &[0x83, 0x00, 0x00, 0x00]);
    assert_eq!(
        protocol_error(&events).to_string(),
        "Malformed negative response.  Connection failed."
    );
}

#[test]
fn error_messages_name_what_arrived_and_what_was_expected() {
    let mut called = session(Role::Called);
    let events = feed(&mut called, &[0x00, 0x00, 0x00, 0x01, 0x41]);
    assert_eq!(
        protocol_error(&events).to_string(),
        "Received a SESSION MESSAGE while waiting for a SESSION REQUEST; expected a SESSION REQUEST"
    );
    let mut established = established_called();
    let events = feed(&mut established, &[0x86, 0x00, 0x00, 0x00]);
    assert_eq!(
        protocol_error(&events).to_string(),
        "Received a frame of type 0x86, which is not a NetBIOS session packet type; \
         expected a SESSION MESSAGE or SESSION KEEP ALIVE"
    );
    let mut called = session(Role::Called);
    let events = feed(&mut called, &[0x00, 0x80, 0x00, 0x10]);
    assert!(protocol_error(&events)
        .to_string()
        .contains("reserved bits 0x80"));
}

#[test]
fn strict_state_machine() {
    // A second request after establishment.
    let mut called = established_called();
    let events = feed(&mut called, &request_bytes(&name("A", 0x20), &name("B", 0)));
    assert!(matches!(
        protocol_error(&events),
        ProtocolError::UnexpectedFrame {
            frame_type: FrameType::SessionRequest,
            ..
        }
    ));
    // A request pipelined behind the request: read once it is accepted.
    let mut called = session(Role::Called);
    let mut data = request_bytes(&name("A", 0x20), &name("B", 0));
    data.extend_from_slice(&request_bytes(&name("A", 0x20), &name("B", 0)));
    assert!(matches!(
        feed(&mut called, &data)[..],
        [Received::Request { .. }]
    ));
    called.accept(0).unwrap();
    assert!(matches!(
        protocol_error(&std::iter::from_fn(|| called.poll_event()).collect::<Vec<_>>()),
        ProtocolError::UnexpectedFrame {
            frame_type: FrameType::SessionRequest,
            phase: Phase::Established,
        }
    ));
    // A response to a node that sent no request; a keep-alive before the request.
    for (role, bytes) in [
        (Role::Caller, [0x82u8, 0, 0, 0]),
        (Role::Called, [0x85, 0, 0, 0]),
    ] {
        let mut s = session(role);
        protocol_error(&feed(&mut s, &bytes));
    }
    // A response after establishment.
    let mut caller = awaiting_response();
    let events = feed(&mut caller, &[0x82, 0, 0, 0, 0x82, 0, 0, 0]);
    assert_eq!(events[0], Received::Positive);
    protocol_error(&events);
    // Bytes after a negative response.
    let mut caller = awaiting_response();
    let events = feed(&mut caller, &[0x83, 0, 0, 1, 0x80, 0x00]);
    assert_eq!(events[0], Received::Negative { code: 0x80 });
    assert_eq!(events.len(), 1, "one byte is not yet a frame");
    let events = feed(&mut caller, &[0, 0, 0]);
    protocol_error(&events);
}

#[test]
fn request_trailer_rules() {
    let good = request_bytes(&name("DST", 0x20), &name("SRC", 0));
    // Trailing garbage inside the declared length.
    let mut extra = good.clone();
    extra[3] += 2;
    extra.extend_from_slice(&[0, 0]);
    let events = feed(&mut session(Role::Called), &extra);
    assert_eq!(
        protocol_error(&events),
        &ProtocolError::RequestTrailingBytes { extra: 2 }
    );
    // A compression pointer where the calling name should be.
    let mut pointer = good[..4 + 34].to_vec();
    pointer.extend_from_slice(&[0xC0, 0x00]);
    pointer.extend_from_slice(&[b'A'; 32]);
    let events = feed(&mut session(Role::Called), &pointer);
    assert!(matches!(
        protocol_error(&events),
        ProtocolError::BadRequestName {
            which: "calling",
            ..
        }
    ));
    // Declared lengths outside 68..=510 are refused before buffering.
    for len in [0u16, 67, 511, 0xFFFF] {
        let [hi, lo] = len.to_be_bytes();
        let events = feed(&mut session(Role::Called), &[0x81, 0, hi, lo]);
        assert!(matches!(
            protocol_error(&events),
            ProtocolError::BadLength { .. }
        ));
    }
}

#[test]
fn message_length_limits_per_mode() {
    // NetBIOS: E bit is 0x01 and the limit is 131071.
    let mut s = established_called();
    let events = feed(&mut s, &[0x00, 0x01, 0xff, 0xff]);
    assert_eq!(events, []);
    let mut s = established_called();
    protocol_error(&feed(&mut s, &[0x00, 0x02, 0x00, 0x00]));
    // A server-set cap below the protocol maximum.
    let mut capped = with_max(Role::Direct, 1000);
    assert_eq!(
        protocol_error(&feed(&mut capped, &[0x00, 0x00, 0x03, 0xe9])),
        &ProtocolError::MessageTooLong {
            length: 1001,
            max: 1000
        }
    );
    // Direct: 24-bit lengths.
    let mut direct = session(Role::Direct);
    assert_eq!(
        direct.message_header(1 << 20).unwrap(),
        [0x00, 0x10, 0x00, 0x00]
    );
    assert!(feed(&mut direct, &[0x00, 0xff, 0xff, 0xff]).is_empty());
    // NetBIOS with a raised limit: messages use 24-bit lengths too.
    let wide = with_max(Role::Called, 4_000_080);
    assert_eq!(wide.max_message_length(), 4_000_080);
    // Sending past the limit is refused with 0.1.6's text.
    let mut s = established_called();
    let error = s.message_header(131072).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Message length [131072] exceeds maximum [131071]"
    );
    assert_eq!(s.message_header(70000).unwrap(), [0x00, 0x01, 0x11, 0x70]);
}

#[test]
fn legacy_length_bit_speaks_0x80() {
    let mut legacy = Connection::new(
        Role::Direct,
        Config {
            legacy_length_bit: true,
            max_message_length: MAX_NETBIOS_LENGTH,
            timers: Timers::default(),
        },
    );
    assert_eq!(legacy.unwrap_err(), ConfigError::LegacyWithDirect);
    legacy = Connection::new(
        Role::Called,
        Config {
            legacy_length_bit: true,
            max_message_length: MAX_NETBIOS_LENGTH,
            timers: Timers::default(),
        },
    );
    let mut s = legacy.unwrap();
    feed(&mut s, &request_bytes(&name("DST", 0x20), &name("SRC", 0)));
    s.accept(0).unwrap();
    assert_eq!(s.message_header(70000).unwrap(), [0x00, 0x80, 0x11, 0x70]);
    let mut data = vec![0x00, 0x80, 0x00, 0x00];
    data.extend(std::iter::repeat_n(7u8, 65536));
    let events = feed(&mut s, &data);
    assert_eq!(events, [Received::Message(Bytes::from(vec![7u8; 65536]))]);
    assert_eq!(
        Connection::new(
            Role::Caller,
            Config {
                legacy_length_bit: true,
                max_message_length: 200_000,
                timers: Timers::default(),
            }
        )
        .unwrap_err(),
        ConfigError::LegacyWithWideLength(200_000)
    );
}

#[test]
fn zero_length_and_keep_alive_in_session() {
    let mut s = established_called();
    let events = feed(&mut s, &[0, 0, 0, 0, 0x85, 0, 0, 0, 0, 0, 0, 1, 9]);
    assert_eq!(
        events,
        [
            Received::Message(Bytes::new()),
            Received::KeepAlive,
            Received::Message(Bytes::from_static(&[9]))
        ]
    );
    s.send_keep_alive().unwrap();
    assert_eq!(s.poll_transmit().unwrap(), &[0x85, 0, 0, 0][..]);
}

#[test]
fn commands_check_the_phase() {
    let mut caller = session(Role::Caller);
    assert!(matches!(
        caller.accept(0),
        Err(CommandError::WrongPhase { .. })
    ));
    assert!(caller.send_message(b"x").is_err());
    assert_eq!(
        caller.send_message(b"x").unwrap_err().to_string(),
        "Cannot send a SESSION MESSAGE while no SESSION REQUEST has been sent"
    );
    caller.request(&name("A", 0x20), &name("B", 0)).unwrap();
    assert!(caller.request(&name("A", 0x20), &name("B", 0)).is_err());
    assert_eq!(
        session(Role::Called).reject(0x80),
        Err(CommandError::WrongPhase {
            command: "reject",
            phase: Phase::AwaitingRequest
        })
    );
}

#[test]
fn message_ranges_point_into_the_chunk() {
    let mut s = session(Role::Direct);
    let chunk = [0, 0, 0, 2, b'a', b'b', 0, 0, 0, 3, b'c'];
    let mut pos = 0;
    let mut events = Vec::new();
    while let Some(event) = s.next_event(0, &chunk, &mut pos) {
        events.push(event);
    }
    assert_eq!(
        events,
        [
            Event::Message {
                range: 4..6,
                first: true,
                last: true
            },
            Event::Message {
                range: 10..11,
                first: true,
                last: false
            },
        ]
    );
    let mut pos = 0;
    assert_eq!(
        s.next_event(0, b"de", &mut pos),
        Some(Event::Message {
            range: 0..2,
            first: false,
            last: true
        })
    );
}

/// A SESSION MESSAGE whose frame is all in the chunk is read in one step;
/// the header checks of the general path must hold for it all the same.
#[test]
fn whole_frames_in_the_chunk_meet_every_header_check() {
    let next = |s: &mut Connection, chunk: &[u8]| {
        let mut pos = 0;
        let mut events = Vec::new();
        while let Some(event) = s.next_event(0, chunk, &mut pos) {
            events.push(event);
        }
        events
    };
    let mut capped = with_max(Role::Direct, 4);
    assert_eq!(
        next(
            &mut capped,
            &[0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0, 5, 1, 2, 3, 4, 5]
        ),
        [
            Event::Message {
                range: 4..8,
                first: true,
                last: true
            },
            Event::Error(ProtocolError::MessageTooLong { length: 5, max: 4 }),
        ]
    );
    // A reserved FLAGS bit, with the body there.
    let mut netbios = established_called();
    assert!(matches!(
        next(&mut netbios, &[0, 0x02, 0, 1, 9])[..],
        [Event::Error(ProtocolError::ReservedFlags { .. })]
    ));
    // A message before the handshake, and one before the request is answered.
    let mut called = session(Role::Called);
    assert!(matches!(
        next(&mut called, &[0, 0, 0, 1, 9])[..],
        [Event::Error(ProtocolError::UnexpectedFrame { .. })]
    ));
    let mut caller = awaiting_response();
    assert!(matches!(
        next(&mut caller, &[0, 0, 0, 1, 9])[..],
        [Event::Error(ProtocolError::UnexpectedFrame { .. })]
    ));
    // The legacy length bit is 0x80: RFC 1002's 0x01 is reserved there.
    let mut legacy = Connection::new(
        Role::Called,
        Config {
            legacy_length_bit: true,
            max_message_length: MAX_NETBIOS_LENGTH,
            timers: Timers::default(),
        },
    )
    .unwrap();
    next(
        &mut legacy,
        &request_bytes(&name("DST", 0x20), &name("SRC", 0)),
    );
    legacy.accept(0).unwrap();
    let mut frame = vec![0, 0x80, 0, 0];
    frame.resize(4 + 65_536, 7);
    assert_eq!(
        next(&mut legacy, &frame),
        [Event::Message {
            range: 4..frame.len(),
            first: true,
            last: true
        }]
    );
    assert!(matches!(
        next(&mut legacy, &[0, 0x01, 0, 1, 9])[..],
        [Event::Error(ProtocolError::ReservedFlags { .. })]
    ));
}

#[test]
fn end_of_input_inside_a_frame_is_an_error() {
    let mut s = established_called();
    assert_eq!(s.end_of_input(), Ok(()));
    let mut s = established_called();
    feed(&mut s, &[0, 0, 0, 10, 1, 2, 3]);
    assert_eq!(
        s.end_of_input(),
        Err(ProtocolError::TruncatedFrame {
            received: 7,
            expected: 14
        })
    );
    let mut s = established_called();
    feed(&mut s, &[0, 0]);
    assert!(s.end_of_input().is_err());
}

/// A whole conversation as the called node hears it: the request, then
/// messages of many sizes (one past 64 KiB), keep-alives and an empty message.
fn recorded_conversation() -> Vec<u8> {
    let mut caller = session(Role::Caller);
    caller
        .request(
            &NetbiosName::new("FILESERVER", 0x20, "scope.test").unwrap(),
            &name("CLIENT", 0),
        )
        .unwrap();
    let mut bytes = caller.poll_transmit().unwrap().to_vec();
    let mut peer = session(Role::Direct);
    for (i, size) in [0usize, 1, 3, 4, 5, 100, 70_000, 2].into_iter().enumerate() {
        let payload: Vec<u8> = (0..size).map(|j| (i * 31 + j) as u8).collect();
        peer.send_message(&payload).unwrap();
        if i % 3 == 0 {
            peer.send_keep_alive().unwrap();
        }
    }
    bytes.extend_from_slice(&peer.poll_transmit().unwrap());
    bytes
}

/// Feeds `bytes` cut at `cuts` the way an I/O layer would: event by event,
/// accepting the request as soon as it is reported, reassembling messages.
fn events_for_split(bytes: &[u8], cuts: &[usize]) -> Vec<Received> {
    let mut s = session(Role::Called);
    let mut events = Vec::new();
    let mut assembly = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&bytes.len()]) {
        let chunk = &bytes[start..cut];
        let mut pos = 0;
        while let Some(event) = s.next_event(0, chunk, &mut pos) {
            events.push(match event {
                Event::Message { range, first, last } => {
                    if first {
                        assembly.clear();
                    }
                    assembly.extend_from_slice(&chunk[range]);
                    if !last {
                        continue;
                    }
                    Received::Message(Bytes::from(assembly.clone()))
                }
                Event::Request { called, calling } => {
                    s.accept(0).unwrap();
                    Received::Request { called, calling }
                }
                Event::KeepAlive => Received::KeepAlive,
                other => panic!("unexpected {other:?}"),
            });
        }
        assert_eq!(pos, chunk.len());
        start = cut;
    }
    assert_eq!(s.end_of_input(), Ok(()));
    events
}

#[test]
fn every_split_point_gives_identical_events() {
    let bytes = recorded_conversation();
    let whole = events_for_split(&bytes, &[]);
    assert_eq!(whole.len(), 1 + 8 + 3);
    assert!(
        matches!(&whole[0], Received::Request { called, .. } if called.scope() == b"scope.test")
    );
    for cut in 0..=bytes.len() {
        assert_eq!(
            events_for_split(&bytes, &[cut]),
            whole,
            "split at byte {cut}"
        );
    }
    // And byte by byte through the handshake and the small messages.
    let cuts: Vec<usize> = (1..200).collect();
    assert_eq!(events_for_split(&bytes, &cuts), whole);
}

fn timed(role: Role, timers: Timers) -> Connection {
    let mut config = Config::for_role(role);
    config.timers = timers;
    Connection::new(role, config).unwrap()
}

#[test]
fn request_deadline_is_not_extended_by_trickling_bytes() {
    let mut called = timed(
        Role::Called,
        Timers {
            request_timeout: Some(30_000),
            ..Timers::default()
        },
    );
    assert_eq!(called.poll_timeout(), None, "not started");
    called.start(1_000);
    assert_eq!(called.poll_timeout(), Some(31_000));
    let request = request_bytes(&name("DST", 0x20), &name("SRC", 0));
    // One byte a second for most of the request.
    for (i, byte) in request[..20].iter().enumerate() {
        let mut pos = 0;
        assert_eq!(
            called.next_event(1_000 + 1_000 * i as u64, &[*byte], &mut pos),
            None
        );
    }
    assert_eq!(called.poll_timeout(), Some(31_000));
    assert_eq!(called.handle_timeout(30_999), None);
    let expired = called.handle_timeout(31_000).unwrap();
    assert_eq!(expired, Timeout::Request(30_000));
    assert!(expired.to_string().contains("30000 ms (requestTimeout)"));
    assert_eq!(called.phase(), Phase::Failed);
    assert_eq!(called.poll_timeout(), None);
}

#[test]
fn a_complete_request_clears_the_request_deadline() {
    let mut called = timed(
        Role::Called,
        Timers {
            request_timeout: Some(100),
            ..Timers::default()
        },
    );
    called.start(0);
    feed_at(
        &mut called,
        50,
        &request_bytes(&name("DST", 0x20), &name("SRC", 0)),
    );
    assert_eq!(called.poll_timeout(), None);
    assert_eq!(called.handle_timeout(1_000), None);
    assert_eq!(called.phase(), Phase::AwaitingDecision);
}

#[test]
fn idle_deadline_moves_with_each_complete_frame_only() {
    let mut s = timed(
        Role::Direct,
        Timers {
            idle_timeout: Some(500),
            ..Timers::default()
        },
    );
    s.start(0);
    assert_eq!(s.poll_timeout(), Some(500));
    feed_at(&mut s, 100, &[0, 0, 0, 1, 7]);
    assert_eq!(s.poll_timeout(), Some(600));
    // Half a frame does not count as activity.
    feed_at(&mut s, 400, &[0, 0, 0, 9, 1, 2]);
    assert_eq!(s.poll_timeout(), Some(600));
    assert_eq!(s.handle_timeout(599), None);
    assert_eq!(s.handle_timeout(600), Some(Timeout::Idle(500)));
}

#[test]
fn keep_alive_is_sent_only_after_a_silent_interval() {
    let mut s = timed(
        Role::Direct,
        Timers {
            keep_alive: Some(1_000),
            ..Timers::default()
        },
    );
    s.start(0);
    assert_eq!(s.poll_timeout(), Some(1_000));
    assert_eq!(s.handle_timeout(999), None);
    assert_eq!(s.poll_transmit(), None, "early call does nothing");
    assert_eq!(s.handle_timeout(1_000), None);
    assert_eq!(s.poll_transmit().unwrap(), &[0x85, 0, 0, 0][..]);
    assert_eq!(s.poll_timeout(), Some(2_000));
    // Something sent during the next interval: no keep-alive at its end.
    s.message_header(10).unwrap();
    assert_eq!(s.handle_timeout(2_000), None);
    assert_eq!(s.poll_transmit(), None);
    assert_eq!(s.handle_timeout(3_000), None);
    assert_eq!(s.poll_transmit().unwrap(), &[0x85, 0, 0, 0][..]);
}

#[test]
fn timers_start_when_a_caller_or_called_node_is_established() {
    let timers = Timers {
        idle_timeout: Some(10),
        keep_alive: Some(20),
        request_timeout: Some(5),
    };
    let mut caller = timed(Role::Caller, timers);
    caller.start(0);
    assert_eq!(
        caller.poll_timeout(),
        None,
        "a caller's setup deadline lives in CallPlan"
    );
    caller.request(&name("A", 0x20), &name("B", 0)).unwrap();
    caller.poll_transmit();
    feed_at(&mut caller, 100, &[0x82, 0, 0, 0]);
    assert_eq!(caller.poll_timeout(), Some(110));

    let mut called = timed(Role::Called, timers);
    called.start(0);
    feed_at(
        &mut called,
        1,
        &request_bytes(&name("A", 0x20), &name("B", 0)),
    );
    assert_eq!(
        called.poll_timeout(),
        None,
        "no deadline while the user decides"
    );
    called.accept(200).unwrap();
    assert_eq!(called.poll_timeout(), Some(210));
}

#[test]
fn messages_pipelined_behind_the_request_wait_for_the_answer() {
    let mut data = request_bytes(&name("A", 0x20), &name("B", 0));
    let request_len = data.len();
    data.extend_from_slice(&[0x85, 0, 0, 0]); // a keep-alive, skipped
    data.extend_from_slice(&[0, 0, 0, 1, 0x41]);
    data.extend_from_slice(&[0, 0, 0, 2, 0x42, 0x43]);

    // next_event: stops where the request ends, reads nothing until answered.
    let mut called = session(Role::Called);
    let mut pos = 0;
    assert!(matches!(
        called.next_event(0, &data, &mut pos),
        Some(Event::Request { .. })
    ));
    assert_eq!(pos, request_len);
    assert_eq!(called.next_event(0, &data, &mut pos), None);
    assert_eq!(
        pos, request_len,
        "nothing read while the request is unanswered"
    );
    assert_eq!(
        called.end_of_input(),
        Ok(()),
        "the unread bytes are not a cut frame"
    );
    called.accept(0).unwrap();
    let mut ranges = Vec::new();
    while let Some(event) = called.next_event(0, &data, &mut pos) {
        match event {
            Event::Message { range, .. } => ranges.push(data[range].to_vec()),
            Event::KeepAlive => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ranges, [b"A".to_vec(), b"BC".to_vec()]);
    assert_eq!(pos, data.len());

    // The owned API keeps the input behind the request the same way.
    let mut called = session(Role::Called);
    let events = feed(&mut called, &data);
    assert!(matches!(events[..], [Received::Request { .. }]));
    called.accept(0).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| called.poll_event()).collect();
    assert!(matches!(
        &events[..],
        [Received::KeepAlive, Received::Message(a), Received::Message(bc)] if &a[..] == b"A" && &bc[..] == b"BC"
    ));

    // Rejected: the session is closed; a driver drops the rest with the connection.
    let mut called = session(Role::Called);
    let mut pos = 0;
    called.next_event(0, &data, &mut pos).unwrap();
    called.reject(0x80).unwrap();
    assert_eq!(called.phase(), Phase::Closed);
}

#[test]
fn legacy_length_bit_error_names_the_option() {
    let mut called = established_called();
    let events = feed(&mut called, &[0, 0x80, 0x11, 0x70]);
    let text = protocol_error(&events).to_string();
    assert!(text.contains("reserved bits 0x80"), "{text}");
    assert!(text.contains("netbios-session 0.1.6"), "{text}");
    assert!(text.contains("legacyLengthBit"), "{text}");
    // Other reserved bits get no such hint.
    let mut called = established_called();
    let text = protocol_error(&feed(&mut called, &[0, 0x02, 0, 1])).to_string();
    assert!(!text.contains("legacyLengthBit"), "{text}");
}

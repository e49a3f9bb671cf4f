//! Properties of the whole session lifecycle (`Session`, fuzz target
//! `session`): any start, and dial results, peer bytes (arbitrary or
//! well-formed responses and messages), ends of stream, commands and
//! timeouts in any order. Checked after every step:
//!
//! - nothing panics; `next_event` reads or skips the whole chunk except
//!   while a request awaits its answer, and reports ranges inside it;
//! - the state and the events agree: `Failed` events exactly when the
//!   session fails, `Established` only into the established state,
//!   `Fallback` and `Retarget` only into `Dialing` with one dial to take;
//! - a dial is offered only in `Dialing`, once per decision, and only to a
//!   caller; a retarget's dial goes to the address it named;
//! - an ended session (closed or failed) stays so: no events, dials,
//!   deadlines or bytes to send;
//! - deadlines never stick: handling the timeout at `poll_timeout()` moves
//!   the deadline later, or ends the session; handling it early changes
//!   nothing (no hang, no busy loop);
//! - commands refused in the wrong state change nothing;
//! - `decode` agrees with `next_event`: a twin session given the same
//!   bytes through `decode` (and the same commands) reports the same
//!   events, each message whole, and holds no more than the bytes it was
//!   given plus room for one message of the session's limit; on every
//!   other chunk the twin tries `decode_message` first, which takes a
//!   message's frame exactly or nothing, and agrees as well.

use super::*;
use bytes::BytesMut;
use netbios_session_core::{
    ConfigError, Dial, ErrorKind, Event as SessionEvent, Host, Received, Session, Start, State,
};

#[derive(Arbitrary, Clone, Debug)]
pub enum StartSpec {
    Called,
    Direct,
    Call {
        fallbacks: Vec<NameSpec>,
        max_retargets: u8,
        timeout: Option<u16>,
    },
    DirectCall {
        timeout: Option<u16>,
    },
}

#[derive(Arbitrary, Clone, Debug)]
pub enum PeerBytes {
    Raw(Vec<u8>),
    Positive,
    Negative(u8),
    Retarget([u8; 4], u16),
    Message(Vec<u8>),
    KeepAlive,
    /// A request from a well-formed caller.
    Request,
}

#[derive(Arbitrary, Clone, Debug)]
pub enum LifeOp {
    TakeDial,
    Connected,
    Peer(PeerBytes),
    /// The chunk cut at this many bytes, then the rest.
    Split(PeerBytes, u8),
    EndOfInput,
    Advance(u16),
    HandleTimeout,
    /// Handle the timeout exactly when it is due.
    AtDeadline,
    Accept,
    Reject(u8),
    Retarget([u8; 4], u16),
    AnswerUnheard(bool),
    End,
    Send(u16),
    Transmit,
}

#[derive(Arbitrary, Clone, Debug)]
pub struct LifeInput {
    pub start: StartSpec,
    pub request_timeout: Option<u16>,
    pub idle_timeout: Option<u16>,
    pub keep_alive: Option<u16>,
    pub now: u32,
    pub ops: Vec<LifeOp>,
}

fn peer_bytes(spec: &PeerBytes) -> Vec<u8> {
    match spec {
        PeerBytes::Raw(bytes) => bytes.clone(),
        PeerBytes::Positive => control(FrameType::PositiveResponse, &[]),
        PeerBytes::Negative(code) => control(FrameType::NegativeResponse, &[*code]),
        PeerBytes::Retarget(addr, port) => {
            let mut trailer = addr.to_vec();
            trailer.extend_from_slice(&port.to_be_bytes());
            control(FrameType::RetargetResponse, &trailer)
        }
        PeerBytes::Message(payload) => control(FrameType::SessionMessage, payload),
        PeerBytes::KeepAlive => control(FrameType::KeepAlive, &[]),
        PeerBytes::Request => {
            let mut trailer = encode_name(&NetbiosName::new("DST", 0x20, "").unwrap());
            trailer.extend(encode_name(&NetbiosName::new("SRC", 0, "").unwrap()));
            control(FrameType::SessionRequest, &trailer)
        }
    }
}

/// An event as both forms report it: messages whole, failures by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Request(NetbiosName, NetbiosName),
    Established,
    Fallback(NetbiosName),
    Retarget(Ipv4Addr, u16),
    KeepAlive,
    Message(Vec<u8>),
    Failed(ErrorKind),
}

/// The twin: the same session driven through `decode`, and on every other
/// chunk through `decode_message` first, as the tokio driver reads.
struct Twin {
    session: Session,
    input: BytesMut,
    seen: Vec<Seen>,
    /// This chunk goes through `decode_message` first (every other one).
    message_first: bool,
}

impl Twin {
    fn feed(&mut self, now: Millis, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
        self.message_first = !self.message_first;
        loop {
            if self.message_first {
                let held = self.input.len();
                let due = self.session.poll_timeout().is_some_and(|at| at <= now);
                if let Some(message) = self.session.decode_message(now, &mut self.input) {
                    assert!(!due, "decode_message went past a deadline that is due");
                    assert_eq!(held - self.input.len(), HEADER_LEN + message.len());
                    self.seen.push(Seen::Message(message.to_vec()));
                    assert!(self.seen.len() <= 1 << 16);
                    continue;
                }
                assert_eq!(
                    self.input.len(),
                    held,
                    "decode_message took bytes for nothing"
                );
            }
            let Some(received) = self.session.decode(now, &mut self.input) else {
                break;
            };
            self.seen.push(match received {
                Received::Request { called, calling } => Seen::Request(called, calling),
                Received::Established => Seen::Established,
                Received::Fallback { called } => Seen::Fallback(called),
                Received::Retarget { addr, port } => Seen::Retarget(addr, port),
                Received::KeepAlive => Seen::KeepAlive,
                Received::Message(message) => Seen::Message(message.to_vec()),
                Received::Failed(error) => Seen::Failed(error.kind()),
            });
            assert!(self.seen.len() <= 1 << 16);
        }
        // Held: at most what came plus room for one message at the limit
        // (a BytesMut that grows may double its capacity).
        let bound = self.input.len() + self.session.max_message_length() as usize + HEADER_LEN;
        assert!(
            self.input.capacity() <= 2 * bound + 64,
            "decode holds {} bytes of room for {} bytes",
            self.input.capacity(),
            self.input.len()
        );
    }
}

struct Life {
    session: Session,
    twin: Twin,
    /// What `next_event` reported, as `Seen`, and the message in pieces.
    seen: Vec<Seen>,
    assembly: Vec<u8>,
    now: Millis,
    caller: bool,
    /// The dial decided and not yet taken, as the harness expects it.
    dial: Option<Dial>,
    /// Where the current connection goes.
    target: Dial,
}

impl Life {
    fn check_over(&mut self) {
        if self.session.state().is_over() {
            assert_eq!(self.session.poll_dial(), None, "an ended session dials");
            assert_eq!(
                self.session.poll_timeout(),
                None,
                "an ended session has a deadline"
            );
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.feed_primary(bytes);
        self.twin.feed(self.now, bytes);
        if self.session.state() == State::AwaitingDecision {
            // What came behind a request is dropped above: the twin's too.
            self.twin.input.clear();
        }
        assert_eq!(self.seen, self.twin.seen, "decode and next_event disagree");
        assert_eq!(self.session.state(), self.twin.session.state());
    }

    fn feed_primary(&mut self, bytes: &[u8]) {
        let mut pos = 0;
        let before = self.session.state();
        let mut steps = 0;
        while let Some(event) = self.session.next_event(self.now, bytes, &mut pos) {
            steps += 1;
            assert!(steps <= bytes.len() + 1, "next_event does not move forward");
            assert!(pos <= bytes.len());
            let state = self.session.state();
            self.seen.extend(match &event {
                SessionEvent::Request { called, calling } => {
                    Some(Seen::Request(called.clone(), calling.clone()))
                }
                SessionEvent::Established => Some(Seen::Established),
                SessionEvent::Fallback { called } => Some(Seen::Fallback(called.clone())),
                SessionEvent::Retarget { addr, port } => Some(Seen::Retarget(*addr, *port)),
                SessionEvent::KeepAlive => Some(Seen::KeepAlive),
                SessionEvent::Message { range, first, last } => {
                    if *first {
                        self.assembly.clear();
                    }
                    self.assembly.extend_from_slice(&bytes[range.clone()]);
                    last.then(|| Seen::Message(std::mem::take(&mut self.assembly)))
                }
                SessionEvent::Failed(error) => Some(Seen::Failed(error.kind())),
            });
            match &event {
                SessionEvent::Failed(error) => {
                    assert_eq!(state, State::Failed, "{error}");
                    assert!(!error.to_string().is_empty());
                }
                SessionEvent::Established => assert_eq!(state, State::Established),
                SessionEvent::Request { .. } => assert_eq!(state, State::AwaitingDecision),
                SessionEvent::Fallback { .. } => {
                    assert!(self.caller);
                    assert_eq!(state, State::Dialing);
                    // The same address again (TakeDial checks).
                    self.dial = Some(self.target.clone());
                }
                SessionEvent::Retarget { addr, port } => {
                    assert!(self.caller);
                    assert_eq!(state, State::Dialing);
                    self.target = Dial {
                        host: Host::Addr(*addr),
                        port: *port,
                    };
                    self.dial = Some(self.target.clone());
                }
                SessionEvent::Message { range, .. } => {
                    assert!(range.end <= pos && range.start <= range.end);
                    assert!(matches!(state, State::Established | State::Ending));
                }
                SessionEvent::KeepAlive => {}
            }
            assert!(
                !before.is_over(),
                "an event after the session ended: {event:?}"
            );
        }
        if self.session.state() != State::AwaitingDecision {
            assert_eq!(pos, bytes.len(), "the chunk is read or skipped whole");
        }
    }

    fn timeout_at(&mut self, now: Millis) {
        let state = self.session.state();
        let due = self.session.poll_timeout();
        let error = self.session.handle_timeout(now);
        let twin = self.twin.session.handle_timeout(now);
        assert_eq!(twin.map(|e| e.kind()), error.as_ref().map(|e| e.kind()));
        let after = self.session.state();
        match due {
            Some(due) if due <= now => {
                // Handled: the session ended, or its deadline moved on.
                if !after.is_over() {
                    assert!(error.is_none());
                    assert!(
                        self.session.poll_timeout().is_none_or(|next| next > now),
                        "a deadline stuck at {due}"
                    );
                }
            }
            _ => {
                assert!(error.is_none(), "a timeout before the deadline: {error:?}");
                assert_eq!(after, state, "an early timeout changed the state");
            }
        }
        assert_eq!(
            error.is_some(),
            after == State::Failed && state != State::Failed
        );
    }
}

/// Fuzz target `session`: see the module header.
pub fn check_session(data: &[u8]) {
    let u = Unstructured::new(data);
    let Ok(input) = LifeInput::arbitrary_take_rest(u) else {
        return;
    };
    if std::env::var_os("FUZZ_VERBOSE").is_some() {
        eprintln!("{input:?}");
    }
    let ms = |t: Option<u16>| t.map(Millis::from);
    let timers = Timers {
        request_timeout: ms(input.request_timeout),
        idle_timeout: ms(input.idle_timeout),
        keep_alive: ms(input.keep_alive),
    };
    let now = Millis::from(input.now);
    let to = Dial::new(Host::Name("fs.example".into()), 139).unwrap();
    let (start, role) = match &input.start {
        StartSpec::Called => (Start::Called, Role::Called),
        StartSpec::Direct => (Start::Direct, Role::Direct),
        StartSpec::Call {
            fallbacks,
            max_retargets,
            timeout,
        } => {
            let mut called = vec![NetbiosName::new("FILESERVER", 0x20, "").unwrap()];
            called.extend(fallbacks.iter().map(NameSpec::build));
            let start = Start::Call {
                to: to.clone(),
                called,
                calling: NetbiosName::new("CLIENT", 0, "").unwrap(),
                max_retargets: u32::from(*max_retargets),
                timeout: ms(*timeout),
            };
            (start, Role::Caller)
        }
        StartSpec::DirectCall { timeout } => (
            Start::DirectCall {
                to: to.clone(),
                timeout: ms(*timeout),
            },
            Role::Direct,
        ),
    };
    let caller = matches!(
        input.start,
        StartSpec::Call { .. } | StartSpec::DirectCall { .. }
    );
    let config = Config {
        timers,
        ..Config::for_role(role)
    };
    let session = match Session::new(start.clone(), config, now) {
        Ok(session) => session,
        Err(ConfigError::ZeroKeepAlive) => return assert_eq!(timers.keep_alive, Some(0)),
        Err(other) => panic!("{other}"),
    };
    let twin = Twin {
        session: Session::new(start, config, now).expect("the same start as above"),
        input: BytesMut::new(),
        seen: Vec::new(),
        message_first: false,
    };
    let mut life = Life {
        twin,
        seen: Vec::new(),
        assembly: Vec::new(),
        dial: caller.then(|| to.clone()),
        target: to.clone(),
        session,
        now,
        caller,
    };
    assert_eq!(
        life.session.state(),
        if caller {
            State::Dialing
        } else if role == Role::Direct {
            State::Established
        } else {
            State::AwaitingRequest
        }
    );
    for op in &input.ops {
        let state = life.session.state();
        match op {
            LifeOp::TakeDial => {
                let dial = life.session.poll_dial();
                assert_eq!(life.twin.session.poll_dial(), dial);
                assert_eq!(dial, life.dial.take().filter(|_| state == State::Dialing));
                assert_eq!(life.session.poll_dial(), None, "one dial per decision");
            }
            LifeOp::Connected => {
                let result = life.session.handle_connected(life.now);
                assert_eq!(life.twin.session.handle_connected(life.now), result);
                assert_eq!(result.is_ok(), state == State::Dialing);
                if result.is_err() {
                    // Refused: no new connection, and the bytes of the
                    // current one (a message in progress) still count.
                    assert_eq!(life.session.state(), state);
                } else {
                    // A new connection: nothing of the last one's bytes is read.
                    life.twin.input.clear();
                    life.dial = None;
                    let next = life.session.state();
                    assert!(matches!(next, State::AwaitingResponse | State::Established));
                    assert_eq!(life.session.poll_dial(), None);
                }
            }
            LifeOp::Peer(spec) => life.feed(&peer_bytes(spec)),
            LifeOp::Split(spec, at) => {
                let bytes = peer_bytes(spec);
                let at = usize::from(*at).min(bytes.len());
                life.feed(&bytes[..at]);
                life.feed(&bytes[at..]);
            }
            LifeOp::EndOfInput => {
                let result = life.session.handle_end_of_input();
                let twin = life.twin.session.handle_end_of_input();
                assert_eq!(
                    twin.as_ref().map_err(|error| error.kind()),
                    result.as_ref().map_err(|error| error.kind())
                );
                let after = life.session.state();
                match &result {
                    Err(_) => assert_eq!(after, State::Failed),
                    Ok(()) => {
                        assert_eq!(after, state);
                        assert!(!matches!(
                            state,
                            State::Dialing
                                | State::AwaitingRequest
                                | State::AwaitingResponse
                                | State::AwaitingDecision
                        ));
                    }
                }
            }
            LifeOp::Advance(by) => life.now = life.now.saturating_add(Millis::from(*by)),
            LifeOp::HandleTimeout => {
                let now = life.now;
                life.timeout_at(now);
            }
            LifeOp::AtDeadline => {
                if let Some(due) = life.session.poll_timeout() {
                    life.now = life.now.max(due);
                    let now = life.now;
                    life.timeout_at(now);
                }
            }
            LifeOp::Accept => {
                let ok = life.session.accept(life.now).is_ok();
                assert_eq!(life.twin.session.accept(life.now).is_ok(), ok);
                assert_eq!(ok, state == State::AwaitingDecision);
                if ok {
                    assert_eq!(life.session.state(), State::Established);
                }
            }
            LifeOp::Reject(code) => {
                let ok = life.session.reject(*code, life.now).is_ok();
                assert_eq!(life.twin.session.reject(*code, life.now).is_ok(), ok);
                assert_eq!(ok, state == State::AwaitingDecision);
                if ok {
                    assert_eq!(life.session.state(), State::Answered);
                    assert!(
                        life.session.poll_timeout().is_some(),
                        "an answered session has a close deadline"
                    );
                }
            }
            LifeOp::Retarget(addr, port) => {
                let ok = life
                    .session
                    .retarget(Ipv4Addr::from(*addr), *port, life.now)
                    .is_ok();
                let twin = life
                    .twin
                    .session
                    .retarget(Ipv4Addr::from(*addr), *port, life.now);
                assert_eq!(twin.is_ok(), ok);
                assert_eq!(ok, state == State::AwaitingDecision);
            }
            LifeOp::AnswerUnheard(auto) => {
                let ok = life.session.answer_unheard(*auto, life.now).is_ok();
                assert_eq!(
                    life.twin.session.answer_unheard(*auto, life.now).is_ok(),
                    ok
                );
                assert_eq!(ok, state == State::AwaitingDecision);
                if ok {
                    let want = if *auto {
                        State::Established
                    } else {
                        State::Answered
                    };
                    assert_eq!(life.session.state(), want);
                }
            }
            LifeOp::End => {
                life.session.end(life.now);
                life.twin.session.end(life.now);
                let after = life.session.state();
                match state {
                    State::Established => assert_eq!(after, State::Ending),
                    State::Ending | State::Answered | State::Closed | State::Failed => {
                        assert_eq!(after, state)
                    }
                    _ => assert_eq!(after, State::Closed),
                }
            }
            LifeOp::Send(length) => {
                let ok = life.session.message_header(usize::from(*length)).is_ok();
                let twin = life.twin.session.message_header(usize::from(*length));
                assert_eq!(twin.is_ok(), ok);
                if ok {
                    assert_eq!(state, State::Established);
                }
                assert_eq!(life.session.state(), state);
            }
            LifeOp::Transmit => {
                let bytes = life.session.poll_transmit();
                assert_eq!(life.twin.session.poll_transmit(), bytes);
                if state.is_over() {
                    // Only what was queued before the end (an answer) may remain.
                    let _ = bytes;
                }
            }
        }
        life.check_over();
        assert_eq!(life.twin.session.state(), life.session.state());
        assert_eq!(
            life.twin.session.poll_timeout(),
            life.session.poll_timeout()
        );
    }
}

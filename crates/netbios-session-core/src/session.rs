//! A whole session, sans-IO: every decision from the first dial to the close,
//! across as many TCP connections as retargets and fallback names need.
//!
//! [`Connection`] speaks the frames of one connection. A [`Session`] owns the
//! current one and decides everything around it: where to dial (a command,
//! [`Session::poll_dial`]; the driver reports [`Session::handle_connected`]
//! and [`Session::handle_end_of_input`]), what a NEGATIVE or RETARGET
//! response leads to, what an end of stream means in each state, which code
//! a rejection carries, and every deadline (dial, setup, request, idle,
//! keep-alive, close) through one [`Session::poll_timeout`] and
//! [`Session::handle_timeout`]. A driver moves bytes, dials when told and
//! wakes at the deadline; it decides nothing.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

use crate::call::{CallError, CallPlan, Next};
use crate::connection::{self, Config, ConfigError, Connection, FrameProgress, Millis, Role};
use crate::error::{CommandError, SessionError};
use crate::frame::HEADER_LEN;
use crate::name::NetbiosName;

/// RFC 1002's SSN_CLOSE_TIMEOUT: how long a session that ended, or that
/// refused or retargeted a request, waits for the peer to close.
pub const CLOSE_TIMEOUT: Millis = 30_000;
/// How long a caller's whole setup may take by default (Samba's client waits as long).
pub const DEFAULT_SETUP_TIMEOUT: Millis = 20_000;
/// How long a called node waits for a complete SESSION REQUEST by default.
/// RFC 1002 sets no such limit; this is as long as its SSN_CLOSE_TIMEOUT.
pub const DEFAULT_REQUEST_TIMEOUT: Millis = 30_000;
/// The NetBIOS session service's TCP port.
pub const NETBIOS_SESSION_PORT: u16 = 139;
/// The reject code for a request nobody was there to hear:
/// "Not listening on called name".
pub const NOT_LISTENING_ON_CALLED_NAME: u8 = 0x80;
/// The reject code for a reason that names no RFC 1002 code: "Unspecified error".
pub const UNSPECIFIED_ERROR: u8 = 0x8F;

/// Where a session stands, across its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Caller: a TCP connection is wanted ([`Session::poll_dial`]) or being made.
    Dialing,
    /// Caller: SESSION REQUEST sent, no response yet.
    AwaitingResponse,
    /// Called: waiting for the peer's SESSION REQUEST.
    AwaitingRequest,
    /// Called: the request was reported; accept, reject or retarget it.
    AwaitingDecision,
    Established,
    /// Established, then [`Session::end`]: still reads; sends nothing more;
    /// closes when the peer does or at the close deadline.
    Ending,
    /// A NEGATIVE or RETARGET response was sent: close once it is out, at
    /// the latest at the close deadline. Reads nothing more.
    Answered,
    /// Over without an error: ended before it was established, or the close
    /// deadline passed.
    Closed,
    /// Over with an error: the peer broke the protocol, refused the call, or
    /// a deadline passed.
    Failed,
}

impl State {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Dialing => "the TCP connection is not yet made",
            Self::AwaitingResponse => "waiting for the session response",
            Self::AwaitingRequest => "waiting for a SESSION REQUEST",
            Self::AwaitingDecision => "the SESSION REQUEST is not yet accepted or rejected",
            Self::Established => "the session is established",
            Self::Ending => "the session is ending",
            Self::Answered => "the SESSION REQUEST has been refused or retargeted",
            Self::Closed => "the session is closed",
            Self::Failed => "the session has failed",
        }
    }

    /// Whether the session is over: nothing more happens but the close.
    pub fn is_over(self) -> bool {
        matches!(self, Self::Closed | Self::Failed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Where to dial: a host as the user gave it (a name or an address of any
/// family, resolved by the driver), or the IPv4 address a retarget named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Addr(Ipv4Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Addr(addr) => write!(f, "{addr}"),
        }
    }
}

/// A command to the driver: open a TCP connection to `host:port`, then call
/// [`Session::handle_connected`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dial {
    pub host: Host,
    pub port: u16,
}

impl Dial {
    /// `port` comes from a caller and is checked: 1 to 65535.
    pub fn new(host: Host, port: u32) -> Result<Self, ConfigError> {
        match u16::try_from(port) {
            Ok(port) if port != 0 => Ok(Self { host, port }),
            _ => Err(ConfigError::Port(port)),
        }
    }
}

impl fmt::Display for Dial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// How a session begins.
#[derive(Clone, Debug)]
pub enum Start {
    /// Called node on a connection that is already up: waits for a SESSION REQUEST.
    Called,
    /// SMB direct TCP on a connection that is already up (either end).
    Direct,
    /// A NetBIOS session whose SESSION REQUEST and response were exchanged
    /// elsewhere (another stack, a codec picking up after a handshake):
    /// established at once, either end.
    Established,
    /// Caller: dial `to`, then ask for a session with `called[0]` from
    /// `calling`; `called[1..]` are fallback names tried in order after a
    /// NEGATIVE response 0x80 or 0x82, on a new connection each.
    Call {
        to: Dial,
        called: Vec<NetbiosName>,
        calling: NetbiosName,
        max_retargets: u32,
        /// Dial, every retarget and fallback: the whole setup.
        timeout: Option<Millis>,
    },
    /// SMB direct TCP, dialing `to`; `timeout` covers the TCP connect.
    DirectCall { to: Dial, timeout: Option<Millis> },
}

/// What [`Session::next_event`] decoded, as the session sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Called: the peer asks for a session. Answer with [`Session::accept`],
    /// [`Session::reject`] or [`Session::retarget`].
    Request {
        called: NetbiosName,
        calling: NetbiosName,
    },
    /// Caller: the peer accepted; the session is established.
    Established,
    /// Caller: the peer refused the name; this fallback name is called next,
    /// on a new connection ([`Session::poll_dial`]).
    Fallback { called: NetbiosName },
    /// Caller: the peer sends us to `addr:port`; a new connection follows
    /// ([`Session::poll_dial`]).
    Retarget { addr: Ipv4Addr, port: u16 },
    /// A SESSION KEEP ALIVE; carries nothing.
    KeepAlive,
    /// Payload bytes of a SESSION MESSAGE at `range` of the chunk (see
    /// [`connection::Event::Message`]).
    Message {
        range: Range<usize>,
        first: bool,
        last: bool,
    },
    /// The session failed; close the connection.
    Failed(SessionError),
}

/// What [`Session::decode`] took from its input: [`Event`] with the message
/// as bytes of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// See [`Event::Request`].
    Request {
        called: NetbiosName,
        calling: NetbiosName,
    },
    /// See [`Event::Established`].
    Established,
    /// See [`Event::Fallback`].
    Fallback { called: NetbiosName },
    /// See [`Event::Retarget`].
    Retarget { addr: Ipv4Addr, port: u16 },
    /// See [`Event::KeepAlive`].
    KeepAlive,
    /// One whole SESSION MESSAGE's payload.
    Message(Bytes),
    /// See [`Event::Failed`].
    Failed(SessionError),
}

/// The caller's side: where it dials and its deadlines.
#[derive(Debug)]
struct Call {
    /// The names and retarget bound of a NetBIOS call; none in direct mode.
    plan: Option<CallPlan>,
    /// Each new connection's options.
    config: Config,
    /// The current connection's address.
    target: Dial,
    /// A dial was decided and not yet taken by [`Session::poll_dial`].
    dial_wanted: bool,
    /// Direct mode: when the TCP connect must be done, and how long it had.
    dial_deadline: Option<Millis>,
    timeout: Option<Millis>,
}

/// One session, without I/O. See the module documentation.
#[derive(Debug)]
pub struct Session {
    state: State,
    /// The current connection; a caller's is a placeholder until it connects.
    connection: Connection,
    /// Caller only, boxed: a called node's session pays one pointer for it.
    call: Option<Box<Call>>,
    close_deadline: Option<Millis>,
}

impl Session {
    /// A session that begins as `start` says, its clocks starting at `now`.
    pub fn new(start: Start, config: Config, now: Millis) -> Result<Self, ConfigError> {
        let established = matches!(start, Start::Established);
        let (role, call) = match start {
            Start::Called | Start::Established => (Role::Called, None),
            Start::Direct => (Role::Direct, None),
            Start::Call {
                to,
                called,
                calling,
                max_retargets,
                timeout,
            } => {
                if called.is_empty() {
                    return Err(ConfigError::NoCalledName);
                }
                let plan = CallPlan::new(called, calling, max_retargets, timeout, now);
                (Role::Caller, Some(call_to(to, Some(plan), config, timeout)))
            }
            Start::DirectCall { to, timeout } => {
                let mut call = call_to(to, None, config, timeout);
                call.dial_deadline = timeout.map(|t| now.saturating_add(t));
                (Role::Direct, Some(call))
            }
        };
        let mut connection = Connection::new(role, config)?;
        let state = match (&call, role) {
            (Some(_), _) => State::Dialing,
            (None, Role::Direct) => State::Established,
            (None, _) if established => State::Established,
            (None, _) => State::AwaitingRequest,
        };
        if established {
            connection.establish(now);
        } else if call.is_none() {
            connection.start(now);
        }
        Ok(Self {
            state,
            connection,
            call,
            close_deadline: None,
        })
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The largest SESSION MESSAGE this session sends or accepts.
    pub fn max_message_length(&self) -> u32 {
        self.connection.max_message_length()
    }

    /// The TCP connection to open now, once per decision to dial: the first
    /// one, and one after each retarget or fallback.
    pub fn poll_dial(&mut self) -> Option<Dial> {
        let call = self.call.as_mut()?;
        if self.state != State::Dialing || !std::mem::take(&mut call.dial_wanted) {
            return None;
        }
        Some(call.target.clone())
    }

    /// The connection asked for by [`poll_dial`](Self::poll_dial) is up at
    /// `now`. A caller's SESSION REQUEST is then queued for
    /// [`poll_transmit`](Self::poll_transmit); a direct caller is established.
    pub fn handle_connected(&mut self, now: Millis) -> Result<(), CommandError> {
        self.expect(State::Dialing, "start a connection")?;
        let call = self.call.as_mut().expect("only a call dials");
        call.dial_wanted = false;
        let role = self.connection.role();
        // A fresh connection each time: nothing of the last one carries over.
        let mut connection =
            Connection::new(role, call.config).expect("the config was accepted in new");
        match &call.plan {
            Some(plan) => {
                plan.request(&mut connection)?;
                self.state = State::AwaitingResponse;
            }
            None => {
                connection.start(now);
                call.dial_deadline = None;
                self.state = State::Established;
            }
        }
        self.connection = connection;
        Ok(())
    }

    /// Decodes the next event from `chunk[*pos..]` (see
    /// [`Connection::next_event`]). Bytes that can no longer matter (those
    /// of a connection left for a retarget or fallback, or those after an
    /// answer that closes) are skipped.
    #[inline]
    pub fn next_event(&mut self, now: Millis, chunk: &[u8], pos: &mut usize) -> Option<Event> {
        match self.state {
            State::AwaitingResponse
            | State::AwaitingRequest
            | State::AwaitingDecision
            | State::Established
            | State::Ending => {}
            State::Dialing | State::Answered | State::Closed | State::Failed => {
                *pos = chunk.len();
                return None;
            }
        }
        // Messages are the hot path: everything else is decided out of line.
        match self.connection.next_event(now, chunk, pos)? {
            connection::Event::Message { range, first, last } => {
                Some(Event::Message { range, first, last })
            }
            other => Some(self.after_control(other)),
        }
    }

    /// Decodes the next event from the front of `input`, removing the bytes
    /// it used: the owned-event form of [`next_event`](Self::next_event),
    /// for drivers that read into a [`BytesMut`] (the tokio driver, codecs).
    ///
    /// A SESSION MESSAGE comes out whole, as a zero-copy slice of `input`:
    /// its body waits in `input` until all of it is there, and `input` is
    /// given room for the rest of it as soon as its header is read (at most
    /// [`max_message_length`](Self::max_message_length), which bounds what a
    /// session holds). `None`: read more into `input`, unless the session
    /// reads nothing now (a request awaiting its answer: then `input` keeps
    /// what came behind it; read nothing more until it is answered).
    pub fn decode(&mut self, now: Millis, input: &mut BytesMut) -> Option<Received> {
        if let Some(message) = self.take_whole_message(now, input) {
            return Some(Received::Message(message));
        }
        loop {
            let limit = match self.connection.frame_progress() {
                // A whole message went above; anything else goes header
                // first, so that a message's body waits as below.
                FrameProgress::Header(missing) => missing.min(input.len()),
                FrameProgress::Body(remaining) if input.len() < remaining => {
                    input.reserve(remaining - input.len());
                    return None;
                }
                FrameProgress::Body(remaining) => remaining,
                FrameProgress::Trailer => input.len(),
            };
            let mut pos = 0;
            let event = self.next_event(now, &input[..limit], &mut pos);
            let mut used = input.split_to(pos);
            let received = match event {
                None if pos == 0 => return None,
                None => continue,
                Some(Event::Message { range, .. }) => {
                    // The frame's bytes become the message, less the header:
                    // nothing copied, one reference taken.
                    used.advance(range.start);
                    used.truncate(range.len());
                    Received::Message(used.freeze())
                }
                Some(Event::Request { called, calling }) => Received::Request { called, calling },
                Some(Event::Established) => Received::Established,
                Some(Event::Fallback { called }) => Received::Fallback { called },
                Some(Event::Retarget { addr, port }) => Received::Retarget { addr, port },
                Some(Event::KeepAlive) => Received::KeepAlive,
                Some(Event::Failed(error)) => Received::Failed(error),
            };
            return Some(received);
        }
    }

    /// The usual case of [`decode`](Self::decode), for a driver to try
    /// first: the whole SESSION MESSAGE at the front of `input`, taken as
    /// `decode` takes it (a zero-copy slice, the idle timer restarted at
    /// `now`), when the session reads messages (established, or ending)
    /// and none of its deadlines has passed at `now`. `None` takes nothing:
    /// use `decode`, after [`handle_timeout`](Self::handle_timeout) if a
    /// deadline is due at `now`.
    ///
    /// `now` is when `input`'s bytes arrived, as for `decode`. A driver
    /// that judges deadlines by it acts on one that had passed when the
    /// bytes were read before decoding them, and on one that passed since
    /// once they are decoded (the tokio driver does).
    #[inline]
    pub fn decode_message(&mut self, now: Millis, input: &mut BytesMut) -> Option<Bytes> {
        if self.poll_timeout().is_some_and(|at| at <= now) {
            return None;
        }
        self.take_whole_message(now, input)
    }

    /// A whole SESSION MESSAGE off the front of `input`, if one is there
    /// and the session reads messages.
    #[inline(always)]
    fn take_whole_message(&mut self, now: Millis, input: &mut BytesMut) -> Option<Bytes> {
        if !matches!(self.state, State::Established | State::Ending) {
            return None;
        }
        let range = self.connection.next_whole_message(now, input, &mut 0)?;
        // The frame's bytes become the message, less the header: nothing
        // copied, one reference taken.
        let mut frame = input.split_to(range.end);
        frame.advance(range.start);
        Some(frame.freeze())
    }

    /// What a decoded control frame (or a protocol error) means for the session.
    #[cold]
    #[inline(never)]
    fn after_control(&mut self, event: connection::Event) -> Event {
        match event {
            connection::Event::Request { called, calling } => {
                self.state = State::AwaitingDecision;
                Event::Request { called, calling }
            }
            connection::Event::Positive => {
                self.state = State::Established;
                Event::Established
            }
            connection::Event::Negative { code } => self.after_negative(code),
            connection::Event::Retarget { addr, port } => self.after_retarget(addr, port),
            connection::Event::KeepAlive => Event::KeepAlive,
            connection::Event::Message { range, first, last } => {
                Event::Message { range, first, last }
            }
            connection::Event::Error(error) => self.fail(SessionError::Protocol(error)),
        }
    }

    fn after_negative(&mut self, code: u8) -> Event {
        let plan = self.call.as_mut().and_then(|call| call.plan.as_mut());
        match plan.map(|plan| plan.on_negative(code)) {
            Some(Next::Fallback(called)) => {
                self.redial(None);
                Event::Fallback { called }
            }
            Some(Next::Fail(error)) => self.fail(SessionError::Call(error)),
            // Only a caller's connection decodes a NEGATIVE response.
            Some(Next::Retarget { .. }) | None => {
                self.fail(SessionError::Call(CallError::Rejected { code }))
            }
        }
    }

    fn after_retarget(&mut self, addr: Ipv4Addr, port: u16) -> Event {
        let plan = self.call.as_mut().and_then(|call| call.plan.as_mut());
        match plan.map(|plan| plan.on_retarget(addr, port)) {
            Some(Next::Retarget { addr, port }) => {
                self.redial(Some(Dial {
                    host: Host::Addr(addr),
                    port,
                }));
                Event::Retarget { addr, port }
            }
            Some(Next::Fail(error)) => self.fail(SessionError::Call(error)),
            Some(Next::Fallback(_)) | None => unreachable!("only a caller decodes a RETARGET"),
        }
    }

    /// Decides to dial again: `to`, or the current address when `None`.
    fn redial(&mut self, to: Option<Dial>) {
        let call = self.call.as_mut().expect("only a call redials");
        if let Some(to) = to {
            call.target = to;
        }
        call.dial_wanted = true;
        self.state = State::Dialing;
    }

    fn fail(&mut self, error: SessionError) -> Event {
        self.enter_failed();
        Event::Failed(error)
    }

    fn enter_failed(&mut self) {
        self.state = State::Failed;
        self.close_deadline = None;
    }

    /// The peer ended its stream, and every byte before the end was given
    /// to [`next_event`](Self::next_event) (or the session reads nothing
    /// now: a request awaiting its answer). Before establishment that fails
    /// the session, and so does an end inside a frame.
    pub fn handle_end_of_input(&mut self) -> Result<(), SessionError> {
        let early = match self.state {
            // Nothing of a connection that is not (or no longer) read matters.
            State::AwaitingDecision | State::Dialing => Some(self.state),
            State::AwaitingResponse | State::AwaitingRequest => None,
            State::Established | State::Ending => None,
            State::Answered | State::Closed | State::Failed => return Ok(()),
        };
        let error = match (early, self.connection.end_of_input()) {
            (Some(state), _) => SessionError::EndedEarly { state },
            (None, Err(truncated)) => SessionError::Protocol(truncated),
            (None, Ok(())) => match self.state {
                State::AwaitingResponse | State::AwaitingRequest => {
                    SessionError::EndedEarly { state: self.state }
                }
                _ => return Ok(()),
            },
        };
        self.enter_failed();
        Err(error)
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Millis> {
        let setup = || {
            let call = self.call.as_deref()?;
            let plan = call.plan.as_ref().and_then(CallPlan::poll_timeout);
            [call.dial_deadline, plan].into_iter().flatten().min()
        };
        match self.state {
            State::Dialing | State::AwaitingResponse => setup(),
            State::AwaitingRequest | State::AwaitingDecision | State::Established => {
                self.connection.poll_timeout()
            }
            State::Ending | State::Answered => self.close_deadline,
            State::Closed | State::Failed => None,
        }
    }

    /// Acts on the deadlines that have passed at `now`. A passed dial,
    /// setup, request or idle deadline fails the session (the error is
    /// returned); a passed close deadline closes it ([`State::Closed`]); a
    /// due keep-alive is queued for [`poll_transmit`](Self::poll_transmit).
    /// Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Millis) -> Option<SessionError> {
        let error = match self.state {
            State::Dialing | State::AwaitingResponse => {
                let call = self.call.as_mut()?;
                match (call.dial_deadline, call.timeout) {
                    (Some(deadline), Some(after)) if deadline <= now => {
                        Some(SessionError::DialTimeout {
                            to: call.target.clone(),
                            after,
                        })
                    }
                    _ => call
                        .plan
                        .as_mut()
                        .and_then(|plan| plan.handle_timeout(now))
                        .map(SessionError::Call),
                }
            }
            State::AwaitingRequest | State::AwaitingDecision | State::Established => self
                .connection
                .handle_timeout(now)
                .map(SessionError::Timeout),
            State::Ending | State::Answered => {
                if self.close_deadline.is_some_and(|d| d <= now) {
                    self.close_deadline = None;
                    self.state = State::Closed;
                }
                None
            }
            State::Closed | State::Failed => None,
        };
        if error.is_some() {
            self.enter_failed();
        }
        error
    }

    fn expect(&self, state: State, command: &'static str) -> Result<(), CommandError> {
        if self.state == state {
            Ok(())
        } else {
            Err(CommandError::WrongState {
                command,
                state: self.state,
            })
        }
    }

    /// Called: accepts the request; the session is established at `now`.
    pub fn accept(&mut self, now: Millis) -> Result<(), CommandError> {
        self.expect(State::AwaitingDecision, "accept")?;
        self.connection.accept(now)?;
        self.state = State::Established;
        Ok(())
    }

    /// Called: refuses the request with `code` (see [`reject_code`]); the
    /// connection closes once the answer is sent, at the latest at the close
    /// deadline counted from `now`.
    pub fn reject(&mut self, code: u8, now: Millis) -> Result<(), CommandError> {
        self.expect(State::AwaitingDecision, "reject")?;
        self.connection.reject(code)?;
        self.answered(now);
        Ok(())
    }

    /// Called: sends the caller to `addr:port` instead; closes as [`reject`](Self::reject).
    pub fn retarget(&mut self, addr: Ipv4Addr, port: u16, now: Millis) -> Result<(), CommandError> {
        self.expect(State::AwaitingDecision, "retarget")?;
        self.connection.retarget(addr, port)?;
        self.answered(now);
        Ok(())
    }

    /// Called: answers a request that nobody was there to hear: accepted if
    /// `auto_accept`, else refused as "Not listening on called name".
    pub fn answer_unheard(&mut self, auto_accept: bool, now: Millis) -> Result<(), CommandError> {
        if auto_accept {
            self.accept(now)
        } else {
            self.reject(NOT_LISTENING_ON_CALLED_NAME, now)
        }
    }

    fn answered(&mut self, now: Millis) {
        self.state = State::Answered;
        self.close_deadline = Some(now.saturating_add(CLOSE_TIMEOUT));
    }

    /// Ends the session at `now`. Established: nothing more is sent, what
    /// arrives is still read, and the session closes when the peer does or
    /// at the close deadline. Before establishment: closed at once.
    pub fn end(&mut self, now: Millis) {
        match self.state {
            State::Established => {
                self.state = State::Ending;
                self.close_deadline = Some(now.saturating_add(CLOSE_TIMEOUT));
            }
            State::Dialing
            | State::AwaitingResponse
            | State::AwaitingRequest
            | State::AwaitingDecision => self.state = State::Closed,
            State::Ending | State::Answered | State::Closed | State::Failed => {}
        }
    }

    /// The header for a SESSION MESSAGE of `length` bytes (see
    /// [`Connection::message_header`]).
    pub fn message_header(&mut self, length: usize) -> Result<[u8; HEADER_LEN], CommandError> {
        self.expect(State::Established, "send a SESSION MESSAGE")?;
        self.connection.message_header(length)
    }

    /// Queues one SESSION MESSAGE carrying `payload`.
    pub fn send_message(&mut self, payload: &[u8]) -> Result<(), CommandError> {
        self.expect(State::Established, "send a SESSION MESSAGE")?;
        self.connection.send_message(payload)
    }

    /// Bytes queued for the peer (a request, an answer, a keep-alive, messages).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.connection.poll_transmit()
    }
}

fn call_to(to: Dial, plan: Option<CallPlan>, config: Config, timeout: Option<Millis>) -> Box<Call> {
    Box::new(Call {
        plan,
        config,
        target: to,
        dial_wanted: true,
        dial_deadline: None,
        timeout,
    })
}

/// The NEGATIVE SESSION RESPONSE code for a rejection reason given as text:
/// the code whose RFC 1002 text it is, else "Unspecified error".
pub fn reject_code(reason: &str) -> u8 {
    (0..=u8::MAX)
        .find(|&code| connection::negative_reason(code) == Some(reason))
        .unwrap_or(UNSPECIFIED_ERROR)
}

/// The code for a rejection reason given as a number: itself if RFC 1002
/// names it, else "Unspecified error".
pub fn reject_code_from_number(reason: f64) -> u8 {
    match u8::try_from(reason as i64) {
        Ok(code) if f64::from(code) == reason && connection::negative_reason(code).is_some() => {
            code
        }
        _ => UNSPECIFIED_ERROR,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod decode_tests;

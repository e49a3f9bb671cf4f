//! One TCP connection of a session: the frame-level state machine of RFC 1001
//! section 16.1 and RFC 1002 section 4.3, sans-IO: bytes in, events out;
//! commands in, bytes out. It knows one connection only; [`crate::Session`]
//! drives a whole session across connections (dials, retargets, fallbacks,
//! the setup and close deadlines) on top of it.
//!
//! Two ways to read. [`Connection::next_event`] decodes from a caller's chunk
//! and reports message payloads as ranges of that chunk (nothing copied: what
//! a binding that hands out views wants). [`Connection::handle_input`] with
//! [`Connection::poll_event`] reassembles payloads into [`Bytes`] for Rust
//! callers that want owned messages.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::error::{CommandError, ProtocolError};
use crate::frame::{
    FrameType, Header, HeaderError, LengthEncoding, HEADER_LEN, MAX_NETBIOS_LENGTH,
    MAX_WIDE_LENGTH, RETARGET_TRAILER_LEN,
};
use crate::name::{NetbiosName, MAX_ENCODED_LEN, MIN_ENCODED_LEN};

/// Largest SESSION REQUEST trailer: two names at the DNS length limit.
pub const MAX_REQUEST_TRAILER: u32 = 2 * MAX_ENCODED_LEN as u32;
/// The longest frame a connection queues on its own: a SESSION REQUEST
/// carrying two names of the longest encoding.
pub const MAX_CONTROL_FRAME: usize = HEADER_LEN + MAX_REQUEST_TRAILER as usize;
const MIN_REQUEST_TRAILER: u32 = 2 * MIN_ENCODED_LEN as u32;

/// Which end of the session this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Opens the connection and sends the SESSION REQUEST.
    Caller,
    /// Accepts the connection and answers the SESSION REQUEST.
    Called,
    /// SMB direct TCP: no handshake, established from the start.
    Direct,
}

/// Where the session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Caller: nothing sent yet.
    Idle,
    /// Caller: request sent, response not yet received.
    AwaitingResponse,
    /// Called: waiting for the peer's SESSION REQUEST.
    AwaitingRequest,
    /// Called: request received, waiting for accept, reject or retarget.
    AwaitingDecision,
    Established,
    /// Ended by a negative or retarget response, sent or received.
    Closed,
    /// The peer broke the protocol.
    Failed,
}

impl Phase {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Idle => "no SESSION REQUEST has been sent",
            Self::AwaitingResponse => "waiting for the session response",
            Self::AwaitingRequest => "waiting for a SESSION REQUEST",
            Self::AwaitingDecision => "the SESSION REQUEST is not yet accepted or rejected",
            Self::Established => "the session is established",
            Self::Closed => "the session is closed",
            Self::Failed => "the session has failed",
        }
    }

    pub(crate) fn expected(self) -> &'static str {
        match self {
            Self::Idle => "nothing before the SESSION REQUEST is sent",
            Self::AwaitingResponse => "a POSITIVE, NEGATIVE or RETARGET SESSION RESPONSE",
            Self::AwaitingRequest => "a SESSION REQUEST",
            Self::AwaitingDecision => "nothing until the SESSION REQUEST is answered",
            Self::Established => "a SESSION MESSAGE or SESSION KEEP ALIVE",
            Self::Closed | Self::Failed => "nothing more",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Milliseconds on a monotonic clock of the caller's choosing. The core
/// reads no clock: every call that depends on time is given `now`.
pub type Millis = u64;

/// Deadlines and intervals, all off by default. The I/O layer asks
/// [`Connection::poll_timeout`] when to call [`Connection::handle_timeout`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timers {
    /// Called node: a complete SESSION REQUEST must arrive this long after
    /// [`Connection::start`]; bytes trickling in do not extend it.
    pub request_timeout: Option<Millis>,
    /// Established: fail when no complete frame arrives for this long.
    pub idle_timeout: Option<Millis>,
    /// Established: send a SESSION KEEP ALIVE when nothing was sent during a
    /// whole interval of this length.
    pub keep_alive: Option<Millis>,
}

/// A deadline that passed. The session has failed: close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    Request(Millis),
    Idle(Millis),
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(after) => write!(
                f,
                "No complete SESSION REQUEST arrived within {after} ms (requestTimeout); expected one after connecting"
            ),
            Self::Idle(after) => write!(
                f,
                "No frame arrived for {after} ms (idleTimeout); expected a SESSION MESSAGE or SESSION KEEP ALIVE"
            ),
        }
    }
}

/// Connection options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Speak netbios-session 0.1.6's length bit (0x80) instead of RFC 1002's (0x01).
    pub legacy_length_bit: bool,
    /// Largest SESSION MESSAGE accepted or sent. Above 131071 (NetBIOS roles),
    /// established messages use the 24-bit form, as Samba's SMB2 server accepts.
    pub max_message_length: u32,
    pub timers: Timers,
}

impl Config {
    /// The default for a role: 131071 for NetBIOS, 16 MiB - 1 for direct TCP.
    pub fn for_role(role: Role) -> Self {
        Self {
            legacy_length_bit: false,
            max_message_length: match role {
                Role::Direct => MAX_WIDE_LENGTH,
                _ => MAX_NETBIOS_LENGTH,
            },
            timers: Timers::default(),
        }
    }
}

/// Options that contradict each other or the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    MaxMessageLength(u32),
    LegacyWithWideLength(u32),
    LegacyWithDirect,
    /// A port to dial outside 1 to 65535.
    Port(u32),
    /// A call without a name to call.
    NoCalledName,
    /// A keep-alive interval of 0 ms, which would never pause.
    ZeroKeepAlive,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MaxMessageLength(max) => {
                write!(f, "maxMessageLength {max} is too large; expected at most {MAX_WIDE_LENGTH}")
            }
            Self::LegacyWithWideLength(max) => write!(
                f,
                "maxMessageLength {max} needs 24-bit lengths, which legacyLengthBit cannot express; \
                 expected at most {MAX_NETBIOS_LENGTH}"
            ),
            Self::LegacyWithDirect => f.write_str("legacyLengthBit has no meaning in direct mode; expected one or the other"),
            Self::Port(port) => write!(f, "port {port} is out of range; expected 1 to 65535"),
            Self::NoCalledName => f.write_str("a call needs a called name"),
            Self::ZeroKeepAlive => f.write_str(
                "a keep-alive interval of 0 ms would never pause; expected at least 1 ms, or none",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// What [`Connection::next_event`] decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Called: the peer asks for a session. Answer with accept, reject or retarget.
    Request {
        called: NetbiosName,
        calling: NetbiosName,
    },
    /// Caller: the session is established.
    Positive,
    /// Caller: the peer refused; it closes the connection.
    Negative { code: u8 },
    /// Caller: the peer asks to be called again at another address.
    Retarget { addr: Ipv4Addr, port: u16 },
    /// Sent to keep the connection alive; carries nothing.
    KeepAlive,
    /// Payload bytes of a SESSION MESSAGE at `range` of the chunk. A message
    /// split across chunks arrives as several events: `first` on its first
    /// piece, `last` on its final one (both on a message within one chunk).
    Message {
        range: Range<usize>,
        first: bool,
        last: bool,
    },
    /// The peer broke the protocol; nothing more will be decoded.
    Error(ProtocolError),
}

/// What [`Connection::poll_event`] returns: events with owned message payloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Request {
        called: NetbiosName,
        calling: NetbiosName,
    },
    Positive,
    Negative {
        code: u8,
    },
    Retarget {
        addr: Ipv4Addr,
        port: u16,
    },
    KeepAlive,
    Message(Bytes),
    Error(ProtocolError),
}

/// The text RFC 1002 gives each NEGATIVE SESSION RESPONSE code, if it has one.
pub fn negative_reason(code: u8) -> Option<&'static str> {
    Some(match code {
        0x80 => "Not listening on called name",
        0x81 => "Not listening for calling name",
        0x82 => "Called name not present",
        0x83 => "Called name present, but insufficient resources",
        0x8F => "Unspecified error",
        _ => return None,
    })
}

/// Where the decoder is inside the incoming byte stream.
#[derive(Clone, Debug)]
enum ReadState {
    Header {
        buf: [u8; HEADER_LEN],
        filled: u8,
    },
    /// A control frame's trailer, collected whole (it is small and bounded).
    Trailer {
        frame_type: FrameType,
        length: u32,
        buf: Vec<u8>,
    },
    /// A POSITIVE SESSION RESPONSE trailer, which some servers add and we drop.
    DiscardPositive {
        length: u32,
        remaining: u32,
    },
    /// Payload of a SESSION MESSAGE; `remaining` bytes still to come.
    Body {
        length: u32,
        remaining: u32,
    },
}

const NEXT_HEADER: ReadState = ReadState::Header {
    buf: [0; HEADER_LEN],
    filled: 0,
};

/// See [`Connection::frame_progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameProgress {
    Header(usize),
    Body(usize),
    Trailer,
}

/// One connection of a NetBIOS session (or one SMB direct-TCP connection), without I/O.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    phase: Phase,
    read: ReadState,
    /// Length encoding of SESSION MESSAGE frames once established.
    message_encoding: LengthEncoding,
    max_message_length: u32,
    transmit: BytesMut,
    timers: Timers,
    request_deadline: Option<Millis>,
    idle_deadline: Option<Millis>,
    keep_alive_due: Option<Millis>,
    /// Whether anything was sent since the last keep-alive check.
    sent_since_check: bool,
    /// For the owned-message API only, boxed so sessions that do not use it
    /// (the napi binding's) pay one pointer for it.
    owned: Option<Box<OwnedInput>>,
}

/// The owned-message API's buffers.
#[derive(Debug, Default)]
struct OwnedInput {
    /// Received bytes not yet decoded: events are decoded one per
    /// `poll_event`, so memory is the input plus a constant, never an event
    /// queue proportional to it (16 384 empty messages fit in 64 KiB).
    input: BytesMut,
    input_now: Millis,
    assembly: BytesMut,
}

impl Connection {
    pub fn new(role: Role, config: Config) -> Result<Self, ConfigError> {
        let max = config.max_message_length;
        if config.timers.keep_alive == Some(0) {
            return Err(ConfigError::ZeroKeepAlive);
        }
        if max > MAX_WIDE_LENGTH {
            return Err(ConfigError::MaxMessageLength(max));
        }
        let message_encoding = match (role, config.legacy_length_bit) {
            (Role::Direct, true) => return Err(ConfigError::LegacyWithDirect),
            (Role::Direct, false) => LengthEncoding::Wide,
            (_, true) if max > MAX_NETBIOS_LENGTH => {
                return Err(ConfigError::LegacyWithWideLength(max))
            }
            (_, true) => LengthEncoding::LegacyExtension,
            (_, false) if max > MAX_NETBIOS_LENGTH => LengthEncoding::Wide,
            (_, false) => LengthEncoding::Extension,
        };
        let phase = match role {
            Role::Caller => Phase::Idle,
            Role::Called => Phase::AwaitingRequest,
            Role::Direct => Phase::Established,
        };
        Ok(Self {
            role,
            phase,
            read: NEXT_HEADER,
            message_encoding,
            max_message_length: max,
            transmit: BytesMut::new(),
            timers: config.timers,
            request_deadline: None,
            idle_deadline: None,
            keep_alive_due: None,
            sent_since_check: false,
            owned: None,
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn max_message_length(&self) -> u32 {
        self.max_message_length
    }

    /// Starts the clocks: the request deadline of a called node, the idle and
    /// keep-alive timers of a direct session. Call once the connection is up.
    pub fn start(&mut self, now: Millis) {
        match self.phase {
            Phase::AwaitingRequest => {
                self.request_deadline = self.timers.request_timeout.map(|t| now.saturating_add(t))
            }
            Phase::Established => self.establish(now),
            _ => {}
        }
    }

    /// What the next frame still lacks before [`next_event`](Self::next_event)
    /// can report it whole: the header's missing bytes, or a message body's
    /// (`None` while a control trailer is collected; it is small and bounded).
    pub(crate) fn frame_progress(&self) -> FrameProgress {
        match &self.read {
            ReadState::Header { filled, .. } => {
                FrameProgress::Header(HEADER_LEN - usize::from(*filled))
            }
            ReadState::Body { remaining, .. } => FrameProgress::Body(*remaining as usize),
            ReadState::Trailer { .. } | ReadState::DiscardPositive { .. } => FrameProgress::Trailer,
        }
    }

    pub(crate) fn establish(&mut self, now: Millis) {
        self.phase = Phase::Established;
        self.request_deadline = None;
        self.idle_deadline = self.timers.idle_timeout.map(|t| now.saturating_add(t));
        self.keep_alive_due = self.timers.keep_alive.map(|t| now.saturating_add(t));
        self.sent_since_check = false;
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.phase {
            Phase::AwaitingRequest => self.request_deadline,
            Phase::Established => [self.idle_deadline, self.keep_alive_due]
                .into_iter()
                .flatten()
                .min(),
            _ => None,
        }
    }

    /// Acts on the deadlines that have passed at `now`: a passed request or
    /// idle deadline fails the session; a due keep-alive is queued for
    /// [`poll_transmit`](Self::poll_transmit). Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Millis) -> Option<Timeout> {
        let passed = |deadline: Option<Millis>| deadline.is_some_and(|d| d <= now);
        match self.phase {
            Phase::AwaitingRequest if passed(self.request_deadline) => {
                self.enter_failed();
                Some(Timeout::Request(
                    self.timers.request_timeout.unwrap_or_default(),
                ))
            }
            Phase::Established if passed(self.idle_deadline) => {
                self.enter_failed();
                Some(Timeout::Idle(self.timers.idle_timeout.unwrap_or_default()))
            }
            Phase::Established => {
                if let (true, Some(interval)) =
                    (passed(self.keep_alive_due), self.timers.keep_alive)
                {
                    if !std::mem::take(&mut self.sent_since_check) {
                        self.queue_control(FrameType::KeepAlive, &[]);
                    }
                    self.keep_alive_due = Some(now.saturating_add(interval));
                }
                None
            }
            _ => None,
        }
    }

    /// Decodes the next event from `chunk[*pos..]`, advancing `*pos` past the
    /// bytes it used. `None` means the chunk is used up: give the next one.
    /// Partial headers and control trailers are kept across calls. `now` is
    /// when the chunk arrived; a complete frame restarts the idle timer.
    ///
    /// One exception: a called node reads nothing while its SESSION REQUEST
    /// awaits the answer. Then `None` leaves `*pos` where the request ended,
    /// and what the caller sent behind it (its first messages, pipelined) is
    /// read after [`accept`](Self::accept): give `chunk[*pos..]` again. After
    /// a reject or retarget it is dropped with the connection. A driver stops
    /// reading its socket meanwhile, so the wait holds at most one chunk.
    pub fn next_event(&mut self, now: Millis, chunk: &[u8], pos: &mut usize) -> Option<Event> {
        let event = self.decode(chunk, pos)?;
        match &event {
            Event::Positive => self.establish(now),
            Event::Request { .. } => self.request_deadline = None,
            Event::Message { last: false, .. } | Event::Error(_) => {}
            _ if self.phase == Phase::Established => {
                self.idle_deadline = self.timers.idle_timeout.map(|t| now.saturating_add(t));
            }
            _ => {}
        }
        Some(event)
    }

    /// [`next_event`](Self::next_event) for the usual case alone: the
    /// range of a whole SESSION MESSAGE at `chunk[*pos..]`, its header and
    /// body both there, on an established connection between frames; the
    /// idle timer restarts as `next_event` restarts it. `None` leaves `*pos`
    /// where it was: give the chunk to `next_event`.
    #[inline(always)]
    pub(crate) fn next_whole_message(
        &mut self,
        now: Millis,
        chunk: &[u8],
        pos: &mut usize,
    ) -> Option<Range<usize>> {
        let range = self.whole_message(chunk, pos)?;
        self.idle_deadline = self.timers.idle_timeout.map(|t| now.saturating_add(t));
        Some(range)
    }

    fn decode(&mut self, chunk: &[u8], pos: &mut usize) -> Option<Event> {
        if let Some(range) = self.whole_message(chunk, pos) {
            return Some(Event::Message {
                range,
                first: true,
                last: true,
            });
        }
        loop {
            if self.phase == Phase::Failed {
                *pos = chunk.len();
                return None;
            }
            if self.phase == Phase::AwaitingDecision {
                return None;
            }
            let rest = chunk.get(*pos..).unwrap_or_default();
            match &mut self.read {
                ReadState::Header { buf, filled } => {
                    let have = usize::from(*filled);
                    let take = (HEADER_LEN - have).min(rest.len());
                    buf[have..have + take].copy_from_slice(&rest[..take]);
                    *pos += take;
                    if have + take < HEADER_LEN {
                        *filled = (have + take) as u8;
                        return None;
                    }
                    let header = *buf;
                    self.read = NEXT_HEADER;
                    match self.on_header(header, *pos) {
                        Ok(Some(event)) => return Some(event),
                        Ok(None) => {}
                        Err(error) => return Some(self.fail(error)),
                    }
                }
                ReadState::Body { remaining, length } => {
                    if rest.is_empty() {
                        return None;
                    }
                    let take = (*remaining as usize).min(rest.len());
                    let first = *remaining == *length;
                    *remaining -= take as u32;
                    let last = *remaining == 0;
                    if last {
                        self.read = NEXT_HEADER;
                    }
                    let start = *pos;
                    *pos += take;
                    return Some(Event::Message {
                        range: start..start + take,
                        first,
                        last,
                    });
                }
                ReadState::Trailer {
                    frame_type,
                    length,
                    buf,
                } => {
                    let take = (*length as usize - buf.len()).min(rest.len());
                    buf.extend_from_slice(&rest[..take]);
                    *pos += take;
                    if buf.len() < *length as usize {
                        return None;
                    }
                    let (frame_type, trailer) = (*frame_type, std::mem::take(buf));
                    self.read = NEXT_HEADER;
                    return Some(match self.on_trailer(frame_type, &trailer) {
                        Ok(event) => event,
                        Err(error) => self.fail(error),
                    });
                }
                ReadState::DiscardPositive { remaining, .. } => {
                    let take = (*remaining as usize).min(rest.len());
                    *remaining -= take as u32;
                    *pos += take;
                    if *remaining > 0 {
                        return None;
                    }
                    self.read = NEXT_HEADER;
                    return Some(Event::Positive);
                }
            }
        }
    }

    /// The usual case, read without touching the read state: an established
    /// connection between frames, and a SESSION MESSAGE whose header and body
    /// are both in `chunk`. Anything else (part of a frame, another type, a
    /// header to refuse) is left to the general path in [`decode`](Self::decode).
    #[inline(always)]
    fn whole_message(&self, chunk: &[u8], pos: &mut usize) -> Option<Range<usize>> {
        if self.phase != Phase::Established
            || !matches!(self.read, ReadState::Header { filled: 0, .. })
        {
            return None;
        }
        let (header, body) = chunk.get(*pos..)?.split_first_chunk()?;
        let Ok(Header {
            frame_type: FrameType::SessionMessage,
            length,
        }) = Header::decode(*header, self.message_encoding)
        else {
            return None;
        };
        if length > self.max_message_length || length as usize > body.len() {
            return None;
        }
        let start = *pos + HEADER_LEN;
        *pos = start + length as usize;
        Some(start..*pos)
    }

    /// Checks a complete header against the phase and the type's length rule.
    /// Returns the event for frames without a trailer, or `None` after
    /// switching to reading the trailer. `pos` is where the trailer starts.
    fn on_header(
        &mut self,
        bytes: [u8; HEADER_LEN],
        pos: usize,
    ) -> Result<Option<Event>, ProtocolError> {
        let header = Header::decode(bytes, self.message_encoding).map_err(|error| match error {
            HeaderError::UnknownType(byte) => ProtocolError::UnknownType {
                byte,
                phase: self.phase,
            },
            HeaderError::ReservedFlags {
                frame_type,
                flags,
                reserved,
            } => ProtocolError::ReservedFlags {
                frame_type,
                flags,
                reserved,
            },
        })?;
        let Header { frame_type, length } = header;
        let allowed = match self.phase {
            Phase::AwaitingRequest => frame_type == FrameType::SessionRequest,
            Phase::AwaitingResponse => matches!(
                frame_type,
                FrameType::PositiveResponse
                    | FrameType::NegativeResponse
                    | FrameType::RetargetResponse
                    | FrameType::KeepAlive
            ),
            Phase::Established => {
                matches!(frame_type, FrameType::SessionMessage | FrameType::KeepAlive)
            }
            Phase::Idle | Phase::AwaitingDecision | Phase::Closed | Phase::Failed => false,
        };
        if !allowed {
            return Err(ProtocolError::UnexpectedFrame {
                frame_type,
                phase: self.phase,
            });
        }
        let bad_length = |expected| ProtocolError::BadLength {
            frame_type,
            length,
            expected,
        };
        let trailer = |this: &mut Self| {
            this.read = ReadState::Trailer {
                frame_type,
                length,
                buf: Vec::with_capacity(length as usize),
            };
            Ok(None)
        };
        match frame_type {
            FrameType::SessionMessage => {
                if length > self.max_message_length {
                    return Err(ProtocolError::MessageTooLong {
                        length,
                        max: self.max_message_length,
                    });
                }
                if length == 0 {
                    return Ok(Some(Event::Message {
                        range: pos..pos,
                        first: true,
                        last: true,
                    }));
                }
                self.read = ReadState::Body {
                    length,
                    remaining: length,
                };
                Ok(None)
            }
            FrameType::KeepAlive if length == 0 => Ok(Some(Event::KeepAlive)),
            FrameType::KeepAlive => Err(bad_length("no trailer")),
            FrameType::PositiveResponse if length == 0 => Ok(Some(Event::Positive)),
            // impacket's SMB server echoes the request names after a positive response.
            FrameType::PositiveResponse if length <= MAX_REQUEST_TRAILER => {
                self.read = ReadState::DiscardPositive {
                    length,
                    remaining: length,
                };
                Ok(None)
            }
            FrameType::PositiveResponse => Err(bad_length("no trailer (or the request's names)")),
            FrameType::NegativeResponse if length == 1 => trailer(self),
            FrameType::NegativeResponse => Err(ProtocolError::MalformedNegative { length }),
            FrameType::RetargetResponse if length == RETARGET_TRAILER_LEN as u32 => trailer(self),
            FrameType::RetargetResponse => {
                Err(bad_length("exactly 6 bytes (IPv4 address and port)"))
            }
            FrameType::SessionRequest
                if (MIN_REQUEST_TRAILER..=MAX_REQUEST_TRAILER).contains(&length) =>
            {
                trailer(self)
            }
            FrameType::SessionRequest => Err(bad_length("two encoded names (68 to 510 bytes)")),
        }
    }

    fn on_trailer(
        &mut self,
        frame_type: FrameType,
        trailer: &[u8],
    ) -> Result<Event, ProtocolError> {
        match frame_type {
            FrameType::NegativeResponse => {
                self.phase = Phase::Closed;
                Ok(Event::Negative { code: trailer[0] })
            }
            FrameType::RetargetResponse => {
                self.phase = Phase::Closed;
                let addr = Ipv4Addr::new(trailer[0], trailer[1], trailer[2], trailer[3]);
                let port = u16::from_be_bytes([trailer[4], trailer[5]]);
                Ok(Event::Retarget { addr, port })
            }
            FrameType::SessionRequest => {
                let name_error =
                    |which| move |error| ProtocolError::BadRequestName { which, error };
                let (called, used) = NetbiosName::decode(trailer).map_err(name_error("called"))?;
                let (calling, used2) =
                    NetbiosName::decode(&trailer[used..]).map_err(name_error("calling"))?;
                let extra = trailer.len() - used - used2;
                if extra != 0 {
                    return Err(ProtocolError::RequestTrailingBytes { extra });
                }
                self.phase = Phase::AwaitingDecision;
                Ok(Event::Request { called, calling })
            }
            // Only the types above are read through `ReadState::Trailer`.
            _ => unreachable!("{frame_type} has no collected trailer"),
        }
    }

    fn fail(&mut self, error: ProtocolError) -> Event {
        self.enter_failed();
        Event::Error(error)
    }

    /// The session has failed (the peer broke the protocol, or a deadline
    /// passed): nothing more is read, and the owned-message API lets go of
    /// the message it was assembling and of input it had not decoded.
    fn enter_failed(&mut self) {
        self.phase = Phase::Failed;
        self.read = NEXT_HEADER;
        if let Some(owned) = self.owned.as_mut() {
            owned.assembly = BytesMut::new();
            owned.input = BytesMut::new();
        }
    }

    /// Tells the session the peer ended its stream. Ending between frames is
    /// clean; ending inside one is an error (bytes would be lost silently).
    pub fn end_of_input(&mut self) -> Result<(), ProtocolError> {
        let (received, expected) = match &self.read {
            ReadState::Header { filled: 0, .. } => return Ok(()),
            ReadState::Header { filled, .. } => (u32::from(*filled), HEADER_LEN as u32),
            ReadState::Trailer { length, buf, .. } => (
                HEADER_LEN as u32 + buf.len() as u32,
                HEADER_LEN as u32 + length,
            ),
            ReadState::DiscardPositive { length, remaining } => (
                HEADER_LEN as u32 + length - remaining,
                HEADER_LEN as u32 + length,
            ),
            ReadState::Body { length, remaining } => (
                HEADER_LEN as u32 + length - remaining,
                HEADER_LEN as u32 + length,
            ),
        };
        if self.phase == Phase::Failed {
            return Ok(());
        }
        let error = ProtocolError::TruncatedFrame { received, expected };
        self.fail(error.clone());
        Err(error)
    }

    /// Takes received bytes (at `now`) for [`poll_event`](Self::poll_event)
    /// to decode. A message split across calls is reassembled; its buffer
    /// grows only as its bytes arrive, never to the declared length up front.
    pub fn handle_input(&mut self, now: Millis, data: &[u8]) {
        let owned = self.owned.get_or_insert_with(Box::default);
        owned.input.extend_from_slice(data);
        owned.input_now = now;
    }

    /// The next event from the bytes given to [`handle_input`](Self::handle_input).
    /// A message that arrived whole is a zero-copy slice of the input. While a
    /// called node's SESSION REQUEST awaits its answer, the input behind it
    /// is kept for after [`accept`](Self::accept) (see [`next_event`](Self::next_event)):
    /// stop giving input meanwhile.
    pub fn poll_event(&mut self) -> Option<Received> {
        loop {
            let owned = self.owned.as_mut()?;
            let mut input = std::mem::take(&mut owned.input);
            let now = owned.input_now;
            let mut pos = 0;
            let event = self.next_event(now, &input, &mut pos);
            let consumed = input.split_to(pos);
            // Drop the buffer once it is used up rather than keep its capacity.
            let owned = self.owned.get_or_insert_with(Box::default);
            if !input.is_empty() {
                owned.input = input;
            }
            return Some(match event? {
                Event::Message { range, first, last } => {
                    if first && last {
                        Received::Message(consumed.freeze().slice(range))
                    } else {
                        owned.assembly.extend_from_slice(&consumed[range]);
                        if !last {
                            continue;
                        }
                        Received::Message(owned.assembly.split().freeze())
                    }
                }
                Event::Request { called, calling } => Received::Request { called, calling },
                Event::Positive => Received::Positive,
                Event::Negative { code } => Received::Negative { code },
                Event::Retarget { addr, port } => Received::Retarget { addr, port },
                Event::KeepAlive => Received::KeepAlive,
                Event::Error(error) => Received::Error(error),
            });
        }
    }

    /// Bytes queued for the peer by the commands below, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        // Taken whole, so an idle session keeps no buffer behind.
        (!self.transmit.is_empty()).then(|| std::mem::take(&mut self.transmit).freeze())
    }

    fn expect_phase(&self, phase: Phase, command: &'static str) -> Result<(), CommandError> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(CommandError::WrongPhase {
                command,
                phase: self.phase,
            })
        }
    }

    fn queue_control(&mut self, frame_type: FrameType, trailer: &[u8]) {
        let header = Header::encode(frame_type, trailer.len() as u32, LengthEncoding::Extension)
            .expect("control trailers are far below the 17-bit limit");
        // One allocation for the frame, not one for the header and another
        // when the trailer outgrows it.
        self.transmit.reserve(header.len() + trailer.len());
        self.transmit.extend_from_slice(&header);
        self.transmit.extend_from_slice(trailer);
    }

    /// Caller: queues the SESSION REQUEST, called name first (RFC order).
    pub fn request(
        &mut self,
        called: &NetbiosName,
        calling: &NetbiosName,
    ) -> Result<(), CommandError> {
        self.expect_phase(Phase::Idle, "send a SESSION REQUEST")?;
        let mut trailer = Vec::with_capacity(called.encoded_len() + calling.encoded_len());
        called.encode(&mut trailer);
        calling.encode(&mut trailer);
        self.queue_control(FrameType::SessionRequest, &trailer);
        self.phase = Phase::AwaitingResponse;
        Ok(())
    }

    /// Called: accepts the request; the session is established at `now`.
    pub fn accept(&mut self, now: Millis) -> Result<(), CommandError> {
        self.expect_phase(Phase::AwaitingDecision, "accept")?;
        self.queue_control(FrameType::PositiveResponse, &[]);
        self.establish(now);
        Ok(())
    }

    /// Called: refuses the request with an error code (see [`negative_reason`]);
    /// close the connection once the bytes are sent.
    pub fn reject(&mut self, code: u8) -> Result<(), CommandError> {
        self.expect_phase(Phase::AwaitingDecision, "reject")?;
        self.queue_control(FrameType::NegativeResponse, &[code]);
        self.phase = Phase::Closed;
        Ok(())
    }

    /// Called: asks the caller to call `addr:port` instead; close once sent.
    pub fn retarget(&mut self, addr: Ipv4Addr, port: u16) -> Result<(), CommandError> {
        self.expect_phase(Phase::AwaitingDecision, "retarget")?;
        let mut trailer = [0u8; RETARGET_TRAILER_LEN];
        trailer[..4].copy_from_slice(&addr.octets());
        trailer[4..].copy_from_slice(&port.to_be_bytes());
        self.queue_control(FrameType::RetargetResponse, &trailer);
        self.phase = Phase::Closed;
        Ok(())
    }

    /// The header for a SESSION MESSAGE of `length` bytes, for callers that
    /// write header and payload themselves (no copy of the payload).
    pub fn message_header(&mut self, length: usize) -> Result<[u8; HEADER_LEN], CommandError> {
        self.expect_phase(Phase::Established, "send a SESSION MESSAGE")?;
        let too_long = CommandError::MessageTooLong {
            length,
            max: self.max_message_length,
        };
        let length = u32::try_from(length).map_err(|_| too_long.clone())?;
        if length > self.max_message_length {
            return Err(too_long);
        }
        self.sent_since_check = true;
        Ok(
            Header::encode(FrameType::SessionMessage, length, self.message_encoding)
                .expect("the limit fits the encoding (checked in new)"),
        )
    }

    /// Queues one SESSION MESSAGE carrying `payload`.
    pub fn send_message(&mut self, payload: &[u8]) -> Result<(), CommandError> {
        let header = self.message_header(payload.len())?;
        self.transmit.extend_from_slice(&header);
        self.transmit.extend_from_slice(payload);
        Ok(())
    }

    /// Queues a SESSION KEEP ALIVE.
    pub fn send_keep_alive(&mut self) -> Result<(), CommandError> {
        self.expect_phase(Phase::Established, "send a SESSION KEEP ALIVE")?;
        self.queue_control(FrameType::KeepAlive, &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! napi binding: exposes `netbios-session-core` to `lib/session.js`.
//! Protocol decisions stay in the core; this file converts values only.
//!
//! Decoding is one call per socket chunk. Events are written into a
//! `Uint32Array` the caller owns, as `[kind, a, b]` triples after a two-word
//! prefix `[offset reached, event count]`; message payloads are byte ranges
//! of the chunk, so JS takes `subarray` views and nothing is allocated here.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::net::Ipv4Addr;

use netbios_session_core::{
    negative_reason, CallPlan, Config, Event, Millis, NetbiosName, Next, Phase, ProtocolError,
    Role, Session, Timers,
};

// Event kinds; lib/native.js has the same numbers.
const MESSAGE: u32 = 1;
const MESSAGE_FIRST: u32 = 2;
const MESSAGE_MORE: u32 = 3;
const MESSAGE_LAST: u32 = 4;
const KEEP_ALIVE: u32 = 5;
const REQUEST: u32 = 6;
const POSITIVE: u32 = 7;
const NEGATIVE: u32 = 8;
const RETARGET: u32 = 9;
const PROTOCOL_ERROR: u32 = 10;

const PREFIX: usize = 2;
/// Bytes before each message in a batch given to `frame_batch`.
const HEADER_SLOT: usize = 4;
const EVENT_WORDS: usize = 3;

/// A NetBIOS name as JS sees it: text whose characters are the name's bytes (Latin-1).
#[napi(object)]
pub struct NameParts {
    pub name: String,
    pub suffix: u32,
    pub scope: String,
}

/// The two names of a received SESSION REQUEST.
#[napi(object)]
pub struct RequestNames {
    pub called: NameParts,
    pub calling: NameParts,
}

fn latin1_bytes(text: &str, what: &str) -> Result<Vec<u8>> {
    text.chars()
        .map(u8::try_from)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            Error::new(
                Status::InvalidArg,
                format!("NetBIOS {what} {text:?} has a character outside Latin-1; expected one byte per character"),
            )
        })
}

fn latin1_text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn to_name(parts: &NameParts) -> Result<NetbiosName> {
    let suffix = u8::try_from(parts.suffix).map_err(|_| {
        Error::new(
            Status::InvalidArg,
            format!(
                "NetBIOS suffix {} is out of range; expected 0 to 255",
                parts.suffix
            ),
        )
    })?;
    let name = latin1_bytes(&parts.name, "name")?;
    let scope = latin1_bytes(&parts.scope, "scope ID")?;
    NetbiosName::new(name, suffix, scope).map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
}

fn from_name(name: &NetbiosName) -> NameParts {
    NameParts {
        name: latin1_text(name.name()),
        suffix: u32::from(name.suffix()),
        scope: latin1_text(name.scope()),
    }
}

/// Throws a descriptive error if the name cannot be encoded.
#[napi]
pub fn check_name(parts: NameParts) -> Result<()> {
    to_name(&parts).map(drop)
}

/// Throws a descriptive error if the options contradict each other.
#[napi]
pub fn check_config(direct: bool, legacy_length_bit: bool, max_message_length: u32) -> Result<()> {
    let role = if direct { Role::Direct } else { Role::Called };
    let config = Config {
        legacy_length_bit,
        max_message_length,
        timers: Timers::default(),
    };
    Session::new(role, config)
        .map(drop)
        .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
}

/// A NEGATIVE SESSION RESPONSE code and RFC 1002's text for it.
#[napi(object)]
pub struct NegativeReason {
    pub code: u32,
    pub reason: String,
}

/// Every code RFC 1002 names, so JS can map reasons both ways.
#[napi]
pub fn negative_reasons() -> Vec<NegativeReason> {
    (0..=u8::MAX)
        .filter_map(|code| {
            negative_reason(code).map(|reason| NegativeReason {
                code: u32::from(code),
                reason: reason.to_owned(),
            })
        })
        .collect()
}

/// Deadlines and intervals in milliseconds; missing means off.
#[napi(object)]
pub struct TimerOptions {
    pub request_timeout: Option<f64>,
    pub idle_timeout: Option<f64>,
    pub keep_alive: Option<f64>,
}

/// JS clocks give fractional milliseconds; the core counts whole ones.
fn millis(value: f64) -> Millis {
    if value.is_finite() && value > 0.0 {
        value as Millis
    } else {
        0
    }
}

fn session_config(
    legacy_length_bit: bool,
    max_message_length: u32,
    timers: &TimerOptions,
) -> Config {
    Config {
        legacy_length_bit,
        max_message_length,
        timers: Timers {
            request_timeout: timers.request_timeout.map(millis),
            idle_timeout: timers.idle_timeout.map(millis),
            keep_alive: timers.keep_alive.map(millis),
        },
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

fn closed() -> Error {
    Error::new(Status::GenericFailure, "the session is closed")
}

/// Caller only: the names, retarget bound and setup deadline that carry
/// across connections, and the config each new connection's core gets.
struct Call {
    plan: CallPlan,
    config: Config,
}

/// One session's native state. Boxed in the table, so an idle session costs
/// one allocation of about a Session, and caller-only or momentary state
/// is boxed again behind it.
struct Entry {
    role: Role,
    /// The current connection's core; a caller has none before its first request.
    session: Option<Session>,
    call: Option<Box<Call>>,
    request: Option<Box<RequestNames>>,
    error: Option<Box<str>>,
}

/// Slot indexes take the low bits of an id, a generation count the high
/// ones, so an id kept after `close` never reaches the slot's next owner.
const INDEX_BITS: u32 = 22;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
const MAX_SESSIONS: usize = 1 << INDEX_BITS;

struct Slot {
    generation: u32,
    entry: Option<Box<Entry>>,
}

/// Every open session of this JS thread, addressed by small integer ids.
///
/// JS holds an id per session instead of one wrapped native object each:
/// a wrapped object costs a JS object, a reference and a finalizer (about
/// 300 bytes per idle session, measured), and its memory would come back
/// only at garbage collection. Here `close(id)` frees a session at once.
#[napi]
pub struct SessionTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    open: u32,
}

impl Default for SessionTable {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl SessionTable {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
        }
    }

    fn entry(&mut self, id: u32) -> Option<&mut Entry> {
        let slot = self.slots.get_mut((id & INDEX_MASK) as usize)?;
        if slot.generation != id >> INDEX_BITS {
            return None;
        }
        slot.entry.as_deref_mut()
    }

    fn core(&mut self, id: u32) -> Result<&mut Session> {
        self.entry(id)
            .and_then(|entry| entry.session.as_mut())
            .ok_or_else(closed)
    }

    /// Opens a session: `role` is "called" or "direct". Returns its id.
    #[napi]
    pub fn open(
        &mut self,
        role: String,
        legacy_length_bit: bool,
        max_message_length: u32,
        timers: TimerOptions,
    ) -> Result<u32> {
        let role = match role.as_str() {
            "called" => Role::Called,
            "direct" => Role::Direct,
            other => return Err(invalid(format!("unknown role {other:?}"))),
        };
        let config = session_config(legacy_length_bit, max_message_length, &timers);
        let session = Session::new(role, config).map_err(|e| invalid(e.to_string()))?;
        self.insert(Entry {
            role,
            session: Some(session),
            call: None,
            request: None,
            error: None,
        })
    }

    /// Opens a caller session: the called name followed by its fallbacks,
    /// the calling name, how many retargets to follow and the setup deadline
    /// (ms, or undefined) counted from `now`. Returns its id.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn open_call(
        &mut self,
        legacy_length_bit: bool,
        max_message_length: u32,
        timers: TimerOptions,
        called: Vec<NameParts>,
        calling: NameParts,
        max_retargets: u32,
        timeout: Option<f64>,
        now: f64,
    ) -> Result<u32> {
        let config = session_config(legacy_length_bit, max_message_length, &timers);
        if called.is_empty() {
            return Err(invalid("a call needs a called name"));
        }
        let called = called.iter().map(to_name).collect::<Result<Vec<_>>>()?;
        let calling = to_name(&calling)?;
        // Each connection gets a fresh core from `request`; this one holds
        // the idle phase until then.
        let session = Session::new(Role::Caller, config).map_err(|e| invalid(e.to_string()))?;
        let plan = CallPlan::new(
            called,
            calling,
            max_retargets,
            timeout.map(millis),
            millis(now),
        );
        self.insert(Entry {
            role: Role::Caller,
            session: Some(session),
            call: Some(Box::new(Call { plan, config })),
            request: None,
            error: None,
        })
    }

    fn insert(&mut self, entry: Entry) -> Result<u32> {
        let index = match self.free.pop() {
            Some(index) => index as usize,
            None if self.slots.len() < MAX_SESSIONS => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                self.slots.len() - 1
            }
            None => {
                return Err(Error::new(
                    Status::GenericFailure,
                    format!("too many open sessions (at most {MAX_SESSIONS} per thread)"),
                ))
            }
        };
        let slot = &mut self.slots[index];
        slot.entry = Some(Box::new(entry));
        self.open += 1;
        Ok(index as u32 | slot.generation << INDEX_BITS)
    }

    /// Releases a session now; later calls with its id fail or do nothing.
    #[napi]
    pub fn close(&mut self, id: u32) {
        let index = id & INDEX_MASK;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            if slot.generation == id >> INDEX_BITS && slot.entry.take().is_some() {
                slot.generation = (slot.generation + 1) & (u32::MAX >> INDEX_BITS);
                self.free.push(index);
                self.open -= 1;
            }
        }
    }

    /// How many sessions are open (tests use it to see that all were closed).
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        self.open
    }

    /// Starts the core's clocks once the connection is up.
    #[napi]
    pub fn start(&mut self, id: u32, now: f64) -> Result<()> {
        self.core(id)?.start(millis(now));
        Ok(())
    }

    /// Decodes `chunk` from `offset` until it is used up or `events` is full.
    /// Returns the number of events; `events[0]` is the offset reached.
    #[napi]
    pub fn feed(
        &mut self,
        id: u32,
        chunk: &[u8],
        offset: u32,
        mut events: Uint32ArraySlice,
        now: f64,
    ) -> u32 {
        // SAFETY: JS is single-threaded and blocked in this call, so nothing
        // else touches the array while the slice lives.
        let events = unsafe { events.as_mut() };
        let capacity = events.len().saturating_sub(PREFIX) / EVENT_WORDS;
        let now = millis(now);
        let mut pos = offset as usize;
        let mut count = 0;
        match self.entry(id) {
            Some(Entry {
                session: Some(session),
                request,
                error,
                ..
            }) => {
                while count < capacity {
                    let Some(event) = session.next_event(now, chunk, &mut pos) else {
                        break;
                    };
                    let (kind, a, b) = match event {
                        Event::Message { range, first, last } => {
                            let kind = match (first, last) {
                                (true, true) => MESSAGE,
                                (true, false) => MESSAGE_FIRST,
                                (false, false) => MESSAGE_MORE,
                                (false, true) => MESSAGE_LAST,
                            };
                            (kind, range.start as u32, range.end as u32)
                        }
                        Event::KeepAlive => (KEEP_ALIVE, 0, 0),
                        Event::Request { called, calling } => {
                            *request = Some(Box::new(RequestNames {
                                called: from_name(&called),
                                calling: from_name(&calling),
                            }));
                            (REQUEST, 0, 0)
                        }
                        Event::Positive => (POSITIVE, 0, 0),
                        Event::Negative { code } => (NEGATIVE, u32::from(code), 0),
                        Event::Retarget { addr, port } => {
                            (RETARGET, u32::from(addr), u32::from(port))
                        }
                        Event::Error(problem) => {
                            *error = Some(problem.to_string().into_boxed_str());
                            (PROTOCOL_ERROR, 0, 0)
                        }
                    };
                    let at = PREFIX + count * EVENT_WORDS;
                    events[at..at + EVENT_WORDS].copy_from_slice(&[kind, a, b]);
                    count += 1;
                }
            }
            _ => pos = chunk.len(),
        }
        if let Some(prefix) = events.get_mut(..PREFIX) {
            prefix.copy_from_slice(&[pos as u32, count as u32]);
        }
        count as u32
    }

    /// The names of the SESSION REQUEST just reported, once.
    #[napi]
    pub fn take_request(&mut self, id: u32) -> Option<RequestNames> {
        self.entry(id)?.request.take().map(|names| *names)
    }

    /// The message of the protocol error just reported, once.
    #[napi]
    pub fn take_error(&mut self, id: u32) -> Option<String> {
        self.entry(id)?.error.take().map(String::from)
    }

    /// The peer ended its stream: returns an error message if that cut a frame.
    #[napi]
    pub fn end_of_input(&mut self, id: u32) -> Option<String> {
        let session = self.entry(id)?.session.as_mut()?;
        session
            .end_of_input()
            .err()
            .map(|e: ProtocolError| e.to_string())
    }

    /// When `handleTimeout` should next run (same clock as `now`), or null.
    #[napi]
    pub fn poll_timeout(&mut self, id: u32) -> Option<f64> {
        let entry = self.entry(id)?;
        let session = entry.session.as_ref()?;
        // The setup deadline covers every attempt until one is established.
        let call = match session.phase() {
            Phase::Established => None,
            _ => entry
                .call
                .as_ref()
                .and_then(|call| call.plan.poll_timeout()),
        };
        [session.poll_timeout(), call]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t as f64)
    }

    /// Acts on passed deadlines: returns the error message if one expired
    /// (the session has failed). A due keep-alive goes to `takeTransmit`.
    #[napi]
    pub fn handle_timeout(&mut self, id: u32, now: f64) -> Option<String> {
        let now = millis(now);
        let entry = self.entry(id)?;
        let session = entry.session.as_mut()?;
        if session.phase() != Phase::Established {
            if let Some(expired) = entry
                .call
                .as_mut()
                .and_then(|call| call.plan.handle_timeout(now))
            {
                return Some(expired.to_string());
            }
        }
        session.handle_timeout(now).map(|t| t.to_string())
    }

    /// Bytes the core queued on its own (a keep-alive), if any.
    #[napi]
    pub fn take_transmit<'env>(
        &mut self,
        env: &'env Env,
        id: u32,
    ) -> Result<Option<BufferSlice<'env>>> {
        let bytes = self
            .entry(id)
            .and_then(|entry| entry.session.as_mut())
            .and_then(Session::poll_transmit);
        match bytes {
            Some(bytes) => BufferSlice::copy_from(env, bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Caller: the SESSION REQUEST for a new connection (each attempt gets a
    /// fresh core; the plan carries over).
    #[napi]
    pub fn request<'env>(&mut self, env: &'env Env, id: u32) -> Result<BufferSlice<'env>> {
        let entry = self.entry(id).ok_or_else(closed)?;
        let call = entry
            .call
            .as_ref()
            .ok_or_else(|| Error::new(Status::GenericFailure, "no call was started"))?;
        let mut session =
            Session::new(entry.role, call.config).map_err(|e| invalid(e.to_string()))?;
        call.plan
            .request(&mut session)
            .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        let bytes = session.poll_transmit().unwrap_or_default();
        entry.session = Some(session);
        BufferSlice::copy_from(env, bytes)
    }

    /// Caller, after a NEGATIVE SESSION RESPONSE: the fallback name to call
    /// next on a fresh connection, or null if the call has failed.
    #[napi]
    pub fn negative(&mut self, id: u32, code: u32) -> Option<NameParts> {
        let call = self.entry(id)?.call.as_mut()?;
        match call.plan.on_negative(u8::try_from(code).ok()?) {
            Next::Fallback(name) => Some(from_name(&name)),
            _ => None,
        }
    }

    /// Caller, after a RETARGET SESSION RESPONSE: null to follow it, or the
    /// error message if that would exceed the retarget bound.
    #[napi]
    pub fn retarget(&mut self, id: u32, addr: u32, port: u32) -> Option<String> {
        let call = self.entry(id)?.call.as_mut()?;
        match call.plan.on_retarget(Ipv4Addr::from(addr), port as u16) {
            Next::Fail(error) => Some(error.to_string()),
            _ => None,
        }
    }

    /// Called: the POSITIVE SESSION RESPONSE bytes; the session is established.
    #[napi]
    pub fn accept<'env>(&mut self, env: &'env Env, id: u32, now: f64) -> Result<BufferSlice<'env>> {
        let now = millis(now);
        self.command(env, id, |s| s.accept(now))
    }

    /// Called: the NEGATIVE SESSION RESPONSE bytes for `code`.
    #[napi]
    pub fn reject<'env>(
        &mut self,
        env: &'env Env,
        id: u32,
        code: u32,
    ) -> Result<BufferSlice<'env>> {
        let code =
            u8::try_from(code).map_err(|_| invalid(format!("error code {code} is not a byte")))?;
        self.command(env, id, |s| s.reject(code))
    }

    /// Called: the RETARGET SESSION RESPONSE bytes for `host` (dotted quad) and `port`.
    #[napi]
    pub fn retarget_to<'env>(
        &mut self,
        env: &'env Env,
        id: u32,
        host: String,
        port: u32,
    ) -> Result<BufferSlice<'env>> {
        let addr: Ipv4Addr = host
            .parse()
            .map_err(|_| invalid(format!("{host:?} is not an IPv4 dotted quad")))?;
        let port = u16::try_from(port)
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| invalid(format!("port {port} is not 1 to 65535")))?;
        self.command(env, id, |s| s.retarget(addr, port))
    }

    fn command<'env>(
        &mut self,
        env: &'env Env,
        id: u32,
        command: impl FnOnce(
            &mut Session,
        ) -> std::result::Result<(), netbios_session_core::CommandError>,
    ) -> Result<BufferSlice<'env>> {
        let session = self.core(id)?;
        command(session).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        let bytes = session.poll_transmit().unwrap_or_default();
        BufferSlice::copy_from(env, bytes)
    }

    /// Frames a batch of messages in place: `batch[..used]` holds messages
    /// back to back, each behind a 4-byte slot where JS put its length as a
    /// big-endian u32. Each slot becomes the real SESSION MESSAGE header, so
    /// coalesced small writes cost one native call per batch, not per message.
    /// Returns an error message if a length cannot be sent or the slots do
    /// not add up to `used`.
    #[napi]
    pub fn frame_batch(&mut self, id: u32, mut batch: BufferSlice, used: u32) -> Option<String> {
        let Ok(session) = self.core(id) else {
            return Some("Cannot send a SESSION MESSAGE: the session is closed".into());
        };
        let used = (used as usize).min(batch.len());
        let mut pos = 0;
        while pos + HEADER_SLOT <= used {
            let slot = &mut batch[pos..pos + HEADER_SLOT];
            let length = u32::from_be_bytes([slot[0], slot[1], slot[2], slot[3]]) as usize;
            match session.message_header(length) {
                Ok(header) => slot.copy_from_slice(&header),
                Err(error) => return Some(error.to_string()),
            }
            pos += HEADER_SLOT + length;
        }
        (pos != used).then(|| format!("batch framing ended at byte {pos} of {used}"))
    }

    /// Writes the 4-byte SESSION MESSAGE header for `length` into `out[offset..]`.
    /// Returns an error message instead if the message cannot be sent.
    #[napi]
    pub fn message_header(
        &mut self,
        id: u32,
        length: f64,
        mut out: BufferSlice,
        offset: u32,
    ) -> Option<String> {
        let Ok(session) = self.core(id) else {
            return Some("Cannot send a SESSION MESSAGE: the session is closed".into());
        };
        // JS lengths are doubles; anything not a small whole number is too long.
        let length = if length >= 0.0 && length <= u32::MAX as f64 {
            length as usize
        } else {
            usize::MAX
        };
        match session.message_header(length) {
            Ok(header) => {
                let at = offset as usize;
                match out.get_mut(at..at + header.len()) {
                    Some(target) => {
                        target.copy_from_slice(&header);
                        None
                    }
                    None => Some("header target buffer is too small".into()),
                }
            }
            Err(error) => Some(error.to_string()),
        }
    }

    /// True once the peer broke the protocol (or the session was closed).
    /// A chunk is decoded ahead of delivery, so the core can have failed on
    /// bytes that follow an event JS is still handling.
    #[napi]
    pub fn failed(&mut self, id: u32) -> bool {
        self.core(id).map_or(true, |s| s.phase() == Phase::Failed)
    }
}

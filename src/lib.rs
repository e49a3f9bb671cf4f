//! napi binding: exposes `netbios-session-core` to `lib/session.js`.
//! Protocol decisions stay in the core; this file converts values only.
//!
//! Decoding is one call per socket chunk. Events are written into a
//! `Uint32Array` the caller owns, as `[kind, a, b]` triples after a two-word
//! prefix `[offset reached, event count]`; message payloads are byte ranges
//! of the chunk, so JS takes `subarray` views and nothing is allocated here.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::cell::RefCell;
use std::net::Ipv4Addr;

pub mod fast;

use netbios_session_core::{
    name::MAX_ENCODED_LEN, negative_reason, CallPlan, Config, Event, Millis, NetbiosName, Next,
    Phase, ProtocolError, Role, Session, Timers, HEADER_LEN, RETARGET_TRAILER_LEN,
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

/// Characters (code points) as Latin-1 bytes, one each: NetBIOS names are
/// bytes, and JS hands them over as text. `shown` renders the text for the
/// error if a character does not fit.
fn latin1(
    chars: impl IntoIterator<Item = u32>,
    what: &str,
    shown: impl FnOnce() -> String,
) -> std::result::Result<Vec<u8>, String> {
    chars
        .into_iter()
        .map(u8::try_from)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            let text = shown();
            format!("NetBIOS {what} {text:?} has a character outside Latin-1; expected one byte per character")
        })
}

fn latin1_bytes(text: &str, what: &str) -> Result<Vec<u8>> {
    latin1(text.chars().map(u32::from), what, || text.to_owned()).map_err(invalid)
}

/// A name from JS as its three parts: text whose characters are the name's
/// bytes (Latin-1), the suffix and the scope ID.
fn to_name(name: &str, suffix: u32, scope: &str) -> Result<NetbiosName> {
    name_from_parts(
        latin1_bytes(name, "name")?,
        suffix,
        latin1_bytes(scope, "scope ID")?,
    )
}

/// A name from its bytes and a suffix that JS gave as a number.
fn name_from_parts(name: Vec<u8>, suffix: u32, scope: Vec<u8>) -> Result<NetbiosName> {
    let suffix = u8::try_from(suffix).map_err(|_| {
        invalid(format!(
            "NetBIOS suffix {suffix} is out of range; expected 0 to 255"
        ))
    })?;
    NetbiosName::new(name, suffix, scope).map_err(|e| invalid(e.to_string()))
}

/// Names going to JS, packed into one Latin-1 string (one allocation on the
/// JS side however many names): per name, a character holding the name's
/// length, the name, one holding the suffix, one holding the scope's length,
/// the scope. lib/name.js `unpackNames` reads it.
fn pack_names<'a>(names: impl IntoIterator<Item = &'a NetbiosName>) -> String {
    let mut text = String::new();
    for name in names {
        // Names are at most 15 bytes and scopes under 255: each length fits a character.
        text.push(char::from(name.name().len() as u8));
        text.extend(name.name().iter().map(|&b| char::from(b)));
        text.push(char::from(name.suffix()));
        text.push(char::from(name.scope().len() as u8));
        text.extend(name.scope().iter().map(|&b| char::from(b)));
    }
    text
}

/// Throws a descriptive error if the name cannot be encoded.
#[napi]
pub fn check_name(name: String, suffix: u32, scope: String) -> Result<()> {
    to_name(&name, suffix, &scope).map(drop)
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

/// JS clocks give fractional milliseconds; the core counts whole ones.
fn millis(value: f64) -> Millis {
    if value.is_finite() && value > 0.0 {
        value as Millis
    } else {
        0
    }
}

/// A duration option from JS, where 0 means off.
fn duration(value: f64) -> Option<Millis> {
    Some(millis(value)).filter(|&ms| ms > 0)
}

/// A session's config from JS: durations in ms, 0 for off.
fn session_config(
    legacy_length_bit: bool,
    max_message_length: u32,
    request_timeout: f64,
    idle_timeout: f64,
    keep_alive: f64,
) -> Config {
    Config {
        legacy_length_bit,
        max_message_length,
        timers: Timers {
            request_timeout: duration(request_timeout),
            idle_timeout: duration(idle_timeout),
            keep_alive: duration(keep_alive),
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
    /// The names of a SESSION REQUEST not yet answered, until JS asks for them.
    request: Option<Box<[NetbiosName; 2]>>,
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

/// Every open session of one JS thread, addressed by small integer ids.
///
/// JS holds an id per session instead of one wrapped native object each:
/// a wrapped object costs a JS object, a reference and a finalizer (about
/// 300 bytes per idle session, measured), and its memory would come back
/// only at garbage collection. Here `close(id)` frees a session at once.
#[derive(Default)]
struct SessionTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    open: u32,
}

thread_local! {
    // A thread-local rather than a napi class: each JS thread (main or
    // worker) is one OS thread, and a plain function call costs less than
    // half of a class method's, which must unwrap `this` (90 against 240 ns
    // measured, per call, and a session setup makes about ten).
    static TABLE: RefCell<SessionTable> = RefCell::new(SessionTable::default());
}

/// Runs `f` on this thread's table. Nothing in `f` calls back into JS, so
/// the borrow cannot be re-entered.
fn with_table<T>(f: impl FnOnce(&mut SessionTable) -> T) -> T {
    TABLE.with(|table| f(&mut table.borrow_mut()))
}

impl SessionTable {
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

    fn close(&mut self, id: u32) {
        let index = id & INDEX_MASK;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            if slot.generation == id >> INDEX_BITS && slot.entry.take().is_some() {
                slot.generation = (slot.generation + 1) & (u32::MAX >> INDEX_BITS);
                self.free.push(index);
                self.open -= 1;
            }
        }
    }
}

/// Role numbers `open` takes; lib/native.js has the same.
const ROLE_CALLED: u32 = 0;
const ROLE_DIRECT: u32 = 1;

/// Opens a session, `role` 0 (called) or 1 (direct), and starts its clocks
/// at `now` unless `now` is negative (a direct caller starts once its TCP
/// connection is up). Returns its id.
pub fn open(role: u32, config: Config, now: f64) -> Result<u32> {
    let role = match role {
        ROLE_CALLED => Role::Called,
        ROLE_DIRECT => Role::Direct,
        other => return Err(invalid(format!("unknown role {other}; expected 0 or 1"))),
    };
    let mut session = Session::new(role, config).map_err(|e| invalid(e.to_string()))?;
    if now >= 0.0 {
        session.start(millis(now));
    }
    with_table(|table| {
        table.insert(Entry {
            role,
            session: Some(session),
            call: None,
            request: None,
            error: None,
        })
    })
}

/// Opens a caller session: the name to call first, then its fallbacks, the
/// calling name, how many retargets to follow and the setup deadline (ms, 0
/// for none) counted from `now`. Returns its id. (JS calls it through
/// `src/fast.rs`, which reads the names.)
pub fn open_call(
    config: Config,
    called: Vec<NetbiosName>,
    calling: NetbiosName,
    max_retargets: u32,
    timeout: f64,
    now: f64,
) -> Result<u32> {
    if called.is_empty() {
        return Err(invalid("a call needs a called name"));
    }
    // Each connection gets a fresh core from `request`; this one holds
    // the idle phase until then.
    let session = Session::new(Role::Caller, config).map_err(|e| invalid(e.to_string()))?;
    let plan = CallPlan::new(
        called,
        calling,
        max_retargets,
        duration(timeout),
        millis(now),
    );
    with_table(|table| {
        table.insert(Entry {
            role: Role::Caller,
            session: Some(session),
            call: Some(Box::new(Call { plan, config })),
            request: None,
            error: None,
        })
    })
}

/// Releases a session now; later calls with its id fail or do nothing.
pub fn close(id: u32) {
    with_table(|table| table.close(id));
}

/// How many sessions are open on this thread (tests check all were closed).
#[napi]
pub fn open_count() -> u32 {
    with_table(|table| table.open)
}

/// Starts the core's clocks once the connection is up.
#[napi]
pub fn start(id: u32, now: f64) -> Result<()> {
    with_table(|table| table.core(id).map(|core| core.start(millis(now))))
}

/// Decodes `chunk` from `offset` until it is used up or `events` is full.
/// Returns the number of events; `events[0]` is the offset reached.
pub fn feed(id: u32, chunk: &[u8], offset: u32, events: &mut [u32], now: f64) -> u32 {
    with_table(|table| decode(table, id, chunk, offset as usize, events, millis(now)))
}

fn decode(
    table: &mut SessionTable,
    id: u32,
    chunk: &[u8],
    mut pos: usize,
    events: &mut [u32],
    now: Millis,
) -> u32 {
    let capacity = events.len().saturating_sub(PREFIX) / EVENT_WORDS;
    let mut count = 0;
    match table.entry(id) {
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
                        *request = Some(Box::new([called, calling]));
                        (REQUEST, 0, 0)
                    }
                    Event::Positive => (POSITIVE, 0, 0),
                    Event::Negative { code } => (NEGATIVE, u32::from(code), 0),
                    Event::Retarget { addr, port } => (RETARGET, u32::from(addr), u32::from(port)),
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

/// The called and calling names of the SESSION REQUEST just reported,
/// packed (see `pack_names`); null if there is none.
#[napi]
pub fn take_request(id: u32) -> Option<String> {
    with_table(|table| {
        let names = table.entry(id)?.request.take()?;
        Some(pack_names(names.iter()))
    })
}

/// The message of the protocol error just reported, once.
#[napi]
pub fn take_error(id: u32) -> Option<String> {
    with_table(|table| table.entry(id)?.error.take().map(String::from))
}

/// The peer ended its stream: returns an error message if that cut a frame.
pub fn end_of_input(id: u32) -> Option<String> {
    with_table(|table| {
        let session = table.entry(id)?.session.as_mut()?;
        session
            .end_of_input()
            .err()
            .map(|e: ProtocolError| e.to_string())
    })
}

/// When `handleTimeout` should next run (same clock as `now`), or null.
pub fn poll_timeout(id: u32) -> Option<f64> {
    with_table(|table| {
        let entry = table.entry(id)?;
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
    })
}

/// Acts on passed deadlines: returns the error message if one expired
/// (the session has failed). A due keep-alive goes to `takeTransmit`.
#[napi]
pub fn handle_timeout(id: u32, now: f64) -> Option<String> {
    let now = millis(now);
    with_table(|table| {
        let entry = table.entry(id)?;
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
    })
}

/// The longest control frame the core sends: a SESSION REQUEST carrying two
/// names of the longest encoding. `out` buffers of this size always fit.
#[napi]
pub const MAX_CONTROL_FRAME: u32 = (HEADER_LEN + 2 * MAX_ENCODED_LEN) as u32;

/// The longest answer to a SESSION REQUEST: a RETARGET SESSION RESPONSE
/// (address and port). `out` buffers of this size fit any answer.
#[napi]
pub const MAX_ANSWER_FRAME: u32 = (HEADER_LEN + RETARGET_TRAILER_LEN) as u32;

/// Copies what the core queued into `out`; returns the byte count (0 if nothing was queued).
fn drain_transmit(session: &mut Session, out: &mut [u8]) -> Result<i32> {
    let bytes = session.poll_transmit().unwrap_or_default();
    let room = out.len();
    let target = out.get_mut(..bytes.len()).ok_or_else(|| {
        invalid(format!(
            "output buffer holds {room} bytes; {} needed",
            bytes.len()
        ))
    })?;
    target.copy_from_slice(&bytes);
    Ok(bytes.len() as i32)
}

/// Writes bytes the core queued on its own (a keep-alive) into `out`;
/// returns how many (0 for none).
#[napi]
pub fn take_transmit(id: u32, mut out: BufferSlice) -> Result<i32> {
    with_table(
        |table| match table.entry(id).and_then(|e| e.session.as_mut()) {
            Some(session) => drain_transmit(session, &mut out),
            None => Ok(0),
        },
    )
}

/// Caller: writes the SESSION REQUEST for a new connection into `out`
/// (each attempt gets a fresh core; the plan carries over); returns its length.
pub fn request(id: u32, out: &mut [u8]) -> Result<i32> {
    with_table(|table| {
        let entry = table.entry(id).ok_or_else(closed)?;
        let call = entry
            .call
            .as_ref()
            .ok_or_else(|| Error::new(Status::GenericFailure, "no call was started"))?;
        let mut session =
            Session::new(entry.role, call.config).map_err(|e| invalid(e.to_string()))?;
        call.plan
            .request(&mut session)
            .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        let written = drain_transmit(&mut session, out)?;
        entry.session = Some(session);
        Ok(written)
    })
}

/// Caller, after a NEGATIVE SESSION RESPONSE: the fallback name to call
/// next on a fresh connection (packed, see `pack_names`), or null if the
/// call has failed.
#[napi]
pub fn negative(id: u32, code: u32) -> Option<String> {
    with_table(|table| {
        let call = table.entry(id)?.call.as_mut()?;
        match call.plan.on_negative(u8::try_from(code).ok()?) {
            Next::Fallback(name) => Some(pack_names([&name])),
            _ => None,
        }
    })
}

/// Caller, after a RETARGET SESSION RESPONSE: null to follow it, or the
/// error message if that would exceed the retarget bound.
#[napi]
pub fn retarget(id: u32, addr: u32, port: u32) -> Option<String> {
    with_table(|table| {
        let call = table.entry(id)?.call.as_mut()?;
        match call.plan.on_retarget(Ipv4Addr::from(addr), port as u16) {
            Next::Fail(error) => Some(error.to_string()),
            _ => None,
        }
    })
}

/// Called: answers the request with a POSITIVE SESSION RESPONSE, written
/// into `out`; returns its length. The session is established at `now`.
/// Returns -1 instead, sending nothing, if the core has already failed (a
/// guard: the core reads nothing behind a request until it is answered).
pub fn accept(id: u32, now: f64, out: &mut [u8]) -> Result<i32> {
    let now = millis(now);
    answer(id, out, |s| s.accept(now))
}

/// Called: a NEGATIVE SESSION RESPONSE for `code` into `out`, as `accept`.
#[napi]
pub fn reject(id: u32, code: u32, mut out: BufferSlice) -> Result<i32> {
    let code =
        u8::try_from(code).map_err(|_| invalid(format!("error code {code} is not a byte")))?;
    answer(id, &mut out, |s| s.reject(code))
}

/// Called: a RETARGET SESSION RESPONSE for `host` (dotted quad) and `port`
/// into `out`, as `accept`.
#[napi]
pub fn retarget_to(id: u32, host: String, port: u32, mut out: BufferSlice) -> Result<i32> {
    let addr: Ipv4Addr = host
        .parse()
        .map_err(|_| invalid(format!("{host:?} is not an IPv4 dotted quad")))?;
    let port = u16::try_from(port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| invalid(format!("port {port} is not 1 to 65535")))?;
    answer(id, &mut out, |s| s.retarget(addr, port))
}

fn answer(
    id: u32,
    out: &mut [u8],
    command: impl FnOnce(&mut Session) -> std::result::Result<(), netbios_session_core::CommandError>,
) -> Result<i32> {
    with_table(|table| {
        let entry = table.entry(id).ok_or_else(closed)?;
        entry.request = None;
        let session = entry.session.as_mut().ok_or_else(closed)?;
        if session.phase() == Phase::Failed {
            return Ok(-1);
        }
        command(session).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        drain_transmit(session, out)
    })
}

/// Frames a batch of messages in place: `batch[..used]` holds messages
/// back to back, each behind a 4-byte slot where JS put its length as a
/// big-endian u32. Each slot becomes the real SESSION MESSAGE header, so
/// coalesced small writes cost one native call per batch, not per message.
/// Returns an error message if a length cannot be sent or the slots do
/// not add up to `used`.
pub fn frame_batch(id: u32, batch: &mut [u8], used: u32) -> Option<String> {
    with_table(|table| {
        let Ok(session) = table.core(id) else {
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
    })
}

/// Writes the 4-byte SESSION MESSAGE header for `length` into `out[offset..]`.
/// Returns an error message instead if the message cannot be sent.
#[napi]
pub fn message_header(id: u32, length: f64, mut out: BufferSlice, offset: u32) -> Option<String> {
    with_table(|table| {
        let Ok(session) = table.core(id) else {
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
    })
}

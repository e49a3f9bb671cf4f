//! napi binding: exposes the `netbios-session-core` [`Session`] to
//! `lib/session.js`. Every protocol decision is the core's; this crate
//! converts values (src/convert.rs), keeps sessions in a per-thread table
//! (src/table.rs) and makes the hot calls directly on Node-API (src/fast.rs).
//!
//! One convention for every call:
//! - a call that changes a session returns its state (a number of
//!   `constants().states`); a failed session is in FAILED and `takeError`
//!   says why: session failures are never thrown;
//! - a `take*` call returns what an event or command left for JS (bytes,
//!   names, a dial, an error), or null when there is none;
//! - a call JS should not have made (bad arguments, a closed id, a command
//!   in the wrong state) throws an Error saying what was wrong.
//!
//! Decoding is one call per socket chunk. Events are written into a
//! `Uint32Array` the caller owns, as `[kind, a, b]` triples after a two-word
//! prefix `[offset reached, event count]`; message payloads are byte ranges
//! of the chunk, so JS takes `subarray` views and nothing is allocated here.

#![deny(unsafe_op_in_unsafe_fn)]

use std::net::Ipv4Addr;

use napi::bindgen_prelude::*;
use napi_derive::napi;

pub mod convert;
pub mod fast;
pub mod table;

use convert::{event, invalid, millis, state_number, EVENT_WORDS, PREFIX};
use netbios_session_core::{
    name, reject_code, reject_code_from_number, CallError, Config, Dial, Event, Host, NetbiosName,
    Role, Session, SessionError, Start, CLOSE_TIMEOUT, DEFAULT_MAX_RETARGETS,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_SETUP_TIMEOUT, HEADER_LEN, MAX_CONTROL_FRAME,
    MAX_NETBIOS_LENGTH, MAX_WIDE_LENGTH, NETBIOS_SESSION_PORT,
};
use table::{closed, with_table, SessionTable};

/// Roles `open` takes.
const ROLE_CALLED: u32 = 0;
const ROLE_DIRECT: u32 = 1;

fn failed(error: impl ToString) -> Error {
    Error::new(Status::GenericFailure, error.to_string())
}

/// Every number JS shares with the binding and the core, listed once (here
/// and in src/convert.rs): states, event kinds, roles, the events array's
/// layout, lengths, defaults.
#[napi]
pub fn constants(env: &Env) -> Result<Object<'_>> {
    let mut states = Object::new(env)?;
    for (number, (_, name)) in convert::STATES.iter().enumerate() {
        states.set_named_property(name, number as u32)?;
    }
    let mut events = Object::new(env)?;
    for (name, kind) in event::NAMES {
        events.set_named_property(name, kind)?;
    }
    // The frame each event comes from, as the core names it (for tracing).
    let mut frames = Object::new(env)?;
    for (kind, frame) in convert::event::FRAMES {
        frames.set_named_property(&kind.to_string(), frame.to_string())?;
    }
    let mut roles = Object::new(env)?;
    roles.set_named_property("CALLED", ROLE_CALLED)?;
    roles.set_named_property("DIRECT", ROLE_DIRECT)?;
    let mut all = Object::new(env)?;
    all.set_named_property("states", states)?;
    all.set_named_property("events", events)?;
    all.set_named_property("roles", roles)?;
    all.set_named_property("frames", frames)?;
    let numbers: [(&str, f64); 13] = [
        (
            "DEFAULT_CALLED_SUFFIX",
            f64::from(name::DEFAULT_CALLED_SUFFIX),
        ),
        (
            "DEFAULT_CALLING_SUFFIX",
            f64::from(name::DEFAULT_CALLING_SUFFIX),
        ),
        ("PREFIX", PREFIX as f64),
        ("EVENT_WORDS", EVENT_WORDS as f64),
        ("HEADER_LENGTH", HEADER_LEN as f64),
        ("MAX_CONTROL_FRAME", MAX_CONTROL_FRAME as f64),
        ("MAX_MESSAGE_LENGTH", f64::from(MAX_NETBIOS_LENGTH)),
        ("MAX_WIDE_MESSAGE_LENGTH", f64::from(MAX_WIDE_LENGTH)),
        ("DEFAULT_PORT", f64::from(NETBIOS_SESSION_PORT)),
        ("DEFAULT_TIMEOUT", DEFAULT_SETUP_TIMEOUT as f64),
        ("DEFAULT_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT as f64),
        ("DEFAULT_MAX_RETARGETS", f64::from(DEFAULT_MAX_RETARGETS)),
        ("CLOSE_TIMEOUT", CLOSE_TIMEOUT as f64),
    ];
    for (name, value) in numbers {
        all.set_named_property(name, value)?;
    }
    Ok(all)
}

/// Throws a descriptive error if the name cannot be encoded.
#[napi]
pub fn check_name(name: String, suffix: u32, scope: String) -> Result<()> {
    convert::to_name(&name, suffix, &scope).map(drop)
}

/// Throws a descriptive error if the options contradict each other.
#[napi]
pub fn check_config(direct: bool, legacy_length_bit: bool, max_message_length: u32) -> Result<()> {
    let role = if direct { Role::Direct } else { Role::Called };
    let config = Config {
        legacy_length_bit,
        max_message_length,
        ..Config::for_role(role)
    };
    netbios_session_core::Connection::new(role, config)
        .map(drop)
        .map_err(|e| invalid(e.to_string()))
}

/// Opens a session on a connection that is already up (attach): `role`
/// called (0) or direct (1), clocks starting at `now`. Returns its id.
pub fn open(role: u32, config: Config, now: f64) -> Result<u32> {
    let start = match role {
        ROLE_CALLED => Start::Called,
        ROLE_DIRECT => Start::Direct,
        other => return Err(invalid(format!("unknown role {other}; expected 0 or 1"))),
    };
    let session = Session::new(start, config, millis(now)).map_err(|e| invalid(e.to_string()))?;
    with_table(|table| table.insert(session))
}

/// A NetBIOS call's names: the name to call, its fallbacks, the calling name.
pub struct CallNames {
    pub called: Vec<NetbiosName>,
    pub calling: NetbiosName,
    pub max_retargets: u32,
}

/// Opens a calling session that dials `host:port` (`takeDial` says so):
/// a NetBIOS call with `names`, or a direct one without. `timeout` (ms, 0
/// for none) counts from `now`. Returns its id.
pub fn open_call(
    config: Config,
    host: String,
    port: u32,
    timeout: f64,
    now: f64,
    names: Option<CallNames>,
) -> Result<u32> {
    let to = Dial::new(Host::Name(host), port).map_err(|e| invalid(e.to_string()))?;
    let timeout = convert::duration(timeout);
    let start = match names {
        Some(CallNames {
            called,
            calling,
            max_retargets,
        }) => Start::Call {
            to,
            called,
            calling,
            max_retargets,
            timeout,
        },
        None => Start::DirectCall { to, timeout },
    };
    let session = Session::new(start, config, millis(now)).map_err(|e| invalid(e.to_string()))?;
    with_table(|table| table.insert(session))
}

/// Releases a session now; later calls with its id throw or do nothing.
pub fn close(id: u32) {
    with_table(|table| table.close(id));
}

/// How many sessions are open on this thread (tests check all were closed).
#[napi]
pub fn open_count() -> u32 {
    with_table(|table| table.open())
}

/// Runs `command` on session `id` and returns its state after.
fn command(
    id: u32,
    command: impl FnOnce(&mut Session) -> std::result::Result<(), netbios_session_core::CommandError>,
) -> Result<u32> {
    with_table(|table| {
        let session = table.session(id)?;
        command(session).map_err(failed)?;
        Ok(state_number(session.state()))
    })
}

/// Keeps a failure for `takeError` and gives the state.
fn keep_error(table: &mut SessionTable, id: u32, error: Option<SessionError>) -> Result<u32> {
    let entry = table.entry(id).ok_or_else(closed)?;
    if let Some(error) = error {
        entry.error = Some(Box::new(error));
    }
    Ok(state_number(entry.session.state()))
}

/// Decodes `chunk` from `offset` until it is used up or `events` is full.
/// Returns the number of events; `events[0]` is the offset reached. A
/// closed id reads the chunk as used up, with no events.
pub fn feed(id: u32, chunk: &[u8], offset: u32, events: &mut [u32], now: f64) -> u32 {
    let now = millis(now);
    let capacity = events.len().saturating_sub(PREFIX) / EVENT_WORDS;
    let mut pos = offset as usize;
    let mut count = 0;
    with_table(|table| {
        let Some(entry) = table.entry(id) else {
            pos = chunk.len();
            return;
        };
        while count < capacity {
            let Some(decoded) = entry.session.next_event(now, chunk, &mut pos) else {
                break;
            };
            let (kind, a, b) = match decoded {
                Event::Message { range, first, last } => {
                    let kind = match (first, last) {
                        (true, true) => event::MESSAGE,
                        (true, false) => event::MESSAGE_FIRST,
                        (false, false) => event::MESSAGE_MORE,
                        (false, true) => event::MESSAGE_LAST,
                    };
                    (kind, range.start as u32, range.end as u32)
                }
                Event::KeepAlive => (event::KEEP_ALIVE, 0, 0),
                Event::Request { called, calling } => {
                    entry.names = Some(Box::new([called, calling]));
                    (event::REQUEST, 0, 0)
                }
                Event::Established => (event::ESTABLISHED, 0, 0),
                Event::Fallback { called } => {
                    entry.names = Some(Box::new([called]));
                    (event::FALLBACK, 0, 0)
                }
                Event::Retarget { addr, port } => {
                    (event::RETARGET, u32::from(addr), u32::from(port))
                }
                Event::Failed(error) => {
                    entry.error = Some(Box::new(error));
                    (event::FAILED, 0, 0)
                }
            };
            let at = PREFIX + count * EVENT_WORDS;
            events[at..at + EVENT_WORDS].copy_from_slice(&[kind, a, b]);
            count += 1;
        }
    });
    if let Some(prefix) = events.get_mut(..PREFIX) {
        prefix.copy_from_slice(&[pos as u32, count as u32]);
    }
    count as u32
}

/// The dial the session decided on, once; none if there is none. The host
/// is `None` when it is the one `open_call` was given (JS still holds that
/// string: it does not come back), else the IPv4 address a retarget named.
/// (JS gets the port and the address in words: src/fast.rs `takeDial`.)
pub fn take_dial(id: u32) -> Result<Option<(Option<Ipv4Addr>, u16)>> {
    with_table(|table| {
        let dial = table.session(id)?.poll_dial();
        Ok(dial.map(|Dial { host, port }| match host {
            Host::Name(_) => (None, port),
            Host::Addr(address) => (Some(address), port),
        }))
    })
}

/// The dialed connection is up at `now`: a caller's request is then queued
/// (`takeTransmit`), a direct caller established. Returns the state.
pub fn connected(id: u32, now: f64) -> Result<u32> {
    let now = millis(now);
    command(id, |session| session.handle_connected(now))
}

/// The names of the REQUEST (called, calling) or FALLBACK (the name called
/// next) just reported, packed (see `convert::pack_names`); null if none.
#[napi]
pub fn take_names(id: u32) -> Option<String> {
    with_table(|table| {
        let names = table.entry(id)?.names.take()?;
        Some(convert::pack_names(names.iter()))
    })
}

/// Why a session failed, as JS builds its Error from it.
#[napi(object)]
pub struct Failure {
    /// "protocol", "rejected", "retarget-loop" or "timeout".
    pub kind: String,
    pub message: String,
    /// Rejected: the NEGATIVE SESSION RESPONSE code and RFC 1002's text for it.
    pub response_code: Option<u32>,
    pub reason: Option<String>,
    /// Retarget loop: where the retarget that was not followed pointed.
    pub host: Option<String>,
    pub port: Option<u32>,
}

/// Why the session failed, once; null if it has not (or it was taken).
#[napi]
pub fn take_error(id: u32) -> Option<Failure> {
    with_table(|table| {
        let error = table.entry(id)?.error.take()?;
        let mut failure = Failure {
            kind: convert::error_kind(error.kind()).to_owned(),
            message: error.to_string(),
            response_code: None,
            reason: None,
            host: None,
            port: None,
        };
        match *error {
            SessionError::Call(CallError::Rejected { code }) => {
                failure.response_code = Some(u32::from(code));
                failure.reason = Some(netbios_session_core::rejection_reason(code).to_owned());
            }
            SessionError::Call(CallError::RetargetLoop { addr, port, .. }) => {
                failure.host = Some(addr.to_string());
                failure.port = Some(u32::from(port));
            }
            _ => {}
        }
        Some(failure)
    })
}

/// The peer ended its stream (every byte before it was fed, or the session
/// reads nothing now). Returns the state: FAILED if that ended it early.
pub fn end_of_input(id: u32) -> Result<u32> {
    with_table(|table| {
        let error = table.session(id)?.handle_end_of_input().err();
        keep_error(table, id, error)
    })
}

/// When `handleTimeout` should next run (same clock as `now`), or null.
pub fn poll_timeout(id: u32) -> Option<f64> {
    with_table(|table| {
        table
            .entry(id)?
            .session
            .poll_timeout()
            .map(convert::deadline)
    })
}

/// Acts on passed deadlines at `now`; returns the state: FAILED if one
/// expired (`takeError`), CLOSED if the close deadline passed. A due
/// keep-alive goes to `takeTransmit`.
#[napi]
pub fn handle_timeout(id: u32, now: f64) -> Result<u32> {
    with_table(|table| {
        let error = table.session(id)?.handle_timeout(millis(now));
        keep_error(table, id, error)
    })
}

/// Copies what the session queued (a request, an answer, a keep-alive) into
/// `out`; returns the byte count, 0 if nothing was queued.
pub fn take_transmit(id: u32, out: &mut [u8]) -> Result<u32> {
    with_table(|table| {
        let bytes = table.session(id)?.poll_transmit().unwrap_or_default();
        let room = out.len();
        let target = out.get_mut(..bytes.len()).ok_or_else(|| {
            invalid(format!(
                "output buffer holds {room} bytes; {} needed",
                bytes.len()
            ))
        })?;
        target.copy_from_slice(&bytes);
        Ok(bytes.len() as u32)
    })
}

/// Called: accepts the request at `now`; returns the state.
pub fn accept(id: u32, now: f64) -> Result<u32> {
    let now = millis(now);
    command(id, |session| session.accept(now))
}

/// Called: refuses the request. `reason` is a RFC 1002 text or code; the
/// core picks the code ("Unspecified error" for anything else).
#[napi]
pub fn reject(id: u32, reason: Option<Either<String, f64>>, now: f64) -> Result<u32> {
    let code = match reason {
        Some(Either::A(text)) => reject_code(&text),
        Some(Either::B(number)) => reject_code_from_number(number),
        None => netbios_session_core::UNSPECIFIED_ERROR,
    };
    let now = millis(now);
    command(id, |session| session.reject(code, now))
}

/// Called: sends the caller to `host` (dotted quad) and `port` instead.
#[napi]
pub fn retarget(id: u32, host: String, port: u32, now: f64) -> Result<u32> {
    let addr: Ipv4Addr = host
        .parse()
        .map_err(|_| invalid(format!("{host:?} is not an IPv4 dotted quad")))?;
    let port = u16::try_from(port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| invalid(format!("port {port} is not 1 to 65535")))?;
    let now = millis(now);
    command(id, |session| session.retarget(addr, port, now))
}

/// Called: answers a request nobody was there to hear (no attach()
/// callback): accepted with `autoAccept`, else refused.
pub fn answer_unheard(id: u32, auto_accept: bool, now: f64) -> Result<u32> {
    let now = millis(now);
    command(id, |session| session.answer_unheard(auto_accept, now))
}

/// Ends the session at `now` (see `Session::end`); returns the state.
pub fn end(id: u32, now: f64) -> Result<u32> {
    let now = millis(now);
    command(id, |session| {
        session.end(now);
        Ok(())
    })
}

/// Frames a batch of messages in place: `batch[..used]` holds messages
/// back to back, each behind a header-sized slot (HEADER_LENGTH, 4 bytes)
/// where JS put its length as a big-endian u32. Each slot becomes the real SESSION MESSAGE header, so
/// coalesced small writes cost one native call per batch, not per message.
/// Throws if a length cannot be sent or the slots do not add up to `used`.
pub fn frame_batch(id: u32, batch: &mut [u8], used: u32) -> Result<()> {
    with_table(|table| {
        let session = table.session(id)?;
        let used = (used as usize).min(batch.len());
        let mut pos = 0;
        while pos + HEADER_LEN <= used {
            let slot = &mut batch[pos..pos + HEADER_LEN];
            let length = u32::from_be_bytes([slot[0], slot[1], slot[2], slot[3]]) as usize;
            slot.copy_from_slice(&session.message_header(length).map_err(failed)?);
            pos += HEADER_LEN + length;
        }
        if pos != used {
            return Err(failed(format!(
                "batch framing ended at byte {pos} of {used}"
            )));
        }
        Ok(())
    })
}

/// Writes the 4-byte SESSION MESSAGE header for `length` into `out[offset..]`.
#[napi]
pub fn message_header(id: u32, length: f64, mut out: BufferSlice, offset: u32) -> Result<()> {
    with_table(|table| {
        let session = table.session(id)?;
        // JS lengths are doubles; anything not a small whole number is too long.
        let length = if (0.0..=u32::MAX as f64).contains(&length) {
            length as usize
        } else {
            usize::MAX
        };
        let header = session.message_header(length).map_err(failed)?;
        let at = offset as usize;
        let target = out
            .get_mut(at..at + header.len())
            .ok_or_else(|| invalid("header target buffer is too small"))?;
        target.copy_from_slice(&header);
        Ok(())
    })
}

/// The session's state now.
pub fn state(id: u32) -> Result<u32> {
    with_table(|table| Ok(state_number(table.session(id)?.state())))
}

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

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

#[napi]
pub struct NativeSession {
    role: Role,
    config: Config,
    /// The current connection's core; `None` once closed, so its buffers are
    /// released then, not at garbage collection.
    session: Option<Session>,
    /// Caller only: names, retarget bound and setup deadline across connections.
    plan: Option<CallPlan>,
    request: Option<RequestNames>,
    error: Option<String>,
}

#[napi]
impl NativeSession {
    /// `role` is "caller", "called" or "direct".
    #[napi(constructor)]
    pub fn new(
        role: String,
        legacy_length_bit: bool,
        max_message_length: u32,
        timers: TimerOptions,
    ) -> Result<Self> {
        let role = match role.as_str() {
            "caller" => Role::Caller,
            "called" => Role::Called,
            "direct" => Role::Direct,
            other => return Err(invalid(format!("unknown role {other:?}"))),
        };
        let config = Config {
            legacy_length_bit,
            max_message_length,
            timers: Timers {
                request_timeout: timers.request_timeout.map(millis),
                idle_timeout: timers.idle_timeout.map(millis),
                keep_alive: timers.keep_alive.map(millis),
            },
        };
        let session = Session::new(role, config).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            role,
            config,
            session: Some(session),
            plan: None,
            request: None,
            error: None,
        })
    }

    fn core(&mut self) -> Result<&mut Session> {
        self.session
            .as_mut()
            .ok_or_else(|| Error::new(Status::GenericFailure, "the session is closed"))
    }

    /// Starts the core's clocks once the connection is up.
    #[napi]
    pub fn start(&mut self, now: f64) -> Result<()> {
        self.core()?.start(millis(now));
        Ok(())
    }

    /// Decodes `chunk` from `offset` until it is used up or `events` is full.
    /// Returns the number of events; `events[0]` is the offset reached.
    #[napi]
    pub fn feed(
        &mut self,
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
        if let Some(session) = self.session.as_mut() {
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
                        self.request = Some(RequestNames {
                            called: from_name(&called),
                            calling: from_name(&calling),
                        });
                        (REQUEST, 0, 0)
                    }
                    Event::Positive => (POSITIVE, 0, 0),
                    Event::Negative { code } => (NEGATIVE, u32::from(code), 0),
                    Event::Retarget { addr, port } => (RETARGET, u32::from(addr), u32::from(port)),
                    Event::Error(error) => {
                        self.error = Some(error.to_string());
                        (PROTOCOL_ERROR, 0, 0)
                    }
                };
                let at = PREFIX + count * EVENT_WORDS;
                events[at..at + EVENT_WORDS].copy_from_slice(&[kind, a, b]);
                count += 1;
            }
        } else {
            pos = chunk.len();
        }
        if let Some(prefix) = events.get_mut(..PREFIX) {
            prefix.copy_from_slice(&[pos as u32, count as u32]);
        }
        count as u32
    }

    /// The names of the SESSION REQUEST just reported, once.
    #[napi]
    pub fn take_request(&mut self) -> Option<RequestNames> {
        self.request.take()
    }

    /// The message of the protocol error just reported, once.
    #[napi]
    pub fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }

    /// The peer ended its stream: returns an error message if that cut a frame.
    #[napi]
    pub fn end_of_input(&mut self) -> Option<String> {
        let session = self.session.as_mut()?;
        session
            .end_of_input()
            .err()
            .map(|e: ProtocolError| e.to_string())
    }

    /// When `handleTimeout` should next run (same clock as `now`), or null.
    #[napi]
    pub fn poll_timeout(&self) -> Option<f64> {
        let session = self.session.as_ref()?;
        // The setup deadline covers every attempt until one is established.
        let call = match session.phase() {
            Phase::Established => None,
            _ => self.plan.as_ref().and_then(CallPlan::poll_timeout),
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
    pub fn handle_timeout(&mut self, now: f64) -> Option<String> {
        let now = millis(now);
        let session = self.session.as_mut()?;
        if session.phase() != Phase::Established {
            if let Some(expired) = self.plan.as_mut().and_then(|p| p.handle_timeout(now)) {
                return Some(expired.to_string());
            }
        }
        session.handle_timeout(now).map(|t| t.to_string())
    }

    /// Bytes the core queued on its own (a keep-alive), if any.
    #[napi]
    pub fn take_transmit<'env>(&mut self, env: &'env Env) -> Result<Option<BufferSlice<'env>>> {
        match self.session.as_mut().and_then(Session::poll_transmit) {
            Some(bytes) => BufferSlice::copy_from(env, bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Caller: the called name followed by its fallbacks, the calling name,
    /// how many retargets to follow and the setup deadline (ms, or null).
    #[napi]
    pub fn start_call(
        &mut self,
        called: Vec<NameParts>,
        calling: NameParts,
        max_retargets: u32,
        timeout: Option<f64>,
        now: f64,
    ) -> Result<()> {
        if called.is_empty() {
            return Err(invalid("a call needs a called name"));
        }
        let called = called.iter().map(to_name).collect::<Result<Vec<_>>>()?;
        let calling = to_name(&calling)?;
        self.plan = Some(CallPlan::new(
            called,
            calling,
            max_retargets,
            timeout.map(millis),
            millis(now),
        ));
        Ok(())
    }

    /// Caller: the SESSION REQUEST for a new connection (each attempt gets a
    /// fresh core; the plan carries over).
    #[napi]
    pub fn request<'env>(&mut self, env: &'env Env) -> Result<BufferSlice<'env>> {
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| Error::new(Status::GenericFailure, "no call was started"))?;
        let mut session =
            Session::new(self.role, self.config).map_err(|e| invalid(e.to_string()))?;
        plan.request(&mut session)
            .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        let bytes = session.poll_transmit().unwrap_or_default();
        self.session = Some(session);
        BufferSlice::copy_from(env, bytes)
    }

    /// Caller, after a NEGATIVE SESSION RESPONSE: the fallback name to call
    /// next on a fresh connection, or null if the call has failed.
    #[napi]
    pub fn negative(&mut self, code: u32) -> Option<NameParts> {
        let plan = self.plan.as_mut()?;
        match plan.on_negative(u8::try_from(code).ok()?) {
            Next::Fallback(name) => Some(from_name(&name)),
            _ => None,
        }
    }

    /// Caller, after a RETARGET SESSION RESPONSE: null to follow it, or the
    /// error message if that would exceed the retarget bound.
    #[napi]
    pub fn retarget(&mut self, addr: u32, port: u32) -> Option<String> {
        let plan = self.plan.as_mut()?;
        match plan.on_retarget(Ipv4Addr::from(addr), port as u16) {
            Next::Fail(error) => Some(error.to_string()),
            _ => None,
        }
    }

    /// Called: the POSITIVE SESSION RESPONSE bytes; the session is established.
    #[napi]
    pub fn accept<'env>(&mut self, env: &'env Env, now: f64) -> Result<BufferSlice<'env>> {
        let now = millis(now);
        self.command(env, |s| s.accept(now))
    }

    /// Called: the NEGATIVE SESSION RESPONSE bytes for `code`.
    #[napi]
    pub fn reject<'env>(&mut self, env: &'env Env, code: u32) -> Result<BufferSlice<'env>> {
        let code =
            u8::try_from(code).map_err(|_| invalid(format!("error code {code} is not a byte")))?;
        self.command(env, |s| s.reject(code))
    }

    /// Called: the RETARGET SESSION RESPONSE bytes for `host` (dotted quad) and `port`.
    #[napi]
    pub fn retarget_to<'env>(
        &mut self,
        env: &'env Env,
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
        self.command(env, |s| s.retarget(addr, port))
    }

    fn command<'env>(
        &mut self,
        env: &'env Env,
        command: impl FnOnce(
            &mut Session,
        ) -> std::result::Result<(), netbios_session_core::CommandError>,
    ) -> Result<BufferSlice<'env>> {
        let session = self.core()?;
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
    pub fn frame_batch(&mut self, mut batch: BufferSlice, used: u32) -> Option<String> {
        let Some(session) = self.session.as_mut() else {
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
        length: f64,
        mut out: BufferSlice,
        offset: u32,
    ) -> Option<String> {
        let session = match self.session.as_mut() {
            Some(session) => session,
            None => return Some("Cannot send a SESSION MESSAGE: the session is closed".into()),
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
    #[napi(getter)]
    pub fn failed(&self) -> bool {
        self.session
            .as_ref()
            .is_none_or(|s| s.phase() == Phase::Failed)
    }

    /// The effective message size limit.
    #[napi(getter)]
    pub fn max_message_length(&self) -> u32 {
        self.config.max_message_length
    }

    /// Releases the core now; every later call is a no-op or an error.
    #[napi]
    pub fn close(&mut self) {
        self.session = None;
        self.plan = None;
        self.request = None;
        self.error = None;
    }
}

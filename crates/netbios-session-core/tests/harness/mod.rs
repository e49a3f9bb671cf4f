//! Property harness shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`
//! include this file by path) and by `tests/fuzz_properties.rs`, which runs
//! the same properties on deterministic pseudo-random inputs inside
//! `cargo test` and replays every input a fuzzer ever crashed on.
//!
//! Each `check_*` function takes raw fuzzer bytes, builds a structured input
//! with `arbitrary`, and panics when a property fails:
//!
//! - nothing panics, and no slice is read out of bounds (the core is safe
//!   Rust, so an out-of-bounds read would be a panic too);
//! - `next_event` always moves forward (but for a called node, which reads
//!   nothing behind its SESSION REQUEST until it is answered, as a driver
//!   stops reading its socket then) and never buffers a message payload:
//!   the heap a session keeps, and the most it takes during any one call,
//!   stay under a small constant whatever the peer declares (measured with
//!   the counting allocator below, which each binary installs);
//! - decoding then re-encoding gives back the bytes: headers, names, and
//!   whole conversations (the events a session reports, encoded again,
//!   reproduce the bytes it consumed);
//! - every frame is judged as PROTOCOL.md says (a reference written here,
//!   independently of the core): legal frames are events, illegal ones are
//!   the matching `ProtocolError`, and nothing is decoded after an error;
//! - the owned-message API (`handle_input`/`poll_event`) reports exactly
//!   what `next_event` does, and deadlines follow the README's rules.
#![allow(dead_code)]

pub mod session;

use std::net::Ipv4Addr;

use arbitrary::{Arbitrary, Unstructured};
use netbios_session_core::{
    CallError, CallPlan, Config, Connection, ConnectionEvent as Event,
    ConnectionReceived as Received, FrameType, Header, LengthEncoding, Millis, NetbiosName, Next,
    Phase, ProtocolError, Role, Timeout, Timers, HEADER_LEN, MAX_NETBIOS_LENGTH, MAX_WIDE_LENGTH,
};

/// Heap a session may keep between calls (`next_event` API): a control
/// trailer being collected (at most 510 bytes) and the send queue's spare
/// room. Anything proportional to a declared length would blow through it.
pub const RETAIN_LIMIT: isize = 2048;
/// Heap a single call may take above what it had before, its result included
/// (a SESSION REQUEST event owns two names of at most 255 bytes each).
pub const CALL_PEAK_LIMIT: isize = 4096;
/// Bytes one input may feed, to keep executions fast.
const MAX_FEED: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Counting allocator

/// A global allocator that counts the live heap bytes of the current thread
/// and their high-water mark. Binaries using this harness install it:
/// `#[global_allocator] static A: harness::alloc::Counting = harness::alloc::Counting;`
pub mod alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(bytes: usize) {
        let _ = LIVE.try_with(|live| {
            let now = live.get() + bytes as isize;
            live.set(now);
            let _ = PEAK.try_with(|peak| {
                if now > peak.get() {
                    peak.set(now);
                }
            });
        });
    }

    fn sub(bytes: usize) {
        let _ = LIVE.try_with(|live| live.set(live.get() - bytes as isize));
    }

    // SAFETY: every call is forwarded unchanged to the system allocator; the
    // counters are const-initialised thread-locals without destructors, so
    // touching them never allocates or re-enters the allocator.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                add(layout.size());
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                add(layout.size());
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) };
            sub(layout.size());
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                // Counted as both alive for a moment: a conservative peak.
                add(new_size);
                sub(layout.size());
            }
            new
        }
    }

    /// Live heap bytes allocated (minus freed) by this thread.
    pub fn live() -> isize {
        LIVE.with(Cell::get)
    }

    /// Starts a new high-water mark at the current live count.
    pub fn reset_peak() {
        let live = live();
        PEAK.with(|peak| peak.set(live));
    }

    pub fn peak() -> isize {
        PEAK.with(Cell::get)
    }

    /// Whether this binary installed [`Counting`] as its global allocator.
    pub fn installed() -> bool {
        let before = live();
        let probe = std::hint::black_box(vec![0u8; 64]);
        let during = live();
        drop(probe);
        during - before >= 64
    }
}

/// A call's result with what the call did to the heap.
struct Metered<R> {
    result: R,
    grew: isize,
    peak: isize,
}

/// Runs `call` and measures it: how much the live heap grew, and the most it
/// took above its starting point at any moment.
fn meter<R>(call: impl FnOnce() -> R) -> Metered<R> {
    let before = alloc::live();
    alloc::reset_peak();
    let result = call();
    Metered {
        result,
        grew: alloc::live() - before,
        peak: alloc::peak() - before,
    }
}

impl<R> Metered<R> {
    /// Drops the result; returns (heap the call left behind that the result
    /// did not own, i.e. what the session kept; the call's peak).
    fn finish(self) -> (isize, isize) {
        let holding = alloc::live();
        drop(self.result);
        let owned_by_result = holding - alloc::live();
        (self.grew - owned_by_result, self.peak)
    }
}

// ---------------------------------------------------------------------------
// What the inputs reached

/// Counts of what the checked inputs reached, per thread: shows that random
/// inputs get past the handshake, not only that nothing failed.
pub mod stats {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    thread_local! {
        static ENABLED: Cell<bool> = const { Cell::new(false) };
        static COUNTS: RefCell<BTreeMap<String, u64>> = const { RefCell::new(BTreeMap::new()) };
    }

    /// Starts counting on this thread (off by default: the fuzzer skips it).
    pub fn enable() {
        ENABLED.with(|e| e.set(true));
    }

    pub fn count<S: Into<String>>(what: impl FnOnce() -> S) {
        if ENABLED.with(Cell::get) {
            COUNTS.with(|c| *c.borrow_mut().entry(what().into()).or_default() += 1);
        }
    }

    /// The counts so far, and clears them.
    pub fn take() -> BTreeMap<String, u64> {
        COUNTS.with(|c| std::mem::take(&mut *c.borrow_mut()))
    }
}

// ---------------------------------------------------------------------------
// Structured inputs

/// A NetBIOS name as a fuzzer builds it; invalid ones fall back to `DST<20>`.
#[derive(Arbitrary, Clone, Debug)]
pub struct NameSpec {
    pub name: Vec<u8>,
    pub suffix: u8,
    pub scope: Vec<Vec<u8>>,
}

impl NameSpec {
    pub fn build(&self) -> NetbiosName {
        let scope = self.scope.join(&b'.');
        NetbiosName::new(self.name.clone(), self.suffix, scope)
            .or_else(|_| NetbiosName::new(&self.name[..self.name.len().min(15)], self.suffix, ""))
            .unwrap_or_else(|_| NetbiosName::new("DST", 0x20, "").unwrap())
    }
}

/// Bytes a peer sends, as the fuzzer describes them.
#[derive(Arbitrary, Clone, Debug)]
pub enum Segment {
    /// Anything at all.
    Raw(Vec<u8>),
    /// A header with any type, flags and length, then any trailer bytes.
    Frame {
        frame_type: u8,
        flags: u8,
        length: u16,
        trailer: Vec<u8>,
    },
    /// A SESSION MESSAGE of `length` bytes framed in one of the three encodings.
    Message {
        length: u16,
        wide: bool,
        encoding: u8,
        fill: u8,
    },
    /// A SESSION REQUEST for two names, then bytes overwritten (`patches`).
    Request {
        called: NameSpec,
        calling: NameSpec,
        patches: Vec<(u16, u8)>,
        extra: Vec<u8>,
    },
    /// A positive response, with a trailer of `trailer` bytes if non-zero.
    Positive {
        trailer: u16,
    },
    Negative(u8),
    Retarget([u8; 4], u16),
    KeepAlive,
}

fn encoding_from(byte: u8) -> LengthEncoding {
    match byte % 3 {
        0 => LengthEncoding::Extension,
        1 => LengthEncoding::LegacyExtension,
        _ => LengthEncoding::Wide,
    }
}

fn control(frame_type: FrameType, trailer: &[u8]) -> Vec<u8> {
    let mut out = Header::encode(frame_type, trailer.len() as u32, LengthEncoding::Extension)
        .unwrap()
        .to_vec();
    out.extend_from_slice(trailer);
    out
}

fn encode_name(name: &NetbiosName) -> Vec<u8> {
    let mut out = Vec::new();
    name.encode(&mut out);
    out
}

impl Segment {
    pub fn bytes(&self, out: &mut Vec<u8>) {
        match self {
            Self::Raw(bytes) => out.extend_from_slice(bytes),
            Self::Frame {
                frame_type,
                flags,
                length,
                trailer,
            } => {
                out.extend_from_slice(&[*frame_type, *flags]);
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(trailer);
            }
            Self::Message {
                length,
                wide,
                encoding,
                fill,
            } => {
                // Up to 196605 bytes: past 64 KiB, past the 17-bit limit.
                let length = u32::from(*length) * if *wide { 3 } else { 1 };
                let header =
                    Header::encode(FrameType::SessionMessage, length, encoding_from(*encoding))
                        .or_else(|| {
                            Header::encode(FrameType::SessionMessage, length, LengthEncoding::Wide)
                        })
                        .unwrap();
                out.extend_from_slice(&header);
                out.extend((0..length).map(|i| (i as u8).wrapping_mul(31) ^ fill));
            }
            Self::Request {
                called,
                calling,
                patches,
                extra,
            } => {
                let mut trailer = encode_name(&called.build());
                trailer.extend(encode_name(&calling.build()));
                trailer.extend_from_slice(extra);
                let mut frame = control(FrameType::SessionRequest, &trailer);
                let len = frame.len();
                for &(at, byte) in patches {
                    frame[usize::from(at) % len] = byte;
                }
                out.extend(frame);
            }
            Self::Positive { trailer } => {
                let length = usize::from(*trailer % 600);
                out.extend(control(FrameType::PositiveResponse, &vec![0x41; length]));
            }
            Self::Negative(code) => out.extend(control(FrameType::NegativeResponse, &[*code])),
            Self::Retarget(addr, port) => {
                let mut trailer = addr.to_vec();
                trailer.extend_from_slice(&port.to_be_bytes());
                out.extend(control(FrameType::RetargetResponse, &trailer));
            }
            Self::KeepAlive => out.extend(control(FrameType::KeepAlive, &[])),
        }
    }
}

/// One step: bytes from the peer (cut into chunks at `cuts`) or a command.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    Feed {
        segments: Vec<Segment>,
        cuts: Vec<u16>,
    },
    Start,
    Accept,
    Reject(u8),
    Retarget([u8; 4], u16),
    Request(NameSpec, NameSpec),
    MessageHeader {
        length: u32,
        beyond_u32: bool,
    },
    SendMessage(u16),
    SendKeepAlive,
    Advance(u16),
    Jump(u64),
    HandleTimeout,
    EndOfInput,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum RoleSpec {
    Caller,
    Called,
    Direct,
}

/// Where the session is before `ops` run: fresh, or brought by a valid
/// handshake to the point where the request awaits its answer, or established.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prologue {
    Fresh,
    AwaitingAnswer,
    Established,
}

#[derive(Arbitrary, Clone, Debug)]
pub struct ConnectionInput {
    pub role: RoleSpec,
    pub prologue: Prologue,
    pub legacy: bool,
    /// 0: the role's default; otherwise picks a limit (see `max_message_length`).
    pub max: u32,
    pub request_timeout: Option<u16>,
    pub idle_timeout: Option<u16>,
    pub keep_alive: Option<u16>,
    pub ops: Vec<Op>,
}

impl ConnectionInput {
    fn role(&self) -> Role {
        match self.role {
            RoleSpec::Caller => Role::Caller,
            RoleSpec::Called => Role::Called,
            RoleSpec::Direct => Role::Direct,
        }
    }

    /// The prologue's operations, then the input's own.
    fn all_ops(&self) -> Vec<Op> {
        let name = |text: &[u8], suffix| NameSpec {
            name: text.to_vec(),
            suffix,
            scope: Vec::new(),
        };
        let mut ops = Vec::new();
        if self.prologue != Prologue::Fresh {
            match self.role {
                RoleSpec::Called => {
                    ops.push(Op::Start);
                    ops.push(Op::Feed {
                        segments: vec![Segment::Request {
                            called: name(b"DST", 0x20),
                            calling: name(b"SRC", 0),
                            patches: Vec::new(),
                            extra: Vec::new(),
                        }],
                        cuts: Vec::new(),
                    });
                    if self.prologue == Prologue::Established {
                        ops.push(Op::Accept);
                    }
                }
                RoleSpec::Caller => {
                    ops.push(Op::Request(name(b"DST", 0x20), name(b"SRC", 0)));
                    if self.prologue == Prologue::Established {
                        ops.push(Op::Feed {
                            segments: vec![Segment::Positive { trailer: 0 }],
                            cuts: Vec::new(),
                        });
                    }
                }
                RoleSpec::Direct => ops.push(Op::Start),
            }
        }
        ops.extend(self.ops.iter().cloned());
        ops
    }

    fn config(&self) -> Config {
        let role = self.role();
        let mut config = Config::for_role(role);
        config.legacy_length_bit = self.legacy;
        config.max_message_length = match self.max % 8 {
            0 => config.max_message_length,
            1 => 0,
            2 => 1000,
            3 => MAX_NETBIOS_LENGTH,
            4 => MAX_NETBIOS_LENGTH + 1,
            5 => MAX_WIDE_LENGTH,
            // Also past the 24-bit limit, which Connection::new must refuse.
            _ => self.max >> 7,
        };
        config.timers = Timers {
            request_timeout: self.request_timeout.map(Millis::from),
            idle_timeout: self.idle_timeout.map(Millis::from),
            keep_alive: self.keep_alive.map(Millis::from),
        };
        config
    }
}

// ---------------------------------------------------------------------------
// The reference: PROTOCOL.md's frame rules, written independently of the core

/// The length encoding PROTOCOL.md and the README give established SESSION
/// MESSAGE frames for this configuration.
pub fn message_encoding(role: Role, config: &Config) -> LengthEncoding {
    if role == Role::Direct || config.max_message_length > MAX_NETBIOS_LENGTH {
        LengthEncoding::Wide
    } else if config.legacy_length_bit {
        LengthEncoding::LegacyExtension
    } else {
        LengthEncoding::Extension
    }
}

/// What a complete header means in `phase`: its TYPE and trailer length, or
/// the name of the `ProtocolError` variant it must produce.
pub fn reference_header(
    phase: Phase,
    encoding: LengthEncoding,
    max: u32,
    h: [u8; HEADER_LEN],
) -> Result<(u8, u32), &'static str> {
    let (frame_type, flags) = (h[0], h[1]);
    if ![0x00, 0x81, 0x82, 0x83, 0x84, 0x85].contains(&frame_type) {
        return Err("UnknownType");
    }
    let low = u32::from(u16::from_be_bytes([h[2], h[3]]));
    let length = match (frame_type, encoding) {
        (0x00, LengthEncoding::Wide) => u32::from(flags) << 16 | low,
        (0x00, LengthEncoding::LegacyExtension) if flags & 0x7F == 0 => {
            u32::from(flags >> 7) << 16 | low
        }
        (0x00, LengthEncoding::LegacyExtension) => return Err("ReservedFlags"),
        _ if flags & 0xFE == 0 => u32::from(flags) << 16 | low,
        _ => return Err("ReservedFlags"),
    };
    let allowed: &[u8] = match phase {
        Phase::AwaitingRequest => &[0x81],
        Phase::AwaitingResponse => &[0x82, 0x83, 0x84, 0x85],
        Phase::Established => &[0x00, 0x85],
        _ => &[],
    };
    if !allowed.contains(&frame_type) {
        return Err("UnexpectedFrame");
    }
    let ok = match frame_type {
        0x00 if length > max => return Err("MessageTooLong"),
        0x00 => true,
        0x81 => (68..=510).contains(&length),
        0x82 => length <= 510, // tolerated: impacket echoes the request's names
        0x83 if length != 1 => return Err("MalformedNegative"),
        0x83 => true,
        0x84 => length == 6,
        _ => length == 0,
    };
    if ok {
        Ok((frame_type, length))
    } else {
        Err("BadLength")
    }
}

pub fn variant(error: &ProtocolError) -> &'static str {
    match error {
        ProtocolError::UnknownType { .. } => "UnknownType",
        ProtocolError::ReservedFlags { .. } => "ReservedFlags",
        ProtocolError::UnexpectedFrame { .. } => "UnexpectedFrame",
        ProtocolError::BadLength { .. } => "BadLength",
        ProtocolError::MalformedNegative { .. } => "MalformedNegative",
        ProtocolError::MessageTooLong { .. } => "MessageTooLong",
        ProtocolError::BadRequestName { .. } => "BadRequestName",
        ProtocolError::RequestTrailingBytes { .. } => "RequestTrailingBytes",
        ProtocolError::TruncatedFrame { .. } => "TruncatedFrame",
    }
}

/// RFC 1001 section 14 / RFC 1002 section 4.1, decoded the plain way: the
/// 0x20 label of 32 letters 'A'..'P', scope labels of 1 to 63 bytes without
/// dots, a zero terminator, at most 255 bytes in all. Returns
/// (name without padding, suffix, scope joined by dots, bytes used).
pub fn reference_name(buf: &[u8]) -> Option<(Vec<u8>, u8, Vec<u8>, usize)> {
    if buf.len() < 34 || buf[0] != 32 {
        return None;
    }
    let mut raw = Vec::with_capacity(16);
    for pair in buf[1..33].chunks(2) {
        let [hi, lo] = [pair[0], pair[1]];
        if !(b'A'..=b'P').contains(&hi) || !(b'A'..=b'P').contains(&lo) {
            return None;
        }
        raw.push((hi - b'A') << 4 | (lo - b'A'));
    }
    let suffix = raw.pop().unwrap();
    while raw.last() == Some(&b' ') {
        raw.pop();
    }
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut at = 33;
    loop {
        let len = usize::from(*buf.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        let label = buf.get(at + 1..at + 1 + len)?;
        if label.contains(&b'.') {
            return None;
        }
        labels.push(label);
        at += 1 + len;
        if at >= 255 {
            return None;
        }
    }
    (at <= 255).then(|| (raw, suffix, labels.join(&b'.'), at))
}

/// A decoded name as plain parts: (name without padding, suffix, scope).
pub type NameParts = (Vec<u8>, u8, Vec<u8>);

/// Both names of a SESSION REQUEST trailer, by the reference, if it is valid.
pub fn reference_request(trailer: &[u8]) -> Option<[NameParts; 2]> {
    let (name, suffix, scope, used) = reference_name(trailer)?;
    let (name2, suffix2, scope2, used2) = reference_name(&trailer[used..])?;
    (used + used2 == trailer.len()).then_some([(name, suffix, scope), (name2, suffix2, scope2)])
}

fn parts(name: &NetbiosName) -> NameParts {
    (name.name().to_vec(), name.suffix(), name.scope().to_vec())
}

// ---------------------------------------------------------------------------
// Connection: driven by arbitrary bytes and commands

/// The README's deadline rules, kept beside the session to compare with.
#[derive(Debug, Default)]
struct TimerModel {
    timers: Timers,
    request_deadline: Option<Millis>,
    idle_deadline: Option<Millis>,
    keep_alive_due: Option<Millis>,
    sent_since_check: bool,
}

impl TimerModel {
    fn after(now: Millis, span: Option<Millis>) -> Option<Millis> {
        span.map(|span| now.saturating_add(span))
    }

    fn establish(&mut self, now: Millis) {
        self.request_deadline = None;
        self.idle_deadline = Self::after(now, self.timers.idle_timeout);
        self.keep_alive_due = Self::after(now, self.timers.keep_alive);
        self.sent_since_check = false;
    }

    fn poll(&self, phase: Phase) -> Option<Millis> {
        match phase {
            Phase::AwaitingRequest => self.request_deadline,
            Phase::Established => [self.idle_deadline, self.keep_alive_due]
                .into_iter()
                .flatten()
                .min(),
            _ => None,
        }
    }

    /// (the timeout reported, whether a keep-alive is queued, the phase after).
    fn handle(&mut self, phase: Phase, now: Millis) -> (Option<Timeout>, bool, Phase) {
        let passed = |deadline: Option<Millis>| deadline.is_some_and(|d| d <= now);
        match phase {
            Phase::AwaitingRequest if passed(self.request_deadline) => (
                Some(Timeout::Request(self.timers.request_timeout.unwrap())),
                false,
                Phase::Failed,
            ),
            Phase::Established if passed(self.idle_deadline) => (
                Some(Timeout::Idle(self.timers.idle_timeout.unwrap())),
                false,
                Phase::Failed,
            ),
            Phase::Established if passed(self.keep_alive_due) => {
                let queue = !std::mem::take(&mut self.sent_since_check);
                self.keep_alive_due = Self::after(now, self.timers.keep_alive);
                (None, queue, phase)
            }
            _ => (None, false, phase),
        }
    }
}

/// An event with owned data, for comparing the two decoding APIs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owned {
    Request(NetbiosName, NetbiosName),
    Positive,
    Negative(u8),
    Retarget(Ipv4Addr, u16),
    KeepAlive,
    Message(Vec<u8>),
    Error(ProtocolError),
}

impl From<Received> for Owned {
    fn from(received: Received) -> Self {
        match received {
            Received::Request { called, calling } => Self::Request(called, calling),
            Received::Positive => Self::Positive,
            Received::Negative { code } => Self::Negative(code),
            Received::Retarget { addr, port } => Self::Retarget(addr, port),
            Received::KeepAlive => Self::KeepAlive,
            Received::Message(bytes) => Self::Message(bytes.to_vec()),
            Received::Error(error) => Self::Error(error),
        }
    }
}

/// The conversation as received so far, for the round trip and the reference.
#[derive(Debug, Default)]
struct Transcript {
    /// Every byte fed.
    fed: Vec<u8>,
    /// End of the last complete frame (an event, or a message's last piece).
    consumed: usize,
    /// Pieces of the message in progress.
    message: Option<Vec<u8>>,
    /// The phase when the current frame's header completed.
    header_phase: Option<Phase>,
}

impl Transcript {
    fn header(&self) -> [u8; HEADER_LEN] {
        self.fed[self.consumed..self.consumed + HEADER_LEN]
            .try_into()
            .unwrap()
    }
}

struct Driver {
    role: Role,
    config: Config,
    encoding: LengthEncoding,
    /// Decodes with `next_event`, as the napi binding does.
    zero_copy: Connection,
    /// Decodes with `handle_input`/`poll_event`; must report the same.
    owned: Connection,
    now: Millis,
    timers: TimerModel,
    transcript: Transcript,
    /// Net heap each session holds, by the counting allocator.
    zero_copy_heap: isize,
    owned_heap: isize,
    /// Most events one `handle_input` call queued; longest message reassembled.
    most_events: usize,
    longest_assembled: usize,
    /// Bytes behind a SESSION REQUEST that awaits its answer: a driver reads
    /// them only once the request is answered.
    unread: Vec<u8>,
}

/// Runs `run` on `session` under the meter; adds what the session kept to
/// `heap` and returns the result and the call's peak.
fn on_session<R: Clone>(
    session: &mut Connection,
    heap: &mut isize,
    run: impl FnOnce(&mut Connection) -> R,
) -> (R, isize) {
    let metered = meter(|| run(session));
    let result = metered.result.clone();
    let (kept, peak) = metered.finish();
    *heap += kept;
    (result, peak)
}

impl Driver {
    fn new(role: Role, config: Config) -> Option<Self> {
        let metered = meter(|| Connection::new(role, config));
        let zero_copy = match metered.result {
            Ok(session) => session,
            Err(error) => {
                // Refused only for what the README says cannot go together.
                let max = config.max_message_length;
                assert!(
                    max > MAX_WIDE_LENGTH
                        || config.timers.keep_alive == Some(0)
                        || (config.legacy_length_bit
                            && (role == Role::Direct || max > MAX_NETBIOS_LENGTH)),
                    "{error} for {role:?} {config:?}"
                );
                return None;
            }
        };
        let owned = Connection::new(role, config).unwrap();
        assert!(metered.grew <= RETAIN_LIMIT);
        let mut timers = TimerModel {
            timers: config.timers,
            ..TimerModel::default()
        };
        if role == Role::Direct {
            // Established from the start; clocks run from start().
            timers.establish(0);
            timers.idle_deadline = None;
            timers.keep_alive_due = None;
        }
        Some(Self {
            role,
            encoding: message_encoding(role, &config),
            config,
            zero_copy,
            owned,
            now: 0,
            timers,
            transcript: Transcript::default(),
            zero_copy_heap: metered.grew,
            owned_heap: metered.grew,
            most_events: 0,
            longest_assembled: 0,
            unread: Vec::new(),
        })
    }

    fn phase(&self) -> Phase {
        let phase = self.zero_copy.phase();
        assert_eq!(self.owned.phase(), phase, "both APIs in the same phase");
        phase
    }

    /// Runs a command on both sessions: the same result from each.
    fn both<R: Clone + PartialEq + std::fmt::Debug>(
        &mut self,
        run: impl Fn(&mut Connection) -> R,
    ) -> R {
        let (result, peak) = on_session(&mut self.zero_copy, &mut self.zero_copy_heap, &run);
        assert!(peak <= CALL_PEAK_LIMIT, "a command took {peak} heap bytes");
        let (other, _) = on_session(&mut self.owned, &mut self.owned_heap, &run);
        assert_eq!(result, other, "both APIs answer a command alike");
        result
    }

    /// What both sessions queued for sending (the same bytes).
    fn transmit(&mut self) -> Vec<u8> {
        self.both(|s| s.poll_transmit().map(|b| b.to_vec()))
            .unwrap_or_default()
    }

    fn check_heap(&self) {
        assert!(
            self.zero_copy_heap <= RETAIN_LIMIT,
            "a next_event session keeps {} heap bytes (limit {RETAIN_LIMIT}) after {} bytes in",
            self.zero_copy_heap,
            self.transcript.fed.len()
        );
        // The owned API holds the message in progress and keeps its buffer's
        // room for the next one (a `BytesMut` that grows may double its
        // previous capacity: up to 4 times the longest message), and its
        // event queue, which keeps its largest capacity. Allocating on a
        // declared length (up to 16 MiB) would still be far past this.
        let partial = self.transcript.message.as_ref().map_or(0, Vec::len);
        let room = 4 * partial.max(self.longest_assembled);
        let queue = self.most_events.next_power_of_two() * std::mem::size_of::<Received>();
        let owned_limit = RETAIN_LIMIT + (room + queue) as isize;
        assert!(
            self.owned_heap <= owned_limit,
            "a handle_input session keeps {} heap bytes (limit {owned_limit}: message in progress {partial}, \
             longest reassembled {}, most events per call {})",
            self.owned_heap,
            self.longest_assembled,
            self.most_events
        );
    }

    fn run(&mut self, op: &Op) {
        let phase = self.phase();
        let now = self.now;
        match op {
            Op::Feed { segments, cuts } => {
                let mut bytes = Vec::new();
                for segment in segments {
                    if self.transcript.fed.len() + bytes.len() > MAX_FEED {
                        break;
                    }
                    segment.bytes(&mut bytes);
                }
                let mut cuts: Vec<usize> = cuts
                    .iter()
                    .map(|&c| usize::from(c) % (bytes.len() + 1))
                    .collect();
                cuts.sort_unstable();
                let mut start = 0;
                for cut in cuts.into_iter().chain([bytes.len()]) {
                    self.feed(&bytes[start..cut]);
                    start = cut;
                }
            }
            Op::Start => {
                self.both(|s| s.start(now));
                match phase {
                    Phase::AwaitingRequest => {
                        self.timers.request_deadline =
                            TimerModel::after(now, self.timers.timers.request_timeout)
                    }
                    Phase::Established => self.timers.establish(now),
                    _ => {}
                }
            }
            Op::Accept => {
                let result = self.both(|s| s.accept(now));
                self.answered(phase, result.is_ok(), &[0x82, 0, 0, 0], Phase::Established);
                if result.is_ok() {
                    self.timers.establish(now);
                    if !self.unread.is_empty() {
                        // What the caller pipelined behind its request.
                        self.feed(&[]);
                    }
                }
            }
            Op::Reject(code) => {
                let ok = self.both(|s| s.reject(*code)).is_ok();
                self.answered(phase, ok, &[0x83, 0, 0, 1, *code], Phase::Closed);
            }
            Op::Retarget(addr, port) => {
                let addr = Ipv4Addr::from(*addr);
                let ok = self.both(|s| s.retarget(addr, *port)).is_ok();
                let mut frame = vec![0x84, 0, 0, 6];
                frame.extend_from_slice(&addr.octets());
                frame.extend_from_slice(&port.to_be_bytes());
                self.answered(phase, ok, &frame, Phase::Closed);
            }
            Op::Request(called, calling) => self.request(phase, &called.build(), &calling.build()),
            Op::MessageHeader { length, beyond_u32 } => {
                let length = *length as usize + if *beyond_u32 { 1 << 32 } else { 0 };
                let result = self.both(|s| s.message_header(length));
                let fits = phase == Phase::Established
                    && length <= self.config.max_message_length as usize;
                assert_eq!(
                    result.is_ok(),
                    fits,
                    "message_header({length}) in {phase:?}: {result:?}"
                );
                if let Ok(header) = result {
                    let decoded = Header::decode(header, self.encoding).unwrap();
                    assert_eq!(decoded.frame_type, FrameType::SessionMessage);
                    assert_eq!(decoded.length as usize, length);
                    self.timers.sent_since_check = true;
                }
                assert_eq!(self.transmit(), [], "message_header queues nothing");
            }
            Op::SendMessage(length) => {
                let payload = vec![0x5a; usize::from(*length) % 513];
                let ok = self.both(|s| s.send_message(&payload)).is_ok();
                let fits = phase == Phase::Established
                    && payload.len() <= self.config.max_message_length as usize;
                assert_eq!(ok, fits);
                let sent = self.transmit();
                if ok {
                    let header = Header::encode(
                        FrameType::SessionMessage,
                        payload.len() as u32,
                        self.encoding,
                    );
                    assert_eq!(sent[..HEADER_LEN], header.unwrap());
                    assert_eq!(sent[HEADER_LEN..], payload);
                    self.timers.sent_since_check = true;
                } else {
                    assert_eq!(sent, []);
                }
            }
            Op::SendKeepAlive => {
                let ok = self.both(|s| s.send_keep_alive()).is_ok();
                assert_eq!(ok, phase == Phase::Established);
                let expected: &[u8] = if ok { &[0x85, 0, 0, 0] } else { &[] };
                assert_eq!(self.transmit(), expected);
            }
            Op::Advance(ms) => self.now = self.now.saturating_add(Millis::from(*ms)),
            Op::Jump(ms) => self.now = self.now.saturating_add(*ms),
            Op::HandleTimeout => {
                let (timeout, keep_alive, after) = self.timers.handle(phase, now);
                stats::count(|| match (timeout, keep_alive) {
                    (Some(Timeout::Request(_)), _) => "timeout: request",
                    (Some(Timeout::Idle(_)), _) => "timeout: idle",
                    (None, true) => "timeout: keep-alive sent",
                    (None, false) => "timeout: nothing due",
                });
                assert_eq!(
                    self.both(|s| s.handle_timeout(now)),
                    timeout,
                    "handle_timeout({now}) in {phase:?}"
                );
                let expected: &[u8] = if keep_alive { &[0x85, 0, 0, 0] } else { &[] };
                assert_eq!(self.transmit(), expected, "keep-alive at {now}");
                assert_eq!(self.phase(), after);
                if after == Phase::Failed {
                    self.transcript.message = None;
                }
            }
            Op::EndOfInput => self.end_of_input(phase),
        }
        let phase = self.phase();
        assert_eq!(
            self.both(|s| s.poll_timeout()),
            self.timers.poll(phase),
            "poll_timeout in {phase:?} at {}",
            self.now
        );
        self.check_heap();
    }

    /// After accept/reject/retarget: allowed only while a request awaits its
    /// answer; then exactly `frame` is queued and the phase is `after`.
    fn answered(&mut self, phase: Phase, ok: bool, frame: &[u8], after: Phase) {
        assert_eq!(ok, phase == Phase::AwaitingDecision, "answer in {phase:?}");
        let sent = self.transmit();
        if ok {
            assert_eq!(sent, frame);
            assert_eq!(self.phase(), after);
        } else {
            assert_eq!(sent, [], "a refused command queues nothing");
            assert_eq!(self.phase(), phase);
        }
    }

    fn request(&mut self, phase: Phase, called: &NetbiosName, calling: &NetbiosName) {
        let ok = self.both(|s| s.request(called, calling)).is_ok();
        assert_eq!(ok, phase == Phase::Idle);
        let sent = self.transmit();
        if !ok {
            assert_eq!(sent, []);
            return;
        }
        assert_eq!(self.phase(), Phase::AwaitingResponse);
        let mut trailer = encode_name(called);
        trailer.extend(encode_name(calling));
        assert_eq!(
            sent,
            control(FrameType::SessionRequest, &trailer),
            "request: called name first"
        );
        // What we send, a called node reads back as the same names.
        let mut peer = Connection::new(Role::Called, Config::for_role(Role::Called)).unwrap();
        let mut pos = 0;
        assert_eq!(
            peer.next_event(0, &sent, &mut pos),
            Some(Event::Request {
                called: called.clone(),
                calling: calling.clone()
            })
        );
    }

    fn end_of_input(&mut self, phase: Phase) {
        let t = &self.transcript;
        let pending = t.fed.len() - t.consumed;
        let expected = if phase == Phase::Failed || pending == 0 {
            Ok(())
        } else {
            let expected = if pending < HEADER_LEN {
                HEADER_LEN as u32
            } else {
                let header_phase = t.header_phase.expect("a complete header was seen");
                let (_, length) = reference_header(
                    header_phase,
                    self.encoding,
                    self.config.max_message_length,
                    t.header(),
                )
                .expect("an accepted header");
                HEADER_LEN as u32 + length
            };
            Err(ProtocolError::TruncatedFrame {
                received: pending as u32,
                expected,
            })
        };
        let result = self.both(|s| s.end_of_input());
        assert_eq!(result, expected, "end of input in {phase:?}");
        stats::count(|| {
            if result.is_ok() {
                "end of input: clean"
            } else {
                "end of input: truncated"
            }
        });
        if result.is_err() {
            assert_eq!(self.phase(), Phase::Failed);
            self.transcript.message = None;
        } else {
            assert_eq!(self.phase(), phase);
        }
    }

    /// Feeds one chunk to both sessions and checks every event.
    fn feed(&mut self, chunk: &[u8]) {
        if self.zero_copy.phase() == Phase::AwaitingDecision {
            // A driver stops reading while the request awaits its answer.
            self.unread.extend_from_slice(chunk);
            return;
        }
        let mut held = std::mem::take(&mut self.unread);
        let chunk: &[u8] = if held.is_empty() {
            chunk
        } else {
            held.extend_from_slice(chunk);
            &held
        };
        let base = self.transcript.fed.len();
        self.transcript.fed.extend_from_slice(chunk);
        let now = self.now;
        let mut zero_copy_events = Vec::new();
        let mut pos = 0;
        for calls in 0.. {
            assert!(
                calls <= chunk.len() + 1,
                "next_event keeps returning events without moving"
            );
            // The owned session reads this chunk after the loop.
            let phase = self.zero_copy.phase();
            let before = pos;
            let (event, peak) = on_session(&mut self.zero_copy, &mut self.zero_copy_heap, |s| {
                s.next_event(now, chunk, &mut pos)
            });
            assert!(
                peak <= CALL_PEAK_LIMIT,
                "next_event took {peak} heap bytes for {} bytes of input",
                pos - before
            );
            assert!(
                before <= pos && pos <= chunk.len(),
                "pos {before} -> {pos} of {}",
                chunk.len()
            );
            let t = &mut self.transcript;
            if t.message.is_none()
                && t.header_phase.is_none()
                && base + pos >= t.consumed + HEADER_LEN
            {
                t.header_phase = Some(phase);
            }
            let Some(event) = event else {
                if pos < chunk.len() {
                    assert_eq!(
                        self.zero_copy.phase(),
                        Phase::AwaitingDecision,
                        "None before the chunk is used up only while a request awaits its answer"
                    );
                    self.unread = chunk[pos..].to_vec();
                    self.transcript.fed.truncate(base + pos);
                }
                break;
            };
            assert_ne!(
                phase,
                Phase::Failed,
                "{event:?} decoded after the session failed"
            );
            stats::count(|| match &event {
                Event::Error(error) => format!("error {}", variant(error)),
                Event::Message { last: false, .. } => "message piece".into(),
                Event::Message { first: true, .. } => "message (one chunk)".into(),
                Event::Message { .. } => "message (reassembled)".into(),
                other => format!("{other:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_lowercase(),
            });
            assert!(pos > before, "an event without consuming input: {event:?}");
            if let Some(owned) = self.event(event, phase, chunk, base, before, pos) {
                zero_copy_events.push(owned);
            }
        }
        // The owned API gets what a driver read: up to where next_event stopped.
        let read = &chunk[..pos];
        let (owned_events, _) = on_session(&mut self.owned, &mut self.owned_heap, |s| {
            s.handle_input(now, read);
            std::iter::from_fn(|| s.poll_event().map(Owned::from)).collect::<Vec<_>>()
        });
        self.most_events = self.most_events.max(owned_events.len());
        assert_eq!(
            owned_events, zero_copy_events,
            "handle_input reports what next_event does"
        );
        self.check_heap();
    }

    /// Checks one `next_event` event against the reference, the phase rules
    /// and the round trip; returns it as the owned API would report it.
    fn event(
        &mut self,
        event: Event,
        phase: Phase,
        chunk: &[u8],
        base: usize,
        before: usize,
        pos: usize,
    ) -> Option<Owned> {
        let after = self.zero_copy.phase();
        let max = self.config.max_message_length;
        let t = &mut self.transcript;
        if let Event::Message { range, first, last } = &event {
            assert_eq!(phase, Phase::Established);
            assert_eq!(after, Phase::Established);
            assert!(
                before <= range.start && range.end == pos,
                "{range:?} within {before}..{pos}"
            );
            if *first {
                assert!(t.message.is_none(), "first piece inside a message");
                t.message = Some(Vec::new());
            }
            let so_far = t
                .message
                .as_ref()
                .expect("a later piece without a first")
                .len();
            assert_eq!(
                base + range.start,
                t.consumed + HEADER_LEN + so_far,
                "pieces are contiguous"
            );
            t.message
                .as_mut()
                .unwrap()
                .extend_from_slice(&chunk[range.clone()]);
            if !last {
                assert_eq!(
                    range.end,
                    chunk.len(),
                    "a message is split only at the chunk's end"
                );
                return None;
            }
            let payload = t.message.take().unwrap();
            let header_phase = t.header_phase.unwrap();
            let (frame_type, length) =
                reference_header(header_phase, self.encoding, max, t.header())
                    .unwrap_or_else(|e| panic!("message delivered for a header that is {e}"));
            assert_eq!((frame_type, length as usize), (0x00, payload.len()));
            let mut again = Header::encode(FrameType::SessionMessage, length, self.encoding)
                .unwrap()
                .to_vec();
            again.extend_from_slice(&payload);
            self.round_trip(&again, base + pos);
            self.longest_assembled = self.longest_assembled.max(payload.len());
            self.timers.idle_deadline =
                TimerModel::after(self.now, self.timers.timers.idle_timeout);
            return Some(Owned::Message(payload));
        }

        if let Event::Error(error) = &event {
            assert_eq!(after, Phase::Failed, "{error}");
            // Every error from next_event is about a complete header or trailer,
            // reported as soon as it is complete.
            let header_phase = t.header_phase.expect("error before a complete header");
            let header = t.header();
            match reference_header(header_phase, self.encoding, max, header) {
                Err(expected) => {
                    assert_eq!(variant(error), expected, "{error}");
                    assert_eq!(
                        base + pos,
                        t.consumed + HEADER_LEN,
                        "reported at its header"
                    );
                }
                Ok((0x81, length)) => {
                    assert_eq!(base + pos, t.consumed + HEADER_LEN + length as usize);
                    let start = t.consumed + HEADER_LEN;
                    let trailer = &t.fed[start..start + length as usize];
                    assert!(matches!(
                        error,
                        ProtocolError::BadRequestName { .. }
                            | ProtocolError::RequestTrailingBytes { .. }
                    ));
                    assert!(
                        reference_request(trailer).is_none(),
                        "{error} for a valid request"
                    );
                }
                Ok(_) => panic!("{error} for a frame PROTOCOL.md allows in {header_phase:?}"),
            }
            match *error {
                ProtocolError::UnknownType { byte, .. } => assert_eq!(byte, header[0]),
                ProtocolError::ReservedFlags {
                    flags, reserved, ..
                } => {
                    assert_eq!(flags, header[1]);
                    assert!(reserved != 0 && reserved & !flags == 0);
                }
                ProtocolError::MessageTooLong { length, max: limit } => {
                    assert!(length > limit);
                    assert_eq!(limit, max);
                }
                _ => {}
            }
            let _ = error.to_string();
            t.message = None;
            t.header_phase = None;
            return Some(Owned::Error(error.clone()));
        }

        // A control frame: allowed by the reference, with the phase change
        // PROTOCOL.md gives it, and encoded again to the same bytes.
        let header_phase = t
            .header_phase
            .expect("control event before a complete header");
        let (frame_type, length) = reference_header(header_phase, self.encoding, max, t.header())
            .unwrap_or_else(|e| panic!("{event:?} for a header that is {e}"));
        let end = base + pos;
        assert_eq!(
            end - t.consumed,
            HEADER_LEN + length as usize,
            "{event:?} used its whole frame"
        );
        let trailer = t.fed[t.consumed + HEADER_LEN..end].to_vec();
        let (owned, again, expected_type, expected_phase) = match event {
            Event::Request { called, calling } => {
                let names = reference_request(&trailer).expect("a request the reference rejects");
                assert_eq!(names, [parts(&called), parts(&calling)]);
                let mut names = encode_name(&called);
                names.extend(encode_name(&calling));
                let again = control(FrameType::SessionRequest, &names);
                self.timers.request_deadline = None;
                (
                    Owned::Request(called, calling),
                    again,
                    0x81,
                    Phase::AwaitingDecision,
                )
            }
            Event::Positive => {
                // The tolerated trailer is discarded: only its length is known.
                let mut again = control(FrameType::PositiveResponse, &[]);
                again[2..4].copy_from_slice(&(length as u16).to_be_bytes());
                again.extend_from_slice(&trailer);
                self.timers.establish(self.now);
                (Owned::Positive, again, 0x82, Phase::Established)
            }
            Event::Negative { code } => (
                Owned::Negative(code),
                control(FrameType::NegativeResponse, &[code]),
                0x83,
                Phase::Closed,
            ),
            Event::Retarget { addr, port } => {
                let mut bytes = addr.octets().to_vec();
                bytes.extend_from_slice(&port.to_be_bytes());
                let again = control(FrameType::RetargetResponse, &bytes);
                (Owned::Retarget(addr, port), again, 0x84, Phase::Closed)
            }
            Event::KeepAlive => (
                Owned::KeepAlive,
                control(FrameType::KeepAlive, &[]),
                0x85,
                phase,
            ),
            Event::Message { .. } | Event::Error(_) => unreachable!(),
        };
        assert_eq!(
            frame_type, expected_type,
            "{owned:?} from a frame of type {frame_type:#04x}"
        );
        assert_eq!(after, expected_phase, "{owned:?} in {phase:?}");
        if after == Phase::Established && !matches!(owned, Owned::Positive) {
            self.timers.idle_deadline =
                TimerModel::after(self.now, self.timers.timers.idle_timeout);
        }
        self.round_trip(&again, end);
        Some(owned)
    }

    /// The re-encoded frame is exactly the bytes it was decoded from.
    fn round_trip(&mut self, again: &[u8], end: usize) {
        let t = &mut self.transcript;
        assert_eq!(
            again,
            &t.fed[t.consumed..end],
            "decode -> encode gives the same bytes"
        );
        t.consumed = end;
        t.header_phase = None;
    }

    /// Drops both sessions: they free exactly the heap counted as theirs.
    fn finish(self) {
        for (session, heap) in [
            (self.zero_copy, self.zero_copy_heap),
            (self.owned, self.owned_heap),
        ] {
            let holding = alloc::live();
            drop(session);
            assert_eq!(
                holding - alloc::live(),
                heap,
                "a dropped session frees what it held"
            );
        }
    }
}

/// Runs one session input: commands and bytes in the order given.
pub fn run_connection(input: &ConnectionInput) {
    let Some(mut driver) = Driver::new(input.role(), input.config()) else {
        return;
    };
    for op in &input.all_ops() {
        driver.run(op);
    }
    let phase = driver.phase();
    stats::count(|| format!("final phase {phase:?}"));
    driver.finish();
}

/// Fuzz target `connection`: any role and options, any commands at any time,
/// any bytes cut anywhere.
pub fn check_connection(data: &[u8]) {
    let u = Unstructured::new(data);
    if let Ok(input) = ConnectionInput::arbitrary_take_rest(u) {
        run_connection(&input);
    }
}

// ---------------------------------------------------------------------------
// Frames

/// Fuzz target `frame`: the 4-byte header in every encoding, then a stream
/// of frames through an established session of each kind (NetBIOS, legacy
/// 0x80 bit, 24-bit NetBIOS, direct TCP), cut at arbitrary points.
pub fn check_frame(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((header, length, which)) = <([u8; HEADER_LEN], u32, u8)>::arbitrary(&mut u) else {
        return;
    };
    for encoding in [
        LengthEncoding::Extension,
        LengthEncoding::LegacyExtension,
        LengthEncoding::Wide,
    ] {
        check_header(header, encoding);
        let flags = header[1];
        let low = u16::from_be_bytes([header[2], header[3]]);
        if let Ok(decoded) = encoding.decode_length(flags, low) {
            assert!(decoded <= encoding.max_length());
            assert_eq!(encoding.encode_length(decoded), Some((flags, low)));
        }
        match encoding.encode_length(length) {
            Some((flags, low)) => assert_eq!(encoding.decode_length(flags, low), Ok(length)),
            None => assert!(length > encoding.max_length()),
        }
    }

    // A stream through an established session of one kind.
    let (role, legacy, max) = match which % 4 {
        0 => (RoleSpec::Called, false, 0),
        1 => (RoleSpec::Called, true, 0),
        2 => (RoleSpec::Called, false, 5), // 16 MiB - 1: 24-bit messages on port 139
        _ => (RoleSpec::Direct, false, 0),
    };
    let Ok((segments, cuts)) = <(Vec<Segment>, Vec<u16>)>::arbitrary(&mut u) else {
        return;
    };
    let mut segments = segments;
    segments.push(Segment::Raw(u.take_rest().to_vec()));
    let ops = vec![Op::Feed { segments, cuts }, Op::EndOfInput];
    run_connection(&ConnectionInput {
        role,
        prologue: Prologue::Established,
        legacy,
        max,
        request_timeout: None,
        idle_timeout: None,
        keep_alive: None,
        ops,
    });
}

/// One header against the reference: the same verdict, and a decoded header
/// encodes back to the same 4 bytes.
pub fn check_header(bytes: [u8; HEADER_LEN], encoding: LengthEncoding) {
    let decoded = Header::decode(bytes, encoding);
    // The reference in a phase that allows every type, with no length cap.
    let frame_type = FrameType::from_byte(bytes[0]);
    match (&decoded, frame_type) {
        (Ok(header), Some(frame_type)) => {
            assert_eq!(header.frame_type, frame_type);
            let used = if frame_type == FrameType::SessionMessage {
                encoding
            } else {
                LengthEncoding::Extension
            };
            assert!(header.length <= used.max_length());
            assert_eq!(Header::encode(frame_type, header.length, used), Some(bytes));
            let phase = if frame_type == FrameType::SessionMessage {
                Phase::Established
            } else {
                Phase::AwaitingResponse
            };
            if matches!(bytes[0], 0x00 | 0x82..=0x85) {
                let reference = reference_header(phase, encoding, u32::MAX, bytes);
                assert!(
                    !matches!(reference, Err("ReservedFlags" | "UnknownType")),
                    "{bytes:02x?}: {reference:?}"
                );
            }
        }
        (Err(_), None) => {}
        (Err(_), Some(_)) => {
            let phase = if bytes[0] == 0 {
                Phase::Established
            } else {
                Phase::AwaitingRequest
            };
            assert_eq!(
                reference_header(phase, encoding, u32::MAX, bytes).err(),
                Some("ReservedFlags"),
                "{bytes:02x?} refused"
            );
        }
        (Ok(header), None) => panic!("{bytes:02x?} decoded as {header:?}"),
    }
}

// ---------------------------------------------------------------------------
// Names

/// Fuzz target `name`: decoding any bytes (against the reference decoder,
/// with a bounded heap), the decode -> encode round trip, encode -> decode
/// for any name the constructor accepts, and whole request trailers.
pub fn check_name(data: &[u8]) {
    check_name_bytes(data);
    let mut u = Unstructured::new(data);
    // A valid encoding with bytes overwritten, cut short or extended: the
    // inputs that get deep into the decoder.
    if let Ok((spec, patches, cut, extra)) =
        <(NameSpec, Vec<(u8, u8)>, Option<u8>, Vec<u8>)>::arbitrary(&mut u)
    {
        let mut bytes = encode_name(&spec.build());
        for (at, byte) in patches {
            let len = bytes.len();
            bytes[usize::from(at) % len] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(usize::from(cut));
        }
        bytes.extend(extra);
        check_name_bytes(&bytes);
    }
    let mut u = Unstructured::new(data);
    if let Ok(spec) = NameSpec::arbitrary(&mut u) {
        let scope = spec.scope.join(&b'.');
        match NetbiosName::new(spec.name.clone(), spec.suffix, scope.clone()) {
            Ok(name) => {
                let bytes = encode_name(&name);
                assert_eq!(bytes.len(), name.encoded_len());
                assert!(bytes.len() <= 255);
                assert_eq!(NetbiosName::decode(&bytes), Ok((name.clone(), bytes.len())));
                let _ = name.to_string();
            }
            Err(_) => {
                let labels_ok = scope.is_empty()
                    || scope
                        .split(|&b| b == b'.')
                        .all(|label| !label.is_empty() && label.len() <= 63);
                let encoded = 35 + scope.len();
                assert!(
                    spec.name.len() > 15 || !labels_ok || encoded > 255,
                    "{spec:?} refused"
                );
            }
        }
    }
    // Two names as a SESSION REQUEST trailer, through a called node.
    if (68..=510).contains(&data.len()) {
        let mut frame = control(FrameType::SessionRequest, data);
        frame[2..4].copy_from_slice(&(data.len() as u16).to_be_bytes());
        let mut session = Connection::new(Role::Called, Config::for_role(Role::Called)).unwrap();
        let mut pos = 0;
        let event = session.next_event(0, &frame, &mut pos);
        match (reference_request(data), event) {
            (Some(names), Some(Event::Request { called, calling })) => {
                assert_eq!(names, [parts(&called), parts(&calling)]);
            }
            (None, Some(Event::Error(_))) => {}
            (reference, event) => panic!("reference {reference:?}, session {event:?}"),
        }
    }
}

fn check_name_bytes(data: &[u8]) {
    let metered = meter(|| NetbiosName::decode(data));
    assert!(
        metered.peak <= 1024,
        "decoding {} bytes took {} heap bytes",
        data.len(),
        metered.peak
    );
    let decoded = metered.result.clone();
    metered.finish();
    stats::count(|| match &decoded {
        Ok(_) => "name decoded".to_string(),
        Err(error) => format!(
            "name error {}",
            format!("{error:?}").split([' ', '(', '{']).next().unwrap()
        ),
    });
    match (decoded, reference_name(data)) {
        (Ok((name, used)), Some(reference)) => {
            assert_eq!(
                (parts(&name), used),
                ((reference.0, reference.1, reference.2), reference.3)
            );
            assert!((34..=255).contains(&used) && used <= data.len());
            assert_eq!(encode_name(&name), &data[..used], "decode -> encode");
            assert_eq!(name.encoded_len(), used);
            assert_eq!(
                NetbiosName::new(name.name().to_vec(), name.suffix(), name.scope().to_vec()),
                Ok(name)
            );
        }
        (Err(error), None) => {
            use netbios_session_core::NameError;
            match error {
                NameError::Truncated { needed, available } => {
                    assert_eq!(available, data.len());
                    assert!(needed > available);
                }
                NameError::FirstLabelLength(byte) => assert_eq!(byte, data[0]),
                NameError::CompressionPointer { offset } => assert!(data[offset] >= 0xC0),
                NameError::ReservedLabelType { offset, byte } => {
                    assert_eq!(data[offset], byte);
                    assert!((0x40..0xC0).contains(&byte));
                }
                NameError::BadHalfByte { offset, byte } => {
                    assert_eq!(data[offset], byte);
                    assert!(!(b'A'..=b'P').contains(&byte));
                }
                NameError::DotInScopeLabel { offset } => assert!(offset < data.len()),
                NameError::EncodedTooLong => {}
                other => panic!("decode reported {other:?}, an encoding error"),
            }
            let _ = error.to_string();
        }
        (decoded, reference) => panic!("decode {decoded:?}, reference {reference:?}"),
    }
}

// ---------------------------------------------------------------------------
// The caller's plan across connections

#[derive(Arbitrary, Clone, Debug)]
pub enum PlanOp {
    Negative(u8),
    Retarget([u8; 4], u16),
    Advance(u16),
    HandleTimeout,
    Request,
}

#[derive(Arbitrary, Clone, Debug)]
pub struct PlanInput {
    pub called: NameSpec,
    pub fallbacks: Vec<NameSpec>,
    pub calling: NameSpec,
    pub max_retargets: u32,
    pub timeout: Option<u32>,
    pub start: u64,
    pub ops: Vec<PlanOp>,
}

/// Fuzz target `call_plan`: negative and retarget responses and timeouts in
/// any order; fallbacks in order, only after 0x80/0x82; at most
/// `max_retargets` hops; the deadline reported once.
pub fn check_call_plan(data: &[u8]) {
    let u = Unstructured::new(data);
    let Ok(input) = PlanInput::arbitrary_take_rest(u) else {
        return;
    };
    let mut names = vec![input.called.build()];
    names.extend(input.fallbacks.iter().map(NameSpec::build));
    let calling = input.calling.build();
    let timeout = input.timeout.map(Millis::from);
    let mut plan = CallPlan::new(
        names.clone(),
        calling.clone(),
        input.max_retargets,
        timeout,
        input.start,
    );
    let deadline = timeout.map(|t| input.start.saturating_add(t));
    let (mut current, mut hops, mut timed_out, mut now) = (0, 0, false, input.start);
    for op in &input.ops {
        match op {
            PlanOp::Negative(code) => {
                let next = plan.on_negative(*code);
                if [0x80, 0x82].contains(code) && current + 1 < names.len() {
                    current += 1;
                    assert_eq!(next, Next::Fallback(names[current].clone()));
                } else {
                    assert_eq!(next, Next::Fail(CallError::Rejected { code: *code }));
                }
            }
            PlanOp::Retarget(addr, port) => {
                let addr = Ipv4Addr::from(*addr);
                let next = plan.on_retarget(addr, *port);
                if hops < input.max_retargets {
                    hops += 1;
                    assert_eq!(next, Next::Retarget { addr, port: *port });
                } else {
                    let max = input.max_retargets;
                    assert_eq!(
                        next,
                        Next::Fail(CallError::RetargetLoop {
                            max,
                            addr,
                            port: *port
                        })
                    );
                }
            }
            PlanOp::Advance(ms) => now = now.saturating_add(Millis::from(*ms)),
            PlanOp::HandleTimeout => {
                let due = !timed_out && deadline.is_some_and(|d| d <= now);
                let expected = due.then(|| CallError::Timeout {
                    after: timeout.unwrap(),
                });
                assert_eq!(plan.handle_timeout(now), expected);
                timed_out |= due;
            }
            PlanOp::Request => {
                let mut session =
                    Connection::new(Role::Caller, Config::for_role(Role::Caller)).unwrap();
                plan.request(&mut session).unwrap();
                let mut trailer = encode_name(&names[current]);
                trailer.extend(encode_name(&calling));
                assert_eq!(
                    session.poll_transmit().unwrap(),
                    control(FrameType::SessionRequest, &trailer)
                );
            }
        }
        assert_eq!(plan.called(), &names[current]);
        assert_eq!(plan.retargets(), hops);
        assert_eq!(plan.poll_timeout(), if timed_out { None } else { deadline });
    }
}

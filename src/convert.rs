//! Values between JS and the core: names as Latin-1 text, durations and
//! clocks as doubles, states, event kinds and error kinds as numbers. The
//! numbers are listed once here and exported to JS by `constants()`.

use napi::{Error, Result, Status};
use netbios_session_core::{Config, ErrorKind, Millis, NetbiosName, State, Timers};

/// JS's numbers for the core's states, in this order (index = number).
pub const STATES: [(State, &str); 9] = [
    (State::Dialing, "DIALING"),
    (State::AwaitingResponse, "AWAITING_RESPONSE"),
    (State::AwaitingRequest, "AWAITING_REQUEST"),
    (State::AwaitingDecision, "AWAITING_DECISION"),
    (State::Established, "ESTABLISHED"),
    (State::Ending, "ENDING"),
    (State::Answered, "ANSWERED"),
    (State::Closed, "CLOSED"),
    (State::Failed, "FAILED"),
];

pub fn state_number(state: State) -> u32 {
    STATES
        .iter()
        .position(|(s, _)| *s == state)
        .expect("every state is listed") as u32
}

/// Event kinds in the events array `feed` fills; 0 is never used.
pub mod event {
    /// A message in one piece.
    pub const MESSAGE: u32 = 1;
    /// The first, a middle and the last piece of a message split across chunks.
    pub const MESSAGE_FIRST: u32 = 2;
    pub const MESSAGE_MORE: u32 = 3;
    pub const MESSAGE_LAST: u32 = 4;
    pub const KEEP_ALIVE: u32 = 5;
    /// A SESSION REQUEST: `takeNames` has its two names.
    pub const REQUEST: u32 = 6;
    pub const ESTABLISHED: u32 = 7;
    /// A fallback name is called next (`takeNames`); `takeDial` says where.
    pub const FALLBACK: u32 = 8;
    /// A retarget to a = IPv4 address, b = port; `takeDial` follows.
    pub const RETARGET: u32 = 9;
    /// The session failed: `takeError` says why.
    pub const FAILED: u32 = 10;

    use netbios_session_core::FrameType;

    /// The frame each event comes from.
    pub const FRAMES: [(u32, FrameType); 7] = [
        (MESSAGE, FrameType::SessionMessage),
        (MESSAGE_LAST, FrameType::SessionMessage),
        (KEEP_ALIVE, FrameType::KeepAlive),
        (REQUEST, FrameType::SessionRequest),
        (ESTABLISHED, FrameType::PositiveResponse),
        (FALLBACK, FrameType::NegativeResponse),
        (RETARGET, FrameType::RetargetResponse),
    ];

    pub const NAMES: [(&str, u32); 10] = [
        ("MESSAGE", MESSAGE),
        ("MESSAGE_FIRST", MESSAGE_FIRST),
        ("MESSAGE_MORE", MESSAGE_MORE),
        ("MESSAGE_LAST", MESSAGE_LAST),
        ("KEEP_ALIVE", KEEP_ALIVE),
        ("REQUEST", REQUEST),
        ("ESTABLISHED", ESTABLISHED),
        ("FALLBACK", FALLBACK),
        ("RETARGET", RETARGET),
        ("FAILED", FAILED),
    ];
}

/// Layout of the events array: `[offset reached, event count]`, then
/// `[kind, a, b]` per event.
pub const PREFIX: usize = 2;
pub const EVENT_WORDS: usize = 3;

/// JS's names for the error kinds, which lib/errors.js maps to codes.
pub fn error_kind(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Protocol => "protocol",
        ErrorKind::Rejected => "rejected",
        ErrorKind::RetargetLoop => "retarget-loop",
        ErrorKind::Timeout => "timeout",
    }
}

pub fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

/// Characters (code points) as Latin-1 bytes, one each: NetBIOS names are
/// bytes, and JS hands them over as text. `shown` renders the text for the
/// error if a character does not fit.
pub fn latin1(
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
pub fn to_name(name: &str, suffix: u32, scope: &str) -> Result<NetbiosName> {
    name_from_parts(
        latin1_bytes(name, "name")?,
        suffix,
        latin1_bytes(scope, "scope ID")?,
    )
}

/// A name from its bytes and a suffix that JS gave as a number.
pub fn name_from_parts(name: Vec<u8>, suffix: u32, scope: Vec<u8>) -> Result<NetbiosName> {
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
pub fn pack_names<'a>(names: impl IntoIterator<Item = &'a NetbiosName>) -> String {
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

/// JS clocks give fractional milliseconds; the core counts whole ones.
pub fn millis(value: f64) -> Millis {
    if value.is_finite() && value > 0.0 {
        value as Millis
    } else {
        0
    }
}

/// A duration option from JS, where 0 means off.
pub fn duration(value: f64) -> Option<Millis> {
    Some(millis(value)).filter(|&ms| ms > 0)
}

/// A deadline going to JS.
pub fn deadline(at: Millis) -> f64 {
    at as f64
}

/// A connection config from JS: durations in ms, 0 for off.
pub fn config(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_one_distinct_number_and_name() {
        for (number, (state, name)) in STATES.iter().enumerate() {
            assert_eq!(state_number(*state), number as u32, "{name}");
            assert_eq!(
                STATES.iter().filter(|(_, n)| n == name).count(),
                1,
                "{name}"
            );
        }
    }

    #[test]
    fn event_kinds_are_distinct_and_never_zero() {
        for (name, kind) in event::NAMES {
            assert_ne!(kind, 0, "{name}");
            assert_eq!(
                event::NAMES.iter().filter(|(_, k)| *k == kind).count(),
                1,
                "{name}"
            );
        }
        for (kind, frame) in event::FRAMES {
            assert!(event::NAMES.iter().any(|(_, k)| *k == kind), "{frame}");
        }
    }
}

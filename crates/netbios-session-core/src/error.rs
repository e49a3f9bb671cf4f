//! Errors: what the peer sent that breaks the protocol, what ends a session,
//! and commands a session cannot carry out in its current state.

use std::fmt;

use crate::call::CallError;
use crate::connection::{Millis, Phase, Timeout};
use crate::frame::FrameType;
use crate::name::NameError;
use crate::session::{Dial, State};

/// The peer broke the protocol. The session is finished: close the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// A TYPE byte that no NetBIOS session packet has.
    UnknownType { byte: u8, phase: Phase },
    /// FLAGS bits that must be zero were set.
    ReservedFlags {
        frame_type: FrameType,
        flags: u8,
        reserved: u8,
    },
    /// A valid packet type that is not allowed in the current phase.
    UnexpectedFrame { frame_type: FrameType, phase: Phase },
    /// A trailer length that the packet type does not allow.
    BadLength {
        frame_type: FrameType,
        length: u32,
        expected: &'static str,
    },
    /// A NEGATIVE SESSION RESPONSE whose trailer is not exactly one byte.
    MalformedNegative { length: u32 },
    /// A SESSION MESSAGE longer than the session accepts.
    MessageTooLong { length: u32, max: u32 },
    /// A SESSION REQUEST whose names do not decode.
    BadRequestName {
        which: &'static str,
        error: NameError,
    },
    /// A SESSION REQUEST with bytes after its two names.
    RequestTrailingBytes { extra: usize },
    /// The stream ended inside a frame.
    TruncatedFrame { received: u32, expected: u32 },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownType { byte, phase } => write!(
                f,
                "Received a frame of type {byte:#04x}, which is not a NetBIOS session packet type; expected {}",
                phase.expected()
            ),
            Self::ReservedFlags {
                frame_type,
                flags,
                reserved,
            } => {
                write!(
                    f,
                    "Received a {frame_type} with FLAGS {flags:#04x}: reserved bits {reserved:#04x} are set; \
                     expected only the length-extension bit"
                )?;
                if *frame_type == FrameType::SessionMessage && *reserved == 0x80 {
                    // netbios-session 0.1.6 put its length-extension bit there.
                    f.write_str(
                        " (0x01). 0x80 is the length-extension bit of netbios-session 0.1.6: \
                         to talk to such a peer, set legacyLengthBit",
                    )?;
                }
                Ok(())
            }
            Self::UnexpectedFrame { frame_type, phase } => write!(
                f,
                "Received a {frame_type} while {}; expected {}",
                phase.describe(),
                phase.expected()
            ),
            Self::BadLength {
                frame_type,
                length,
                expected,
            } => write!(f, "Received a {frame_type} with a {length}-byte trailer; expected {expected}"),
            // netbios-session 0.1.6's exact text; users match on it.
            Self::MalformedNegative { .. } => f.write_str("Malformed negative response.  Connection failed."),
            Self::MessageTooLong { length, max } => write!(
                f,
                "Received a SESSION MESSAGE of {length} bytes; expected at most {max} (maxMessageLength)"
            ),
            Self::BadRequestName { which, error } => {
                write!(f, "Received a SESSION REQUEST whose {which} name is invalid: {error}")
            }
            Self::RequestTrailingBytes { extra } => write!(
                f,
                "Received a SESSION REQUEST with {extra} bytes after its two names; expected exactly two encoded names"
            ),
            Self::TruncatedFrame { received, expected } => write!(
                f,
                "Connection ended inside a frame: {received} of {expected} bytes received"
            ),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A command the session cannot carry out. Nothing was queued for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The command is not valid in the connection's current phase.
    WrongPhase { command: &'static str, phase: Phase },
    /// The command is not valid in the session's current state.
    WrongState { command: &'static str, state: State },
    /// A message longer than the session's limit.
    MessageTooLong { length: usize, max: u32 },
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongPhase { command, phase } => {
                write!(f, "Cannot {command} while {}", phase.describe())
            }
            Self::WrongState { command, state } => {
                write!(f, "Cannot {command} while {}", state.describe())
            }
            // netbios-session 0.1.6's exact text.
            Self::MessageTooLong { length, max } => {
                write!(f, "Message length [{length}] exceeds maximum [{max}]")
            }
        }
    }
}

impl std::error::Error for CommandError {}

/// Why a session failed. The driver closes the connection and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// The peer broke the protocol.
    Protocol(ProtocolError),
    /// The peer ended its stream before the session was established (or,
    /// called node, before its request was answered).
    EndedEarly { state: State },
    /// The call failed: refused, retargeted too often, or out of time.
    Call(CallError),
    /// A called node's request or an established session's idle deadline passed.
    Timeout(Timeout),
    /// Direct mode: the TCP connection was not made in time.
    DialTimeout { to: Dial, after: Millis },
}

/// The kinds of [`SessionError`], one per error code a driver reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Protocol,
    Rejected,
    RetargetLoop,
    Timeout,
}

impl SessionError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Protocol(_) | Self::EndedEarly { .. } => ErrorKind::Protocol,
            Self::Call(CallError::Rejected { .. }) => ErrorKind::Rejected,
            Self::Call(CallError::RetargetLoop { .. }) => ErrorKind::RetargetLoop,
            Self::Call(CallError::Timeout { .. }) | Self::Timeout(_) | Self::DialTimeout { .. } => {
                ErrorKind::Timeout
            }
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(error) => error.fmt(f),
            Self::EndedEarly { state } => {
                let before = match state {
                    State::AwaitingRequest => "before a SESSION REQUEST arrived",
                    State::AwaitingDecision => "before the SESSION REQUEST was answered",
                    _ => "before the session response arrived",
                };
                write!(f, "Connection ended by the peer {before}")
            }
            Self::Call(error) => error.fmt(f),
            Self::Timeout(timeout) => timeout.fmt(f),
            Self::DialTimeout { to, after } => write!(
                f,
                "TCP connection to {to} did not complete within {after} ms (timeout)"
            ),
        }
    }
}

impl std::error::Error for SessionError {}

//! The one error type: what went wrong, as a kind a program can match (the
//! same kinds, and codes, as the JavaScript package's errors), with the
//! core's text saying what arrived and what was expected.

use std::fmt;
use std::io;
use std::net::SocketAddrV4;

use netbios_session_core::{
    CallError, CommandError, ConfigError, ErrorKind as CoreKind, NameError, SessionError,
};

/// What kind of failure an [`Error`] is. Each has the `code` the JavaScript
/// package gives the same failure ([`ErrorKind::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer broke the protocol, or ended its stream too early.
    Protocol,
    /// The peer refused the call (a NEGATIVE SESSION RESPONSE, no fallback left).
    Rejected,
    /// The peer retargeted more often than the call follows.
    RetargetLoop,
    /// A deadline passed: setup, dial, request or idle.
    Timeout,
    /// A message longer than the session's `max_message_length`.
    MessageTooLong,
    /// The session cannot send or answer now (not established, or ended).
    NotConnected,
    /// An option or a name that cannot be used.
    InvalidArgument,
    /// The stream failed (connect, read or write); see [`Error::io_error`].
    Io,
}

impl ErrorKind {
    /// The JavaScript package's `code` for this kind (`"ERR_NETBIOS_..."`);
    /// socket errors there keep their own code, here they are `"io"`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Protocol => "ERR_NETBIOS_PROTOCOL",
            Self::Rejected => "ERR_NETBIOS_REJECTED",
            Self::RetargetLoop => "ERR_NETBIOS_RETARGET_LOOP",
            Self::Timeout => "ERR_NETBIOS_TIMEOUT",
            Self::MessageTooLong => "ERR_NETBIOS_MESSAGE_TOO_LONG",
            Self::NotConnected => "ERR_NETBIOS_NOT_CONNECTED",
            Self::InvalidArgument => "ERR_INVALID_ARG_VALUE",
            Self::Io => "io",
        }
    }
}

#[derive(Debug)]
enum Repr {
    Session(SessionError),
    Command(CommandError),
    Config(ConfigError),
    Name(NameError),
    Io(io::Error),
    /// An I/O error while connecting to an address (which it names).
    Dial(String, io::Error),
    Closed(&'static str),
}

/// Why a session could not be set up, or failed, or refused a command.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    repr: Repr,
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The NEGATIVE SESSION RESPONSE code of a [`ErrorKind::Rejected`] call.
    pub fn response_code(&self) -> Option<u8> {
        match &self.repr {
            Repr::Session(SessionError::Call(CallError::Rejected { code })) => Some(*code),
            _ => None,
        }
    }

    /// The address of the retarget that was not followed ([`ErrorKind::RetargetLoop`]).
    pub fn retarget(&self) -> Option<SocketAddrV4> {
        match &self.repr {
            Repr::Session(SessionError::Call(CallError::RetargetLoop { addr, port, .. })) => {
                Some(SocketAddrV4::new(*addr, *port))
            }
            _ => None,
        }
    }

    /// The stream's error, for [`ErrorKind::Io`].
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.repr {
            Repr::Io(error) | Repr::Dial(_, error) => Some(error),
            _ => None,
        }
    }

    /// The session's failure as the core reported it, if it is one.
    pub fn session_error(&self) -> Option<&SessionError> {
        match &self.repr {
            Repr::Session(error) => Some(error),
            _ => None,
        }
    }

    pub(crate) fn dial(to: String, error: io::Error) -> Self {
        Self {
            kind: ErrorKind::Io,
            repr: Repr::Dial(to, error),
        }
    }

    /// A command on a session that can no longer carry it out.
    pub(crate) fn closed(why: &'static str) -> Self {
        Self {
            kind: ErrorKind::NotConnected,
            repr: Repr::Closed(why),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Session(error) => error.fmt(f),
            Repr::Command(error) => error.fmt(f),
            Repr::Config(error) => error.fmt(f),
            Repr::Name(error) => write!(f, "Invalid NetBIOS name: {error}"),
            Repr::Io(error) => error.fmt(f),
            Repr::Dial(to, error) => write!(f, "Cannot connect to {to}: {error}"),
            Repr::Closed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Session(error) => Some(error),
            Repr::Command(error) => Some(error),
            Repr::Config(error) => Some(error),
            Repr::Name(error) => Some(error),
            Repr::Io(error) | Repr::Dial(_, error) => Some(error),
            Repr::Closed(_) => None,
        }
    }
}

impl From<SessionError> for Error {
    fn from(error: SessionError) -> Self {
        let kind = match error.kind() {
            CoreKind::Protocol => ErrorKind::Protocol,
            CoreKind::Rejected => ErrorKind::Rejected,
            CoreKind::RetargetLoop => ErrorKind::RetargetLoop,
            CoreKind::Timeout => ErrorKind::Timeout,
        };
        Self {
            kind,
            repr: Repr::Session(error),
        }
    }
}

impl From<CommandError> for Error {
    fn from(error: CommandError) -> Self {
        let kind = match error {
            CommandError::MessageTooLong { .. } => ErrorKind::MessageTooLong,
            CommandError::WrongPhase { .. } | CommandError::WrongState { .. } => {
                ErrorKind::NotConnected
            }
        };
        Self {
            kind,
            repr: Repr::Command(error),
        }
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Self {
            kind: ErrorKind::InvalidArgument,
            repr: Repr::Config(error),
        }
    }
}

impl From<NameError> for Error {
    fn from(error: NameError) -> Self {
        Self {
            kind: ErrorKind::InvalidArgument,
            repr: Repr::Name(error),
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Self {
            kind: ErrorKind::Io,
            repr: Repr::Io(error),
        }
    }
}

/// Errors go back to `std::io` where a trait needs one (an `AsyncRead`
/// adapter, `Framed` used as a byte stream); the kind stays inside.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        match error.repr {
            Repr::Io(error) => error,
            _ => {
                let kind = match error.kind {
                    ErrorKind::Timeout => io::ErrorKind::TimedOut,
                    ErrorKind::NotConnected => io::ErrorKind::NotConnected,
                    ErrorKind::Rejected => io::ErrorKind::ConnectionRefused,
                    _ => io::ErrorKind::InvalidData,
                };
                io::Error::new(kind, error)
            }
        }
    }
}

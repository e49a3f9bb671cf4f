//! A sans-IO implementation of the NetBIOS Session Service (RFC 1001/1002,
//! TCP port 139) and of SMB direct-TCP framing (MS-SMB2 section 2.1).
//!
//! Nothing here touches a socket, a timer or a thread, and nothing reads a
//! clock: a driver feeds received bytes to a [`Session`] and acts on the
//! [`Event`]s it returns, carries out its commands (dial, send these bytes)
//! and calls it back at the one deadline [`Session::poll_timeout`] names.
//!
//! - [`session`]: a whole session across connections: dialing, retargets,
//!   fallback names, what an end of stream means, every deadline.
//! - [`connection`]: one connection's frames for caller, called node and
//!   direct mode, with its request, idle and keep-alive timers.
//! - [`call`]: the caller's plan: which name next, how many retargets, the
//!   setup deadline.
//! - [`frame`]: the 4-byte header and its three length encodings.
//! - [`name`]: NetBIOS names and their encoding in a SESSION REQUEST.
//! - [`error`]: what the peer did wrong, why a session failed, and commands
//!   that cannot be carried out.

pub mod call;
pub mod connection;
pub mod error;
pub mod frame;
pub mod name;
pub mod session;

pub use call::{rejection_reason, CallError, CallPlan, Next, DEFAULT_MAX_RETARGETS};
pub use connection::{
    negative_reason, Config, ConfigError, Connection, Event as ConnectionEvent, Millis, Phase,
    Received as ConnectionReceived, Role, Timeout, Timers, MAX_CONTROL_FRAME,
};
pub use error::{CommandError, ErrorKind, ProtocolError, SessionError};
pub use frame::{
    FrameType, Header, LengthEncoding, HEADER_LEN, MAX_NETBIOS_LENGTH, MAX_WIDE_LENGTH,
    RETARGET_TRAILER_LEN,
};
pub use name::{NameError, NetbiosName};
pub use session::{
    reject_code, reject_code_from_number, Dial, Event, Host, Received, Session, Start, State,
    CLOSE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SETUP_TIMEOUT, NETBIOS_SESSION_PORT,
    NOT_LISTENING_ON_CALLED_NAME, UNSPECIFIED_ERROR,
};

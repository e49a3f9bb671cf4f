//! A sans-IO implementation of the NetBIOS Session Service (RFC 1001/1002,
//! TCP port 139) and of SMB direct-TCP framing (MS-SMB2 section 2.1).
//!
//! Nothing here touches a socket, a timer or a thread: feed received bytes
//! to a [`Session`] and act on the [`Event`]s it returns; issue commands
//! (request, accept, send a message) and write the bytes it queues.
//!
//! - [`frame`]: the 4-byte header and its three length encodings.
//! - [`name`]: NetBIOS names and their encoding in a SESSION REQUEST.
//! - [`session`]: the state machine for caller, called node and direct mode,
//!   with its deadlines and keep-alives (the core reads no clock: pass `now`).
//! - [`call`]: the caller's plan across connections: retargets, fallback
//!   names, one setup deadline.

pub mod call;
pub mod error;
pub mod frame;
pub mod name;
pub mod session;

pub use call::{CallError, CallPlan, Next, DEFAULT_MAX_RETARGETS};
pub use error::{CommandError, ProtocolError};
pub use frame::{
    FrameType, Header, LengthEncoding, HEADER_LEN, MAX_NETBIOS_LENGTH, MAX_WIDE_LENGTH,
    RETARGET_TRAILER_LEN,
};
pub use name::{NameError, NetbiosName};
pub use session::{
    negative_reason, Config, ConfigError, Event, Millis, Phase, Received, Role, Session, Timeout,
    Timers,
};

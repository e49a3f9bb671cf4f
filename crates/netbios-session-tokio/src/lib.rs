//! The NetBIOS Session Service (RFC 1001/1002, TCP port 139) and SMB
//! direct-TCP framing (port 445) for tokio, driving the sans-IO
//! [`netbios_session_core`]: every protocol decision and deadline is the
//! core's; this crate moves bytes, dials when told and sleeps until the
//! core's deadline.
//!
//! - [`Session`]: an established session over any `AsyncRead + AsyncWrite`,
//!   a [`Stream`](futures_core::Stream) of received messages and a
//!   [`Sink`](futures_sink::Sink) of messages to send. Made by
//!   [`Session::connect`] (a caller: retargets, fallback names and a setup
//!   deadline included), [`Session::accept`] (a called node: look at the
//!   request, then [`Incoming::accept`], [`reject`](Incoming::reject) or
//!   [`retarget`](Incoming::retarget)), or [`Session::direct`].
//! - [`NetbiosCodec`]: the framing alone, as a tokio-util codec.
//! - [`Error`]: one error type; [`ErrorKind`] matches the JavaScript
//!   package's error codes.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use netbios_session_tokio::{Options, Session};
//!
//! // An echo server for NetBIOS callers of ECHO<20>.
//! # async fn run() -> Result<(), netbios_session_tokio::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:139").await?;
//! loop {
//!     let (socket, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let incoming = Session::accept(socket, &Options::new()).await?;
//!         if incoming.called().name() != b"ECHO" {
//!             return incoming.reject(0x82).await;
//!         }
//!         let mut session = incoming.accept().await?;
//!         while let Some(message) = session.next().await.transpose()? {
//!             session.send(message).await?;
//!         }
//!         Ok::<(), netbios_session_tokio::Error>(())
//!     });
//! }
//! # }
//! ```
#![deny(missing_docs)]

mod accept;
mod clock;
mod codec;
mod connect;
mod error;
mod options;
mod output;
mod session;

pub use accept::Incoming;
pub use codec::NetbiosCodec;
pub use connect::dial_tcp;
pub use error::{Error, ErrorKind};
pub use netbios_session_core::{Dial, Host, NetbiosName, SessionError, State};
pub use options::{Call, Options};
pub use session::Session;

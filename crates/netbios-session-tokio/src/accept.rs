//! The called node's setup: read the caller's SESSION REQUEST within the
//! request deadline, let the program look at the names, then send the
//! answer it chooses. Also sessions that need no request (direct mode, a
//! handshake done elsewhere).

use std::net::SocketAddrV4;

use netbios_session_core::{self as core, NetbiosName, Received, Role, Start};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::clock::Clock;
use crate::{Error, Options, Session};

/// A SESSION REQUEST that awaits its answer: [`accept`](Self::accept),
/// [`reject`](Self::reject) or [`retarget`](Self::retarget) it.
/// Dropping it closes the connection without an answer.
#[derive(Debug)]
pub struct Incoming<S> {
    session: Session<S>,
    called: NetbiosName,
    calling: NetbiosName,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Called node: waits on `io` for the caller's SESSION REQUEST (at most
    /// `options`' request timeout) and returns it, unanswered.
    ///
    /// ```no_run
    /// use netbios_session_tokio::{Options, Session};
    ///
    /// # async fn run() -> Result<(), netbios_session_tokio::Error> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:139").await?;
    /// let (socket, _) = listener.accept().await?;
    /// let incoming = Session::accept(socket, &Options::new()).await?;
    /// if incoming.called().name() == b"FILESERVER" {
    ///     let session = incoming.accept().await?;
    /// } else {
    ///     incoming.reject(0x82).await?; // Called name not present
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn accept(io: S, options: &Options) -> Result<Incoming<S>, Error> {
        let clock = Clock::new();
        let core = core::Session::new(Start::Called, options.config(Role::Called), clock.now())?;
        let mut session = Session::from_parts(io, core, clock);
        loop {
            match std::future::poll_fn(|cx| session.poll_received(cx)).await? {
                Some(Received::Request { called, calling }) => {
                    return Ok(Incoming {
                        session,
                        called,
                        calling,
                    })
                }
                Some(Received::Failed(error)) => return Err(error.into()),
                Some(_) => continue,
                None => {
                    return Err(Error::closed(
                        "The connection closed before a SESSION REQUEST",
                    ))
                }
            }
        }
    }

    /// An SMB direct-TCP session on `io`, either end: established at once.
    pub fn direct(io: S, options: &Options) -> Result<Self, Error> {
        let clock = Clock::new();
        let core = core::Session::new(Start::Direct, options.config(Role::Direct), clock.now())?;
        Ok(Session::from_parts(io, core, clock))
    }

    /// A NetBIOS session on `io` whose request and response were exchanged
    /// elsewhere (by another stack): established at once, either end.
    pub fn established(io: S, options: &Options) -> Result<Self, Error> {
        let clock = Clock::new();
        let core = core::Session::new(
            Start::Established,
            options.config(Role::Called),
            clock.now(),
        )?;
        Ok(Session::from_parts(io, core, clock))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Incoming<S> {
    /// The name the caller asked for.
    pub fn called(&self) -> &NetbiosName {
        &self.called
    }

    /// The caller's own name.
    pub fn calling(&self) -> &NetbiosName {
        &self.calling
    }

    /// The underlying stream (for the peer's address, say).
    pub fn get_ref(&self) -> &S {
        self.session.get_ref()
    }

    /// Accepts: sends the POSITIVE SESSION RESPONSE and returns the
    /// established session. Messages the caller sent behind its request
    /// are read from it first.
    pub async fn accept(mut self) -> Result<Session<S>, Error> {
        let now = self.session.clock.now();
        self.session.core.accept(now)?;
        self.session.take_transmit();
        self.session.write_out().await?;
        Ok(self.session)
    }

    /// Refuses with `code` (RFC 1002: 0x80 not listening on called name,
    /// 0x81 not listening for calling name, 0x82 called name not present,
    /// 0x83 insufficient resources, 0x8F unspecified), then closes.
    pub async fn reject(self, code: u8) -> Result<(), Error> {
        self.answer(|core, now| core.reject(code, now)).await
    }

    /// Sends the caller to `to` instead (a SESSION RETARGET RESPONSE), then closes.
    pub async fn retarget(self, to: SocketAddrV4) -> Result<(), Error> {
        self.answer(|core, now| core.retarget(*to.ip(), to.port(), now))
            .await
    }

    async fn answer(
        mut self,
        command: impl FnOnce(&mut core::Session, core::Millis) -> Result<(), core::CommandError>,
    ) -> Result<(), Error> {
        let now = self.session.clock.now();
        command(&mut self.session.core, now)?;
        self.session.take_transmit();
        self.session.write_out().await?;
        tokio::io::AsyncWriteExt::shutdown(&mut self.session.io).await?;
        Ok(())
    }
}

//! The caller's setup: dial where the core says, send its request, follow
//! its decision on each answer (a retarget or fallback is a new dial), all
//! within the core's setup deadline. Direct mode dials once.

use std::future::Future;
use std::io;
use std::time::Duration;

use netbios_session_core::{self as core, Dial, Host, Received, Role, Start, State};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::clock::Clock;
use crate::options::millis;
use crate::{Call, Error, Options, Session};

impl Session<TcpStream> {
    /// Calls `host` (a name or an address) as `call` says, over TCP, and
    /// returns the established session.
    ///
    /// ```no_run
    /// use futures_util::{SinkExt, StreamExt};
    /// use netbios_session_tokio::{Call, Session};
    ///
    /// # async fn run() -> Result<(), netbios_session_tokio::Error> {
    /// let call = Call::new("FILESERVER", "MYHOST")?;
    /// let mut session = Session::connect("fileserver.example", &call).await?;
    /// session.send("hello".into()).await?;
    /// let reply = session.next().await.transpose()?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(host: &str, call: &Call) -> Result<Self, Error> {
        Self::connect_with(host, call, dial_tcp).await
    }

    /// An SMB direct-TCP session to `host:port` (445 for SMB), the TCP
    /// connect bounded by `timeout`.
    pub async fn connect_direct(
        host: &str,
        port: u16,
        options: &Options,
        timeout: Option<Duration>,
    ) -> Result<Self, Error> {
        Self::connect_direct_with(host, port, options, timeout, dial_tcp).await
    }
}

/// Opens a TCP connection where the core said, Nagle off (sessions carry
/// requests and replies). A host is a DNS name or an address; an IPv6
/// address may be written in brackets, as in URLs (`[::1]`).
pub async fn dial_tcp(to: Dial) -> io::Result<TcpStream> {
    let stream = match &to.host {
        Host::Name(name) => {
            let name = name
                .strip_prefix('[')
                .and_then(|inner| inner.strip_suffix(']'))
                .unwrap_or(name);
            TcpStream::connect((name, to.port)).await?
        }
        Host::Addr(addr) => TcpStream::connect((*addr, to.port)).await?,
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// [`connect`](Session::connect) over streams that `dial` opens: TLS, a
    /// proxy, an in-memory pair. `dial` is called for the first connection
    /// and for each retarget (with the address the peer named) and fallback.
    pub async fn connect_with<D, F>(host: &str, call: &Call, dial: D) -> Result<Self, Error>
    where
        D: FnMut(Dial) -> F,
        F: Future<Output = io::Result<S>>,
    {
        let to = Dial::new(Host::Name(host.to_owned()), u32::from(call.port_number()))?;
        let start = Start::Call {
            to,
            called: call.called().to_vec(),
            calling: call.calling().clone(),
            max_retargets: call.retarget_bound(),
            timeout: call.setup_timeout(),
        };
        set_up(start, call.session_options().config(Role::Caller), dial).await
    }

    /// [`connect_direct`](Session::connect_direct) over a stream `dial` opens.
    pub async fn connect_direct_with<D, F>(
        host: &str,
        port: u16,
        options: &Options,
        timeout: Option<Duration>,
        dial: D,
    ) -> Result<Self, Error>
    where
        D: FnMut(Dial) -> F,
        F: Future<Output = io::Result<S>>,
    {
        let to = Dial::new(Host::Name(host.to_owned()), u32::from(port))?;
        let start = Start::DirectCall {
            to,
            timeout: timeout.map(millis),
        };
        set_up(start, options.config(Role::Direct), dial).await
    }
}

/// Dials and redials as the core decides until it is established or fails.
async fn set_up<S, D, F>(
    start: Start,
    config: core::Config,
    mut dial: D,
) -> Result<Session<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: FnMut(Dial) -> F,
    F: Future<Output = io::Result<S>>,
{
    let clock = Clock::new();
    let mut core = core::Session::new(start, config, clock.now())?;
    loop {
        let to = core
            .poll_dial()
            .ok_or_else(|| Error::closed("The call has nothing to dial"))?;
        let connecting = dial(to.clone());
        let io = match core.poll_timeout() {
            None => connecting.await,
            Some(at) => match tokio::time::timeout_at(clock.instant(at), connecting).await {
                Ok(io) => io,
                Err(_elapsed) => {
                    let error = core.handle_timeout(clock.now().max(at));
                    return Err(error
                        .map_or_else(|| Error::closed("The setup deadline passed"), Error::from));
                }
            },
        }
        .map_err(|error| Error::dial(to.to_string(), error))?;
        core.handle_connected(clock.now())?;
        let mut session = Session::from_parts(io, core, clock);
        if session.state() == State::Established {
            return Ok(session);
        }
        loop {
            match std::future::poll_fn(|cx| session.poll_received(cx)).await? {
                Some(Received::Established) => {
                    // Messages the peer sent behind its response are kept in the input.
                    return Ok(session);
                }
                // A new connection: the core says where (poll_dial).
                Some(Received::Fallback { .. } | Received::Retarget { .. }) => break,
                Some(Received::Failed(error)) => return Err(error.into()),
                Some(_) => continue,
                None => return Err(Error::closed("The session closed during its setup")),
            }
        }
        (core, _) = session.into_core();
    }
}

//! `nbss bridge`: a relay between a client and a server that speak
//! different framings (NetBIOS on port 139 in, SMB direct TCP on 445 out,
//! by default). Each client gets its own session to the server; messages
//! move both ways, one copy loop per direction, until both sides have
//! closed. At most `--max-sessions` at once; graceful shutdown on SIGTERM
//! and SIGINT. One log line per session when it ends.

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netbios_session_core::rejection_reason;
use netbios_session_tokio::{Call, Error, NetbiosName, Options, Session};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::listen;
use crate::names;
use crate::pump::{pump, PumpError, Tally};
use crate::shutdown::Signals;

/// "Called name not present": the called name is not one of `--accept-names`.
const NOT_PRESENT: u8 = 0x82;
/// "Called name present, but insufficient resources": `--max-sessions` reached.
const NO_RESOURCES: u8 = 0x83;
/// "Unspecified error": the server could not be reached.
const UNSPECIFIED: u8 = 0x8F;
/// How long a caller turned away for lack of room may take to send its request.
const REFUSAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long sessions closed by the shutdown may take to log and go.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// `nbss bridge --listen ADDR:PORT --to HOST:PORT`
#[derive(clap::Args, Debug)]
pub struct BridgeArgs {
    /// Address and port to listen on (port 0: any free port; the line
    /// `listening on ADDR:PORT` on stdout tells which).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// The server: HOST:PORT, an IPv6 address in brackets (`[::1]:445`).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub to: HostPort,
    /// Clients speak SMB direct TCP (no SESSION REQUEST) instead of NetBIOS.
    #[arg(long)]
    pub listen_direct: bool,
    /// Call the server over the NetBIOS session service instead of direct TCP.
    #[arg(long)]
    pub to_netbios: bool,
    /// The name called on the server (with --to-netbios). Default: the name
    /// the client called, or *SMBSERVER for a direct client.
    #[arg(long, value_name = "NAME", requires = "to_netbios", value_parser = names::parse_called)]
    pub called: Option<NetbiosName>,
    /// The calling name sent to the server (with --to-netbios). Default:
    /// this host's name's first label in upper case, else NBSS.
    #[arg(long, value_name = "NAME", requires = "to_netbios",
          conflicts_with = "calling_from_request", value_parser = names::parse_calling)]
    pub calling: Option<NetbiosName>,
    /// Send the server the calling name the client sent (with --to-netbios).
    #[arg(long, requires = "to_netbios", conflicts_with = "listen_direct")]
    pub calling_from_request: bool,
    /// Called names the bridge accepts from clients, comma-separated (case
    /// is ignored); others are rejected with 0x82. Default: every name.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',',
          conflicts_with = "listen_direct", value_parser = names::parse_called)]
    pub accept_names: Vec<NetbiosName>,
    /// Sessions open at once; beyond them a NetBIOS client is rejected with
    /// 0x83 and a direct one is closed.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_sessions: u32,
    /// After SIGTERM or SIGINT, how long open sessions may go on before
    /// they are closed.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub shutdown_timeout_ms: u64,
    /// How long connecting to the server may take (with --to-netbios: the
    /// whole session setup).
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout_ms: u64,
    /// Largest message relayed, both sides (default: 131071 on a NetBIOS
    /// side, 16777215 on a direct one; above 131071 NetBIOS uses 24-bit lengths).
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(1..=16_777_215))]
    pub max_message_length: Option<u32>,
}

/// A server address as given: a host name or address, and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// clap value parser for `HOST:PORT` (`[v6]:PORT` for an IPv6 address).
pub fn parse_host_port(text: &str) -> Result<HostPort, String> {
    let bad = |why: &str| {
        format!("{text:?} {why}; expected HOST:PORT, as in fileserver:445 or [::1]:445")
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest
            .split_once("]:")
            .ok_or_else(|| bad("has no ]:PORT after its IPv6 address"))?;
        (host, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
        if host.contains(':') {
            return Err(bad("is an IPv6 address without brackets"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    match port.parse::<u16>() {
        Ok(port) if port != 0 => Ok(HostPort {
            host: host.to_owned(),
            port,
        }),
        _ => Err(bad("has no port from 1 to 65535")),
    }
}

/// What every session task needs.
struct Config {
    to: HostPort,
    listen_direct: bool,
    to_netbios: bool,
    called: Option<NetbiosName>,
    calling: NetbiosName,
    calling_from_request: bool,
    accept_names: Vec<NetbiosName>,
    max_sessions: u32,
    connect_timeout: Duration,
    options: Options,
}

impl Config {
    fn new(args: BridgeArgs) -> Self {
        let mut options = Options::new();
        if let Some(max) = args.max_message_length {
            options = options.max_message_length(max);
        }
        Self {
            to: args.to,
            listen_direct: args.listen_direct,
            to_netbios: args.to_netbios,
            called: args.called,
            calling: args.calling.unwrap_or_else(names::default_calling),
            calling_from_request: args.calling_from_request,
            accept_names: args.accept_names,
            max_sessions: args.max_sessions,
            connect_timeout: Duration::from_millis(args.connect_timeout_ms),
            options,
        }
    }
}

/// Accepts and relays until a signal, then shuts down gracefully; exits 0.
pub async fn run(args: BridgeArgs) -> ExitCode {
    let listen_addr = args.listen;
    let shutdown_timeout = Duration::from_millis(args.shutdown_timeout_ms);
    let config = Arc::new(Config::new(args));
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(failure) => {
            error!("cannot install signal handlers: {failure}; expected SIGTERM and SIGINT to be catchable");
            return ExitCode::FAILURE;
        }
    };
    let listener = match listen::bind_and_announce(listen_addr).await {
        Ok(listener) => listener,
        Err(message) => {
            error!("{message}");
            return ExitCode::FAILURE;
        }
    };
    info!(
        listen = %listen_addr,
        to = %config.to,
        client = if config.listen_direct { "direct" } else { "netbios" },
        server = if config.to_netbios { "netbios" } else { "direct" },
        max_sessions = config.max_sessions,
        "bridge started"
    );
    let max = config.max_sessions as usize;
    let sessions = Arc::new(Semaphore::new(max));
    let refusals = Arc::new(Semaphore::new(max));
    let close_all = CancellationToken::new();
    let mut tasks = JoinSet::new();

    let signal = loop {
        tokio::select! {
            signal = signals.recv() => break signal,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    if let Ok(permit) = Arc::clone(&sessions).try_acquire_owned() {
                        let task = session(socket, peer, Arc::clone(&config), close_all.clone(), permit);
                        tasks.spawn(task);
                    } else if config.listen_direct {
                        info!(%peer, end = "closed: --max-sessions sessions are open", "session refused");
                    } else if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                        tasks.spawn(refuse(socket, peer, Arc::clone(&config), close_all.clone(), permit));
                    } else {
                        info!(%peer, end = "closed unanswered: --max-sessions sessions are open and as many refusals under way", "session refused");
                    }
                }
                Err(failure) => {
                    warn!("accepting a connection failed: {failure}");
                    // EMFILE and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    };
    drop(listener);
    info!(
        signal,
        open = tasks.len(),
        "shutting down: no new sessions; open ones may go on for {} ms",
        shutdown_timeout.as_millis()
    );
    let drained = tokio::select! {
        drained = tokio::time::timeout(shutdown_timeout, join_all(&mut tasks)) => drained.is_ok(),
        signal = signals.recv() => {
            info!(signal, "second signal: closing open sessions now");
            false
        }
    };
    if !drained {
        info!(open = tasks.len(), "closing the sessions still open");
        close_all.cancel();
        if tokio::time::timeout(CLOSE_GRACE, join_all(&mut tasks))
            .await
            .is_err()
        {
            warn!(
                open = tasks.len(),
                "sessions did not close in time; dropping them"
            );
            tasks.shutdown().await;
        }
    }
    info!("bridge stopped");
    ExitCode::SUCCESS
}

async fn join_all(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

/// Which way messages go.
#[derive(Clone, Copy, Debug)]
enum Side {
    Client,
    Server,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Client => "client",
            Self::Server => "server",
        })
    }
}

/// How a session ended.
#[derive(Debug)]
enum End {
    /// The client ended its stream first, then the server.
    ClientClosed,
    /// The server ended its stream first, then the client.
    ServerClosed,
    /// Reading from or writing to one side failed.
    Failed { side: Side, error: Error },
    /// The client sent no (valid) SESSION REQUEST.
    NoRequest(Error),
    /// The client's answer could not be sent, or its session not made.
    ClientSetup(Error),
    /// The client called a name not in `--accept-names`.
    NameNotAccepted,
    /// The server could not be reached; the client got `answer` (NetBIOS) or was closed.
    ServerSetup { error: Error, answer: Option<u8> },
    /// `--max-sessions` sessions were open.
    NoRoom { answered: bool },
    /// Closed by the bridge's shutdown.
    Shutdown,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientClosed => f.write_str("client closed first, then the server"),
            Self::ServerClosed => f.write_str("server closed first, then the client"),
            Self::Failed { side, error } => write!(f, "{side} failed: {error}"),
            Self::NoRequest(error) => write!(f, "client sent no session request: {error}"),
            Self::ClientSetup(error) => write!(f, "client failed during setup: {error}"),
            Self::NameNotAccepted => write!(
                f,
                "client rejected with {NOT_PRESENT:#04x} ({}): the called name is not one of --accept-names",
                rejection_reason(NOT_PRESENT)
            ),
            Self::ServerSetup { error, answer } => {
                write!(f, "server not reached: {error}")?;
                match answer {
                    Some(code) => write!(
                        f,
                        "; client rejected with {code:#04x} ({})",
                        rejection_reason(*code)
                    ),
                    None => f.write_str("; client connection closed"),
                }
            }
            Self::NoRoom { answered } => {
                if *answered {
                    write!(
                        f,
                        "client rejected with {NO_RESOURCES:#04x} ({}): --max-sessions sessions are open",
                        rejection_reason(NO_RESOURCES)
                    )
                } else {
                    f.write_str("client not answered: --max-sessions sessions are open")
                }
            }
            Self::Shutdown => f.write_str("closed by the bridge's shutdown"),
        }
    }
}

/// What is logged of one session.
struct Record {
    peer: SocketAddr,
    called: Option<NetbiosName>,
    calling: Option<NetbiosName>,
    up: Tally,
    down: Tally,
}

impl Record {
    fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            called: None,
            calling: None,
            up: Tally::default(),
            down: Tally::default(),
        }
    }

    fn log(&self, to: &HostPort, end: &End, started: Instant) {
        let show =
            |name: &Option<NetbiosName>| name.as_ref().map_or("-".to_owned(), |n| n.to_string());
        info!(
            peer = %self.peer,
            called = %show(&self.called),
            calling = %show(&self.calling),
            server = %to,
            client_to_server_bytes = self.up.bytes,
            client_to_server_messages = self.up.messages,
            server_to_client_bytes = self.down.bytes,
            server_to_client_messages = self.down.messages,
            duration_ms = started.elapsed().as_millis() as u64,
            // Quoted: the text has spaces.
            end = ?end.to_string(),
            "session ended"
        );
    }
}

/// One session's task: relays until it ends or the shutdown closes it, then logs.
async fn session(
    socket: TcpStream,
    peer: SocketAddr,
    config: Arc<Config>,
    close_all: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let mut record = Record::new(peer);
    let end = tokio::select! {
        end = relay(socket, &config, &mut record) => end,
        () = close_all.cancelled() => End::Shutdown,
    };
    record.log(&config.to, &end, started);
}

/// Turns a NetBIOS client away with 0x83 once its request is read.
async fn refuse(
    socket: TcpStream,
    peer: SocketAddr,
    config: Arc<Config>,
    close_all: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let mut record = Record::new(peer);
    let options = Options::new().request_timeout(Some(REFUSAL_REQUEST_TIMEOUT));
    let answer = async {
        let incoming = Session::accept(socket, &options)
            .await
            .map_err(End::NoRequest)?;
        record.called = Some(incoming.called().clone());
        record.calling = Some(incoming.calling().clone());
        incoming
            .reject(NO_RESOURCES)
            .await
            .map_err(End::ClientSetup)?;
        Ok::<_, End>(End::NoRoom { answered: true })
    };
    let end = tokio::select! {
        end = answer => end.unwrap_or_else(|end| end),
        () = close_all.cancelled() => End::NoRoom { answered: false },
    };
    record.log(&config.to, &end, started);
}

/// Sets up both sessions, then moves messages until both sides have closed
/// or one fails.
async fn relay(socket: TcpStream, config: &Config, record: &mut Record) -> End {
    let (client, server) = if config.listen_direct {
        let client = match Session::direct(socket, &config.options) {
            Ok(client) => client,
            Err(error) => return End::ClientSetup(error),
        };
        match dial(config, None).await {
            Ok(server) => (client, server),
            Err(error) => {
                return End::ServerSetup {
                    error,
                    answer: None,
                }
            }
        }
    } else {
        let incoming = match Session::accept(socket, &config.options).await {
            Ok(incoming) => incoming,
            Err(error) => return End::NoRequest(error),
        };
        record.called = Some(incoming.called().clone());
        record.calling = Some(incoming.calling().clone());
        if !names::accepted(&config.accept_names, incoming.called()) {
            return match incoming.reject(NOT_PRESENT).await {
                Ok(()) => End::NameNotAccepted,
                Err(error) => End::ClientSetup(error),
            };
        }
        let server = match dial(config, Some((incoming.called(), incoming.calling()))).await {
            Ok(server) => server,
            Err(error) => {
                // Pass a NetBIOS server's refusal on as it is.
                let code = error.response_code().unwrap_or(UNSPECIFIED);
                let answer = incoming.reject(code).await.ok().map(|()| code);
                return End::ServerSetup { error, answer };
            }
        };
        match incoming.accept().await {
            Ok(client) => (client, server),
            Err(error) => return End::ClientSetup(error),
        }
    };
    debug!(peer = %record.peer, "session established on both sides");

    let (to_client, from_client) = client.split();
    let (to_server, from_server) = server.split();
    let up = pump(from_client, to_server, &mut record.up);
    let down = pump(from_server, to_client, &mut record.down);
    tokio::pin!(up, down);
    tokio::select! {
        first = &mut up => match first {
            Ok(()) => match down.await {
                Ok(()) => End::ClientClosed,
                Err(error) => failed(Side::Server, error),
            },
            Err(error) => failed(Side::Client, error),
        },
        first = &mut down => match first {
            Ok(()) => match up.await {
                Ok(()) => End::ServerClosed,
                Err(error) => failed(Side::Client, error),
            },
            Err(error) => failed(Side::Server, error),
        },
    }
}

/// The side at fault when a pump whose source is `from` fails.
fn failed(from: Side, error: PumpError) -> End {
    match (from, error) {
        (side, PumpError::Read(error)) => End::Failed { side, error },
        (Side::Client, PumpError::Write(error)) => End::Failed {
            side: Side::Server,
            error,
        },
        (Side::Server, PumpError::Write(error)) => End::Failed {
            side: Side::Client,
            error,
        },
    }
}

/// The session to the server. `request`: the client's called and calling
/// names, for a NetBIOS client.
async fn dial(
    config: &Config,
    request: Option<(&NetbiosName, &NetbiosName)>,
) -> Result<Session<TcpStream>, Error> {
    let to = &config.to;
    if !config.to_netbios {
        return Session::connect_direct(
            &to.host,
            to.port,
            &config.options,
            Some(config.connect_timeout),
        )
        .await;
    }
    let called = config
        .called
        .clone()
        .or_else(|| request.map(|(called, _)| called.clone()))
        .unwrap_or_else(names::smbserver);
    let calling = match request {
        Some((_, calling)) if config.calling_from_request => calling.clone(),
        _ => config.calling.clone(),
    };
    debug!(%called, %calling, server = %to, "calling the server");
    let call = Call::with_names(called, calling)
        .port(to.port)
        .timeout(Some(config.connect_timeout))
        .options(config.options.clone());
    Session::connect(&to.host, &call).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        let parsed = parse_host_port("fileserver:445").unwrap();
        assert_eq!((parsed.host.as_str(), parsed.port), ("fileserver", 445));
        let parsed = parse_host_port("[::1]:139").unwrap();
        assert_eq!((parsed.host.as_str(), parsed.port), ("::1", 139));
        assert_eq!(parsed.to_string(), "[::1]:139");
        for bad in [
            "fileserver",
            "::1:445",
            "host:0",
            "host:99999",
            ":445",
            "[::1]445",
        ] {
            let error = parse_host_port(bad).unwrap_err();
            assert!(error.contains("expected HOST:PORT"), "{bad}: {error}");
        }
    }

    #[test]
    fn ends_say_who() {
        let end = End::NoRoom { answered: true };
        assert_eq!(
            end.to_string(),
            "client rejected with 0x83 (Called name present, but insufficient resources): \
             --max-sessions sessions are open"
        );
        let error = Error::from(std::io::Error::other("boom"));
        assert_eq!(
            failed(Side::Client, PumpError::Write(error)).to_string(),
            "server failed: boom"
        );
    }
}

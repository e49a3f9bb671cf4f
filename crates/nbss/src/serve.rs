//! `nbss serve`: a called node for tests. It answers each SESSION REQUEST
//! as told (accept the names given, reject the rest, or retarget every
//! caller), or takes SMB direct TCP; then echoes or discards messages.
//! One log line per connection when it ends.

use std::net::{SocketAddr, SocketAddrV4};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{sink, SinkExt};
use netbios_session_core::rejection_reason;
use netbios_session_tokio::{Error, NetbiosName, Options, Session};
use tokio::net::TcpStream;
use tracing::{error, info, warn};

use crate::listen;
use crate::names;
use crate::pump::{pump, PumpError, Tally};
use crate::shutdown::Signals;

/// `nbss serve --listen ADDR:PORT`
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port; the line
    /// `listening on ADDR:PORT` on stdout tells which).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// A called name to accept (NAME or NAME.scope, suffix <20> unless given
    /// in hex as in NAME<1b>; case is ignored). Repeat for more. None given:
    /// all are accepted.
    #[arg(long = "name", value_name = "NAME", value_parser = names::parse_called)]
    pub names: Vec<NetbiosName>,
    /// SMB direct TCP: no SESSION REQUEST, every connection is a session.
    #[arg(long, conflicts_with_all = ["names", "reject_code", "retarget"])]
    pub direct: bool,
    /// Read messages and drop them instead of echoing them.
    #[arg(long)]
    pub discard: bool,
    /// The NEGATIVE SESSION RESPONSE code for a name not accepted (hex as
    /// 0x82, or decimal).
    #[arg(long, value_name = "CODE", default_value = "0x82", value_parser = parse_code)]
    pub reject_code: u8,
    /// Answer every SESSION REQUEST with a RETARGET to this address.
    #[arg(long, value_name = "IP:PORT", conflicts_with = "names")]
    pub retarget: Option<SocketAddrV4>,
}

/// clap value parser for a response code: `0x82`, `0X82` or `130`.
pub fn parse_code(text: &str) -> Result<u8, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => text.parse::<u8>(),
    };
    parsed.map_err(|_| {
        format!("{text:?} is not a response code; expected a byte such as 0x82 or 130")
    })
}

/// How a request was answered.
#[derive(Debug)]
enum Answer {
    /// Direct TCP: no request, no answer.
    Direct,
    Accepted,
    Rejected(u8),
    Retargeted(SocketAddrV4),
    /// The request never came, or the answer could not be sent.
    None,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Direct => f.write_str("direct"),
            Self::Accepted => f.write_str("accepted"),
            Self::Rejected(code) => write!(f, "rejected {code:#04x} ({})", rejection_reason(*code)),
            Self::Retargeted(to) => write!(f, "retargeted to {to}"),
            Self::None => f.write_str("none"),
        }
    }
}

/// What is logged of one connection.
struct Record {
    peer: SocketAddr,
    called: Option<NetbiosName>,
    calling: Option<NetbiosName>,
    answer: Answer,
    tally: Tally,
}

/// Runs until SIGTERM or SIGINT, then exits 0 (open sessions are dropped).
pub async fn run(args: ServeArgs) -> ExitCode {
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(failure) => {
            error!("cannot install signal handlers: {failure}; expected SIGTERM and SIGINT to be catchable");
            return ExitCode::FAILURE;
        }
    };
    let listener = match listen::bind_and_announce(args.listen).await {
        Ok(listener) => listener,
        Err(message) => {
            error!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let args = Arc::new(args);
    loop {
        tokio::select! {
            signal = signals.recv() => {
                info!(signal, "stopping");
                return ExitCode::SUCCESS;
            }
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    tokio::spawn(serve_one(socket, peer, Arc::clone(&args)));
                }
                Err(failure) => {
                    warn!("accepting a connection failed: {failure}");
                    // EMFILE and the like: do not spin.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}

async fn serve_one(socket: TcpStream, peer: SocketAddr, args: Arc<ServeArgs>) {
    let started = Instant::now();
    let mut record = Record {
        peer,
        called: None,
        calling: None,
        answer: Answer::None,
        tally: Tally::default(),
    };
    let end = handle(socket, &args, &mut record).await;
    let show = |name: &Option<NetbiosName>| name.as_ref().map_or("-".to_owned(), |n| n.to_string());
    info!(
        peer = %record.peer,
        called = %show(&record.called),
        calling = %show(&record.calling),
        answer = ?record.answer.to_string(),
        messages = record.tally.messages,
        bytes = record.tally.bytes,
        duration_ms = started.elapsed().as_millis() as u64,
        end = ?end,
        "session ended"
    );
}

/// Answers the request (if any) and echoes until the peer closes.
async fn handle(socket: TcpStream, args: &ServeArgs, record: &mut Record) -> String {
    let options = Options::new();
    let session = if args.direct {
        record.answer = Answer::Direct;
        match Session::direct(socket, &options) {
            Ok(session) => session,
            Err(failure) => return format!("failed: {failure}"),
        }
    } else {
        let incoming = match Session::accept(socket, &options).await {
            Ok(incoming) => incoming,
            Err(failure) => return format!("no session request: {failure}"),
        };
        record.called = Some(incoming.called().clone());
        record.calling = Some(incoming.calling().clone());
        if let Some(to) = args.retarget {
            return match incoming.retarget(to).await {
                Ok(()) => {
                    record.answer = Answer::Retargeted(to);
                    "answered, connection closed".to_owned()
                }
                Err(failure) => format!("the RETARGET could not be sent: {failure}"),
            };
        }
        if !names::accepted(&args.names, incoming.called()) {
            return match incoming.reject(args.reject_code).await {
                Ok(()) => {
                    record.answer = Answer::Rejected(args.reject_code);
                    "answered, connection closed".to_owned()
                }
                Err(failure) => format!("the NEGATIVE response could not be sent: {failure}"),
            };
        }
        match incoming.accept().await {
            Ok(session) => {
                record.answer = Answer::Accepted;
                session
            }
            Err(failure) => return format!("the POSITIVE response could not be sent: {failure}"),
        }
    };
    let result = if args.discard {
        discard(session, &mut record.tally).await
    } else {
        let (to, from) = session.split();
        pump(from, to, &mut record.tally).await
    };
    match result {
        Ok(()) => "peer closed the session".to_owned(),
        Err(PumpError::Read(failure) | PumpError::Write(failure)) => describe(&failure),
    }
}

/// Reads every message and drops it, then closes.
async fn discard(session: Session<TcpStream>, tally: &mut Tally) -> Result<(), PumpError> {
    let (mut to, from) = session.split();
    let drain = sink::drain().sink_map_err(|never| match never {});
    let forwarded = pump(from, drain, tally).await;
    to.close().await.map_err(PumpError::Write)?;
    forwarded
}

fn describe(failure: &Error) -> String {
    format!("failed: {failure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_hex_or_decimal() {
        assert_eq!(parse_code("0x82"), Ok(0x82));
        assert_eq!(parse_code("0X8f"), Ok(0x8F));
        assert_eq!(parse_code("131"), Ok(0x83));
        let error = parse_code("0x182").unwrap_err();
        assert!(error.contains("expected a byte"), "{error}");
        assert!(parse_code("x").is_err());
    }
}

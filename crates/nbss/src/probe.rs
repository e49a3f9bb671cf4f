//! `nbss probe`: which ways into a host's SMB server work. One attempt per
//! path and name (SMB direct TCP, then the NetBIOS session service with each
//! called name in turn), each reported on its own line as it ends, with an
//! SMB2 NEGOTIATE exchanged on every session that is established.

use std::io::{ErrorKind as IoErrorKind, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use netbios_session_core::rejection_reason;
use netbios_session_tokio::{
    dial_tcp, Call, Dial, Error, ErrorKind, NetbiosName, Options, Session,
};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{timeout_at, Instant};
use tracing::debug;

use crate::names;
use crate::smb2::{self, Reply};

/// How long closing an established session may take after its NEGOTIATE.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// `nbss probe HOST`
#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The server: a DNS name or an IPv4/IPv6 address.
    pub host: String,
    /// Port of SMB direct TCP.
    #[arg(long, value_name = "PORT", default_value_t = 445,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port_smb: u16,
    /// Port of the NetBIOS session service.
    #[arg(long, value_name = "PORT", default_value_t = 139,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port_netbios: u16,
    /// A name to call on the NetBIOS path (NAME or NAME.scope, suffix <20>
    /// unless given in hex as in NAME<1b>), tried before the host's first DNS
    /// label and *SMBSERVER. Repeat for more.
    #[arg(long = "called", value_name = "NAME", value_parser = names::parse_called)]
    pub called: Vec<NetbiosName>,
    /// The calling name (default: this host's name's first label in upper
    /// case, else NBSS; suffix <00> by default).
    #[arg(long, value_name = "NAME", value_parser = names::parse_calling)]
    pub calling: Option<NetbiosName>,
    /// Time allowed for each attempt: connecting, the session setup and the
    /// SMB2 NEGOTIATE together.
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Which way in an attempt takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Direct,
    Netbios,
}

impl Path {
    fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Netbios => "netbios",
        }
    }
}

/// How an attempt's session setup ended.
#[derive(Debug)]
enum Setup {
    Established,
    Rejected { code: u8, error: Error },
    Refused(Error),
    Failed(Error),
}

impl Setup {
    fn from_error(error: Error) -> Self {
        if let Some(code) = error.response_code() {
            return Self::Rejected { code, error };
        }
        let refused = error.kind() == ErrorKind::Io
            && error
                .io_error()
                .is_some_and(|io| io.kind() == IoErrorKind::ConnectionRefused);
        if refused {
            Self::Refused(error)
        } else {
            Self::Failed(error)
        }
    }

    /// The `result` field: one word a script can match.
    fn result(&self) -> &'static str {
        match self {
            Self::Established => "established",
            Self::Rejected { .. } => "rejected",
            Self::Refused(_) => "refused",
            Self::Failed(error) => match error.kind() {
                ErrorKind::Timeout => "timeout",
                ErrorKind::RetargetLoop => "retarget-loop",
                ErrorKind::Protocol => "protocol-error",
                ErrorKind::Io => "io-error",
                _ => "error",
            },
        }
    }
}

/// What the SMB2 NEGOTIATE on an established session found.
#[derive(Debug)]
enum Negotiate {
    Dialect(u16),
    Failed { status: u32 },
    NotAResponse(String),
    Closed,
    Timeout { budget_ms: u64 },
    Error(Error),
}

impl Negotiate {
    fn word(&self) -> &'static str {
        match self {
            Self::Dialect(_) => "ok",
            Self::Failed { .. } => "failed",
            Self::NotAResponse(_) => "not-a-response",
            Self::Closed => "closed",
            Self::Timeout { .. } => "timeout",
            Self::Error(_) => "error",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Self::Dialect(dialect) if !smb2::DIALECTS.contains(dialect) => Some(format!(
                "dialect {dialect:#06x} was not offered; expected one of {}",
                offered()
            )),
            Self::Dialect(_) => None,
            Self::Failed { status } => Some(format!(
                "the server answered with status {status:#010x}; expected STATUS_SUCCESS"
            )),
            Self::NotAResponse(why) => Some(why.clone()),
            Self::Closed => {
                Some("the peer closed the session without answering; expected a NEGOTIATE response".to_owned())
            }
            Self::Timeout { budget_ms } => Some(format!(
                "no reply within the attempt's {budget_ms} ms timeout; expected a NEGOTIATE response"
            )),
            Self::Error(error) => Some(error.to_string()),
        }
    }

    /// The text after "established, ".
    fn text(&self) -> String {
        match self {
            Self::Dialect(dialect) => match self.detail() {
                Some(note) => format!("SMB2 dialect {dialect:#06x} ({note})"),
                None => format!("SMB2 dialect {dialect:#06x}"),
            },
            Self::Failed { status } => format!("SMB2 NEGOTIATE failed with status {status:#010x}"),
            Self::Timeout { budget_ms } => {
                format!("no SMB2 NEGOTIATE response within {budget_ms} ms")
            }
            _ => format!(
                "no SMB2 NEGOTIATE response ({})",
                self.detail().unwrap_or_default()
            ),
        }
    }
}

fn offered() -> String {
    let list: Vec<String> = smb2::DIALECTS.iter().map(|d| format!("{d:#06x}")).collect();
    list.join(", ")
}

/// One attempt's report.
struct Report {
    path: Path,
    port: u16,
    called: Option<NetbiosName>,
    calling: Option<NetbiosName>,
    setup: Setup,
    negotiate: Option<Negotiate>,
    /// Where the call went after the first dial: each retarget's address.
    retargets: Vec<String>,
    setup_ms: u64,
    ms: u64,
}

/// The `--json` form of a [`Report`].
#[derive(Serialize)]
struct JsonLine<'a> {
    host: &'a str,
    path: &'static str,
    port: u16,
    called: Option<String>,
    calling: Option<String>,
    result: &'static str,
    code: Option<String>,
    reason: Option<&'static str>,
    error: Option<String>,
    smb2: Option<JsonSmb2>,
    retargets: &'a [String],
    setup_ms: u64,
    ms: u64,
}

#[derive(Serialize)]
struct JsonSmb2 {
    negotiate: &'static str,
    dialect: Option<String>,
    status: Option<String>,
    detail: Option<String>,
}

impl Report {
    /// The text after the path, port and called name.
    fn result_text(&self) -> String {
        match &self.setup {
            Setup::Established => {
                let via = self
                    .retargets
                    .iter()
                    .map(|to| format!(" via retarget to {to}"))
                    .collect::<String>();
                match &self.negotiate {
                    Some(negotiate) => format!("established{via}, {}", negotiate.text()),
                    None => format!("established{via}"),
                }
            }
            Setup::Rejected { code, .. } => {
                format!("rejected {code:#04x} ({})", rejection_reason(*code))
            }
            Setup::Refused(_) => "connection refused".to_owned(),
            Setup::Failed(error) => format!("{} ({error})", self.setup.result()),
        }
    }

    fn text_line(&self) -> String {
        let called = self
            .called
            .as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string);
        format!(
            "{:<7} {:>5}  {:<16} {} ({} ms)",
            self.path.as_str(),
            self.port,
            called,
            self.result_text(),
            self.ms
        )
    }

    fn json_line(&self, host: &str) -> String {
        let (code, reason) = match self.setup {
            Setup::Rejected { code, .. } => {
                (Some(format!("{code:#04x}")), Some(rejection_reason(code)))
            }
            _ => (None, None),
        };
        let error = match &self.setup {
            Setup::Established => None,
            Setup::Rejected { error, .. } | Setup::Refused(error) | Setup::Failed(error) => {
                Some(error.to_string())
            }
        };
        let smb2 = self.negotiate.as_ref().map(|negotiate| JsonSmb2 {
            negotiate: negotiate.word(),
            dialect: match negotiate {
                Negotiate::Dialect(dialect) => Some(format!("{dialect:#06x}")),
                _ => None,
            },
            status: match negotiate {
                Negotiate::Failed { status } => Some(format!("{status:#010x}")),
                Negotiate::Dialect(_) => Some("0x00000000".to_owned()),
                _ => None,
            },
            detail: negotiate.detail(),
        });
        let line = JsonLine {
            host,
            path: self.path.as_str(),
            port: self.port,
            called: self.called.as_ref().map(ToString::to_string),
            calling: self.calling.as_ref().map(ToString::to_string),
            result: self.setup.result(),
            code,
            reason,
            error,
            smb2,
            retargets: &self.retargets,
            setup_ms: self.setup_ms,
            ms: self.ms,
        };
        serde_json::to_string(&line).expect("a report serializes")
    }
}

/// The names the NetBIOS path calls, in order, each once: those given, the
/// host's first DNS label (not for an address), then `*SMBSERVER`.
fn called_names(args: &ProbeArgs) -> Vec<NetbiosName> {
    let mut names: Vec<NetbiosName> = Vec::new();
    let candidates = args
        .called
        .iter()
        .cloned()
        .chain(names::host_label(&args.host))
        .chain([names::smbserver()]);
    for name in candidates {
        if !names.iter().any(|seen| names::matches(seen, &name)) {
            names.push(name);
        }
    }
    names
}

/// Runs every attempt, printing each line as it ends. 0: some path was
/// established; 1: none was.
pub async fn run(args: ProbeArgs) -> ExitCode {
    let calling = args.calling.clone().unwrap_or_else(names::default_calling);
    let budget = Duration::from_millis(args.timeout_ms);
    let mut any = false;

    let report = attempt_direct(&args, budget).await;
    any |= matches!(report.setup, Setup::Established);
    emit(&args, &report);

    for called in called_names(&args) {
        let report = attempt_netbios(&args, called, calling.clone(), budget).await;
        any |= matches!(report.setup, Setup::Established);
        emit(&args, &report);
    }
    if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The host as the resolver takes it: an IPv6 address without its brackets.
fn dial_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host)
}

fn emit(args: &ProbeArgs, report: &Report) {
    let line = if args.json {
        report.json_line(&args.host)
    } else {
        report.text_line()
    };
    let mut out = std::io::stdout().lock();
    // A closed stdout (`nbss probe ... | head -1`) is not worth a panic.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

async fn attempt_direct(args: &ProbeArgs, budget: Duration) -> Report {
    debug!(host = %args.host, port = args.port_smb, "probing SMB direct TCP");
    let started = Instant::now();
    let deadline = started + budget;
    let connected = Session::connect_direct(
        dial_host(&args.host),
        args.port_smb,
        &Options::new(),
        Some(budget),
    )
    .await;
    finish(
        Vec::new(),
        Path::Direct,
        args.port_smb,
        None,
        None,
        connected,
        started,
        deadline,
        args.timeout_ms,
    )
    .await
}

async fn attempt_netbios(
    args: &ProbeArgs,
    called: NetbiosName,
    calling: NetbiosName,
    budget: Duration,
) -> Report {
    debug!(host = %args.host, port = args.port_netbios, %called, %calling, "probing NetBIOS");
    let started = Instant::now();
    let deadline = started + budget;
    let call = Call::with_names(called.clone(), calling.clone())
        .port(args.port_netbios)
        .timeout(Some(budget));
    // Every dial is noted: those after the first are where retargets sent the call.
    let dials = Arc::new(Mutex::new(Vec::new()));
    let noted = Arc::clone(&dials);
    let dial = move |to: Dial| {
        noted.lock().expect("not poisoned").push(to.to_string());
        dial_tcp(to)
    };
    // The call's timeout bounds the whole setup, name resolution included.
    let connected = Session::connect_with(dial_host(&args.host), &call, dial).await;
    let retargets = dials
        .lock()
        .expect("not poisoned")
        .iter()
        .skip(1)
        .cloned()
        .collect();
    finish(
        retargets,
        Path::Netbios,
        args.port_netbios,
        Some(called),
        Some(calling),
        connected,
        started,
        deadline,
        args.timeout_ms,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn finish<S: AsyncRead + AsyncWrite + Unpin>(
    retargets: Vec<String>,
    path: Path,
    port: u16,
    called: Option<NetbiosName>,
    calling: Option<NetbiosName>,
    connected: Result<Session<S>, Error>,
    started: Instant,
    deadline: Instant,
    budget_ms: u64,
) -> Report {
    let setup_ms = elapsed_ms(started);
    let (setup, negotiate) = match connected {
        Ok(mut session) => {
            let negotiate = negotiate(&mut session, deadline, budget_ms).await;
            // Best effort: the answer is in; a peer slow to close changes nothing.
            let _ = tokio::time::timeout(CLOSE_GRACE, session.close()).await;
            (Setup::Established, Some(negotiate))
        }
        Err(error) => {
            debug!(%error, "attempt failed");
            (Setup::from_error(error), None)
        }
    };
    Report {
        path,
        port,
        called,
        calling,
        setup,
        negotiate,
        retargets,
        setup_ms,
        ms: elapsed_ms(started),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Sends the NEGOTIATE request and reads replies until one says something
/// (interim responses are skipped), the session ends or `deadline` passes.
async fn negotiate<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session<S>,
    deadline: Instant,
    budget_ms: u64,
) -> Negotiate {
    let request = Bytes::from(smb2::negotiate_request());
    match timeout_at(deadline, session.send(request)).await {
        Err(_) => return Negotiate::Timeout { budget_ms },
        Ok(Err(error)) => return Negotiate::Error(error),
        Ok(Ok(())) => {}
    }
    loop {
        let message = match timeout_at(deadline, session.next()).await {
            Err(_) => return Negotiate::Timeout { budget_ms },
            Ok(None) => return Negotiate::Closed,
            Ok(Some(Err(error))) => return Negotiate::Error(error),
            Ok(Some(Ok(message))) => message,
        };
        match smb2::parse_reply(&message) {
            Reply::Pending => continue,
            Reply::Negotiated { dialect } => return Negotiate::Dialect(dialect),
            Reply::Failed { status } => return Negotiate::Failed { status },
            Reply::NotAResponse(why) => return Negotiate::NotAResponse(why.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        probe: ProbeArgs,
    }

    fn args(line: &[&str]) -> ProbeArgs {
        Cli::parse_from(std::iter::once("probe").chain(line.iter().copied())).probe
    }

    fn shown(names: Vec<NetbiosName>) -> Vec<String> {
        names.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn names_in_order_without_repeats() {
        let probe = args(&["fs1.example.com", "--called", "FILES", "--called", "fs1"]);
        assert_eq!(
            shown(called_names(&probe)),
            ["FILES<20>", "fs1<20>", "*SMBSERVER<20>"]
        );
        let probe = args(&["10.0.0.5"]);
        assert_eq!(shown(called_names(&probe)), ["*SMBSERVER<20>"]);
        let probe = args(&["nas"]);
        assert_eq!(shown(called_names(&probe)), ["NAS<20>", "*SMBSERVER<20>"]);
    }

    #[test]
    fn rejected_line() {
        let report = Report {
            path: Path::Netbios,
            port: 139,
            called: Some(names::smbserver()),
            calling: Some(names::default_calling()),
            setup: Setup::Rejected {
                code: 0x82,
                error: Error::from(std::io::Error::other("refused")),
            },
            negotiate: None,
            retargets: Vec::new(),
            setup_ms: 2,
            ms: 2,
        };
        assert_eq!(
            report.text_line(),
            "netbios   139  *SMBSERVER<20>   rejected 0x82 (Called name not present) (2 ms)"
        );
        let json: serde_json::Value = serde_json::from_str(&report.json_line("h")).unwrap();
        assert_eq!(json["result"], "rejected");
        assert_eq!(json["code"], "0x82");
        assert_eq!(json["reason"], "Called name not present");
    }

    #[test]
    fn established_line() {
        let report = Report {
            path: Path::Direct,
            port: 445,
            called: None,
            calling: None,
            setup: Setup::Established,
            negotiate: Some(Negotiate::Dialect(0x0210)),
            retargets: vec!["10.0.0.9:445".to_owned()],
            setup_ms: 1,
            ms: 3,
        };
        assert_eq!(
            report.text_line(),
            "direct    445  -                established via retarget to 10.0.0.9:445, SMB2 dialect 0x0210 (3 ms)"
        );
        let json: serde_json::Value = serde_json::from_str(&report.json_line("h")).unwrap();
        assert_eq!(json["retargets"][0], "10.0.0.9:445");
        assert_eq!(json["smb2"]["negotiate"], "ok");
        assert_eq!(json["smb2"]["dialect"], "0x0210");
        assert!(json["error"].is_null());
    }
}

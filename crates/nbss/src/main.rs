//! nbss: the command-line tool over netbios-session-tokio. This file owns
//! the command line (clap), the logging set-up (tracing to stderr) and the
//! dispatch to the command modules.
//!
//! Exit status: 0 on success (probe: some path was established; serve and
//! bridge: stopped by a signal), 1 on failure (probe: no path was
//! established; serve and bridge: could not listen), 2 for bad arguments.

#![forbid(unsafe_code)]

mod bridge;
mod listen;
mod names;
mod probe;
mod pump;
mod serve;
mod shutdown;
mod smb2;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Probe NetBIOS session and SMB servers, bridge port 139 to 445, serve test names.
#[derive(Parser, Debug)]
#[command(name = "nbss", version, about, propagate_version = true)]
struct Cli {
    /// More log detail on stderr (-v debug, -vv trace). RUST_LOG, when set,
    /// chooses instead.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Try SMB direct TCP and the NetBIOS session service on a host; one
    /// line per attempt.
    Probe(probe::ProbeArgs),
    /// Relay sessions between clients and a server (NetBIOS in, SMB direct
    /// TCP out, by default).
    Bridge(bridge::BridgeArgs),
    /// A called node for tests: accepts, rejects or retargets requests;
    /// echoes messages.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    // clap exits with status 2 on bad arguments (0 for --help and --version).
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("nbss: cannot start the async runtime: {error}; expected threads and timers to be available");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Probe(args) => probe::run(args).await,
            Command::Bridge(args) => bridge::run(args).await,
            Command::Serve(args) => serve::run(args).await,
        }
    })
}

/// Logs go to stderr: RUST_LOG's filter when set, else INFO raised by `-v`.
fn init_logging(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(match verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_arguments_are_refused() {
        let bad: &[&[&str]] = &[
            &["nbss", "probe"],
            &["nbss", "probe", "h", "--called", "NAME-LONGER-THAN-15"],
            &["nbss", "probe", "h", "--port-smb", "0"],
            &["nbss", "bridge", "--listen", "127.0.0.1:0", "--to", "h"],
            &[
                "nbss",
                "bridge",
                "--listen",
                "127.0.0.1:0",
                "--to",
                "h:445",
                "--called",
                "X",
            ],
            &[
                "nbss",
                "bridge",
                "--listen",
                "127.0.0.1:0",
                "--to",
                "h:445",
                "--listen-direct",
                "--accept-names",
                "A,B",
            ],
            &[
                "nbss",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--direct",
                "--name",
                "A",
            ],
            &[
                "nbss",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--reject-code",
                "0x100",
            ],
        ];
        for line in bad {
            let error = Cli::try_parse_from(*line).expect_err(&line.join(" "));
            assert_eq!(error.exit_code(), 2, "{}: {error}", line.join(" "));
        }
    }

    #[test]
    fn accept_names_split_on_commas() {
        let cli = Cli::try_parse_from([
            "nbss",
            "bridge",
            "--listen",
            "127.0.0.1:0",
            "--to",
            "h:445",
            "--accept-names",
            "FS1,fs2<20>",
        ])
        .unwrap();
        let Command::Bridge(args) = cli.command else {
            panic!("expected bridge")
        };
        let names: Vec<String> = args.accept_names.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["FS1<20>", "fs2<20>"]);
    }
}

//! The Rust half of `npm run bench`: what a [`Session`] costs next to plain
//! tokio sockets moving the same bytes, each figure side by side with its
//! baseline in the same run.
//!
//! ```text
//! cargo run --release -p netbios-session-tokio --example bench -- [--only SUBSTRING] [--reps N] [--json FILE]
//! ```
//!
//! - throughput (64 B, 1 KiB, 16 KiB, 64 KiB - 1, direct 1 MiB): a sender
//!   feeds one message after another into the session's `Sink` (which writes
//!   once 64 KiB are queued and waits while the socket is full); the
//!   receiver counts messages from its `Stream`. Baseline: a `TcpStream`
//!   writing the same frame bytes, pre-framed, in 1 MiB writes, to one
//!   reading them into a 1 MiB buffer and counting bytes / frame length.
//! - ping-pong 64 B: one session echoes what the other sends, one message
//!   in flight. Baseline: two `TcpStream`s (Nagle off) echoing the same 68
//!   framed bytes with `write_all` / `read_exact`.
//! - session setups: a caller connects (TCP, SESSION REQUEST, POSITIVE
//!   RESPONSE), then drops the session; the server runs `Session::accept` and
//!   `Incoming::accept`, then reads to the end. Baseline: TCP connect, a
//!   72-byte write, a 4-byte read: the same round trips.
//!
//! Sender and receiver each run on a thread of their own, in a
//! current-thread tokio runtime of their own (as the Node benchmark runs
//! them in two processes), over 127.0.0.1, on a fresh listener per
//! measurement. A measurement waits for the first event, warms up for
//! 300 ms, then counts over one second. Ours and the baseline alternate;
//! each figure is the median of `--reps` repetitions (3 by default, at
//! least 7 for ping-pong and setups). CPU time per message is the whole
//! process's (both sides, user + system, from /proc/self/stat, 10 ms
//! ticks). A measurement that takes more than 20 s fails the run (exit
//! status 1); missed targets do not.
//!
//! [`Session`]: netbios_session_tokio::Session

mod measure;
mod peers;

use std::time::Duration;

use measure::{measure, Sample};
use peers::Kind;

/// The longest one measurement may take.
const TIMEOUT: Duration = Duration::from_secs(20);
const HOST: &str = "127.0.0.1";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Figure {
    name: String,
    kind: Kind,
    /// The least ratio ours / baseline aimed at.
    target: Option<f64>,
    min_reps: usize,
    unit: &'static str,
}

fn figures() -> Vec<Figure> {
    let sizes = [
        ("64 B", 64, false, Some(0.5)),
        ("1 KiB", KIB, false, None),
        ("16 KiB", 16 * KIB, false, Some(0.95)),
        ("64 KiB - 1", 64 * KIB - 1, false, Some(0.95)),
        ("direct 1 MiB", MIB, true, Some(0.95)),
    ];
    let mut figures: Vec<Figure> = sizes
        .into_iter()
        .map(|(label, size, direct, target)| Figure {
            name: format!("rust throughput {label}"),
            kind: Kind::Throughput { size, direct },
            target,
            min_reps: 0,
            unit: "messages/s",
        })
        .collect();
    // Both move the most between repetitions: a median of at least 7.
    figures.push(Figure {
        name: "rust ping-pong 64 B".into(),
        kind: Kind::PingPong,
        target: Some(0.9),
        min_reps: 7,
        unit: "round trips/s",
    });
    // Last: it leaves the most sockets in TIME_WAIT.
    figures.push(Figure {
        name: "rust session setups".into(),
        kind: Kind::Setups,
        target: Some(0.9),
        min_reps: 7,
        unit: "setups/s",
    });
    figures
}

struct Args {
    only: Option<String>,
    reps: usize,
    json: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        only: None,
        reps: 3,
        json: None,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--only" => args.only = Some(value()?),
            "--reps" => {
                let reps = value()?.parse().ok().filter(|&reps| reps > 0);
                args.reps = reps.ok_or("--reps takes a positive number")?;
            }
            "--json" => args.json = Some(value()?),
            _ => {
                return Err(format!(
                    "unknown argument {arg}; takes [--only SUBSTRING] [--reps N] [--json FILE]"
                ))
            }
        }
    }
    Ok(args)
}

fn main() {
    if let Err(error) = parse_args().and_then(run) {
        eprintln!("bench: {error}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!("bench: a debug build; run with --release for figures that mean something");
    }
    println!(
        "netbios-session-tokio benchmarks: {} repetitions (at least 7 for ping-pong and setups), ours and baseline alternating, medians",
        args.reps
    );
    println!(
        "{}, {}; sender and receiver on two threads, a tokio runtime each\n",
        cpu_model(),
        rustc_version()
    );
    println!(
        "{:<34}{:>12}{:>12}{:>12}{:>12}",
        "figure", "ours", "baseline", "ratio", "target"
    );
    let mut rows = Vec::new();
    let only = args.only.as_deref().unwrap_or("");
    for figure in figures().iter().filter(|figure| figure.name.contains(only)) {
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for _ in 0..args.reps.max(figure.min_reps) {
            for (samples, is_ours) in [(&mut ours, true), (&mut base, false)] {
                let sample = measure(figure.kind, is_ours)
                    .map_err(|error| format!("{}: {error}", figure.name))?;
                samples.push(sample);
            }
        }
        rows.push(report(figure, &ours, &base));
    }
    if let Some(path) = args.json {
        let text = format!("[\n{}\n]\n", rows.join(",\n"));
        std::fs::write(&path, text).map_err(|error| format!("{path}: {error}"))?;
    }
    Ok(())
}

/// Prints the figure's row; returns it as JSON.
fn report(figure: &Figure, ours: &[Sample], base: &[Sample]) -> String {
    let median = |samples: &[Sample], field: fn(&Sample) -> f64| {
        let mut values: Vec<f64> = samples.iter().map(field).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (o, b) = (median(ours, |s| s.rate), median(base, |s| s.rate));
    let ratio = o / b;
    let met = figure.target.map(|target| ratio >= target);
    let mib = match figure.kind {
        Kind::Throughput { size, .. } => {
            let mib = |rate: f64| rate * size as f64 / MIB as f64;
            format!("{:.0} vs {:.0} MiB/s, ", mib(o), mib(b))
        }
        _ => String::new(),
    };
    println!(
        "{:<34}{:>12}{:>12}{:>12.3}{:>12}  {}  ({mib}CPU {} vs {} each)  {}",
        figure.name,
        format_rate(o),
        format_rate(b),
        ratio,
        figure.target.map_or(String::new(), |t| format!(">= {t}")),
        met.map_or("", |met| if met { "met" } else { "MISSED" }),
        format_cpu(median(ours, |s| s.cpu)),
        format_cpu(median(base, |s| s.cpu)),
        figure.unit,
    );
    let null = || "null".to_owned();
    format!(
        "  {{\"name\": \"{}\", \"ours\": {o}, \"baseline\": {b}, \"ratio\": {ratio}, \"target\": {}, \"met\": {}, \"unit\": \"{}\"}}",
        figure.name,
        figure.target.map_or_else(null, |target| target.to_string()),
        met.map_or_else(null, |met| met.to_string()),
        figure.unit,
    )
}

fn format_rate(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{:.2} M", v / 1e6),
        v if v >= 1e3 => format!("{:.1} k", v / 1e3),
        v => format!("{v:.1}"),
    }
}

fn format_cpu(seconds: f64) -> String {
    match seconds * 1e9 {
        ns if ns >= 10_000.0 => format!("{:.1} us", ns / 1000.0),
        ns => format!("{ns:.0} ns"),
    }
}

/// "2 x AMD EPYC ...", from /proc/cpuinfo.
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let models: Vec<&str> = info
        .lines()
        .filter(|line| line.starts_with("model name"))
        .filter_map(|line| Some(line.split_once(':')?.1.trim()))
        .collect();
    match models.first() {
        Some(model) => format!("{} x {model}", models.len()),
        None => format!(
            "{} CPUs",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
    }
}

fn rustc_version() -> String {
    let output = std::process::Command::new("rustc")
        .arg("--version")
        .output();
    output
        .ok()
        .filter(|output| output.status.success())
        .map_or_else(
            || "rustc ?".into(),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        )
}

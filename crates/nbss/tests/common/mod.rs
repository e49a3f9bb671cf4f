//! Shared by the integration tests: the nbss binary as a child process that
//! is always killed (a guard with Drop), its output read by threads, and
//! every wait bounded.

#![allow(dead_code)] // each test file uses its own part of this

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running nbss, killed and reaped when dropped.
pub struct Nbss {
    child: std::process::Child,
    what: String,
    stdout: Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Nbss {
    /// Starts `nbss ARGS...` with stdout and stderr captured.
    pub fn spawn(args: &[&str]) -> Self {
        let what = format!("nbss {}", args.join(" "));
        let mut child = Command::new(env!("CARGO_BIN_EXE_nbss"))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
        let (lines, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("stdout is piped");
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            what,
            stdout,
            stdout_seen: Vec::new(),
            stderr,
        }
    }

    /// Starts a `serve` or `bridge` command and waits for its
    /// `listening on ADDR:PORT` line; returns the address.
    pub fn listening(args: &[&str]) -> (Self, SocketAddr) {
        let mut nbss = Self::spawn(args);
        let line = nbss.next_line(WAIT).unwrap_or_else(|| {
            panic!(
                "{} printed no line within {WAIT:?}; expected `listening on ADDR:PORT`; stderr: {}",
                nbss.what,
                nbss.stderr()
            )
        });
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{} printed {line:?}; expected `listening on ADDR:PORT`",
                    nbss.what
                )
            });
        (nbss, addr)
    }

    /// The next stdout line, waiting at most `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        let line = self.stdout.recv_timeout(timeout).ok()?;
        self.stdout_seen.push(line.clone());
        Some(line)
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr has `count` lines containing `needle`.
    pub fn wait_for_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.stderr();
            if log.lines().filter(|line| line.contains(needle)).count() >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{}: expected {count} log line(s) with {needle:?} within {WAIT:?}; stderr: {log}",
                self.what
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "kill -TERM {} failed", self.child.id());
    }

    /// Waits at most `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait works") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}; stderr: {}",
                self.what,
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit (at most `timeout`) and returns the status and
    /// every stdout line.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let status = self.wait_exit(timeout);
        // The reader thread ends at EOF; what it sent is all there.
        while self.next_line(Duration::from_secs(2)).is_some() {}
        (status, std::mem::take(&mut self.stdout_seen))
    }
}

impl Drop for Nbss {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

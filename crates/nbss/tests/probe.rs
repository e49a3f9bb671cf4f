//! `nbss probe` against servers on loopback: an echoing `nbss serve`, a
//! port where nothing listens, a server that never answers, and one that
//! retargets for ever.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use common::{closed_port, Nbss, WAIT};
use serde_json::Value;

fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{line:?} is not JSON: {error}"))
        })
        .collect()
}

#[test]
fn probe_of_an_echo_server() {
    let (_serve, addr) = Nbss::listening(&["serve", "--listen", "127.0.0.1:0", "--name", "ECHO"]);
    let port = addr.port().to_string();
    let closed = closed_port().to_string();
    let (status, lines) = Nbss::spawn(&[
        "probe",
        "127.0.0.1",
        "--port-netbios",
        &port,
        "--port-smb",
        &closed,
        "--called",
        "ECHO",
        "--calling",
        "TESTER",
        "--json",
    ])
    .finish(WAIT);
    for line in &lines {
        println!("{line}");
    }
    assert_eq!(
        status.code(),
        Some(0),
        "a session was established: {lines:?}"
    );
    let reports = json_lines(&lines);
    assert_eq!(reports.len(), 3, "direct, ECHO, *SMBSERVER: {lines:?}");

    let direct = &reports[0];
    assert_eq!(direct["path"], "direct");
    assert_eq!(direct["port"], closed.parse::<u16>().unwrap());
    assert_eq!(direct["result"], "refused");
    assert!(direct["error"].as_str().unwrap().contains("refused"));

    let echo = &reports[1];
    assert_eq!(echo["path"], "netbios");
    assert_eq!(echo["port"], addr.port());
    assert_eq!(echo["called"], "ECHO<20>");
    assert_eq!(echo["calling"], "TESTER<00>");
    assert_eq!(echo["result"], "established");
    // The echo server sends the NEGOTIATE request back: no response, no failure.
    assert_eq!(echo["smb2"]["negotiate"], "not-a-response");
    assert!(echo["smb2"]["dialect"].is_null());
    assert!(echo["smb2"]["detail"]
        .as_str()
        .unwrap()
        .contains("NEGOTIATE request"));

    let smbserver = &reports[2];
    assert_eq!(smbserver["called"], "*SMBSERVER<20>");
    assert_eq!(smbserver["result"], "rejected");
    assert_eq!(smbserver["code"], "0x82");
    assert_eq!(smbserver["reason"], "Called name not present");
    for report in &reports {
        assert!(report["ms"].as_u64().is_some(), "{report}");
    }
}

#[test]
fn probe_in_text_form() {
    let (_serve, addr) = Nbss::listening(&["serve", "--listen", "127.0.0.1:0", "--name", "ECHO"]);
    let port = addr.port().to_string();
    let closed = closed_port().to_string();
    let (status, lines) = Nbss::spawn(&[
        "probe",
        "127.0.0.1",
        "--port-netbios",
        &port,
        "--port-smb",
        &closed,
        "--called",
        "ECHO",
    ])
    .finish(WAIT);
    for line in &lines {
        println!("{line}");
    }
    assert_eq!(status.code(), Some(0));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("direct "), "{}", lines[0]);
    assert!(lines[0].contains("connection refused"), "{}", lines[0]);
    assert!(lines[1].contains("ECHO<20>"), "{}", lines[1]);
    assert!(
        lines[1].contains("established, no SMB2 NEGOTIATE response"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("*SMBSERVER<20>")
            && lines[2].contains("rejected 0x82 (Called name not present)"),
        "{}",
        lines[2]
    );
    assert!(lines.iter().all(|line| line.ends_with(" ms)")), "{lines:?}");
}

#[test]
fn probe_where_nothing_listens() {
    let closed = closed_port().to_string();
    let (status, lines) = Nbss::spawn(&[
        "probe",
        "127.0.0.1",
        "--port-netbios",
        &closed,
        "--port-smb",
        &closed,
        "--called",
        "NOBODY",
    ])
    .finish(WAIT);
    for line in &lines {
        println!("{line}");
    }
    assert_eq!(
        status.code(),
        Some(1),
        "no session was established: {lines:?}"
    );
    assert_eq!(lines.len(), 3, "direct, NOBODY, *SMBSERVER: {lines:?}");
    for line in &lines {
        assert!(line.contains("refused"), "{line}");
    }
}

/// A TCP server that accepts and never writes a byte, for as long as the
/// returned listener's thread runs (it stops after `WAIT`).
fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        let mut held = Vec::new();
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((socket, _)) => held.push(socket),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    port
}

#[test]
fn probe_of_a_silent_server_times_out() {
    let port = silent_server().to_string();
    let started = Instant::now();
    let (status, lines) = Nbss::spawn(&[
        "probe",
        "127.0.0.1",
        "--port-netbios",
        &port,
        "--port-smb",
        &port,
        "--called",
        "SILENT",
        "--timeout-ms",
        "300",
        "--json",
    ])
    .finish(WAIT);
    let took = started.elapsed();
    for line in &lines {
        println!("{line}");
    }
    assert!(took < Duration::from_secs(4), "the probe took {took:?}");
    let reports = json_lines(&lines);
    assert_eq!(reports.len(), 3, "{lines:?}");
    // Direct TCP has no handshake: connected is established; the NEGOTIATE times out.
    assert_eq!(reports[0]["result"], "established");
    assert_eq!(reports[0]["smb2"]["negotiate"], "timeout");
    for report in &reports[1..] {
        assert_eq!(report["result"], "timeout", "{report}");
        assert!(
            report["error"].as_str().unwrap().contains("300 ms"),
            "{report}"
        );
        let ms = report["ms"].as_u64().unwrap();
        assert!((300..2000).contains(&ms), "{report}");
    }
    assert_eq!(status.code(), Some(0), "the direct path was established");
}

/// A NetBIOS server that answers every SESSION REQUEST with a RETARGET to itself.
fn retargeting_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let Ok((mut socket, _)) = listener.accept() else {
                thread::sleep(Duration::from_millis(10));
                continue;
            };
            socket.set_nonblocking(false).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            // The request: a 4-byte header and two 34-byte names.
            let mut request = [0u8; 72];
            if socket.read_exact(&mut request).is_err() || request[0] != 0x81 {
                continue;
            }
            let mut answer = vec![0x84, 0, 0, 6, 127, 0, 0, 1];
            answer.extend_from_slice(&port.to_be_bytes());
            let _ = socket.write_all(&answer);
        }
    });
    port
}

#[test]
fn probe_reports_a_retarget_loop() {
    let port = retargeting_server().to_string();
    let closed = closed_port().to_string();
    let (status, lines) = Nbss::spawn(&[
        "probe",
        "127.0.0.1",
        "--port-netbios",
        &port,
        "--port-smb",
        &closed,
        "--json",
    ])
    .finish(WAIT);
    for line in &lines {
        println!("{line}");
    }
    assert_eq!(status.code(), Some(1));
    let reports = json_lines(&lines);
    assert_eq!(reports.len(), 2, "{lines:?}");
    assert_eq!(reports[1]["result"], "retarget-loop");
    assert!(reports[1]["error"]
        .as_str()
        .unwrap()
        .contains("Retargeted again"));
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["probe"][..],
        &["probe", "127.0.0.1", "--called", "A<1"],
        &["probe", "127.0.0.1", "--timeout-ms", "0"],
        &["bridge", "--listen", "127.0.0.1:0"],
        &["serve", "--listen", "nowhere"],
    ] {
        let (status, _) = Nbss::spawn(args).finish(WAIT);
        assert_eq!(status.code(), Some(2), "nbss {}", args.join(" "));
    }
}

//! `nbss bridge` between a netbios-session-tokio caller and an `nbss serve`
//! back end, all on loopback: messages echo back byte for byte, one log
//! line per session, `--max-sessions`, `--accept-names`, a NetBIOS back
//! end's refusal passed on, and shutdown on SIGTERM.

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::{Nbss, WAIT};
use futures_util::{SinkExt, StreamExt};
use netbios_session_tokio::{Call, Options, Session};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Calls `called` through the bridge at `addr`.
async fn call(
    addr: SocketAddr,
    called: &str,
) -> Result<Session<TcpStream>, netbios_session_tokio::Error> {
    let call = Call::new(called, "TESTER")
        .unwrap()
        .port(addr.port())
        .timeout(Some(WAIT));
    timeout(WAIT, Session::connect(&addr.ip().to_string(), &call))
        .await
        .expect("the call through the bridge ends within the wait")
}

/// A message whose bytes say where they are.
fn message(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Sends `message` and expects it back unchanged.
async fn echo(session: &mut Session<TcpStream>, message: Bytes) {
    let len = message.len();
    timeout(WAIT, session.send(message.clone()))
        .await
        .expect("the send ends within the wait")
        .unwrap_or_else(|error| panic!("sending {len} bytes failed: {error}"));
    let back = timeout(WAIT, session.next())
        .await
        .unwrap_or_else(|_| panic!("no echo of {len} bytes within {WAIT:?}"))
        .unwrap_or_else(|| panic!("the session ended before the echo of {len} bytes"))
        .unwrap_or_else(|error| panic!("reading the echo of {len} bytes failed: {error}"));
    assert_eq!(back.len(), len, "echo length");
    assert!(back == message, "the echo of {len} bytes differs");
}

/// Closes our side and waits for the bridge to close its side.
async fn close(mut session: Session<TcpStream>) {
    timeout(WAIT, session.close())
        .await
        .expect("close ends within the wait")
        .expect("close works");
    let rest = timeout(WAIT, session.next())
        .await
        .expect("the bridge closes within the wait");
    assert!(
        rest.is_none(),
        "expected the end of the session, got {rest:?}"
    );
}

fn serve_direct() -> (Nbss, SocketAddr) {
    Nbss::listening(&["serve", "--listen", "127.0.0.1:0", "--direct"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_relays_messages_and_stops_on_sigterm() {
    let (serve, serve_addr) = serve_direct();
    let to = serve_addr.to_string();
    let (mut bridge, addr) = Nbss::listening(&["bridge", "--listen", "127.0.0.1:0", "--to", &to]);

    let mut session = call(addr, "ECHO").await.expect("the bridge accepts ECHO");
    for len in [0, 1, 65_536, 131_071] {
        echo(&mut session, message(len)).await;
    }
    close(session).await;

    let log = bridge.wait_for_log("session ended", 1);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("session ended"))
        .collect();
    println!("{}", lines[0]);
    assert_eq!(lines.len(), 1, "one line per session: {log}");
    let line = lines[0];
    for field in [
        "called=ECHO<20>",
        "calling=TESTER<00>",
        "client_to_server_bytes=196608",
        "client_to_server_messages=4",
        "server_to_client_bytes=196608",
        "server_to_client_messages=4",
        "client closed first",
        "duration_ms=",
        "peer=127.0.0.1:",
    ] {
        assert!(line.contains(field), "expected {field:?} in {line}");
    }
    serve.wait_for_log("session ended", 1);

    bridge.terminate();
    let status = bridge.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "stderr: {}", bridge.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_refuses_beyond_max_sessions_and_closes_them_on_shutdown() {
    let (_serve, serve_addr) = serve_direct();
    let to = serve_addr.to_string();
    let (mut bridge, addr) = Nbss::listening(&[
        "bridge",
        "--listen",
        "127.0.0.1:0",
        "--to",
        &to,
        "--max-sessions",
        "1",
        "--shutdown-timeout-ms",
        "300",
    ]);

    let mut first = call(addr, "ECHO")
        .await
        .expect("the first caller is accepted");
    echo(&mut first, message(100)).await;

    let error = call(addr, "ECHO")
        .await
        .expect_err("a second caller is refused while the first is open");
    assert_eq!(error.response_code(), Some(0x83), "{error}");
    bridge.wait_for_log("0x83", 1);

    // SIGTERM with the first session open: it is closed after 300 ms.
    bridge.terminate();
    let rest = timeout(WAIT, first.next())
        .await
        .expect("the bridge closes the open session within the wait");
    assert!(
        !matches!(rest, Some(Ok(_))),
        "expected the end, got {rest:?}"
    );
    let status = bridge.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "stderr: {}", bridge.stderr());
    let log = bridge.stderr();
    assert!(log.contains("closed by the bridge's shutdown"), "{log}");
    assert_eq!(
        log.lines().filter(|l| l.contains("session ended")).count(),
        2,
        "one line for each session: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_accepts_only_the_names_given() {
    let (_serve, serve_addr) = serve_direct();
    let to = serve_addr.to_string();
    let (bridge, addr) = Nbss::listening(&[
        "bridge",
        "--listen",
        "127.0.0.1:0",
        "--to",
        &to,
        "--accept-names",
        "FILES,ECHO",
    ]);
    let error = call(addr, "OTHER")
        .await
        .expect_err("OTHER is not accepted");
    assert_eq!(error.response_code(), Some(0x82), "{error}");
    let mut session = call(addr, "echo").await.expect("names match ignoring case");
    echo(&mut session, message(10)).await;
    close(session).await;
    bridge.wait_for_log("session ended", 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_to_a_netbios_server_passes_its_refusal_on() {
    let (_serve, serve_addr) =
        Nbss::listening(&["serve", "--listen", "127.0.0.1:0", "--name", "ECHO"]);
    let to = serve_addr.to_string();
    let (_bridge, addr) = Nbss::listening(&[
        "bridge",
        "--listen",
        "127.0.0.1:0",
        "--to",
        &to,
        "--to-netbios",
        "--calling-from-request",
    ]);
    // The client's called name goes to the server, which knows only ECHO.
    let mut session = call(addr, "ECHO").await.expect("ECHO is relayed");
    echo(&mut session, message(1000)).await;
    close(session).await;
    let error = call(addr, "NOPE")
        .await
        .expect_err("the server rejects NOPE");
    assert_eq!(error.response_code(), Some(0x82), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_from_direct_clients_to_a_netbios_server() {
    let (serve, serve_addr) =
        Nbss::listening(&["serve", "--listen", "127.0.0.1:0", "--name", "ECHO"]);
    let to = serve_addr.to_string();
    let (_bridge, addr) = Nbss::listening(&[
        "bridge",
        "--listen",
        "127.0.0.1:0",
        "--to",
        &to,
        "--listen-direct",
        "--to-netbios",
        "--called",
        "ECHO",
        "--calling",
        "BRIDGE",
    ]);
    let mut session = timeout(
        WAIT,
        Session::connect_direct(
            &addr.ip().to_string(),
            addr.port(),
            &Options::new(),
            Some(WAIT),
        ),
    )
    .await
    .expect("the direct connect ends within the wait")
    .expect("the bridge takes direct clients");
    for len in [0, 5000, 131_071] {
        echo(&mut session, message(len)).await;
    }
    close(session).await;
    let log = serve.wait_for_log("session ended", 1);
    assert!(log.contains("calling=BRIDGE<00>"), "{log}");
}

//! The TCP entry points over loopback: `connect` and `accept` on 127.0.0.1,
//! `connect_direct` and `direct`, and a direct dial that nothing answers.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use netbios_session_tokio::{Call, ErrorKind, Options, Session};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_netbios_call_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let incoming = Session::accept(socket, &Options::new()).await.unwrap();
        assert_eq!(incoming.called().to_string(), "LOOPBACK<20>");
        let mut session = incoming.accept().await.unwrap();
        while let Some(message) = session.next().await {
            session.send(message.unwrap()).await.unwrap();
        }
    });
    let call = Call::new("LOOPBACK", "TESTER").unwrap().port(port);
    let mut session = Session::connect("127.0.0.1", &call).await.unwrap();
    let big = Bytes::from((0..131_071u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    session.send(big.clone()).await.unwrap();
    assert_eq!(session.next().await.unwrap().unwrap(), big);
    session.close().await.unwrap();
    assert!(session.next().await.is_none());
    server.await.unwrap();
}

#[tokio::test]
async fn direct_tcp_both_ways_with_wide_messages() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut session = Session::direct(socket, &Options::new()).unwrap();
        let message = session.next().await.unwrap().unwrap();
        session
            .send(Bytes::from(message.len().to_string()))
            .await
            .unwrap();
    });
    let mut session = Session::connect_direct(
        "127.0.0.1",
        port,
        &Options::new(),
        Some(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    session.send(Bytes::from(vec![1u8; 3 << 20])).await.unwrap();
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"3145728");
    server.await.unwrap();
}

#[tokio::test]
async fn a_direct_dial_to_a_closed_port_says_where() {
    // A port that was free a moment ago: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = Session::connect_direct(
        "127.0.0.1",
        port,
        &Options::new(),
        Some(Duration::from_secs(5)),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert!(
        error
            .to_string()
            .starts_with(&format!("Cannot connect to 127.0.0.1:{port}")),
        "{error}"
    );
}

#[tokio::test]
async fn an_ipv6_host_may_be_written_in_brackets() {
    let Ok(listener) = TcpListener::bind("[::1]:0").await else {
        return; // no IPv6 loopback here
    };
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { listener.accept().await.unwrap() });
    let session =
        Session::connect_direct("[::1]", port, &Options::new(), Some(Duration::from_secs(5))).await;
    assert!(session.is_ok(), "{:?}", session.err());
    server.await.unwrap();
}

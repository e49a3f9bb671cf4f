//! Sessions over in-memory streams: the caller's setup (retargets,
//! fallbacks, deadlines), the called node's answers, messages both ways,
//! ends of stream and timers, with tokio's clock paused where time matters.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use netbios_session_tokio::{Call, Dial, ErrorKind, Host, NetbiosName, Options, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

type Server = Box<dyn FnOnce(DuplexStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A called node that answers with `answer` (an async closure over its `Incoming`).
fn server<F, Fut>(answer: F) -> Server
where
    F: FnOnce(netbios_session_tokio::Incoming<DuplexStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move |io| {
        Box::pin(async move {
            let incoming = Session::accept(io, &Options::new()).await.unwrap();
            answer(incoming).await;
        })
    })
}

/// An echo server: accepts and echoes until the caller ends.
fn echo() -> Server {
    server(|incoming| async move {
        let mut session = incoming.accept().await.unwrap();
        while let Some(message) = session.next().await {
            session.send(message.unwrap()).await.unwrap();
        }
    })
}

/// In-memory dialing: each dial gets the next server and is recorded.
struct Network {
    servers: Mutex<VecDeque<Server>>,
    dials: Mutex<Vec<Dial>>,
}

impl Network {
    fn new(servers: Vec<Server>) -> Arc<Self> {
        Arc::new(Self {
            servers: Mutex::new(servers.into()),
            dials: Mutex::new(Vec::new()),
        })
    }

    fn dialer(
        self: &Arc<Self>,
    ) -> impl FnMut(Dial) -> Pin<Box<dyn Future<Output = io::Result<DuplexStream>> + Send>> {
        let network = Arc::clone(self);
        move |to| {
            network.dials.lock().unwrap().push(to);
            let next = network.servers.lock().unwrap().pop_front();
            Box::pin(async move {
                let server =
                    next.ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
                let (client, server_end) = tokio::io::duplex(256 * 1024);
                tokio::spawn(server(server_end));
                Ok(client)
            })
        }
    }

    fn dials(&self) -> Vec<String> {
        self.dials
            .lock()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

fn call() -> Call {
    Call::new("FILESERVER", "CLIENT").unwrap()
}

#[tokio::test]
async fn a_call_is_accepted_and_messages_go_both_ways() {
    let (names_tx, names_rx) = tokio::sync::oneshot::channel();
    let network = Network::new(vec![server(|incoming| async move {
        names_tx
            .send((
                incoming.called().to_string(),
                incoming.calling().to_string(),
            ))
            .unwrap();
        let mut session = incoming.accept().await.unwrap();
        while let Some(message) = session.next().await {
            session.send(message.unwrap()).await.unwrap();
        }
    })]);
    let mut session = Session::connect_with("fs.example", &call(), network.dialer())
        .await
        .unwrap();
    assert_eq!(
        names_rx.await.unwrap(),
        ("FILESERVER<20>".to_owned(), "CLIENT<00>".to_owned())
    );
    assert_eq!(network.dials(), ["fs.example:139"]);
    for size in [0usize, 1, 70_000, 131_071] {
        let message = Bytes::from(vec![size as u8; size]);
        session.send(message.clone()).await.unwrap();
        assert_eq!(session.next().await.unwrap().unwrap(), message);
    }
}

#[tokio::test]
async fn a_refused_name_falls_back_to_the_next_on_a_new_connection() {
    let network = Network::new(vec![
        server(|incoming| async move { incoming.reject(0x82).await.unwrap() }),
        echo(),
    ]);
    let call = call().fallback(NetbiosName::parse("*SMBSERVER", 0x20).unwrap());
    let mut session = Session::connect_with("fs.example", &call, network.dialer())
        .await
        .unwrap();
    assert_eq!(network.dials(), ["fs.example:139", "fs.example:139"]);
    session.send(Bytes::from_static(b"ping")).await.unwrap();
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"ping");
}

#[tokio::test]
async fn a_refusal_without_fallback_is_rejected_with_its_code() {
    let network = Network::new(vec![server(|incoming| async move {
        incoming.reject(0x82).await.unwrap()
    })]);
    let error = Session::connect_with("fs.example", &call(), network.dialer())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Rejected);
    assert_eq!(error.kind().code(), "ERR_NETBIOS_REJECTED");
    assert_eq!(error.response_code(), Some(0x82));
    assert_eq!(
        error.to_string(),
        "Connection failed with response code [Called name not present]"
    );
}

#[tokio::test]
async fn a_retarget_is_followed_to_the_address_it_names() {
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 5), 1139);
    let network = Network::new(vec![
        server(move |incoming| async move { incoming.retarget(to).await.unwrap() }),
        echo(),
    ]);
    let mut session = Session::connect_with("fs.example", &call(), network.dialer())
        .await
        .unwrap();
    assert_eq!(network.dials(), ["fs.example:139", "10.0.0.5:1139"]);
    assert_eq!(network.dials.lock().unwrap()[1].host, Host::Addr(*to.ip()));
    session.send(Bytes::from_static(b"there")).await.unwrap();
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"there");
}

#[tokio::test]
async fn retargets_beyond_the_bound_fail() {
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 7), 139);
    let servers = (0..3)
        .map(|_| server(move |incoming| async move { incoming.retarget(to).await.unwrap() }))
        .collect();
    let network = Network::new(servers);
    let error = Session::connect_with("fs.example", &call().max_retargets(2), network.dialer())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RetargetLoop);
    assert_eq!(error.retarget(), Some(to));
    assert_eq!(network.dials().len(), 3);
}

#[tokio::test]
async fn a_refused_connection_names_where_it_dialed() {
    let network = Network::new(vec![]);
    let error = Session::connect_with("fs.example", &call(), network.dialer())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert_eq!(
        error.io_error().unwrap().kind(),
        io::ErrorKind::ConnectionRefused
    );
    assert!(
        error
            .to_string()
            .starts_with("Cannot connect to fs.example:139: "),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_setup_deadline_covers_a_peer_that_never_answers() {
    let network = Network::new(vec![Box::new(|io| {
        Box::pin(async move {
            let _keep = io;
            std::future::pending::<()>().await;
        })
    })]);
    let started = tokio::time::Instant::now();
    let call = call().timeout(Some(Duration::from_secs(5)));
    let error = Session::connect_with("fs.example", &call, network.dialer())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(started.elapsed().as_secs(), 5);
    assert!(error.to_string().contains("within 5000 ms"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn the_setup_deadline_covers_the_dial() {
    let call = call().timeout(Some(Duration::from_millis(1500)));
    let dial = |_to: Dial| async { std::future::pending::<io::Result<DuplexStream>>().await };
    let error = Session::connect_with("fs.example", &call, dial)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
}

#[tokio::test(start_paused = true)]
async fn a_called_node_waits_for_a_request_no_longer_than_its_timeout() {
    let (client, server_end) = tokio::io::duplex(1024);
    let options = Options::new().request_timeout(Some(Duration::from_secs(2)));
    let error = Session::accept(server_end, &options).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.to_string().contains("requestTimeout"), "{error}");
    drop(client);
}

#[tokio::test]
async fn an_end_before_the_request_fails_the_accept() {
    let (client, server_end) = tokio::io::duplex(1024);
    drop(client);
    let error = Session::accept(server_end, &Options::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(
        error.to_string().contains("before a SESSION REQUEST"),
        "{error}"
    );
}

/// A SESSION REQUEST for FILESERVER<20> from CLIENT<00>, by hand.
fn request() -> Vec<u8> {
    let mut trailer = Vec::new();
    NetbiosName::parse("FILESERVER", 0x20)
        .unwrap()
        .encode(&mut trailer);
    NetbiosName::parse("CLIENT", 0)
        .unwrap()
        .encode(&mut trailer);
    let mut frame = vec![0x81, 0, 0, trailer.len() as u8];
    frame.extend(trailer);
    frame
}

#[tokio::test]
async fn messages_pipelined_behind_the_request_are_read_after_accepting() {
    let (mut client, server_end) = tokio::io::duplex(4096);
    let mut bytes = request();
    bytes.extend_from_slice(b"\x00\x00\x00\x03one\x00\x00\x00\x03two");
    client.write_all(&bytes).await.unwrap();
    let incoming = Session::accept(server_end, &Options::new()).await.unwrap();
    let mut session = incoming.accept().await.unwrap();
    let mut positive = [0u8; 4];
    client.read_exact(&mut positive).await.unwrap();
    assert_eq!(positive, [0x82, 0, 0, 0]);
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"one");
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"two");
}

#[tokio::test]
async fn a_rejection_sends_the_code_and_closes() {
    let (mut client, server_end) = tokio::io::duplex(4096);
    client.write_all(&request()).await.unwrap();
    let incoming = Session::accept(server_end, &Options::new()).await.unwrap();
    incoming.reject(0x80).await.unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, [0x83, 0, 0, 1, 0x80]);
}

#[tokio::test]
async fn an_end_inside_a_message_is_a_protocol_error_and_a_clean_end_is_none() {
    let (mut peer, ours) = tokio::io::duplex(4096);
    let mut session = Session::direct(ours, &Options::new()).unwrap();
    peer.write_all(b"\x00\x00\x00\x02hi\x00\x00\x00\x09abc")
        .await
        .unwrap();
    drop(peer);
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"hi");
    let error = session.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(session.next().await.is_none(), "nothing after the failure");

    let (peer, ours) = tokio::io::duplex(4096);
    let mut session = Session::direct(ours, &Options::new()).unwrap();
    drop(peer);
    assert!(session.next().await.is_none());
}

#[tokio::test]
async fn sending_over_the_limit_or_after_the_end_is_refused() {
    let (_peer, ours) = tokio::io::duplex(4096);
    let mut session = Session::established(ours, &Options::new().max_message_length(100)).unwrap();
    let error = session.send(Bytes::from(vec![0; 101])).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MessageTooLong);
    session.close().await.unwrap();
    let error = session.send(Bytes::from_static(b"late")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotConnected);
}

#[tokio::test(start_paused = true)]
async fn keep_alives_go_out_and_an_idle_peer_times_out() {
    let (mut peer, ours) = tokio::io::duplex(4096);
    let options = Options::new()
        .keep_alive(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(25));
    let mut session = Session::established(ours, &options).unwrap();
    let reader = tokio::spawn(async move { session.next().await });
    let mut keep_alive = [0u8; 8];
    peer.read_exact(&mut keep_alive).await.unwrap();
    assert_eq!(
        keep_alive,
        [0x85, 0, 0, 0, 0x85, 0, 0, 0],
        "one at 10 s, one at 20 s"
    );
    let error = reader.await.unwrap().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.to_string().contains("idleTimeout"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn frames_read_before_a_deadline_are_delivered_after_it() {
    let (mut peer, ours) = tokio::io::duplex(4096);
    let options = Options::new().idle_timeout(Duration::from_secs(1));
    let mut session = Session::established(ours, &options).unwrap();
    // A message, a keep-alive and a message, read together with the first.
    peer.write_all(b"\x00\x00\x00\x03one\x85\x00\x00\x00\x00\x00\x00\x03two")
        .await
        .unwrap();
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"one");
    // The application takes its time: the idle deadline passes meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(&session.next().await.unwrap().unwrap()[..], b"two");
    // Nothing more was read in time: now the deadline counts.
    let error = session.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn split_halves_work_from_two_tasks() {
    let (a, b) = tokio::io::duplex(1024);
    let (mut sink, mut stream) = Session::direct(a, &Options::new()).unwrap().split();
    let mut peer = Session::direct(b, &Options::new()).unwrap();
    let count = 200usize;
    let writer = tokio::spawn(async move {
        for i in 0..count {
            sink.send(Bytes::from(vec![i as u8; i * 37])).await.unwrap();
        }
        sink.close().await.unwrap();
    });
    let echo = tokio::spawn(async move {
        while let Some(message) = peer.next().await {
            peer.send(message.unwrap()).await.unwrap();
        }
        peer.close().await.unwrap();
    });
    for i in 0..count {
        assert_eq!(
            stream.next().await.unwrap().unwrap(),
            Bytes::from(vec![i as u8; i * 37])
        );
    }
    assert!(stream.next().await.is_none());
    writer.await.unwrap();
    echo.await.unwrap();
}

#[tokio::test]
async fn the_sink_pushes_back_when_the_peer_does_not_read() {
    let (_peer, ours) = tokio::io::duplex(64 * 1024);
    let mut session = Session::direct(ours, &Options::new()).unwrap();
    let message = Bytes::from(vec![0u8; 16 * 1024]);
    let mut sent = 0usize;
    let blocked = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            session.feed(message.clone()).await.unwrap();
            sent += 1;
        }
    })
    .await;
    assert!(blocked.is_err(), "feed() stops once the stream is full");
    // The stream's buffer, plus at most the sink's 1 MiB and one message.
    assert!(
        sent * message.len() <= 64 * 1024 + 1024 * 1024 + 2 * message.len(),
        "{sent} messages taken"
    );
}

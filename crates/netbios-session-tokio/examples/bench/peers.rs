//! The two sides of each figure: the listening side (`serve`) and the
//! connecting side (`drive`), ours over [`Session`], the baseline over plain
//! [`TcpStream`]s moving the same bytes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use netbios_session_tokio::{Call, Options, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::{BoxError, HOST, MIB, TIMEOUT};

/// The baseline's write and read size. Measured here, 16 KiB messages:
/// 64 KiB moves about 30% less than 1 MiB, 256 KiB about 15% less (and
/// 4 MiB no more than 1 MiB, direct 1 MiB messages).
const CHUNK: usize = MIB;

#[derive(Clone, Copy)]
pub enum Kind {
    Throughput { size: usize, direct: bool },
    PingPong,
    Setups,
}

/// The listening side; counts messages in the throughput figures.
pub async fn serve(
    kind: Kind,
    ours: bool,
    listener: TcpListener,
    count: Arc<AtomicU64>,
) -> Result<(), BoxError> {
    let options = Options::new();
    if let Kind::Setups = kind {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (socket, _) = accepted?;
                    socket.set_nodelay(true)?;
                    connections.spawn(answer(socket, ours, options.clone()));
                }
                Some(done) = connections.join_next() => done??,
            }
        }
    }
    let (mut socket, _) = listener.accept().await?;
    socket.set_nodelay(true)?;
    match (kind, ours) {
        (Kind::Throughput { size, .. }, false) => {
            let frame = (size + 4) as u64;
            let (mut buffer, mut bytes) = (vec![0; CHUNK], 0);
            loop {
                match socket.read(&mut buffer).await? {
                    0 => return Ok(()),
                    read => bytes += read as u64,
                }
                count.store(bytes / frame, Relaxed);
            }
        }
        (_, false) => loop {
            let mut message = [0; 68];
            socket.read_exact(&mut message).await?;
            socket.write_all(&message).await?;
        },
        (_, true) => {
            let mut session = match kind {
                Kind::Throughput { direct: true, .. } => Session::direct(socket, &options)?,
                _ => Session::accept(socket, &options).await?.accept().await?,
            };
            let mut messages = 0;
            while let Some(message) = session.next().await {
                let message = message?;
                if let Kind::PingPong = kind {
                    session.send(message).await?;
                } else {
                    messages += 1;
                    count.store(messages, Relaxed);
                }
            }
            Ok(())
        }
    }
}

/// The server's half of one session setup; then it reads to the caller's end.
async fn answer(mut socket: TcpStream, ours: bool, options: Options) -> Result<(), BoxError> {
    if ours {
        let mut session = Session::accept(socket, &options).await?.accept().await?;
        while session.next().await.transpose()?.is_some() {}
    } else {
        let mut request = [0; 72];
        socket.read_exact(&mut request).await?;
        socket.write_all(&[0x82, 0, 0, 0]).await?;
        while socket.read(&mut request).await? > 0 {}
    }
    Ok(())
}

/// The connecting side: sends (throughput), pings, or sets up sessions,
/// counting round trips and setups.
pub async fn drive(
    kind: Kind,
    ours: bool,
    port: u16,
    count: Arc<AtomicU64>,
) -> Result<(), BoxError> {
    let call = Call::new("BENCH", "CLIENT")?.port(port);
    let mut events = 0;
    match (kind, ours) {
        (Kind::Throughput { size, direct }, true) => {
            let mut session = if direct {
                Session::connect_direct(HOST, port, &Options::new(), Some(TIMEOUT)).await?
            } else {
                Session::connect(HOST, &call).await?
            };
            let payload = Bytes::from(vec![0x61; size]);
            // `feed` only queues, but its poll_ready writes out once 64 KiB
            // are queued, and waits while the socket is full: backpressure.
            loop {
                session.feed(payload.clone()).await?;
            }
        }
        (Kind::Throughput { size, direct }, false) => {
            let mut socket = connect_tcp(port).await?;
            // Frames end to end, CHUNK bytes a write: every write starts
            // `offset` bytes into a frame, and `frames` holds CHUNK from there.
            let frame = framed(size, direct);
            let frames = frame.repeat((CHUNK + frame.len()).div_ceil(frame.len()));
            let mut offset = 0;
            loop {
                socket.write_all(&frames[offset..offset + CHUNK]).await?;
                offset = (offset + CHUNK) % frame.len();
            }
        }
        (Kind::PingPong, true) => {
            let mut session = Session::connect(HOST, &call).await?;
            let payload = Bytes::from(vec![0x61; 64]);
            loop {
                session.send(payload.clone()).await?;
                session.next().await.ok_or("the echo ended")??;
                events += 1;
                count.store(events, Relaxed);
            }
        }
        (Kind::PingPong, false) => {
            let mut socket = connect_tcp(port).await?;
            let mut message = framed(64, false);
            loop {
                socket.write_all(&message).await?;
                socket.read_exact(&mut message).await?;
                events += 1;
                count.store(events, Relaxed);
            }
        }
        (Kind::Setups, true) => loop {
            drop(Session::connect(HOST, &call).await?);
            events += 1;
            count.store(events, Relaxed);
        },
        (Kind::Setups, false) => loop {
            let mut socket = connect_tcp(port).await?;
            socket.write_all(&[0x41; 72]).await?;
            socket.read_exact(&mut [0; 4]).await?;
            drop(socket);
            events += 1;
            count.store(events, Relaxed);
        },
    }
}

/// A TCP connection with Nagle off, as [`Session::connect`] makes.
async fn connect_tcp(port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpStream::connect((HOST, port)).await?;
    socket.set_nodelay(true)?;
    Ok(socket)
}

/// One SESSION MESSAGE of `size` bytes of 'a', header included.
fn framed(size: usize, direct: bool) -> Vec<u8> {
    let high = if direct { size >> 16 } else { (size >> 16) & 1 };
    let mut frame = vec![0, high as u8, (size >> 8) as u8, size as u8];
    frame.resize(4 + size, 0x61);
    frame
}

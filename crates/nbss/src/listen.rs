//! The listening socket of `serve` and `bridge`: bound, then announced on
//! stdout as `listening on ADDR:PORT` (the real port when 0 was asked),
//! the line scripts and tests wait for.

use std::io::Write;
use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Binds `addr` and prints where it listens. The error says what failed.
pub async fn bind_and_announce(addr: SocketAddr) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(addr).await.map_err(|error| {
        format!("cannot listen on {addr}: {error}; expected a free local address and port")
    })?;
    let local = listener.local_addr().map_err(|error| {
        format!("cannot read the address bound for {addr}: {error}; expected a bound socket")
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {local}")
        .and_then(|()| out.flush())
        .map_err(|error| format!("cannot write to stdout: {error}; expected it open"))?;
    Ok(listener)
}

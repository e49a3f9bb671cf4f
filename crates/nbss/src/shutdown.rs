//! The signals that stop a long-running command (SIGTERM and SIGINT; Ctrl-C
//! where there are no Unix signals), installed before the command says it
//! is listening so that none is missed.

use std::io;

#[cfg(unix)]
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Signal handlers, installed once.
pub struct Signals {
    #[cfg(unix)]
    term: Signal,
    #[cfg(unix)]
    interrupt: Signal,
}

impl Signals {
    /// Installs the handlers; from now on these signals no longer kill the process.
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for the next signal; returns its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                // No handler: wait for ever rather than stop at once.
                Err(_) => std::future::pending().await,
            }
        }
    }
}

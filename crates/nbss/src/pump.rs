//! One direction of a session's traffic: messages read from one session's
//! stream half are written to a sink (another session's, or its own for an
//! echo), counted, with the sink's backpressure slowing the reads.

use bytes::Bytes;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use netbios_session_tokio::Error;

/// Messages and payload bytes moved in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub messages: u64,
    pub bytes: u64,
}

/// Which end of a [`pump`] failed.
#[derive(Debug)]
pub enum PumpError {
    /// Reading from the source failed.
    Read(Error),
    /// Writing to (or closing) the destination failed.
    Write(Error),
}

/// Moves every message from `from` to `to` until `from` ends, then closes
/// `to` (its write side is shut down; it may still be read). Messages are
/// fed without a flush while more are ready, and flushed before waiting.
pub async fn pump<R, W>(mut from: R, mut to: W, tally: &mut Tally) -> Result<(), PumpError>
where
    R: Stream<Item = Result<Bytes, Error>> + Unpin,
    W: Sink<Bytes, Error = Error> + Unpin,
{
    // Whether any message was fed yet. Before each wait for a message what
    // was fed is flushed; between two waits at least one message is fed.
    let mut fed = false;
    loop {
        let next = match from.next().now_or_never() {
            Some(next) => next,
            None => {
                if fed {
                    to.flush().await.map_err(PumpError::Write)?;
                }
                from.next().await
            }
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(PumpError::Read(error)),
            None => break,
        };
        let length = message.len() as u64;
        to.feed(message).await.map_err(PumpError::Write)?;
        fed = true;
        tally.messages += 1;
        tally.bytes += length;
    }
    to.close().await.map_err(PumpError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    #[tokio::test]
    async fn moves_counts_and_closes() {
        let messages = [
            Bytes::new(),
            Bytes::from_static(b"a"),
            Bytes::from(vec![7; 1000]),
        ];
        let from = stream::iter(messages.clone().map(Ok::<_, Error>));
        let mut received = Vec::new();
        let mut tally = Tally::default();
        {
            let to = (&mut received).sink_map_err(|never| match never {});
            pump(from, to, &mut tally).await.unwrap();
        }
        assert_eq!(received, messages);
        assert_eq!(
            tally,
            Tally {
                messages: 3,
                bytes: 1001
            }
        );
    }

    #[tokio::test]
    async fn a_read_error_stops_it() {
        let from = stream::iter([
            Ok(Bytes::from_static(b"x")),
            Err(Error::from(std::io::Error::other("reset"))),
        ]);
        let mut received: Vec<Bytes> = Vec::new();
        let mut tally = Tally::default();
        let to = (&mut received).sink_map_err(|never| match never {});
        let result = pump(from, to, &mut tally).await;
        assert!(matches!(result, Err(PumpError::Read(_))));
        assert_eq!(tally.messages, 1);
    }
}

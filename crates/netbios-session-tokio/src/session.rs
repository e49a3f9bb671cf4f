//! An established session over any `AsyncRead + AsyncWrite`: a [`Stream`]
//! of received messages and a [`Sink`] of messages to send. It moves bytes
//! between the stream and the core, and sleeps until the core's deadline;
//! the core decides everything else.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use netbios_session_core::{self as core, Received, SessionError, State};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::clock::{Clock, Timer};
use crate::output::Output;
use crate::Error;

/// Room made for a read: it starts small, doubles while reads fill it (a
/// busy stream: fewer, larger reads) and halves when they use little of it,
/// so a quiet session keeps a small buffer. A message's body gets room for
/// all of it when its header is read ([`core::Session::decode`]).
const MIN_READ_ROOM: usize = 16 * 1024;
const MAX_READ_ROOM: usize = 1024 * 1024;
/// Bytes waiting to be written beyond which [`Sink::poll_ready`] first
/// writes them out: backpressure from the stream. Large, so that a bulk
/// sender makes few large writes (64 KiB cost 16 KiB messages a quarter of
/// their rate, measured); a request-reply session never comes near it.
const HIGH_WATER: usize = 1024 * 1024;

/// A NetBIOS session (or SMB direct-TCP session) over the stream `S`.
///
/// Received messages come from its [`Stream`] implementation, one
/// [`Bytes`] each (SESSION KEEP ALIVEs are read and dropped); messages go
/// out through its [`Sink`] implementation. [`split`](Self::split) makes
/// read and write halves for two tasks.
///
/// Deadlines (idle timeout, keep-alives) are kept by the reading side:
/// a session that is read (or whose read half is) keeps them. The timer
/// wakes one task, the reader's; a session that is only written keeps none.
/// Frames already read when a deadline passes are delivered before it is
/// acted on: an application slow to take them loses none to its own delay.
#[derive(Debug)]
pub struct Session<S> {
    pub(crate) io: S,
    pub(crate) core: core::Session,
    pub(crate) clock: Clock,
    input: BytesMut,
    output: Output,
    timer: Timer,
    /// The room the next read gets (see [`MIN_READ_ROOM`]).
    read_room: usize,
    /// When the bytes in `input` arrived (the core's `now` for them): one
    /// clock read per socket read, not one per message.
    read_at: core::Millis,
    /// The peer ended its stream.
    read_closed: bool,
    /// `poll_close` ended the session in the core.
    ended: bool,
    /// The sink waits for the stream to take its bytes. A stream wakes one
    /// writer only: the reading side then leaves writing to the sink (see
    /// `poll_received`), or the sink's task would never be woken.
    sink_waiting: bool,
}

impl<S> Session<S> {
    pub(crate) fn from_parts(io: S, core: core::Session, clock: Clock) -> Self {
        let mut session = Self {
            io,
            core,
            clock,
            input: BytesMut::new(),
            output: Output::default(),
            timer: Timer::default(),
            read_room: MIN_READ_ROOM,
            read_at: clock.now(),
            read_closed: false,
            ended: false,
            sink_waiting: false,
        };
        session.take_transmit();
        session
    }

    /// Hands back the core (and the clock) of a connection left for a
    /// retarget or fallback; the stream is dropped (closed).
    pub(crate) fn into_core(self) -> (core::Session, Clock) {
        (self.core, self.clock)
    }

    /// Where the session stands.
    pub fn state(&self) -> State {
        self.core.state()
    }

    /// The largest message this session sends or accepts.
    pub fn max_message_length(&self) -> u32 {
        self.core.max_message_length()
    }

    /// The underlying stream (for its addresses, say).
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Moves what the core queued (a request, an answer, a keep-alive) to the output.
    pub(crate) fn take_transmit(&mut self) {
        while let Some(frame) = self.core.poll_transmit() {
            self.output.push_frame(frame);
        }
    }

    /// Acts on the deadlines that had passed when the bytes in `input`
    /// arrived: they come before those bytes are decoded. A failure is
    /// returned once (the core is then over and has no deadline).
    fn handle_deadlines_at_read(&mut self) -> Option<SessionError> {
        while self
            .core
            .poll_timeout()
            .is_some_and(|at| at <= self.read_at)
        {
            if let Some(error) = self.core.handle_timeout(self.read_at) {
                return Some(error);
            }
            self.take_transmit();
        }
        None
    }

    /// Acts on every deadline passed by the clock; arms the timer for the
    /// next. A failure is returned once (the core is then over and has no
    /// deadline).
    fn poll_deadlines(&mut self, cx: &mut Context<'_>) -> Option<SessionError> {
        loop {
            let at = self.core.poll_timeout()?;
            let now = self.clock.now();
            if at > now && self.timer.poll_at(&self.clock, at, cx).is_pending() {
                return None;
            }
            // The timer fired: the deadline has passed, whatever rounding says.
            if let Some(error) = self.core.handle_timeout(now.max(at)) {
                return Some(error);
            }
            self.take_transmit();
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Writes out everything queued, and flushes the stream.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.output.poll_write_to(&mut self.io, cx)
    }

    /// Writes out everything queued.
    pub(crate) async fn write_out(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_write_out(cx)).await?;
        Ok(())
    }

    /// The next event the core decodes, reading as needed; `None` once the
    /// peer ended its stream cleanly or the session is over. What the core
    /// queued meanwhile (keep-alives) is written out while waiting to read.
    ///
    /// Deadlines are judged by when bytes arrived: one that had passed
    /// when the buffered bytes were read is acted on before them; one that
    /// passed since, once they are decoded and before the next read. So
    /// frames read in time are never lost to a deadline that passed while
    /// the application was busy, whatever frames they are.
    pub(crate) fn poll_received(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Received>, Error>> {
        loop {
            if let Some(error) = self.handle_deadlines_at_read() {
                return Poll::Ready(Err(error.into()));
            }
            if let Some(received) = self.core.decode(self.read_at, &mut self.input) {
                return Poll::Ready(Ok(Some(received)));
            }
            if let Some(error) = self.poll_deadlines(cx) {
                return Poll::Ready(Err(error.into()));
            }
            if self.core.state().is_over() || self.read_closed {
                return Poll::Ready(Ok(None));
            }
            if self.core.state() == State::AwaitingDecision {
                // Nothing is read until the request is answered.
                return Poll::Ready(Err(Error::closed(
                    "The SESSION REQUEST awaits its answer; nothing is read before it",
                )));
            }
            if self.output.len() > 0 && !self.sink_waiting {
                // What the core queued (keep-alives, a setup frame) goes out
                // even if nobody writes. Pending is fine: this task is woken
                // when the stream takes more, or when there is more to read.
                if let Poll::Ready(Err(error)) = self.poll_write_out(cx) {
                    return Poll::Ready(Err(error.into()));
                }
            }
            if self.input.capacity() - self.input.len() < self.read_room / 4 {
                self.input.reserve(self.read_room);
            }
            let room = self.input.capacity() - self.input.len();
            let read = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut self.io),
                cx,
                &mut self.input
            ))?;
            self.read_at = self.clock.now();
            if read == room {
                self.read_room = (self.read_room * 2).min(MAX_READ_ROOM);
            } else if read < self.read_room / 8 {
                self.read_room = (self.read_room / 2).max(MIN_READ_ROOM);
            }
            if read == 0 {
                self.read_closed = true;
                self.core.handle_end_of_input()?;
            }
        }
    }

    /// The sink's writing: what it waits for is noted (see `sink_waiting`).
    fn poll_write_out_for_sink(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = self.poll_write_out(cx);
        self.sink_waiting = poll.is_pending();
        poll
    }

    /// Splits the session into a write half and a read half (futures'
    /// order), for two tasks.
    pub fn split(self) -> (SplitSink<Self, Bytes>, SplitStream<Self>) {
        let (sink, stream) = StreamExt::split(self);
        (sink, stream)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Session<S> {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // The usual case first: a whole message already read, and no
        // deadline that had passed when it was (see `poll_received`).
        if let Some(message) = this.core.decode_message(this.read_at, &mut this.input) {
            return Poll::Ready(Some(Ok(message)));
        }
        loop {
            return Poll::Ready(match ready!(this.poll_received(cx)) {
                Ok(Some(Received::Message(message))) => Some(Ok(message)),
                Ok(Some(Received::Failed(error))) => Some(Err(error.into())),
                // Keep-alives carry nothing; an established session decodes nothing else.
                Ok(Some(_)) => continue,
                Ok(None) => None,
                Err(error) => Some(Err(error)),
            });
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Bytes> for Session<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.output.len() >= HIGH_WATER {
            ready!(this.poll_write_out_for_sink(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues one message. Fails with [`ErrorKind::MessageTooLong`](crate::ErrorKind::MessageTooLong)
    /// above the session's limit, and with [`ErrorKind::NotConnected`](crate::ErrorKind::NotConnected)
    /// once it is no longer established.
    fn start_send(self: Pin<&mut Self>, message: Bytes) -> Result<(), Error> {
        let this = self.get_mut();
        let header = this.core.message_header(message.len())?;
        this.output.push_message(&header, message);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_write_out_for_sink(cx))?;
        Poll::Ready(Ok(()))
    }

    /// Ends the session: what was queued is written, then the write side
    /// of the stream is shut down. Messages still arriving can be read.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.ended {
            this.ended = true;
            this.core.end(this.clock.now());
        }
        ready!(this.poll_write_out_for_sink(cx))?;
        ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }
}

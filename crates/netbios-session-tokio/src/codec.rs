//! A tokio-util codec for established sessions, for stacks that keep their
//! own `Framed` transport: decoding and every length rule are the core's.

use bytes::{BufMut, Bytes, BytesMut};
use netbios_session_core::{self as core, Received, Role, Start};
use tokio_util::codec::{Decoder, Encoder};

use crate::{Error, Options};

/// Frames SESSION MESSAGEs of an established session: RFC 1002's 17-bit
/// lengths (E bit 0x01), netbios-session 0.1.6's legacy bit, 24-bit
/// lengths for NetBIOS limits above 131071, or SMB direct TCP's 24 bits.
/// SESSION KEEP ALIVEs are read and dropped; any other frame, or a message
/// over the limit, is an error of kind [`Protocol`](crate::ErrorKind::Protocol).
/// The codec keeps no time: `Options`' timers do not apply.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use netbios_session_tokio::{NetbiosCodec, Options};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = NetbiosCodec::netbios(&Options::new())?;
/// let mut wire = BytesMut::new();
/// codec.encode(Bytes::from_static(b"hello"), &mut wire)?;
/// assert_eq!(&wire[..], b"\x00\x00\x00\x05hello");
/// assert_eq!(codec.decode(&mut wire)?, Some(Bytes::from_static(b"hello")));
/// # Ok::<(), netbios_session_tokio::Error>(())
/// ```
#[derive(Debug)]
pub struct NetbiosCodec {
    core: core::Session,
}

impl NetbiosCodec {
    /// NetBIOS framing (port 139), after the session was set up.
    pub fn netbios(options: &Options) -> Result<Self, Error> {
        Self::new(Start::Established, options.config(Role::Called))
    }

    /// SMB direct-TCP framing (port 445).
    pub fn direct(options: &Options) -> Result<Self, Error> {
        Self::new(Start::Direct, options.config(Role::Direct))
    }

    fn new(start: Start, mut config: core::Config) -> Result<Self, Error> {
        config.timers = core::Timers::default();
        Ok(Self {
            core: core::Session::new(start, config, 0)?,
        })
    }

    /// The largest message this codec encodes or accepts.
    pub fn max_message_length(&self) -> u32 {
        self.core.max_message_length()
    }
}

impl Decoder for NetbiosCodec {
    type Item = Bytes;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        loop {
            return match self.core.decode(0, src) {
                Some(Received::Message(message)) => Ok(Some(message)),
                Some(Received::Failed(error)) => Err(error.into()),
                // Keep-alives carry nothing; nothing else decodes once established.
                Some(_) => continue,
                None => Ok(None),
            };
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        if let Some(message) = self.decode(src)? {
            return Ok(Some(message));
        }
        // Ending inside a frame loses bytes: the core says so.
        self.core.handle_end_of_input()?;
        Ok(None)
    }
}

impl Encoder<Bytes> for NetbiosCodec {
    type Error = Error;

    fn encode(&mut self, message: Bytes, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode(&message[..], dst)
    }
}

impl Encoder<&[u8]> for NetbiosCodec {
    type Error = Error;

    fn encode(&mut self, message: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        let header = self.core.message_header(message.len())?;
        dst.reserve(header.len() + message.len());
        dst.put_slice(&header);
        dst.put_slice(message);
        Ok(())
    }
}

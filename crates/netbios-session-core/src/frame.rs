//! The 4-byte frame header shared by every session service packet
//! (RFC 1002 section 4.3.1) and by SMB direct TCP (MS-SMB2 section 2.1).

use std::fmt;

/// Bytes in every frame header: TYPE, FLAGS, then a 16-bit big-endian LENGTH.
pub const HEADER_LEN: usize = 4;
/// A RETARGET SESSION RESPONSE trailer: IPv4 address and port.
pub const RETARGET_TRAILER_LEN: usize = 6;

/// Largest trailer a NetBIOS frame can declare: 17 bits (E bit + LENGTH).
pub const MAX_NETBIOS_LENGTH: u32 = 0x1_FFFF;

/// Largest trailer a 24-bit (SMB direct TCP) frame can declare.
pub const MAX_WIDE_LENGTH: u32 = 0xFF_FFFF;

/// The packet types of RFC 1002 section 4.3.1. Any other TYPE byte is not NetBIOS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    SessionMessage = 0x00,
    SessionRequest = 0x81,
    PositiveResponse = 0x82,
    NegativeResponse = 0x83,
    RetargetResponse = 0x84,
    KeepAlive = 0x85,
}

impl FrameType {
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0x00 => Self::SessionMessage,
            0x81 => Self::SessionRequest,
            0x82 => Self::PositiveResponse,
            0x83 => Self::NegativeResponse,
            0x84 => Self::RetargetResponse,
            0x85 => Self::KeepAlive,
            _ => return None,
        })
    }

    /// The RFC's name for the type, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::SessionMessage => "SESSION MESSAGE",
            Self::SessionRequest => "SESSION REQUEST",
            Self::PositiveResponse => "POSITIVE SESSION RESPONSE",
            Self::NegativeResponse => "NEGATIVE SESSION RESPONSE",
            Self::RetargetResponse => "RETARGET SESSION RESPONSE",
            Self::KeepAlive => "SESSION KEEP ALIVE",
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the FLAGS byte contributes to the trailer length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LengthEncoding {
    /// RFC 1002: FLAGS bit 0x01 (E) is length bit 16; bits 0xFE are reserved.
    Extension,
    /// netbios-session 0.1.6's mistake: E in bit 0x80; bits 0x7F are reserved.
    LegacyExtension,
    /// SMB direct TCP: the whole FLAGS byte is length bits 16..23.
    Wide,
}

impl LengthEncoding {
    /// The FLAGS bit that extends the length, or `None` when FLAGS is all length.
    fn extension_bit(self) -> Option<u8> {
        match self {
            Self::Extension => Some(0x01),
            Self::LegacyExtension => Some(0x80),
            Self::Wide => None,
        }
    }

    /// Largest trailer length this encoding can express.
    pub fn max_length(self) -> u32 {
        match self {
            Self::Extension | Self::LegacyExtension => MAX_NETBIOS_LENGTH,
            Self::Wide => MAX_WIDE_LENGTH,
        }
    }

    /// The trailer length of a header, or the reserved FLAGS bits that were set.
    pub fn decode_length(self, flags: u8, low: u16) -> Result<u32, u8> {
        let high = match self.extension_bit() {
            Some(bit) => {
                let reserved = flags & !bit;
                if reserved != 0 {
                    return Err(reserved);
                }
                u32::from(flags & bit != 0)
            }
            None => u32::from(flags),
        };
        Ok(high << 16 | u32::from(low))
    }

    /// The FLAGS byte and low 16 bits for `length`, or `None` if it does not fit.
    pub fn encode_length(self, length: u32) -> Option<(u8, u16)> {
        if length > self.max_length() {
            return None;
        }
        let high = (length >> 16) as u8;
        let flags = match self.extension_bit() {
            Some(bit) if high != 0 => bit,
            _ => high,
        };
        Some((flags, length as u16))
    }
}

/// A decoded header whose TYPE is known and whose FLAGS are valid for `encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub frame_type: FrameType,
    pub length: u32,
}

/// Why 4 header bytes are not a valid header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    UnknownType(u8),
    ReservedFlags {
        frame_type: FrameType,
        flags: u8,
        reserved: u8,
    },
}

impl Header {
    /// Decodes a header. `message_encoding` applies to SESSION MESSAGE frames;
    /// every other type always uses the strict RFC 1002 form.
    pub fn decode(
        bytes: [u8; HEADER_LEN],
        message_encoding: LengthEncoding,
    ) -> Result<Self, HeaderError> {
        let frame_type =
            FrameType::from_byte(bytes[0]).ok_or(HeaderError::UnknownType(bytes[0]))?;
        let encoding = if frame_type == FrameType::SessionMessage {
            message_encoding
        } else {
            LengthEncoding::Extension
        };
        let flags = bytes[1];
        let length = encoding
            .decode_length(flags, u16::from_be_bytes([bytes[2], bytes[3]]))
            .map_err(|reserved| HeaderError::ReservedFlags {
                frame_type,
                flags,
                reserved,
            })?;
        Ok(Header { frame_type, length })
    }

    /// Encodes a header, or `None` if `length` does not fit `encoding`.
    pub fn encode(
        frame_type: FrameType,
        length: u32,
        encoding: LengthEncoding,
    ) -> Option<[u8; HEADER_LEN]> {
        let (flags, low) = encoding.encode_length(length)?;
        let [hi, lo] = low.to_be_bytes();
        Some([frame_type as u8, flags, hi, lo])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_md_message_header_vectors() {
        let ext = LengthEncoding::Extension;
        assert_eq!(
            Header::encode(FrameType::SessionMessage, 70000, ext),
            Some([0x00, 0x01, 0x11, 0x70])
        );
        assert_eq!(
            Header::encode(FrameType::SessionMessage, 131071, ext),
            Some([0x00, 0x01, 0xff, 0xff])
        );
        assert_eq!(
            Header::encode(FrameType::SessionMessage, 1 << 20, LengthEncoding::Wide),
            Some([0x00, 0x10, 0x00, 0x00])
        );
        assert_eq!(Header::encode(FrameType::SessionMessage, 131072, ext), None);
        assert_eq!(
            Header::encode(FrameType::SessionMessage, 1 << 24, LengthEncoding::Wide),
            None
        );
    }

    #[test]
    fn protocol_md_control_vectors() {
        let ext = LengthEncoding::Extension;
        assert_eq!(
            Header::encode(FrameType::PositiveResponse, 0, ext),
            Some([0x82, 0, 0, 0])
        );
        assert_eq!(
            Header::encode(FrameType::KeepAlive, 0, ext),
            Some([0x85, 0, 0, 0])
        );
        assert_eq!(
            Header::encode(FrameType::NegativeResponse, 1, ext),
            Some([0x83, 0, 0, 1])
        );
        assert_eq!(
            Header::encode(FrameType::RetargetResponse, 6, ext),
            Some([0x84, 0, 0, 6])
        );
    }

    #[test]
    fn legacy_bit_is_0x80() {
        let legacy = LengthEncoding::LegacyExtension;
        assert_eq!(
            Header::encode(FrameType::SessionMessage, 70000, legacy),
            Some([0x00, 0x80, 0x11, 0x70])
        );
        assert_eq!(legacy.decode_length(0x80, 0x1170), Ok(70000));
        assert_eq!(legacy.decode_length(0x01, 0), Err(0x01));
    }

    #[test]
    fn decode_roundtrips_every_boundary() {
        for enc in [
            LengthEncoding::Extension,
            LengthEncoding::LegacyExtension,
            LengthEncoding::Wide,
        ] {
            for len in [0, 1, 0xFFFF, 0x1_0000, 0x1_FFFF, enc.max_length()] {
                let bytes = Header::encode(FrameType::SessionMessage, len, enc).unwrap();
                assert_eq!(
                    Header::decode(bytes, enc),
                    Ok(Header {
                        frame_type: FrameType::SessionMessage,
                        length: len
                    })
                );
            }
        }
    }

    #[test]
    fn rejects_unknown_types_and_reserved_flags() {
        assert_eq!(
            Header::decode([0x86, 0, 0, 0], LengthEncoding::Extension),
            Err(HeaderError::UnknownType(0x86))
        );
        assert_eq!(
            Header::decode([0x00, 0x80, 0x00, 0x10], LengthEncoding::Extension),
            Err(HeaderError::ReservedFlags {
                frame_type: FrameType::SessionMessage,
                flags: 0x80,
                reserved: 0x80
            })
        );
        // Control frames stay strict even when messages use the wide form.
        assert!(Header::decode([0x85, 0x02, 0, 0], LengthEncoding::Wide).is_err());
        assert_eq!(
            Header::decode([0x00, 0x3d, 0x09, 0x50], LengthEncoding::Wide)
                .unwrap()
                .length,
            4_000_080
        );
    }
}

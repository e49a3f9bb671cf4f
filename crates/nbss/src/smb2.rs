//! The one SMB2 exchange nbss makes (MS-SMB2 2.2.3 and 2.2.4): the bytes of
//! a NEGOTIATE request, and what a reply to it says: the dialect the server
//! chose, a failure status, or why the reply is no NEGOTIATE response.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

/// ProtocolId of every SMB2 message.
pub const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];
/// ProtocolId of an SMB1 message.
const SMB1_PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];
/// Length of the SMB2 header, and its StructureSize.
pub const HEADER_LEN: usize = 64;
/// Command code of NEGOTIATE.
const NEGOTIATE: u16 = 0;
/// Flags bit set in every response (SMB2_FLAGS_SERVER_TO_REDIR).
const SERVER_TO_REDIR: u32 = 0x0000_0001;
/// StructureSize of a NEGOTIATE request body.
const REQUEST_STRUCTURE_SIZE: u16 = 36;
/// StructureSize of a NEGOTIATE response body.
const RESPONSE_STRUCTURE_SIZE: u16 = 65;
/// SMB2_NEGOTIATE_SIGNING_ENABLED.
const SIGNING_ENABLED: u16 = 0x0001;
/// STATUS_PENDING: an interim response; the real one follows.
const STATUS_PENDING: u32 = 0x0000_0103;
/// Bytes of the response body up to and including DialectRevision.
const RESPONSE_DIALECT_END: usize = HEADER_LEN + 6;

/// The dialects offered: SMB 2.0.2, 2.1, 3.0 and 3.0.2 (3.1.1 needs
/// negotiate contexts, which this probe does not send).
pub const DIALECTS: [u16; 4] = [0x0202, 0x0210, 0x0300, 0x0302];

/// A NEGOTIATE request: the 64-byte header (MessageId 0, one credit asked)
/// then the body offering [`DIALECTS`] with signing enabled.
pub fn negotiate_request() -> Vec<u8> {
    negotiate_request_with_guid(client_guid())
}

fn negotiate_request_with_guid(guid: [u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 36 + 2 * DIALECTS.len());
    // Header (MS-SMB2 2.2.1.1, synchronous form).
    out.extend_from_slice(&PROTOCOL_ID);
    out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes()); // StructureSize
    out.extend_from_slice(&0u16.to_le_bytes()); // CreditCharge
    out.extend_from_slice(&0u32.to_le_bytes()); // Status (ChannelSequence/Reserved)
    out.extend_from_slice(&NEGOTIATE.to_le_bytes()); // Command
    out.extend_from_slice(&1u16.to_le_bytes()); // CreditRequest
    out.extend_from_slice(&0u32.to_le_bytes()); // Flags
    out.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
    out.extend_from_slice(&0u64.to_le_bytes()); // MessageId
    out.extend_from_slice(&0u32.to_le_bytes()); // Reserved (ProcessId)
    out.extend_from_slice(&0u32.to_le_bytes()); // TreeId
    out.extend_from_slice(&0u64.to_le_bytes()); // SessionId
    out.extend_from_slice(&[0; 16]); // Signature
    debug_assert_eq!(out.len(), HEADER_LEN);
    // NEGOTIATE request body (MS-SMB2 2.2.3).
    out.extend_from_slice(&REQUEST_STRUCTURE_SIZE.to_le_bytes());
    out.extend_from_slice(&(DIALECTS.len() as u16).to_le_bytes()); // DialectCount
    out.extend_from_slice(&SIGNING_ENABLED.to_le_bytes()); // SecurityMode
    out.extend_from_slice(&0u16.to_le_bytes()); // Reserved
    out.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    out.extend_from_slice(&guid); // ClientGuid
    out.extend_from_slice(&0u64.to_le_bytes()); // ClientStartTime
    for dialect in DIALECTS {
        out.extend_from_slice(&dialect.to_le_bytes());
    }
    out
}

/// A random (version 4) GUID: MS-SMB2 wants one from a client offering
/// dialects beyond 2.0.2. std's hasher keys are random per process.
fn client_guid() -> [u8; 16] {
    let state = RandomState::new();
    let high = state.hash_one(0u8).to_le_bytes();
    let low = state.hash_one(1u8).to_le_bytes();
    let mut guid = [0; 16];
    guid[..8].copy_from_slice(&high);
    guid[8..].copy_from_slice(&low);
    guid[7] = (guid[7] & 0x0F) | 0x40; // version 4 (Data3's high nibble, little-endian)
    guid[8] = (guid[8] & 0x3F) | 0x80; // RFC 4122 variant
    guid
}

/// What a reply to the NEGOTIATE request says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A NEGOTIATE response with STATUS_SUCCESS.
    Negotiated { dialect: u16 },
    /// An interim response (STATUS_PENDING): the real one comes next.
    Pending,
    /// A NEGOTIATE response with an error status.
    Failed { status: u32 },
    /// Not an SMB2 NEGOTIATE response; says what it is instead.
    NotAResponse(NotAResponse),
}

/// Why a message is not an SMB2 NEGOTIATE response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAResponse {
    TooShort {
        length: usize,
    },
    Smb1,
    ProtocolId([u8; 4]),
    HeaderSize(u16),
    Command(u16),
    /// Our own request came back: the peer echoes.
    Request,
    BodyTooShort {
        length: usize,
    },
    BodySize(u16),
}

impl fmt::Display for NotAResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { length } => write!(
                f,
                "the reply is {length} bytes; expected at least {HEADER_LEN} (an SMB2 header)"
            ),
            Self::Smb1 => f.write_str(
                "the reply is an SMB1 message (0xFF 'SMB'); expected SMB2 (0xFE 'SMB')",
            ),
            Self::ProtocolId(id) => write!(
                f,
                "the reply starts with {:02x} {:02x} {:02x} {:02x}; expected fe 53 4d 42 (0xFE 'SMB')",
                id[0], id[1], id[2], id[3]
            ),
            Self::HeaderSize(size) => write!(
                f,
                "the reply's SMB2 header has StructureSize {size}; expected {HEADER_LEN}"
            ),
            Self::Command(command) => write!(
                f,
                "the reply is SMB2 command {command:#06x}; expected 0x0000 (NEGOTIATE)"
            ),
            Self::Request => f.write_str(
                "the reply is a NEGOTIATE request (SERVER_TO_REDIR flag clear): the peer sent \
                 ours back; expected the server's response",
            ),
            Self::BodyTooShort { length } => write!(
                f,
                "the NEGOTIATE response is {length} bytes; expected at least {RESPONSE_DIALECT_END} \
                 (header and DialectRevision)"
            ),
            Self::BodySize(size) => write!(
                f,
                "the NEGOTIATE response body has StructureSize {size}; expected {RESPONSE_STRUCTURE_SIZE}"
            ),
        }
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads one message received after the NEGOTIATE request.
pub fn parse_reply(message: &[u8]) -> Reply {
    let not = Reply::NotAResponse;
    if message.len() < HEADER_LEN {
        if message.len() >= 4 && message[..4] == SMB1_PROTOCOL_ID {
            return not(NotAResponse::Smb1);
        }
        return not(NotAResponse::TooShort {
            length: message.len(),
        });
    }
    let id = [message[0], message[1], message[2], message[3]];
    if id == SMB1_PROTOCOL_ID {
        return not(NotAResponse::Smb1);
    }
    if id != PROTOCOL_ID {
        return not(NotAResponse::ProtocolId(id));
    }
    let header_size = u16_at(message, 4);
    if usize::from(header_size) != HEADER_LEN {
        return not(NotAResponse::HeaderSize(header_size));
    }
    let command = u16_at(message, 12);
    if command != NEGOTIATE {
        return not(NotAResponse::Command(command));
    }
    if u32_at(message, 16) & SERVER_TO_REDIR == 0 {
        return not(NotAResponse::Request);
    }
    match u32_at(message, 8) {
        0 => {}
        STATUS_PENDING => return Reply::Pending,
        status => return Reply::Failed { status },
    }
    if message.len() < RESPONSE_DIALECT_END {
        return not(NotAResponse::BodyTooShort {
            length: message.len(),
        });
    }
    let body_size = u16_at(message, HEADER_LEN);
    if body_size != RESPONSE_STRUCTURE_SIZE {
        return not(NotAResponse::BodySize(body_size));
    }
    Reply::Negotiated {
        dialect: u16_at(message, HEADER_LEN + 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NEGOTIATE response header with `status`, then `body`.
    fn response(status: u32, body: &[u8]) -> Vec<u8> {
        let mut out = negotiate_request_with_guid([0; 16]);
        out.truncate(HEADER_LEN);
        out[8..12].copy_from_slice(&status.to_le_bytes());
        out[16..20].copy_from_slice(&SERVER_TO_REDIR.to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    fn negotiate_body(dialect: u16) -> Vec<u8> {
        let mut body = vec![0; 64];
        body[..2].copy_from_slice(&RESPONSE_STRUCTURE_SIZE.to_le_bytes());
        body[2..4].copy_from_slice(&1u16.to_le_bytes());
        body[4..6].copy_from_slice(&dialect.to_le_bytes());
        body
    }

    #[test]
    fn request_layout() {
        let guid = [7; 16];
        let request = negotiate_request_with_guid(guid);
        assert_eq!(request.len(), 64 + 36 + 8);
        assert_eq!(&request[..4], b"\xFESMB");
        assert_eq!(u16_at(&request, 4), 64, "header StructureSize");
        assert_eq!(u16_at(&request, 12), 0, "command NEGOTIATE");
        assert_eq!(u16_at(&request, 64), 36, "body StructureSize");
        assert_eq!(u16_at(&request, 66), 4, "DialectCount");
        assert_eq!(u16_at(&request, 68), 1, "SecurityMode");
        assert_eq!(&request[72 + 4..72 + 20], &guid);
        assert_eq!(u16_at(&request, 100), 0x0202);
        assert_eq!(u16_at(&request, 102), 0x0210);
        assert_eq!(u16_at(&request, 104), 0x0300);
        assert_eq!(u16_at(&request, 106), 0x0302);
    }

    #[test]
    fn guids_are_random_version_4() {
        let (a, b) = (client_guid(), client_guid());
        assert_ne!(a, b);
        assert_eq!(a[7] >> 4, 4);
        assert_eq!(a[8] >> 6, 2);
    }

    #[test]
    fn reads_the_dialect() {
        let reply = parse_reply(&response(0, &negotiate_body(0x0210)));
        assert_eq!(reply, Reply::Negotiated { dialect: 0x0210 });
    }

    #[test]
    fn reports_a_failure_status() {
        let reply = parse_reply(&response(0xC000_00BB, &[9, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(
            reply,
            Reply::Failed {
                status: 0xC000_00BB
            }
        );
        assert_eq!(parse_reply(&response(STATUS_PENDING, &[])), Reply::Pending);
    }

    #[test]
    fn an_echoed_request_is_not_a_response() {
        let reply = parse_reply(&negotiate_request());
        assert_eq!(reply, Reply::NotAResponse(NotAResponse::Request));
        let Reply::NotAResponse(why) = reply else {
            unreachable!()
        };
        assert!(why.to_string().contains("sent ours back"));
    }

    #[test]
    fn other_messages_say_what_they_are() {
        let not = |bytes: &[u8]| match parse_reply(bytes) {
            Reply::NotAResponse(why) => why,
            other => panic!("expected NotAResponse, got {other:?}"),
        };
        assert_eq!(not(b""), NotAResponse::TooShort { length: 0 });
        assert_eq!(not(b"\xFFSMBr"), NotAResponse::Smb1);
        let mut other = response(0, &negotiate_body(0x0202));
        other[0] = 0xFD;
        assert_eq!(
            not(&other),
            NotAResponse::ProtocolId([0xFD, b'S', b'M', b'B'])
        );
        let mut other = response(0, &negotiate_body(0x0202));
        other[12] = 1;
        assert_eq!(not(&other), NotAResponse::Command(1));
        assert_eq!(
            not(&response(0, &[65, 0])),
            NotAResponse::BodyTooShort { length: 66 }
        );
        assert_eq!(
            not(&response(0, &[9, 0, 0, 0, 0, 0])),
            NotAResponse::BodySize(9)
        );
    }
}

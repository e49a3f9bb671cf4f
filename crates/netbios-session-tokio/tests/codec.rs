//! The codec against PROTOCOL.md's vectors, byte for byte, and through
//! `Framed` over an in-memory stream.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use netbios_session_tokio::{ErrorKind, NetbiosCodec, Options};
use tokio_util::codec::{Decoder, Encoder, Framed};

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|byte| u8::from_str_radix(byte, 16).unwrap())
        .collect()
}

fn header(codec: &mut NetbiosCodec, length: usize) -> Vec<u8> {
    let mut wire = BytesMut::new();
    codec.encode(&vec![0u8; length][..], &mut wire).unwrap();
    wire[..4].to_vec()
}

#[test]
fn message_headers_are_protocol_md_s() {
    let mut netbios = NetbiosCodec::netbios(&Options::new()).unwrap();
    assert_eq!(header(&mut netbios, 70000), hex("00 01 11 70"));
    assert_eq!(header(&mut netbios, 131071), hex("00 01 ff ff"));
    let mut direct = NetbiosCodec::direct(&Options::new()).unwrap();
    assert_eq!(header(&mut direct, 1 << 20), hex("00 10 00 00"));
    let mut legacy = NetbiosCodec::netbios(&Options::new().legacy_length_bit(true)).unwrap();
    assert_eq!(header(&mut legacy, 70000), hex("00 80 11 70"));
    // Above 17 bits a NetBIOS session speaks 24-bit lengths.
    let mut wide = NetbiosCodec::netbios(&Options::new().max_message_length(1 << 20)).unwrap();
    assert_eq!(header(&mut wide, 1 << 20), hex("00 10 00 00"));
}

#[test]
fn a_message_over_the_limit_is_refused_before_anything_is_written() {
    let mut codec = NetbiosCodec::netbios(&Options::new()).unwrap();
    let mut wire = BytesMut::new();
    let error = codec.encode(&vec![0u8; 131072][..], &mut wire).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MessageTooLong);
    assert_eq!(
        error.to_string(),
        "Message length [131072] exceeds maximum [131071]"
    );
    assert!(wire.is_empty());
}

#[test]
fn keep_alives_are_skipped_and_messages_come_out_whole() {
    let mut codec = NetbiosCodec::netbios(&Options::new()).unwrap();
    let mut wire = BytesMut::new();
    wire.extend_from_slice(&hex("85 00 00 00"));
    wire.extend_from_slice(&hex("00 01 11 70"));
    wire.extend_from_slice(&vec![5u8; 1000]);
    assert_eq!(codec.decode(&mut wire).unwrap(), None);
    wire.extend_from_slice(&vec![5u8; 69000]);
    wire.extend_from_slice(&hex("85 00 00 00 00 00 00 02 68 69"));
    assert_eq!(
        codec.decode(&mut wire).unwrap(),
        Some(Bytes::from(vec![5u8; 70000]))
    );
    assert_eq!(
        codec.decode(&mut wire).unwrap(),
        Some(Bytes::from_static(b"hi"))
    );
    assert_eq!(codec.decode(&mut wire).unwrap(), None);
}

#[test]
fn not_netbios_frames_are_protocol_errors() {
    for (bytes, says) in [
        ("86 00 00 00", "not a NetBIOS session packet type"),
        ("85 00 00 01 00", "SESSION KEEP ALIVE with a 1-byte trailer"),
        ("82 00 00 00", "POSITIVE SESSION RESPONSE"),
        ("00 02 00 00", "reserved bits"),
    ] {
        let mut codec = NetbiosCodec::netbios(&Options::new()).unwrap();
        let mut wire = BytesMut::from(&hex(bytes)[..]);
        let error = codec.decode(&mut wire).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Protocol, "{bytes}");
        assert!(error.to_string().contains(says), "{bytes}: {error}");
    }
}

#[test]
fn an_end_inside_a_frame_is_an_error() {
    let mut codec = NetbiosCodec::direct(&Options::new()).unwrap();
    let mut wire = BytesMut::from(&hex("00 00 00 08 01 02")[..]);
    assert_eq!(codec.decode(&mut wire).unwrap(), None);
    let error = codec.decode_eof(&mut wire).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(error.to_string().contains("12"), "{error}");
}

#[tokio::test]
async fn framed_moves_messages_both_ways() {
    let (a, b) = tokio::io::duplex(4096);
    let mut left = Framed::new(a, NetbiosCodec::direct(&Options::new()).unwrap());
    let mut right = Framed::new(b, NetbiosCodec::direct(&Options::new()).unwrap());
    let sizes = [0usize, 1, 4096, 200_000];
    let sender = tokio::spawn(async move {
        for size in sizes {
            left.send(Bytes::from(vec![size as u8; size]))
                .await
                .unwrap();
        }
        left
    });
    for size in sizes {
        let message = right.next().await.unwrap().unwrap();
        assert_eq!(message, Bytes::from(vec![size as u8; size]));
    }
    drop(sender.await.unwrap());
    assert!(right.next().await.is_none(), "a clean end between frames");
}

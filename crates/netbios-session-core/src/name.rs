//! NetBIOS names and their encoding inside a SESSION REQUEST
//! (RFC 1001 section 14, RFC 1002 section 4.1).

use std::fmt;

/// Name characters before the suffix byte; shorter names are padded with spaces.
pub const NAME_LEN: usize = 15;
/// Longest scope label (the top two bits of a label length byte are not length).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest encoded name, length bytes and terminator included (the DNS limit).
pub const MAX_ENCODED_LEN: usize = 255;
/// An encoded name without scope: length byte, 32 characters, terminator.
pub const MIN_ENCODED_LEN: usize = 34;
/// The suffix of a name called without one: <20>, the file server service
/// (what SMB clients call).
pub const DEFAULT_CALLED_SUFFIX: u8 = 0x20;
/// The suffix of a calling name given without one: <00>, the workstation service.
pub const DEFAULT_CALLING_SUFFIX: u8 = 0x00;

/// A NetBIOS name: up to 15 bytes, a suffix (service type) and an optional
/// dot-separated scope. Bytes, not text: NetBIOS names are OEM-codepage bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetbiosName {
    name: Vec<u8>,
    suffix: u8,
    scope: Vec<u8>,
}

/// Why a name cannot be encoded or an encoded name cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    NameTooLong(usize),
    EmptyScopeLabel,
    ScopeLabelTooLong(usize),
    EncodedTooLong,
    Truncated {
        needed: usize,
        available: usize,
    },
    FirstLabelLength(u8),
    CompressionPointer {
        offset: usize,
    },
    ReservedLabelType {
        offset: usize,
        byte: u8,
    },
    BadHalfByte {
        offset: usize,
        byte: u8,
    },
    DotInScopeLabel {
        offset: usize,
    },
    /// Text whose `<xx>` suffix is not two hex digits before any `.scope`.
    BadNotation(String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NameTooLong(len) => write!(f, "NetBIOS name is {len} bytes long; expected at most {NAME_LEN}"),
            Self::EmptyScopeLabel => f.write_str("scope ID has an empty label; expected labels separated by single dots"),
            Self::ScopeLabelTooLong(len) => {
                write!(f, "scope ID label is {len} bytes long; expected at most {MAX_LABEL_LEN}")
            }
            Self::EncodedTooLong => write!(
                f,
                "encoded name is longer than {MAX_ENCODED_LEN} bytes; expected at most {MAX_ENCODED_LEN} (the DNS limit)"
            ),
            Self::Truncated { needed, available } => write!(
                f,
                "encoded name is cut short: {needed} bytes needed, {available} present; expected labels ending in a zero byte"
            ),
            Self::FirstLabelLength(len) => write!(
                f,
                "encoded name starts with label length {len:#04x}; expected 0x20 (32 encoded characters)"
            ),
            Self::CompressionPointer { offset } => write!(
                f,
                "encoded name has a compression pointer at byte {offset}; expected a label length of 0 to 63 \
                 (a pointer has nothing to point to in a session request)"
            ),
            Self::ReservedLabelType { offset, byte } => write!(
                f,
                "encoded name has label length byte {byte:#04x} at byte {offset}; expected a length of 0 to 63"
            ),
            Self::BadHalfByte { offset, byte } => write!(
                f,
                "encoded name has byte {byte:#04x} at byte {offset}; expected a letter 'A' to 'P'"
            ),
            Self::DotInScopeLabel { offset } => {
                write!(f, "scope label at byte {offset} contains a dot; expected a plain label")
            }
            Self::BadNotation(ref text) => write!(
                f,
                "{text:?} is not a NetBIOS name; expected NAME, NAME<xx> (two hex digits), \
                 NAME.scope or NAME<xx>.scope, as in FILESERVER<20>"
            ),
        }
    }
}

impl std::error::Error for NameError {}

impl NetbiosName {
    /// A name of at most 15 bytes (trailing spaces are padding and are dropped),
    /// a suffix and a scope ID of dot-separated labels (empty for none).
    pub fn new(
        name: impl Into<Vec<u8>>,
        suffix: u8,
        scope: impl Into<Vec<u8>>,
    ) -> Result<Self, NameError> {
        let mut name = name.into();
        if name.len() > NAME_LEN {
            return Err(NameError::NameTooLong(name.len()));
        }
        while name.last() == Some(&b' ') {
            name.pop();
        }
        let scope = scope.into();
        let mut encoded_len = MIN_ENCODED_LEN;
        if !scope.is_empty() {
            for label in scope.split(|&b| b == b'.') {
                if label.is_empty() {
                    return Err(NameError::EmptyScopeLabel);
                }
                if label.len() > MAX_LABEL_LEN {
                    return Err(NameError::ScopeLabelTooLong(label.len()));
                }
                encoded_len += 1 + label.len();
            }
        }
        if encoded_len > MAX_ENCODED_LEN {
            return Err(NameError::EncodedTooLong);
        }
        Ok(Self {
            name,
            suffix,
            scope,
        })
    }

    /// A name in the notation [`Display`](fmt::Display) prints (and the
    /// JavaScript package reads): `NAME`, `NAME<xx>`, `NAME.scope` or
    /// `NAME<xx>.scope`, `xx` the suffix in hex; `default_suffix` when
    /// there is none.
    pub fn parse(text: &str, default_suffix: u8) -> Result<Self, NameError> {
        let bad = || NameError::BadNotation(text.to_owned());
        let Some(open) = text.find('<') else {
            let (name, scope) = text.split_once('.').unwrap_or((text, ""));
            return Self::new(name, default_suffix, scope);
        };
        let (name, rest) = text.split_at(open);
        let digits = rest.get(1..3).ok_or_else(bad)?;
        let after = rest.get(3..).ok_or_else(bad)?;
        let scope = match after.strip_prefix('>') {
            Some("") => "",
            Some(tail) => match tail.strip_prefix('.') {
                Some(scope) if !scope.is_empty() => scope,
                _ => return Err(bad()),
            },
            None => return Err(bad()),
        };
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let suffix = u8::from_str_radix(digits, 16).map_err(|_| bad())?;
        Self::new(name, suffix, scope)
    }

    /// The name without its padding.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    pub fn suffix(&self) -> u8 {
        self.suffix
    }

    /// The scope ID, labels joined by dots; empty when there is none.
    pub fn scope(&self) -> &[u8] {
        &self.scope
    }

    /// Bytes that [`encode`](Self::encode) appends.
    pub fn encoded_len(&self) -> usize {
        if self.scope.is_empty() {
            MIN_ENCODED_LEN
        } else {
            MIN_ENCODED_LEN + 1 + self.scope.len()
        }
    }

    /// Appends the second-level encoding: the 32-character first-level label,
    /// the scope labels, then the zero terminator.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.push(32);
        let padding = std::iter::repeat_n(b' ', NAME_LEN - self.name.len());
        for byte in self
            .name
            .iter()
            .copied()
            .chain(padding)
            .chain([self.suffix])
        {
            out.push(b'A' + (byte >> 4));
            out.push(b'A' + (byte & 0x0F));
        }
        if !self.scope.is_empty() {
            for label in self.scope.split(|&b| b == b'.') {
                out.push(label.len() as u8);
                out.extend_from_slice(label);
            }
        }
        out.push(0);
    }

    /// Decodes one encoded name at the start of `buf`, returning it and the
    /// bytes it used. Reads nothing outside `buf` and never follows pointers.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), NameError> {
        let truncated = |needed: usize| NameError::Truncated {
            needed,
            available: buf.len(),
        };
        let first = *buf.first().ok_or(truncated(1))?;
        if first & 0xC0 == 0xC0 {
            return Err(NameError::CompressionPointer { offset: 0 });
        }
        if first != 32 {
            return Err(NameError::FirstLabelLength(first));
        }
        let encoded = buf.get(1..33).ok_or(truncated(33))?;
        let mut raw = [0u8; NAME_LEN + 1];
        for (i, pair) in encoded.chunks_exact(2).enumerate() {
            let half = |j: usize| {
                let byte = pair[j];
                if (b'A'..=b'P').contains(&byte) {
                    Ok(byte - b'A')
                } else {
                    Err(NameError::BadHalfByte {
                        offset: 1 + 2 * i + j,
                        byte,
                    })
                }
            };
            raw[i] = half(0)? << 4 | half(1)?;
        }
        let mut name = raw[..NAME_LEN].to_vec();
        while name.last() == Some(&b' ') {
            name.pop();
        }

        let mut scope = Vec::new();
        let mut pos = 33;
        loop {
            if pos >= MAX_ENCODED_LEN {
                return Err(NameError::EncodedTooLong);
            }
            let len = *buf.get(pos).ok_or(truncated(pos + 1))?;
            match len & 0xC0 {
                0x00 => {}
                0xC0 => return Err(NameError::CompressionPointer { offset: pos }),
                _ => {
                    return Err(NameError::ReservedLabelType {
                        offset: pos,
                        byte: len,
                    })
                }
            }
            pos += 1;
            if len == 0 {
                break;
            }
            let end = pos + usize::from(len);
            let label = buf.get(pos..end).ok_or(truncated(end))?;
            if label.contains(&b'.') {
                return Err(NameError::DotInScopeLabel { offset: pos - 1 });
            }
            if !scope.is_empty() {
                scope.push(b'.');
            }
            scope.extend_from_slice(label);
            pos = end;
        }
        Ok((
            Self {
                name,
                suffix: raw[NAME_LEN],
                scope,
            },
            pos,
        ))
    }
}

/// Wireshark's notation, as netbios-name prints it: `NAME<20>` or `NAME<20>.scope`.
/// Bytes outside ASCII are shown as Latin-1 characters.
impl fmt::Display for NetbiosName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.name {
            write!(f, "{}", char::from(b))?;
        }
        write!(f, "<{:02x}>", self.suffix)?;
        if !self.scope.is_empty() {
            f.write_str(".")?;
            for &b in &self.scope {
                write!(f, "{}", char::from(b))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(name: &NetbiosName) -> Vec<u8> {
        let mut out = Vec::new();
        name.encode(&mut out);
        out
    }

    #[test]
    fn protocol_md_dst_vector() {
        let name = NetbiosName::new("DST", 0x20, "").unwrap();
        let mut expected = vec![0x20, b'E', b'E', b'F', b'D', b'F', b'E'];
        for _ in 0..13 {
            expected.extend_from_slice(b"CA");
        }
        expected.push(0);
        assert_eq!(encode(&name), expected);
        assert_eq!(expected.len(), 34);
        assert_eq!(NetbiosName::decode(&expected), Ok((name, 34)));
    }

    #[test]
    fn scope_roundtrip_and_display() {
        let name = NetbiosName::new("HOST", 0x1b, "corp.example").unwrap();
        let bytes = encode(&name);
        assert_eq!(bytes.len(), name.encoded_len());
        assert_eq!(&bytes[33..], b"\x04corp\x07example\x00");
        assert_eq!(
            NetbiosName::decode(&bytes).unwrap(),
            (name.clone(), bytes.len())
        );
        assert_eq!(name.to_string(), "HOST<1b>.corp.example");
    }

    #[test]
    fn dots_inside_the_name_stay_in_the_name() {
        let name = NetbiosName::new("MY.PC", 0x00, "").unwrap();
        let (decoded, _) = NetbiosName::decode(&encode(&name)).unwrap();
        assert_eq!(decoded.name(), b"MY.PC");
        assert_eq!(decoded.scope(), b"");
    }

    #[test]
    fn wildcard_smbserver_is_an_ordinary_name() {
        let name = NetbiosName::new("*SMBSERVER", 0x20, "").unwrap();
        assert_eq!(NetbiosName::decode(&encode(&name)).unwrap().0, name);
    }

    #[test]
    fn rejects_bad_names_to_encode() {
        assert_eq!(
            NetbiosName::new("SIXTEEN-CHARS-XX", 0, ""),
            Err(NameError::NameTooLong(16))
        );
        assert_eq!(
            NetbiosName::new("A", 0, "a..b"),
            Err(NameError::EmptyScopeLabel)
        );
        assert_eq!(
            NetbiosName::new("A", 0, "x."),
            Err(NameError::EmptyScopeLabel)
        );
        assert_eq!(
            NetbiosName::new("A", 0, vec![b'x'; 64]),
            Err(NameError::ScopeLabelTooLong(64))
        );
        let long_scope = [&[b'y'; 63][..]; 4].join(&b'.');
        assert_eq!(
            NetbiosName::new("A", 0, long_scope),
            Err(NameError::EncodedTooLong)
        );
    }

    #[test]
    fn rejects_hostile_encodings() {
        let good = encode(&NetbiosName::new("SRV", 0x20, "").unwrap());
        assert_eq!(
            NetbiosName::decode(&[]),
            Err(NameError::Truncated {
                needed: 1,
                available: 0
            })
        );
        assert_eq!(
            NetbiosName::decode(&[0xC0, 0x0C]),
            Err(NameError::CompressionPointer { offset: 0 })
        );
        assert_eq!(
            NetbiosName::decode(&[0x10]),
            Err(NameError::FirstLabelLength(0x10))
        );

        let mut pointer = good.clone();
        pointer.truncate(33);
        pointer.extend_from_slice(&[0xC0, 0x00]);
        assert_eq!(
            NetbiosName::decode(&pointer),
            Err(NameError::CompressionPointer { offset: 33 })
        );

        let mut reserved = good.clone();
        reserved[33] = 0x45;
        assert_eq!(
            NetbiosName::decode(&reserved),
            Err(NameError::ReservedLabelType {
                offset: 33,
                byte: 0x45
            })
        );

        let mut bad_char = good.clone();
        bad_char[5] = b'Z';
        assert_eq!(
            NetbiosName::decode(&bad_char),
            Err(NameError::BadHalfByte {
                offset: 5,
                byte: b'Z'
            })
        );

        let unterminated = &good[..33];
        assert!(matches!(
            NetbiosName::decode(unterminated),
            Err(NameError::Truncated { .. })
        ));

        let mut label_past_end = good[..33].to_vec();
        label_past_end.extend_from_slice(&[10, b'a']);
        assert!(matches!(
            NetbiosName::decode(&label_past_end),
            Err(NameError::Truncated { needed: 44, .. })
        ));

        // A scope that never ends within the DNS limit is cut off at 255 bytes.
        let mut endless = good[..33].to_vec();
        for _ in 0..10 {
            endless.push(63);
            endless.extend_from_slice(&[b'z'; 63]);
        }
        assert_eq!(
            NetbiosName::decode(&endless),
            Err(NameError::EncodedTooLong)
        );
    }

    #[test]
    fn parse_reads_the_display_notation() {
        let plain = NetbiosName::parse("FILESERVER", 0x20).unwrap();
        assert_eq!(
            (plain.name(), plain.suffix(), plain.scope()),
            (&b"FILESERVER"[..], 0x20, &b""[..])
        );
        let full = NetbiosName::parse("*SMBSERVER<1b>.corp.example", 0x20).unwrap();
        assert_eq!(
            (full.name(), full.suffix(), full.scope()),
            (&b"*SMBSERVER"[..], 0x1b, &b"corp.example"[..])
        );
        assert_eq!(full.to_string(), "*SMBSERVER<1b>.corp.example");
        assert_eq!(NetbiosName::parse(&full.to_string(), 0).unwrap(), full);
        let scoped = NetbiosName::parse("HOST.scope", 0).unwrap();
        assert_eq!(
            (scoped.name(), scoped.suffix(), scoped.scope()),
            (&b"HOST"[..], 0, &b"scope"[..])
        );
        for bad in ["X<2>", "X<zz>", "X<20", "X<20>scope", "X<20>.", "X<+1>"] {
            assert!(NetbiosName::parse(bad, 0).is_err(), "{bad}");
        }
        assert_eq!(
            NetbiosName::parse("X<2>", 0).unwrap_err().to_string(),
            "\"X<2>\" is not a NetBIOS name; expected NAME, NAME<xx> (two hex digits), NAME.scope or NAME<xx>.scope, as in FILESERVER<20>"
        );
        assert_eq!(
            NetbiosName::parse("SIXTEEN-BYTES-XX", 0),
            Err(NameError::NameTooLong(16))
        );
    }
}

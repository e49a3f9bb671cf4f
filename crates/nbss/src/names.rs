//! NetBIOS names as nbss reads them on its command line, the names it makes
//! up itself (the local calling name, a host's first DNS label) and how a
//! called name given by the user matches the one a caller asked for.

use std::net::IpAddr;

use netbios_session_tokio::NetbiosName;

/// The suffix a called name gets when the text gives none: <20>, the file
/// server service that SMB clients call.
pub const CALLED_SUFFIX: u8 = 0x20;
/// The suffix a calling name gets when the text gives none: <00>, the
/// workstation service.
pub const CALLING_SUFFIX: u8 = 0x00;
/// The calling name used when the local host name gives none.
pub const FALLBACK_CALLING: &str = "NBSS";
/// The name SMB clients call when they know no better.
pub const SMBSERVER: &str = "*SMBSERVER";
/// Longest NetBIOS name, suffix excluded.
const NAME_LEN: usize = 15;

/// clap value parser for a called name (`NAME`, `NAME<xx>`, `NAME.scope`).
pub fn parse_called(text: &str) -> Result<NetbiosName, String> {
    parse(text, CALLED_SUFFIX)
}

/// clap value parser for a calling name (suffix <00> unless given).
pub fn parse_calling(text: &str) -> Result<NetbiosName, String> {
    parse(text, CALLING_SUFFIX)
}

fn parse(text: &str, default_suffix: u8) -> Result<NetbiosName, String> {
    if text.is_empty() {
        return Err("the name is empty; expected NAME, NAME<xx>, NAME.scope or \
                    NAME<xx>.scope, as in FILESERVER<20>"
            .to_owned());
    }
    NetbiosName::parse(text, default_suffix).map_err(|error| error.to_string())
}

/// The first DNS label of `host`, upper-cased and cut to 15 bytes, as a
/// called name; `None` for an IP address (or a label that makes no name).
pub fn host_label(host: &str) -> Option<NetbiosName> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return None;
    }
    let label = label_name(bare)?;
    NetbiosName::new(label, CALLED_SUFFIX, "").ok()
}

/// The calling name nbss uses by default: the local host name's first
/// label, upper-cased, else `NBSS`.
pub fn default_calling() -> NetbiosName {
    let host = gethostname::gethostname();
    host.to_str()
        .and_then(label_name)
        .and_then(|label| NetbiosName::new(label, CALLING_SUFFIX, "").ok())
        .unwrap_or_else(|| {
            NetbiosName::new(FALLBACK_CALLING, CALLING_SUFFIX, "").expect("NBSS is a valid name")
        })
}

/// `*SMBSERVER<20>`.
pub fn smbserver() -> NetbiosName {
    NetbiosName::new(SMBSERVER, CALLED_SUFFIX, "").expect("*SMBSERVER is a valid name")
}

/// A DNS name's first label in upper case, at most 15 bytes, if it has one
/// made of printable ASCII.
fn label_name(host: &str) -> Option<String> {
    let label = host.split('.').next()?.trim();
    if label.is_empty() || !label.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let mut upper = label.to_ascii_uppercase();
    upper.truncate(NAME_LEN);
    Some(upper)
}

/// Whether the caller's `called` name is `wanted`: the same suffix, and the
/// same name and scope ignoring ASCII case (clients differ in the case they send).
pub fn matches(wanted: &NetbiosName, called: &NetbiosName) -> bool {
    wanted.suffix() == called.suffix()
        && wanted.name().eq_ignore_ascii_case(called.name())
        && wanted.scope().eq_ignore_ascii_case(called.scope())
}

/// Whether `called` is one of `names` (every name is, when `names` is empty).
pub fn accepted(names: &[NetbiosName], called: &NetbiosName) -> bool {
    names.is_empty() || names.iter().any(|wanted| matches(wanted, called))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_label_is_first_label_upper_case() {
        let name = host_label("fileserver.example.com").unwrap();
        assert_eq!(name.to_string(), "FILESERVER<20>");
    }

    #[test]
    fn host_label_skips_addresses() {
        assert!(host_label("127.0.0.1").is_none());
        assert!(host_label("::1").is_none());
        assert!(host_label("[fe80::1]").is_none());
    }

    #[test]
    fn host_label_is_cut_to_fifteen_bytes() {
        let name = host_label("averyveryverylongservername.example").unwrap();
        assert_eq!(name.name(), b"AVERYVERYVERYLO");
    }

    #[test]
    fn called_names_default_to_suffix_20() {
        assert_eq!(parse_called("ECHO").unwrap().to_string(), "ECHO<20>");
        assert_eq!(parse_called("ECHO<00>").unwrap().suffix(), 0);
        assert_eq!(parse_calling("ME").unwrap().to_string(), "ME<00>");
    }

    #[test]
    fn bad_names_say_what_was_expected() {
        let error = parse_called("THIS-NAME-IS-TOO-LONG").unwrap_err();
        assert!(error.contains("expected at most 15"), "{error}");
        let error = parse_called("ECHO<2").unwrap_err();
        assert!(error.contains("expected NAME"), "{error}");
        let error = parse_called("").unwrap_err();
        assert!(error.contains("expected NAME"), "{error}");
    }

    #[test]
    fn matching_ignores_case_not_suffix() {
        let wanted = parse_called("echo").unwrap();
        assert!(matches(&wanted, &parse_called("ECHO").unwrap()));
        assert!(!matches(&wanted, &parse_called("ECHO<00>").unwrap()));
        assert!(!matches(&wanted, &parse_called("ECHO2").unwrap()));
        assert!(accepted(&[], &wanted));
        assert!(!accepted(&[parse_called("OTHER").unwrap()], &wanted));
    }

    #[test]
    fn default_calling_is_a_valid_name() {
        let name = default_calling();
        assert_eq!(name.suffix(), CALLING_SUFFIX);
        assert!(!name.name().is_empty());
    }
}

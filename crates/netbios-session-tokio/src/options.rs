//! What a session is set up with: [`Options`] for every session (framing,
//! limits, timers) and [`Call`] for a caller (names, port, retargets,
//! setup deadline). Defaults are the core's, as in the JavaScript package.

use std::time::Duration;

use netbios_session_core::{
    Config, Millis, NetbiosName, Role, Timers, DEFAULT_MAX_RETARGETS, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SETUP_TIMEOUT, NETBIOS_SESSION_PORT,
};

/// Options of any session: framing, limits and timers.
///
/// ```
/// use std::time::Duration;
/// use netbios_session_tokio::Options;
///
/// let options = Options::new()
///     .keep_alive(Duration::from_secs(60))
///     .idle_timeout(Duration::from_secs(300));
/// assert_eq!(options.max_message_length_or_default(false), 131_071);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    legacy_length_bit: bool,
    max_message_length: Option<u32>,
    keep_alive: Option<Duration>,
    idle_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            legacy_length_bit: false,
            max_message_length: None,
            keep_alive: None,
            idle_timeout: None,
            request_timeout: Some(Duration::from_millis(DEFAULT_REQUEST_TIMEOUT)),
        }
    }
}

impl Options {
    /// The defaults: RFC 1002 lengths, 131071-byte messages (16 MiB - 1 in
    /// direct mode), no keep-alive, no idle timeout, a 30 s request timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Speak netbios-session 0.1.6's length bit (0x80) instead of RFC 1002's
    /// (0x01), for peers written against that package. NetBIOS only.
    pub fn legacy_length_bit(mut self, on: bool) -> Self {
        self.legacy_length_bit = on;
        self
    }

    /// The largest message sent or accepted. Above 131071 a NetBIOS session
    /// uses 24-bit lengths, as Samba's SMB2 server accepts.
    pub fn max_message_length(mut self, max: u32) -> Self {
        self.max_message_length = Some(max);
        self
    }

    /// The limit in force: the one set, else the role's default.
    pub fn max_message_length_or_default(&self, direct: bool) -> u32 {
        let role = if direct { Role::Direct } else { Role::Called };
        self.max_message_length
            .unwrap_or(Config::for_role(role).max_message_length)
    }

    /// Send a SESSION KEEP ALIVE after `interval` with nothing sent.
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = Some(interval);
        self
    }

    /// Fail an established session when no frame arrives for `after`.
    pub fn idle_timeout(mut self, after: Duration) -> Self {
        self.idle_timeout = Some(after);
        self
    }

    /// Called node: fail when no complete SESSION REQUEST arrives within
    /// `after` of accepting the connection (`None`: wait for ever).
    pub fn request_timeout(mut self, after: Option<Duration>) -> Self {
        self.request_timeout = after;
        self
    }

    /// The core's configuration for a session of `role`.
    pub(crate) fn config(&self, role: Role) -> Config {
        let default = Config::for_role(role);
        Config {
            legacy_length_bit: self.legacy_length_bit,
            max_message_length: self
                .max_message_length
                .unwrap_or(default.max_message_length),
            timers: Timers {
                request_timeout: self.request_timeout.map(millis),
                idle_timeout: self.idle_timeout.map(millis),
                keep_alive: self.keep_alive.map(millis),
            },
        }
    }
}

/// A duration in the core's unit, rounded up: a deadline never comes early.
pub(crate) fn millis(duration: Duration) -> Millis {
    let ms = duration.as_millis();
    let rounded = if duration > Duration::from_millis(ms as u64) {
        ms + 1
    } else {
        ms
    };
    Millis::try_from(rounded).unwrap_or(Millis::MAX)
}

/// A caller's plan: whom to call, from which name, on which port, how many
/// retargets to follow and how long the whole setup may take.
///
/// ```
/// use std::time::Duration;
/// use netbios_session_tokio::{Call, NetbiosName};
///
/// # fn main() -> Result<(), netbios_session_tokio::Error> {
/// let call = Call::new("FILESERVER", "MYHOST")?
///     .fallback(NetbiosName::parse("*SMBSERVER", 0x20)?)
///     .timeout(Some(Duration::from_secs(5)));
/// assert_eq!(call.called()[1].to_string(), "*SMBSERVER<20>");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Call {
    called: Vec<NetbiosName>,
    calling: NetbiosName,
    port: u16,
    max_retargets: u32,
    timeout: Option<Duration>,
    options: Options,
}

impl Call {
    /// Calls `called` (suffix <20> unless the text gives one, as in
    /// `NAME<xx>`) from `calling` (suffix <00> unless given), on port 139.
    pub fn new(called: &str, calling: &str) -> Result<Self, crate::Error> {
        Ok(Self::with_names(
            NetbiosName::parse(called, netbios_session_core::name::DEFAULT_CALLED_SUFFIX)?,
            NetbiosName::parse(calling, netbios_session_core::name::DEFAULT_CALLING_SUFFIX)?,
        ))
    }

    /// Calls `called` from `calling`, names already made.
    pub fn with_names(called: NetbiosName, calling: NetbiosName) -> Self {
        Self {
            called: vec![called],
            calling,
            port: NETBIOS_SESSION_PORT,
            max_retargets: DEFAULT_MAX_RETARGETS,
            timeout: Some(Duration::from_millis(DEFAULT_SETUP_TIMEOUT)),
            options: Options::default(),
        }
    }

    /// A name to call next, on a new connection, when the peer answers
    /// NEGATIVE 0x80 (not listening on called name) or 0x82 (called name
    /// not present). Fallbacks are tried in the order added.
    pub fn fallback(mut self, called: NetbiosName) -> Self {
        self.called.push(called);
        self
    }

    /// The port to dial (139 by default).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How many RETARGET responses to follow (3 by default).
    pub fn max_retargets(mut self, max: u32) -> Self {
        self.max_retargets = max;
        self
    }

    /// How long the whole setup may take: every dial, retarget and
    /// fallback (20 s by default; `None`: no limit).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The established session's options.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The names called, first to last fallback.
    pub fn called(&self) -> &[NetbiosName] {
        &self.called
    }

    /// The caller's own name.
    pub fn calling(&self) -> &NetbiosName {
        &self.calling
    }

    pub(crate) fn port_number(&self) -> u16 {
        self.port
    }

    pub(crate) fn retarget_bound(&self) -> u32 {
        self.max_retargets
    }

    pub(crate) fn setup_timeout(&self) -> Option<Millis> {
        self.timeout.map(millis)
    }

    pub(crate) fn session_options(&self) -> &Options {
        &self.options
    }
}

//! The caller's side across connections: which name to call, where to call
//! it, and when to give up (RFC 1001 section 16.1). A retarget response
//! sends the caller to another address with the same request; a negative
//! response for a name that is not there may be retried with a fallback
//! name (`*SMBSERVER`, as Samba's and Windows' clients do). Each attempt is a
//! fresh TCP connection with its own [`Connection`]; one deadline covers them all.

use std::fmt;
use std::net::Ipv4Addr;

use crate::connection::{negative_reason, Connection, Millis};
use crate::error::CommandError;
use crate::name::NetbiosName;

/// RFC 1002's SSN_RETRY_COUNT: how many retargets a caller follows by default.
pub const DEFAULT_MAX_RETARGETS: u32 = 4;

/// Negative response codes after which a fallback name is worth trying:
/// 0x80 "Not listening on called name" and 0x82 "Called name not present".
const FALLBACK_CODES: [u8; 2] = [0x80, 0x82];

/// Why the call as a whole failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// A negative response with no fallback name left to try.
    Rejected { code: u8 },
    /// More retarget responses than the caller follows.
    RetargetLoop { max: u32, addr: Ipv4Addr, port: u16 },
    /// The deadline for the whole setup passed.
    Timeout { after: Millis },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // netbios-session 0.1.6's text; users match on it.
            Self::Rejected { code } => write!(
                f,
                "Connection failed with response code [{}]",
                rejection_reason(*code)
            ),
            Self::RetargetLoop { max, addr, port } => write!(
                f,
                "Retargeted again, to {addr}:{port}, after following {max} retargets (maxRetargets); \
                 expected a session within {max} retargets"
            ),
            Self::Timeout { after } => write!(
                f,
                "Session setup did not complete within {after} ms (timeout); expected a POSITIVE SESSION RESPONSE"
            ),
        }
    }
}

impl std::error::Error for CallError {}

/// How a refusal with `code` is reported: RFC 1002's text for the code, or
/// "unknown error" (netbios-session 0.1.6's word) for a code it does not name.
pub fn rejection_reason(code: u8) -> &'static str {
    negative_reason(code).unwrap_or("unknown error")
}

/// What the caller does after a response that is not positive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Connect again to the same address and call this fallback name.
    Fallback(NetbiosName),
    /// Connect to `addr:port` and send the same request again.
    Retarget {
        addr: Ipv4Addr,
        port: u16,
    },
    Fail(CallError),
}

/// A caller's plan: the called name and its fallbacks, the calling name,
/// the retarget bound and the deadline.
#[derive(Clone, Debug)]
pub struct CallPlan {
    /// The called name first, then the fallbacks in order.
    called: Vec<NetbiosName>,
    calling: NetbiosName,
    current: usize,
    retargets: u32,
    max_retargets: u32,
    timeout: Option<Millis>,
    deadline: Option<Millis>,
}

impl CallPlan {
    /// `called` is the name to call first followed by its fallbacks; it must
    /// not be empty. The deadline (if any) starts at `now`.
    pub fn new(
        called: Vec<NetbiosName>,
        calling: NetbiosName,
        max_retargets: u32,
        timeout: Option<Millis>,
        now: Millis,
    ) -> Self {
        assert!(!called.is_empty(), "a call needs a called name");
        Self {
            called,
            calling,
            current: 0,
            retargets: 0,
            max_retargets,
            timeout,
            deadline: timeout.map(|t| now.saturating_add(t)),
        }
    }

    /// The name the current attempt calls.
    pub fn called(&self) -> &NetbiosName {
        &self.called[self.current]
    }

    pub fn calling(&self) -> &NetbiosName {
        &self.calling
    }

    /// Retargets followed so far.
    pub fn retargets(&self) -> u32 {
        self.retargets
    }

    /// Queues this attempt's SESSION REQUEST on a fresh caller session.
    pub fn request(&self, session: &mut Connection) -> Result<(), CommandError> {
        session.request(self.called(), &self.calling)
    }

    /// Decides what follows a NEGATIVE SESSION RESPONSE with `code`.
    pub fn on_negative(&mut self, code: u8) -> Next {
        if FALLBACK_CODES.contains(&code) && self.current + 1 < self.called.len() {
            self.current += 1;
            Next::Fallback(self.called().clone())
        } else {
            Next::Fail(CallError::Rejected { code })
        }
    }

    /// Decides what follows a RETARGET SESSION RESPONSE to `addr:port`.
    pub fn on_retarget(&mut self, addr: Ipv4Addr, port: u16) -> Next {
        if self.retargets >= self.max_retargets {
            return Next::Fail(CallError::RetargetLoop {
                max: self.max_retargets,
                addr,
                port,
            });
        }
        self.retargets += 1;
        Next::Retarget { addr, port }
    }

    /// When the whole setup must be done, if there is a deadline.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.deadline
    }

    /// The timeout error if the deadline has passed at `now`.
    pub fn handle_timeout(&mut self, now: Millis) -> Option<CallError> {
        match (self.deadline, self.timeout) {
            (Some(deadline), Some(after)) if deadline <= now => {
                self.deadline = None;
                Some(CallError::Timeout { after })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Config, Event, Role};

    fn name(text: &str, suffix: u8) -> NetbiosName {
        NetbiosName::new(text, suffix, "").unwrap()
    }

    fn plan(fallbacks: &[&str], max_retargets: u32) -> CallPlan {
        let mut called = vec![name("FILESERVER", 0x20)];
        called.extend(fallbacks.iter().map(|f| name(f, 0x20)));
        CallPlan::new(
            called,
            name("CLIENT", 0),
            max_retargets,
            Some(20_000),
            1_000,
        )
    }

    #[test]
    fn follows_retargets_up_to_the_bound_then_fails() {
        let mut plan = plan(&[], DEFAULT_MAX_RETARGETS);
        let to = Ipv4Addr::new(127, 0, 0, 2);
        for hop in 1..=4 {
            assert_eq!(
                plan.on_retarget(to, 139 + hop),
                Next::Retarget {
                    addr: to,
                    port: 139 + hop
                }
            );
        }
        assert_eq!(plan.retargets(), 4);
        let failed = plan.on_retarget(to, 1);
        assert_eq!(
            failed,
            Next::Fail(CallError::RetargetLoop {
                max: 4,
                addr: to,
                port: 1
            })
        );
        if let Next::Fail(error) = failed {
            assert!(error
                .to_string()
                .contains("after following 4 retargets (maxRetargets)"));
        }
    }

    #[test]
    fn zero_retargets_means_the_first_one_fails() {
        let mut plan = plan(&[], 0);
        assert!(matches!(
            plan.on_retarget(Ipv4Addr::new(10, 0, 0, 5), 139),
            Next::Fail(CallError::RetargetLoop { max: 0, .. })
        ));
    }

    #[test]
    fn falls_back_after_0x80_and_0x82_only() {
        let mut plan = plan(&["*SMBSERVER"], 4);
        assert_eq!(
            plan.on_negative(0x83),
            Next::Fail(CallError::Rejected { code: 0x83 })
        );
        let mut plan = self::plan(&["*SMBSERVER", "ALIAS"], 4);
        assert_eq!(
            plan.on_negative(0x82),
            Next::Fallback(name("*SMBSERVER", 0x20))
        );
        assert_eq!(plan.called(), &name("*SMBSERVER", 0x20));
        assert_eq!(plan.on_negative(0x80), Next::Fallback(name("ALIAS", 0x20)));
        assert_eq!(
            plan.on_negative(0x82),
            Next::Fail(CallError::Rejected { code: 0x82 })
        );
    }

    #[test]
    fn the_request_names_the_current_fallback() {
        let mut plan = plan(&["*SMBSERVER"], 4);
        plan.on_negative(0x82);
        let mut session = Connection::new(Role::Caller, Config::for_role(Role::Caller)).unwrap();
        plan.request(&mut session).unwrap();
        let bytes = session.poll_transmit().unwrap();
        let mut called = Connection::new(Role::Called, Config::for_role(Role::Called)).unwrap();
        let mut pos = 0;
        assert_eq!(
            called.next_event(0, &bytes, &mut pos),
            Some(Event::Request {
                called: name("*SMBSERVER", 0x20),
                calling: name("CLIENT", 0)
            })
        );
    }

    #[test]
    fn one_deadline_for_the_whole_setup() {
        let mut plan = plan(&[], 4);
        assert_eq!(plan.poll_timeout(), Some(21_000));
        assert_eq!(plan.handle_timeout(20_999), None);
        plan.on_retarget(Ipv4Addr::LOCALHOST, 1139);
        assert_eq!(
            plan.poll_timeout(),
            Some(21_000),
            "a hop does not extend the deadline"
        );
        assert_eq!(
            plan.handle_timeout(21_000),
            Some(CallError::Timeout { after: 20_000 })
        );
        assert_eq!(plan.handle_timeout(30_000), None, "reported once");
        let untimed = CallPlan::new(vec![name("A", 0x20)], name("B", 0), 4, None, 0);
        assert_eq!(untimed.poll_timeout(), None);
    }
}

//! Time for the core: milliseconds since the session began (the core reads
//! no clock), and the one timer a session sleeps on until the core's next
//! deadline. tokio's clock, so tests can pause and advance it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use netbios_session_core::Millis;
use tokio::time::{Instant, Sleep};

/// The session's epoch: `now()` counts milliseconds from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }

    /// Whole milliseconds since the epoch, rounded down: a deadline the
    /// timer reports as passed has passed by this count too.
    pub(crate) fn now(&self) -> Millis {
        Millis::try_from(self.epoch.elapsed().as_millis()).unwrap_or(Millis::MAX)
    }

    pub(crate) fn instant(&self, at: Millis) -> Instant {
        self.epoch
            .checked_add(Duration::from_millis(at))
            .unwrap_or_else(far_future)
    }
}

fn far_future() -> Instant {
    // About 30 years: tokio's own stand-in for "never".
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// One sleep, made on first use (a session without deadlines has none),
/// moved whenever the core names another deadline.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Millis>,
}

impl Timer {
    /// Ready once `at` has passed; otherwise wakes `cx` then.
    pub(crate) fn poll_at(&mut self, clock: &Clock, at: Millis, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = clock.instant(at);
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if self.armed != Some(at) {
            sleep.as_mut().reset(deadline);
            self.armed = Some(at);
        }
        sleep.as_mut().poll(cx)
    }
}

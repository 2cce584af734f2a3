//! The system clock, read in one place; everything else takes the time as an argument.
//!
//! [`Clock`] is the notification scheduler's and dispatcher's clock: the system's, or, in
//! tests, the system's moved forward by hand ([`Clock::manual`], [`Clock::advance`]), so that
//! reminders due in 30 days are tested without waiting for them.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::domain::time::Timestamp;

pub fn now() -> Timestamp {
    Timestamp::from_secs(chrono::Utc::now().timestamp())
}

/// The system clock, or one a test moves forward.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<Manual>>);

#[derive(Debug, Default)]
struct Manual {
    offset_secs: AtomicI64,
    moved: tokio::sync::Notify,
}

impl Clock {
    /// A clock that starts at the system's time and moves ahead when told.
    pub fn manual() -> Self {
        Clock(Some(Arc::default()))
    }

    pub fn now(&self) -> Timestamp {
        match &self.0 {
            None => now(),
            Some(m) => now() + m.offset_secs.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock `secs` ahead and wakes whoever waits on it (a system clock does
    /// not move by hand).
    pub fn advance(&self, secs: i64) {
        if let Some(m) = &self.0 {
            m.offset_secs.fetch_add(secs, Ordering::SeqCst);
            m.moved.notify_waiters();
        }
    }

    /// Resolves when a manual clock is moved; never for the system clock.
    pub async fn moved(&self) {
        match &self.0 {
            None => std::future::pending().await,
            Some(m) => m.moved.notified().await,
        }
    }
}

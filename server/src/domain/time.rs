//! Time as the domain sees it: a moment in whole seconds since the Unix epoch, the unit of JWT
//! claims and of the store's time columns. Durations are plain seconds (`i64`), named `*_SECS`.

use std::ops::{Add, Sub};

use chrono::{DateTime, TimeZone, Utc};

/// A moment, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The epoch itself, the time of nothing yet.
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs)
    }

    pub const fn secs(self) -> i64 {
        self.0
    }

    pub fn of(t: &DateTime<Utc>) -> Self {
        Timestamp(t.timestamp())
    }

    /// As a date and time for the wire (RFC 3339); a moment chrono cannot show is the epoch.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.0, 0).single().unwrap_or_default()
    }
}

impl From<Timestamp> for i64 {
    fn from(t: Timestamp) -> i64 {
        t.0
    }
}

impl From<i64> for Timestamp {
    fn from(secs: i64) -> Self {
        Timestamp(secs)
    }
}

/// `t + secs`: later by that many seconds (saturating: a far future stays far).
impl Add<i64> for Timestamp {
    type Output = Timestamp;
    fn add(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }
}

/// `t - secs`: earlier by that many seconds.
impl Sub<i64> for Timestamp {
    type Output = Timestamp;
    fn sub(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(secs))
    }
}

/// `b - a`: the seconds from `a` to `b`.
impl Sub for Timestamp {
    type Output = i64;
    fn sub(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_in_seconds_and_saturates() {
        let t = Timestamp::from_secs(1_000);
        assert_eq!((t + 60).secs(), 1_060);
        assert_eq!((t - 60).secs(), 940);
        assert_eq!((t + 60) - t, 60);
        assert!(t < t + 1);
        assert_eq!(
            Timestamp::from_secs(i64::MAX) + 1,
            Timestamp::from_secs(i64::MAX)
        );
        assert_eq!(
            Timestamp::from_secs(1_700_000_000)
                .to_datetime()
                .to_rfc3339(),
            "2023-11-14T22:13:20+00:00"
        );
        assert_eq!(Timestamp::of(&t.to_datetime()), t);
        assert_eq!(
            Timestamp::from_secs(i64::MAX).to_datetime(),
            DateTime::<Utc>::default()
        );
    }
}

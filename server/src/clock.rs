//! Time as the server sees it: whole seconds since the epoch, the unit of JWT claims.

use chrono::{DateTime, TimeZone, Utc};

pub fn now() -> i64 {
    Utc::now().timestamp()
}

pub fn to_datetime(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
}

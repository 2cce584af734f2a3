//! The system clock, read in one place; everything else takes the time as an argument.

use crate::domain::time::Timestamp;

pub fn now() -> Timestamp {
    Timestamp::from_secs(chrono::Utc::now().timestamp())
}

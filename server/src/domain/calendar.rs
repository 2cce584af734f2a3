//! An iCalendar (RFC 5545) feed: all-day events a calendar application subscribes to by URL.
//! Pure text building, no I/O: the caller chooses the events and the time of the feed.
//!
//! Everything the RFC asks of a content line is done here, once: TEXT values escaped (§3.3.11),
//! control characters dropped (they may not appear in any value), CRLF line ends and lines folded
//! at 75 octets (§3.1) without splitting a UTF-8 character.

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::domain::time::Timestamp;

/// How often subscribers should fetch the feed again: RFC 7986's `REFRESH-INTERVAL`, and
/// `X-PUBLISHED-TTL`, which Outlook and older clients read instead.
const REFRESH: &str = "PT12H";

/// One all-day event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// Globally unique and stable across fetches, so that calendars update the event instead of
    /// adding a copy (e.g. `n-<uuid>@passport.example.org`).
    pub uid: String,
    /// The day of the event (`DTSTART;VALUE=DATE`; `DTEND` is the next day, exclusive).
    pub date: NaiveDate,
    pub summary: String,
    pub description: String,
    /// A link to the page the event is about.
    pub url: Option<String>,
}

/// The whole feed: a `VCALENDAR` called `name` with one `VEVENT` per event, stamped `now`.
pub fn calendar(name: &str, events: &[CalendarEvent], now: Timestamp) -> String {
    let stamp = now.to_datetime().format("%Y%m%dT%H%M%SZ").to_string();
    let mut out = String::new();
    let mut line = |name: &str, value: &str| push_line(&mut out, name, value);
    line("BEGIN", "VCALENDAR");
    line("VERSION", "2.0");
    line("PRODID", "-//Work Passport//Notifications//EN");
    line("CALSCALE", "GREGORIAN");
    line("METHOD", "PUBLISH");
    line("X-WR-CALNAME", &text(name));
    line("REFRESH-INTERVAL;VALUE=DURATION", REFRESH);
    line("X-PUBLISHED-TTL", REFRESH);
    for event in events {
        line("BEGIN", "VEVENT");
        line("UID", &text(&event.uid));
        line("DTSTAMP", &stamp);
        line("DTSTART;VALUE=DATE", &date(event.date));
        // DTEND is exclusive: an all-day event ends at the start of the next day.
        let end = event.date.succ_opt().unwrap_or(event.date);
        line("DTEND;VALUE=DATE", &date(end));
        line("SUMMARY", &text(&event.summary));
        line("DESCRIPTION", &text(&event.description));
        if let Some(url) = &event.url {
            // A URI value is not TEXT: no escaping, but no control character either.
            line("URL", &without_controls(url));
        }
        // A reminder, not a busy time: it does not block the day in the person's calendar.
        line("TRANSP", "TRANSPARENT");
        line("END", "VEVENT");
    }
    line("END", "VCALENDAR");
    out
}

fn date(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma escaped, each line break
/// (CRLF, LF or CR) as `\n`, other control characters (but tab) dropped.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn without_controls(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// `NAME:VALUE` as one content line, folded: at most 75 octets a line, a continuation line
/// starting with one space (which counts), never cutting a UTF-8 character in two.
fn push_line(out: &mut String, name: &str, value: &str) {
    let mut line = String::with_capacity(name.len() + 1 + value.len());
    let _ = write!(line, "{name}:{value}");
    let mut rest = line.as_str();
    let mut limit = 75;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = 74;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(feed: &str) -> Vec<String> {
        feed.replace("\r\n ", "")
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn event(summary: &str, description: &str) -> CalendarEvent {
        CalendarEvent {
            uid: "n-1@passport.example.org".into(),
            date: NaiveDate::from_ymd_opt(2027, 3, 3).unwrap(),
            summary: summary.into(),
            description: description.into(),
            url: Some("https://passport.example.org/#/passports/p1".into()),
        }
    }

    #[test]
    fn text_escapes_what_rfc_5545_says() {
        assert_eq!(text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(text("one\ntwo\r\nthree\rfour"), r"one\ntwo\nthree\nfour");
        assert_eq!(text("tab\there\u{7}bell\u{0}"), "tab\therebell");
        assert_eq!(text("Réunion – 3 March: ok"), "Réunion – 3 March: ok");
    }

    #[test]
    fn a_feed_has_its_properties_and_events_with_crlf_only() {
        let feed = calendar(
            "Work Passport: Alex",
            &[event("Review, adjustments", "Line one\nline two")],
            Timestamp::from_secs(1_800_000_000),
        );
        assert!(!feed.replace("\r\n", "").contains(['\r', '\n']), "{feed}");
        assert!(feed.ends_with("END:VCALENDAR\r\n"));
        let lines = unfold(&feed);
        for expected in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            r"X-WR-CALNAME:Work Passport: Alex",
            "REFRESH-INTERVAL;VALUE=DURATION:PT12H",
            "X-PUBLISHED-TTL:PT12H",
            "BEGIN:VEVENT",
            "UID:n-1@passport.example.org",
            "DTSTAMP:20270115T080000Z",
            "DTSTART;VALUE=DATE:20270303",
            "DTEND;VALUE=DATE:20270304",
            r"SUMMARY:Review\, adjustments",
            r"DESCRIPTION:Line one\nline two",
            "URL:https://passport.example.org/#/passports/p1",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ] {
            assert!(lines.iter().any(|l| l == expected), "{expected} in {feed}");
        }
        assert!(lines[2].starts_with("PRODID:"), "{feed}");
    }

    #[test]
    fn the_last_day_of_a_month_ends_on_the_next_month() {
        let mut e = event("s", "d");
        e.date = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
        e.url = None;
        let lines = unfold(&calendar("c", &[e], Timestamp::EPOCH));
        assert!(lines.contains(&"DTEND;VALUE=DATE:20280301".to_owned()));
        assert!(!lines.iter().any(|l| l.starts_with("URL")));
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_a_character() {
        // Two-, three- and four-byte characters, so that every cut position is tried.
        let summary = "Réunion – 3 March 🗓 ".repeat(12);
        let feed = calendar("c", &[event(&summary, &"é".repeat(200))], Timestamp::EPOCH);
        for (i, line) in feed.split("\r\n").enumerate() {
            assert!(
                line.len() <= 75,
                "line {i} is {} octets: {line:?}",
                line.len()
            );
        }
        let lines = unfold(&feed);
        assert!(lines.contains(&format!("SUMMARY:{summary}")), "{feed}");
        assert!(lines.contains(&format!("DESCRIPTION:{}", "é".repeat(200))));
        // Folded somewhere: continuation lines start with one space.
        assert!(feed.contains("\r\n "));
    }

    #[test]
    fn a_line_of_exactly_75_octets_is_not_folded() {
        let mut out = String::new();
        push_line(&mut out, "SUMMARY", &"x".repeat(75 - "SUMMARY:".len()));
        assert_eq!(out.len(), 77);
        assert!(!out.contains("\r\n "));
        let mut out = String::new();
        push_line(&mut out, "SUMMARY", &"x".repeat(76 - "SUMMARY:".len()));
        assert_eq!(out, format!("SUMMARY:{}\r\n x\r\n", "x".repeat(67)));
    }
}

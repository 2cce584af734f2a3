//! Notifications' building blocks read by independent software: the server's email as a real
//! SMTP server (aiosmtpd) receives it and Python's `email` package reads it, refusals as
//! `SendError`s, and the calendar feed as the `icalendar` package reads it
//! (wp_tests::mail; skipped loudly without the tests' Python venv, failed in CI).

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::json;
use wp_server::Settings;
use wp_server::domain::calendar::{CalendarEvent, calendar};
use wp_server::domain::time::Timestamp;
use wp_server::mail::{Email, Mailer, SendError};
use wp_tests::mail::{SmtpSink, parse_ics, python};

/// Generous: a bound for a stuck run, not a timing requirement.
const WAIT: Duration = Duration::from_secs(30);

fn mailer_for(url: String) -> Mailer {
    let mut settings = Settings::for_data_dir("/unused");
    settings.smtp_url = Some(url);
    settings.smtp_from = Some("Work Passport <passport@example.org>".into());
    Mailer::from_settings(&settings)
        .expect("valid settings")
        .expect("a mailer")
}

/// One sink for every case: a message delivered as sent, then refusals classified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_is_delivered_as_sent_and_refusals_say_whether_to_retry() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let mailer = mailer_for(sink.url());
    let message_id = format!("<n-{}@passport.example.org>", uuid::Uuid::new_v4());
    let unsubscribe = "https://passport.example.org/v1/notifications/unsubscribe?token=a1b2";
    let text = "Réunion – 3 March: your adjustments review is due.\n\n\
                Ça concerne « horaires flexibles » and a screen reader; nothing else is shared. \
                This line is longer than seventy-eight characters, so it is wrapped in transit.\n\
                Open https://passport.example.org/#/passports/p1 to see it.\n";
    let email = Email {
        to: "Alex Example <alex@example.org>".into(),
        subject: "Réunion – 3 March".into(),
        text: text.into(),
        message_id: message_id.clone(),
        unsubscribe: Some(unsubscribe.into()),
    };
    mailer.send(&email).await.expect("sent");

    let received = sink.wait_for(1, WAIT).await.remove(0);
    assert_eq!(received.mail_from, "passport@example.org");
    assert_eq!(received.rcpt_tos, ["alex@example.org"]);
    assert_eq!(received.header("Subject"), Some("Réunion – 3 March"));
    assert_eq!(
        received.header("From"),
        Some("Work Passport <passport@example.org>")
    );
    assert_eq!(
        received.header("To"),
        Some("Alex Example <alex@example.org>")
    );
    assert_eq!(received.header("Message-ID"), Some(message_id.as_str()));
    assert_eq!(received.header("Auto-Submitted"), Some("auto-generated"));
    assert_eq!(
        received.header("List-Unsubscribe"),
        Some(format!("<{unsubscribe}>").as_str())
    );
    assert_eq!(
        received.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(received.header("Date").is_some(), "{:?}", received.headers);
    let content_type = received.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("utf-8"),
        "{content_type}"
    );
    // Up to the line end lettre adds after the body.
    assert_eq!(
        received.text_lf().trim_end_matches('\n'),
        text.trim_end_matches('\n')
    );
    // Encoded for any relay: nothing but 7-bit ASCII crossed the wire.
    assert!(received.raw.is_ascii(), "{}", received.raw);

    // Refused for now: retry. The reason is the reply, not the message.
    sink.refuse_with(Some(451));
    let error = mailer.send(&email).await.expect_err("refused");
    assert!(matches!(error, SendError::Transient(_)), "{error}");
    assert!(error.reason().contains("451"), "{error}");
    for content in ["Réunion", "alex@example.org", "adjustments"] {
        assert!(!error.reason().contains(content), "{error}");
    }

    // Refused for good: do not retry.
    sink.refuse_with(Some(550));
    let error = mailer.send(&email).await.expect_err("refused");
    assert!(error.is_permanent(), "{error}");
    assert!(error.reason().contains("550 5.1.1"), "{error}");

    // The default, smtp:// without tls=none, requires STARTTLS, which the sink does not offer:
    // nothing is sent in the clear, and it is worth retrying once the settings are right.
    sink.refuse_with(None);
    let starttls = mailer_for(format!("smtp://127.0.0.1:{}", sink.port()));
    let error = starttls.send(&email).await.expect_err("no STARTTLS");
    assert!(!error.is_permanent(), "{error}");

    // No server at all: retry.
    let nobody = mailer_for(format!(
        "smtp://127.0.0.1:{}?tls=none",
        wp_tests::free_port()
    ));
    let error = nobody.send(&email).await.expect_err("no server");
    assert!(!error.is_permanent(), "{error}");

    // Accepted again; only the two accepted messages arrived.
    mailer.send(&email).await.expect("sent again");
    let received = sink.wait_for(2, WAIT).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].header("Message-ID"), Some(message_id.as_str()));
}

#[test]
fn the_calendar_feed_reads_back_the_same_events() {
    if python().is_none() {
        return;
    }
    let long = "Réunion de révision des aménagements – 3 March, à Zürich; 🗓 ".repeat(4);
    let events = [
        CalendarEvent {
            uid: "n-0f0e@passport.example.org".into(),
            date: NaiveDate::from_ymd_opt(2027, 3, 3).unwrap(),
            summary: long.trim_end().to_owned(),
            description: "Review due.\nBring: notes, a pen; C:\\path\\file\r\nThen done.".into(),
            url: Some("https://passport.example.org/#/passports/p1?tab=reviews".into()),
        },
        CalendarEvent {
            uid: "n-1a2b@passport.example.org".into(),
            date: NaiveDate::from_ymd_opt(2028, 2, 29).unwrap(),
            summary: "Grant to Acme Ltd ends".into(),
            description: String::new(),
            url: None,
        },
    ];
    let feed = calendar(
        "Work Passport: Alex",
        &events,
        Timestamp::from_secs(1_800_000_000),
    );
    let parsed = parse_ics(&feed);

    let properties = &parsed["calendar"];
    assert_eq!(properties["VERSION"], "2.0");
    assert_eq!(properties["CALSCALE"], "GREGORIAN");
    assert_eq!(properties["METHOD"], "PUBLISH");
    assert_eq!(properties["X-WR-CALNAME"], "Work Passport: Alex");
    assert_eq!(properties["REFRESH-INTERVAL"], "PT12H");
    assert_eq!(properties["X-PUBLISHED-TTL"], "PT12H");
    assert!(properties["PRODID"].is_string(), "{parsed}");

    let stamp = "2027-01-15T08:00:00+00:00";
    assert_eq!(
        parsed["events"],
        json!([
            {
                "uid": "n-0f0e@passport.example.org",
                "summary": long.trim_end(),
                // Line breaks come back as LF, whatever was written.
                "description": "Review due.\nBring: notes, a pen; C:\\path\\file\nThen done.",
                "url": "https://passport.example.org/#/passports/p1?tab=reviews",
                "dtstart": "2027-03-03",
                "dtend": "2027-03-04",
                "dtstamp": stamp,
                "transp": "TRANSPARENT",
            },
            {
                "uid": "n-1a2b@passport.example.org",
                "summary": "Grant to Acme Ltd ends",
                "description": "",
                "url": null,
                "dtstart": "2028-02-29",
                "dtend": "2028-03-01",
                "dtstamp": stamp,
                "transp": "TRANSPARENT",
            },
        ])
    );
}

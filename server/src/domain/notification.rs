//! Notifications: what happened, to whom it is told, in which words, and when a reminder is due.
//! No HTTP, no SQL, no clock: the service passes the time.
//!
//! A notification carries [`Facts`] (a name, a date, a count), never health data: its words say
//! that something happened and where to look ("A review of one of your adjustments is due on
//! 3 March 2027"), never what a section says. The same words go to the pages, the email and
//! the calendar.

use serde::{Deserialize, Serialize};
use wp_schemas::api::NotificationKind as Kind;

use super::ids::PartyId;
use super::time::Timestamp;

pub const DAY_SECS: i64 = 86_400;

/// A reminder later than this after its moment is not sent (say, after a long outage or an
/// upgrade): news of a date long gone helps nobody.
pub const LATE_LIMIT_SECS: i64 = 7 * DAY_SECS;

/// What a notification's words are made from. Every field is optional; each kind uses some.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The organisation or person the notification names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// A date, `YYYY-MM-DD` (a review date, the day a consent ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
    /// Section names (never their contents): what a request was approved for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<String>,
    /// A number: emails parked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// A role, in words (an invitation's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The one-time code of an address verification or an invitation, kept only until its
    /// email is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Facts {
    pub fn who(who: impl Into<String>) -> Self {
        Facts {
            who: Some(who.into()),
            ..Facts::default()
        }
    }

    pub fn on(on: &str) -> Self {
        Facts {
            on: Some(on.to_owned()),
            ..Facts::default()
        }
    }

    pub fn who_on(who: impl Into<String>, on: &str) -> Self {
        Facts {
            on: Some(on.to_owned()),
            ..Facts::who(who)
        }
    }
}

/// A notification to write, in the transaction of the change that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub recipient: PartyId,
    pub kind: Kind,
    pub facts: Facts,
    /// Set for reminders: one notification per key, however many instances write it.
    pub dedupe_key: Option<String>,
}

impl Notice {
    pub fn new(recipient: &PartyId, kind: Kind, facts: Facts) -> Self {
        Notice {
            recipient: recipient.clone(),
            kind,
            facts,
            dedupe_key: None,
        }
    }
}

/// The words of a notification: a title (the email's subject), a sentence, and the page where
/// to act (an address of the pages, `#/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub title: String,
    pub text: String,
    pub link: &'static str,
}

/// `2027-03-03` as "3 March 2027"; anything else as it is.
pub fn spoken_date(date: &str) -> String {
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) => d.format("%-d %B %Y").to_string(),
        Err(_) => date.to_owned(),
    }
}

/// The words of a notification of `kind` with `facts`.
pub fn words(kind: Kind, facts: &Facts) -> Words {
    let who = facts.who.as_deref().unwrap_or("Someone");
    let on = facts.on.as_deref().map(spoken_date).unwrap_or_default();
    let (title, text, link): (&str, String, &'static str) = match kind {
        Kind::AccessRequested => (
            "A request to see your passport",
            format!(
                "{who} asked to see parts of your passport. Nothing is shared until you agree: \
                 open the request with the code they gave you."
            ),
            "#/request",
        ),
        Kind::GrantEnding => (
            "A consent you gave ends soon",
            format!("Your consent for {who} to see parts of your passport ends on {on}."),
            "#/grants",
        ),
        Kind::GrantEnded => (
            "A consent you gave has ended",
            format!("Your consent for {who} to see parts of your passport has ended."),
            "#/grants",
        ),
        Kind::ReviewDue => (
            "An adjustment review is due",
            format!("A review of one of your adjustments is due on {on}."),
            "#/section/adjustments",
        ),
        Kind::ReviewOverdue => (
            "An adjustment review is overdue",
            format!("A review of one of your adjustments was due on {on}."),
            "#/section/adjustments",
        ),
        Kind::VersionWritten => (
            "Your passport was updated",
            format!("{who} updated your passport."),
            "#/passport",
        ),
        Kind::AdjustmentAgreed => (
            "An adjustment was agreed",
            format!("{who} agreed one of your adjustments."),
            "#/section/adjustments",
        ),
        Kind::KeyAdded => (
            "A device was added to your account",
            "A new device or key was added to your account. If this was not you, remove it on \
             the devices page at once."
                .to_owned(),
            "#/devices",
        ),
        Kind::KeyRevoked => (
            "A device was removed from your account",
            "A device or key was removed from your account. If this was not you, sign in and \
             check your devices."
                .to_owned(),
            "#/devices",
        ),
        Kind::PassportExported => (
            "Your passport was downloaded",
            "A copy of your passport was downloaded. If this was not you, check your devices and \
             your access log."
                .to_owned(),
            "#/log",
        ),
        Kind::PassportImported => (
            "Your passport was moved here",
            "Your passport was moved to this service from a file.".to_owned(),
            "#/passport",
        ),
        Kind::PassportErased => (
            "Your passport was erased",
            "Your passport was erased from this service. If this was not you, contact the \
             service at once."
                .to_owned(),
            "#/",
        ),
        Kind::RequestApproved => {
            let sections = facts
                .sections
                .iter()
                .map(|s| section_words(s))
                .collect::<Vec<_>>()
                .join(", ");
            (
                "A request was approved",
                format!(
                    "{who} approved your organisation's request to see: {sections}; until {on}."
                ),
                "#/shared",
            )
        }
        Kind::RequestDeclined => (
            "A request was declined",
            format!("{who} declined your organisation's request."),
            "#/requests",
        ),
        Kind::ConsentEnding => (
            "Your access to a passport ends soon",
            format!("Your access to {who}'s passport ends on {on}."),
            "#/shared",
        ),
        Kind::ConsentEnded => (
            "Your access to a passport has ended",
            format!("Your access to {who}'s passport has ended."),
            "#/shared",
        ),
        Kind::AgreedReviewDue => (
            "An adjustment review is due",
            format!(
                "A review of an adjustment your organisation agreed with {who} is due on {on}."
            ),
            "#/shared",
        ),
        Kind::MemberJoined => (
            "Someone joined your organisation",
            format!("{who} joined your organisation."),
            "#/organisation",
        ),
        Kind::MemberLeft => (
            "Someone left your organisation",
            format!("{who} left your organisation."),
            "#/organisation",
        ),
        Kind::DeliveriesFailing => (
            "Emails are not being delivered",
            format!(
                "{} notification emails could not be delivered and are parked. Check the mail \
                 server settings (--smtp-url) and the server's log.",
                facts.count.unwrap_or(0)
            ),
            "#/admin",
        ),
        Kind::EmailVerification => (
            "Confirm your email address",
            "Someone, probably you, asked for notifications from Work Passport at this address. \
             Open the link below to confirm it. If it was not you, ignore this email: nothing \
             will be sent here."
                .to_owned(),
            "#/email/verify",
        ),
        Kind::Invitation => (
            "You are invited to join Work Passport",
            format!(
                "{who} invited you to join them on Work Passport, as {}. Work Passport keeps \
                 the workplace adjustments people share with their employer. Open the link \
                 below to join; it works until {on}. If you did not expect this, ignore it.",
                facts.role.as_deref().unwrap_or("a member")
            ),
            "#/join",
        ),
    };
    Words {
        title: title.to_owned(),
        text,
        link,
    }
}

/// A kind of notification in a few words, for a person's choices.
pub fn kind_title(kind: Kind) -> &'static str {
    match kind {
        Kind::AccessRequested => "Requests to see your passport",
        Kind::GrantEnding => "A consent you gave ends soon",
        Kind::GrantEnded => "A consent you gave has ended",
        Kind::ReviewDue => "An adjustment review is due",
        Kind::ReviewOverdue => "An adjustment review is overdue",
        Kind::VersionWritten => "Someone else updated your passport",
        Kind::AdjustmentAgreed => "An employer agreed an adjustment",
        Kind::KeyAdded => "A device was added to your account",
        Kind::KeyRevoked => "A device was removed from your account",
        Kind::PassportExported => "Your passport was downloaded",
        Kind::PassportImported => "Your passport was moved here",
        Kind::PassportErased => "Your passport was erased",
        Kind::RequestApproved => "A request you sent was approved",
        Kind::RequestDeclined => "A request you sent was declined",
        Kind::ConsentEnding => "Your access to a passport ends soon",
        Kind::ConsentEnded => "Your access to a passport has ended",
        Kind::AgreedReviewDue => "A review of an adjustment you agreed is due",
        Kind::MemberJoined => "Someone joined your organisation",
        Kind::MemberLeft => "Someone left your organisation",
        Kind::DeliveriesFailing => "Emails are not being delivered",
        Kind::EmailVerification => "Confirm your email address",
        Kind::Invitation => "An invitation to join an organisation",
    }
}

/// A section's name in words, for a list of what was shared.
fn section_words(section: &str) -> &str {
    match section {
        "summary" => "summary",
        "conditions" => "conditions",
        "impacts" => "impacts at work",
        "adjustments" => "adjustments",
        "plans" => "plans",
        "fit_notes" => "fit notes",
        other => other,
    }
}

/// One reminder step: its kind, and its moment relative to the due time (negative: before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub kind: Kind,
    pub offset_secs: i64,
}

/// The owner's reminders of a consent's end: 14 and 3 days before, and at the end.
pub const GRANT_OWNER_STEPS: &[Step] = &[
    Step::before(Kind::GrantEnding, 14),
    Step::before(Kind::GrantEnding, 3),
    Step::before(Kind::GrantEnded, 0),
];

/// The grantee's (or covered members') reminders of a consent's end.
pub const GRANT_GRANTEE_STEPS: &[Step] = &[
    Step::before(Kind::ConsentEnding, 14),
    Step::before(Kind::ConsentEnding, 3),
    Step::before(Kind::ConsentEnded, 0),
];

/// The owner's reminders of an adjustment's review: 30 and 7 days before, and the day after.
pub const REVIEW_OWNER_STEPS: &[Step] = &[
    Step::before(Kind::ReviewDue, 30),
    Step::before(Kind::ReviewDue, 7),
    Step::before(Kind::ReviewOverdue, -1),
];

/// The reminders of an agreeing organisation's covered members: 30 and 7 days before.
pub const REVIEW_AGREED_STEPS: &[Step] = &[
    Step::before(Kind::AgreedReviewDue, 30),
    Step::before(Kind::AgreedReviewDue, 7),
];

impl Step {
    const fn before(kind: Kind, days: i64) -> Step {
        Step {
            kind,
            offset_secs: -days * DAY_SECS,
        }
    }

    /// Days before the due time (0 at it, negative after), for the dedupe key.
    pub fn days_before(&self) -> i64 {
        -self.offset_secs / DAY_SECS
    }
}

/// The steps due at `now` for something due at `due` that exists since `since`: each step whose
/// moment has come, unless it came before its subject existed (a consent given for 7 days gets
/// no 14-day reminder) or is more than [`LATE_LIMIT_SECS`] past.
pub fn due_steps(steps: &[Step], due: Timestamp, since: Timestamp, now: Timestamp) -> Vec<Step> {
    steps
        .iter()
        .filter(|step| {
            let moment = due + step.offset_secs;
            moment <= now && moment >= since && now - moment <= LATE_LIMIT_SECS
        })
        .copied()
        .collect()
}

/// A review date (`YYYY-MM-DD`) as the moment it is due: the start of that day, UTC.
pub fn date_moment(date: &str) -> Option<Timestamp> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(Timestamp::from_secs(
        d.and_hms_opt(0, 0, 0)?.and_utc().timestamp(),
    ))
}

/// A moment's day, `YYYY-MM-DD` (UTC).
pub fn day_of(moment: Timestamp) -> String {
    moment.to_datetime().format("%Y-%m-%d").to_string()
}

/// The one key of a reminder: its kind and step, what it is about, when that is due, and whom
/// it tells. A change of the due date is a new subject, reminded again.
pub fn dedupe_key(step: Step, subject: &str, due: Timestamp, recipient: &PartyId) -> String {
    format!(
        "{}:{}:{subject}:{}:{recipient}",
        step.kind.as_str(),
        step.days_before(),
        due.secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_SECS;

    #[test]
    fn reminders_come_at_their_moment_once_their_subject_exists() {
        let due = Timestamp::from_secs(100 * DAY);
        let since = Timestamp::from_secs(50 * DAY);
        let at = |day: i64| {
            due_steps(
                GRANT_OWNER_STEPS,
                due,
                since,
                Timestamp::from_secs(day * DAY),
            )
        };
        assert!(at(85).is_empty());
        assert_eq!(at(86).len(), 1, "14 days before");
        assert_eq!(at(93).len(), 1, "still news a week later");
        assert!(at(94).is_empty(), "not news any more");
        assert_eq!(at(97).len(), 1, "3 days before");
        assert_eq!(at(100).len(), 2, "and at the end");
        assert_eq!(at(107).len(), 1, "a week later only the end is still news");
        assert!(at(108).is_empty());
        // A consent given 5 days before its end: no 14-day reminder.
        let short = due_steps(GRANT_OWNER_STEPS, due, due - 5 * DAY, due);
        assert_eq!(short.len(), 2);
        assert!(short.iter().all(|s| s.days_before() != 14));
    }

    #[test]
    fn overdue_is_the_day_after() {
        let due = date_moment("2027-03-03").unwrap();
        let steps = due_steps(REVIEW_OWNER_STEPS, due, due - 60 * DAY, due + DAY);
        assert_eq!(steps.last().unwrap().kind, Kind::ReviewOverdue);
        assert_eq!(day_of(due), "2027-03-03");
        assert_eq!(spoken_date("2027-03-03"), "3 March 2027");
    }

    #[test]
    fn keys_differ_by_step_due_date_and_recipient() {
        let (a, b) = (PartyId::nth(1), PartyId::nth(2));
        let due = Timestamp::from_secs(10 * DAY);
        let [s14, s3, _] = [
            GRANT_OWNER_STEPS[0],
            GRANT_OWNER_STEPS[1],
            GRANT_OWNER_STEPS[2],
        ];
        let key = dedupe_key(s14, "g", due, &a);
        assert_eq!(key, dedupe_key(s14, "g", due, &a));
        assert_ne!(key, dedupe_key(s3, "g", due, &a));
        assert_ne!(key, dedupe_key(s14, "g", due + DAY, &a));
        assert_ne!(key, dedupe_key(s14, "g", due, &b));
    }

    #[test]
    fn words_carry_names_and_dates_only() {
        let w = words(Kind::ReviewDue, &Facts::on("2027-03-03"));
        assert_eq!(
            w.text,
            "A review of one of your adjustments is due on 3 March 2027."
        );
        let w = words(Kind::AccessRequested, &Facts::who("Acme Ltd"));
        assert!(
            w.text
                .starts_with("Acme Ltd asked to see parts of your passport.")
        );
    }
}

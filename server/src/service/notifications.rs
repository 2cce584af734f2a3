//! Notifications, without the HTTP: a person's list and unread count, their email address and
//! choices, the calendar feed, the one-click unsubscribe; and the two tasks every instance
//! runs: the scheduler, which writes reminders when they come due (idempotently: one per
//! subject, due date, kind and recipient, however many instances scan), and the dispatcher,
//! which claims pending emails (one instance each), sends them, and retries with backoff.
//!
//! Events write their notifications in the transaction of their change (the stores'
//! `insert_notices_in!`); this module only reads them back and delivers them.

use std::collections::BTreeMap;
use std::time::Duration;

use ring::hmac;
use wp_schemas::api::{
    CalendarFeed, EmailChoice, LogAction, Notification, NotificationEmail,
    NotificationKind as Kind, NotificationPage, NotificationSettings, PartyKind, Role,
    SetEmailChoices, SetNotificationEmail, VerifyEmail,
};
use wp_schemas::jose::b64;
use wp_schemas::problem::ProblemType;

use super::store::{ClaimedEmail, DueReview, StoredNotification};
use super::{AppState, Caller};
use crate::clock::Clock;
use crate::domain::audit::LogEvent;
use crate::domain::calendar::{CalendarEvent, calendar as calendar_text};
use crate::domain::grant::GrantRecord;
use crate::domain::ids::{NotificationId, PartyId};
use crate::domain::notification::{self as rules, DAY_SECS, Facts, Notice, Step};
use crate::domain::organisation::code_hash;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::mail::{Email, Mailer, SendError};

/// How long a verification link works.
const VERIFY_SECS: i64 = 2 * DAY_SECS;
/// Emails claimed at once by one instance.
const CLAIM_BATCH: i64 = 20;
/// Attempts before an email is parked for the operator (backoff 1, 2, 4... minutes, at most 6
/// hours apart: about 9 hours in all).
const MAX_ATTEMPTS: i64 = 10;
const MAX_BACKOFF_SECS: i64 = 6 * 3600;
/// The longest address accepted (RFC 5321's path limit).
const MAX_ADDRESS_CHARS: usize = 254;

/// The notification machinery an instance shares: its clock, its mail server (if any), and
/// the signals that wake its tasks.
pub struct Notifier {
    pub clock: Clock,
    mailer: Option<Mailer>,
    /// Woken when this instance writes a notification that may need an email.
    wake: tokio::sync::Notify,
    stop: tokio::sync::watch::Sender<bool>,
    /// How often the scheduler scans and the dispatcher looks for due emails.
    interval: Duration,
    /// How long a claimed email is this instance's before another may claim it again.
    lease_secs: i64,
}

impl Notifier {
    pub fn new(clock: Clock, mailer: Option<Mailer>, interval: Duration, lease_secs: i64) -> Self {
        Notifier {
            clock,
            mailer,
            wake: tokio::sync::Notify::new(),
            stop: tokio::sync::watch::channel(false).0,
            interval,
            lease_secs,
        }
    }

    /// Says that notifications were written: the dispatcher looks now, not at its next tick.
    pub fn written(&self) {
        self.wake.notify_one();
    }

    /// Ends the scheduler and the dispatcher (at shutdown).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    pub fn email_enabled(&self) -> bool {
        self.mailer.is_some()
    }
}

/// Starts this instance's scheduler and dispatcher; they end with [`Notifier::stop`].
pub fn spawn(state: &AppState) {
    tokio::spawn(scheduler(state.clone()));
    if state.notifications.mailer.is_some() {
        tokio::spawn(dispatcher(state.clone()));
    }
}

async fn scheduler(state: AppState) {
    let n = &state.notifications;
    let mut stop = n.stop.subscribe();
    loop {
        if let Err(e) = scan(&state, n.clock.now()).await {
            tracing::warn!(error = ?e, "the reminder scan failed; it runs again at the next tick");
        }
        tokio::select! {
            _ = tokio::time::sleep(n.interval) => {}
            _ = n.clock.moved() => {}
            _ = stop.changed() => return,
        }
    }
}

async fn dispatcher(state: AppState) {
    let n = &state.notifications;
    let mut stop = n.stop.subscribe();
    loop {
        let full = match dispatch(&state, n.clock.now()).await {
            Ok(sent) => sent as i64 == CLAIM_BATCH,
            Err(e) => {
                tracing::warn!(error = ?e, "the email dispatcher failed; it tries again at the next tick");
                false
            }
        };
        if full {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(n.interval) => {}
            _ = n.wake.notified() => {}
            _ = n.clock.moved() => {}
            _ = stop.changed() => return,
        }
    }
}

/// Claims the emails due at `now` and sends them; how many were claimed.
pub async fn dispatch(state: &AppState, now: Timestamp) -> Result<usize> {
    let n = &state.notifications;
    let Some(mailer) = &n.mailer else {
        return Ok(0);
    };
    // This batch's own token: an email is sent only under the claim that still holds it.
    let claim = uuid::Uuid::new_v4().to_string();
    let claimed = state
        .store
        .claim_emails(now, now + n.lease_secs, CLAIM_BATCH, &claim)
        .await?;
    let count = claimed.len();
    for email in claimed {
        deliver(state, mailer, email, &claim).await?;
    }
    Ok(count)
}

/// Sends one claimed email and records what became of it. A crash between the mail server's
/// acceptance and the record below leaves the claim to run out, and another instance sends the
/// email again, with the same Message-ID: at most one duplicate per such crash, never a loss.
async fn deliver(
    state: &AppState,
    mailer: &Mailer,
    claimed: ClaimedEmail,
    claim: &str,
) -> Result<()> {
    let id = claimed.notification.id.clone();
    // The lease is renewed for this one email: a batch that took longer than its lease has
    // lost the emails another instance claimed since, and sends none of them.
    let lease_until = state.notifications.clock.now() + state.notifications.lease_secs;
    let Some(attempts) = state.store.renew_claim(&id, claim, lease_until).await? else {
        return Ok(());
    };
    let email = compose(state, &claimed).await?;
    let outcome = mailer.send(&email).await;
    let now = state.notifications.clock.now();
    match outcome {
        Ok(()) => {
            state.store.email_sent(&id, now).await?;
            tracing::info!(notification = %id, kind = claimed.notification.kind.as_str(), "email sent");
        }
        Err(error) => {
            let (permanent, reason) = match &error {
                SendError::Permanent(r) => (true, r.as_str()),
                SendError::Transient(r) => (false, r.as_str()),
            };
            let retry = (!permanent && attempts < MAX_ATTEMPTS).then(|| {
                let backoff = (60i64 << (attempts - 1).clamp(0, 20)).min(MAX_BACKOFF_SECS);
                now + backoff
            });
            state.store.email_failed(&id, retry, reason, now).await?;
            tracing::warn!(notification = %id, attempts, permanent, parked = retry.is_none(), reason, "email not sent");
            if retry.is_none() {
                alert_admins(state, now).await?;
            }
        }
    }
    Ok(())
}

/// Tells the service admins that emails are parked (once a day at most).
async fn alert_admins(state: &AppState, now: Timestamp) -> Result<()> {
    let (_, parked) = state.store.email_counts().await?;
    let day = rules::day_of(now);
    let notices = state
        .store
        .parties_of_kind(PartyKind::Admin)
        .await?
        .into_iter()
        .map(|admin| Notice {
            dedupe_key: Some(format!("deliveries_failing:{day}:{admin}")),
            ..Notice::new(
                &admin,
                Kind::DeliveriesFailing,
                Facts {
                    count: Some(parked),
                    ..Facts::default()
                },
            )
        })
        .collect::<Vec<_>>();
    state.store.notify(&notices, now).await
}

/// The email of a claimed notification: its words, a link to act, and (for all but security
/// alerts) the one-click unsubscribe from its kind.
async fn compose(state: &AppState, claimed: &ClaimedEmail) -> Result<Email> {
    let n = &claimed.notification;
    let words = rules::words(n.kind, &n.facts);
    let base = state.issuer.trim_end_matches('/');
    let mut text = format!("{}\n\n", words.text);
    let mut unsubscribe = None;
    let code = n.facts.code.as_deref().unwrap_or_default();
    if n.kind == Kind::EmailVerification {
        text.push_str(&format!(
            "{base}/#/email/verify/{code}\n\nThe link works for 2 days.\n"
        ));
    } else if n.kind == Kind::Invitation {
        text.push_str(&format!("{base}/#/join/{code}\n"));
    } else if let Some(recipient) = &n.recipient {
        text.push_str(&format!(
            "Sign in to Work Passport to see more: {base}/{}\n",
            words.link
        ));
        let address = state.store.email_address(recipient).await?;
        if n.kind.is_security() {
            text.push_str(
                "\nThis is a security alert: they are always sent to your verified address.\n",
            );
        } else if let Some(address) = address {
            let token = unsubscribe_token(&address.unsubscribe_secret, recipient, n.kind);
            text.push_str(&format!(
                "\nTo stop emails like this one: {base}/#/unsubscribe/{token}\n\
                 Choose which emails you get in your notification settings: {base}/#/notifications/settings\n"
            ));
            unsubscribe = Some(format!("{base}{}", wp_schemas::paths::unsubscribe(&token)));
        }
    }
    text.push_str("\nThis email never contains anything from your passport: sign in to see it.\n");
    let host = url_host(base);
    Ok(Email {
        to: claimed.to.clone(),
        subject: words.title,
        text,
        message_id: format!("<{}@{host}>", n.id),
        unsubscribe,
    })
}

fn url_host(base: &str) -> &str {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or("localhost")
}

/// `party.kind.mac`: unsubscribes `party` from `kind`, proven by the HMAC of both under the
/// party's unsubscribe secret (replaced with each new address, which so ends old links).
fn unsubscribe_token(secret: &str, party: &PartyId, kind: Kind) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(
        &key,
        format!("unsubscribe:{party}:{}", kind.as_str()).as_bytes(),
    );
    format!("{party}.{}.{}", kind.as_str(), b64(&tag.as_ref()[..16]))
}

// ---- The scheduler ------------------------------------------------------------------------

/// Writes the reminders due at `now` that are not written yet: consents ending and ended,
/// reviews due and overdue. Idempotent: each has its key.
pub async fn scan(state: &AppState, now: Timestamp) -> Result<()> {
    let mut notices = Vec::new();
    let grants = state
        .store
        .grants_ending_between(now - rules::LATE_LIMIT_SECS, now + 15 * DAY_SECS)
        .await?;
    let mut names = Names::default();
    for grant in &grants {
        grant_reminders(state, grant, now, &mut names, &mut notices).await?;
    }
    let reviews = state
        .store
        .reviews_between(
            &rules::day_of(now - rules::LATE_LIMIT_SECS - DAY_SECS),
            &rules::day_of(now + 31 * DAY_SECS),
        )
        .await?;
    for review in &reviews {
        review_reminders(state, review, now, &mut notices).await?;
    }
    if !notices.is_empty() {
        state.store.notify(&notices, now).await?;
        state.notifications.written();
    }
    Ok(())
}

/// Display names, read once per scan.
#[derive(Default)]
struct Names(BTreeMap<PartyId, (String, PartyKind)>);

impl Names {
    async fn of(&mut self, state: &AppState, id: &PartyId) -> Result<(String, PartyKind)> {
        if let Some(found) = self.0.get(id) {
            return Ok(found.clone());
        }
        let party = super::parties::party_or_404(state, id).await?;
        let found = (party.display_name, party.kind);
        self.0.insert(id.clone(), found.clone());
        Ok(found)
    }
}

/// Something with a due time that reminders are about: a consent's end, a review date.
struct Subject {
    /// Names it in the reminders' keys: a grant id, or a passport and record.
    key: String,
    due: Timestamp,
    /// When it came to be (a reminder whose moment came before is not sent).
    since: Timestamp,
}

impl Subject {
    /// The reminders of `steps` due at `now` to `recipient`, with `facts`.
    fn remind(
        &self,
        steps: &[Step],
        now: Timestamp,
        recipient: &PartyId,
        facts: &Facts,
        out: &mut Vec<Notice>,
    ) {
        for step in rules::due_steps(steps, self.due, self.since, now) {
            out.push(Notice {
                recipient: recipient.clone(),
                kind: step.kind,
                facts: facts.clone(),
                dedupe_key: Some(rules::dedupe_key(step, &self.key, self.due, recipient)),
            });
        }
    }
}

async fn grant_reminders(
    state: &AppState,
    grant: &GrantRecord,
    now: Timestamp,
    names: &mut Names,
    out: &mut Vec<Notice>,
) -> Result<()> {
    let subject = Subject {
        key: grant.id.to_string(),
        due: grant.ends_at,
        since: grant.created_at,
    };
    let ends_on = rules::day_of(grant.ends_at);
    let (grantee_name, grantee_kind) = names.of(state, &grant.grantee).await?;
    let (owner_name, _) = names.of(state, &grant.grantor).await?;
    let to_owner = Facts::who_on(grantee_name, &ends_on);
    subject.remind(
        rules::GRANT_OWNER_STEPS,
        now,
        &grant.grantor,
        &to_owner,
        out,
    );
    let to_grantee = Facts::who_on(owner_name, &ends_on);
    let grantees = match grantee_kind.is_organisation() {
        true => covered_members(state, grant, now).await?,
        false => vec![grant.grantee.clone()],
    };
    for member in grantees {
        subject.remind(rules::GRANT_GRANTEE_STEPS, now, &member, &to_grantee, out);
    }
    Ok(())
}

/// The active members of the organisation a grant is made to whom it covers.
async fn covered_members(
    state: &AppState,
    grant: &GrantRecord,
    now: Timestamp,
) -> Result<Vec<PartyId>> {
    Ok(state
        .store
        .members(&grant.grantee)
        .await?
        .into_iter()
        .filter(|(m, _)| m.active_at(now) && grant.covers(&m.member, m.role))
        .map(|(m, _)| m.member)
        .collect())
}

async fn review_reminders(
    state: &AppState,
    review: &DueReview,
    now: Timestamp,
    out: &mut Vec<Notice>,
) -> Result<()> {
    let Some(due) = rules::date_moment(&review.review_on) else {
        return Ok(());
    };
    let subject = Subject {
        key: format!("{}/{}", review.passport_id, review.record_id),
        due,
        since: review.set_at,
    };
    let facts = Facts::on(&review.review_on);
    subject.remind(
        rules::REVIEW_OWNER_STEPS,
        now,
        &review.owner_id,
        &facts,
        out,
    );
    let Some(organisation) = &review.agreed_by else {
        return Ok(());
    };
    // The agreeing organisation's members are reminded only while its consent lasts.
    let grants = state.store.grants_of_passport(&review.passport_id).await?;
    let facts = Facts::who_on(review.owner_name.clone(), &review.review_on);
    for grant in grants.iter().filter(|g| {
        g.grantee == *organisation && g.status(now) == wp_schemas::api::GrantStatus::Active
    }) {
        for member in covered_members(state, grant, now).await? {
            subject.remind(rules::REVIEW_AGREED_STEPS, now, &member, &facts, out);
        }
    }
    Ok(())
}

// ---- A person's notifications and settings ------------------------------------------------

/// Records in an employee's access log that they changed where their notifications go (their
/// address, their calendar feed): who can learn of their passport's events is the owner's to
/// see. Written before the change, so that no change goes unrecorded.
async fn log_change(
    state: &AppState,
    caller: &Caller,
    action: LogAction,
    what: &str,
) -> Result<()> {
    let Some(pid) = state.store.passport_of_owner(&caller.party_id).await? else {
        return Ok(());
    };
    let event = LogEvent::allowed(&caller.party_id, None, action, vec![], what);
    state
        .log_notifying(&pid, event, crate::clock::now(), Vec::new())
        .await
}

/// Notifications are a party's own: a consent token (for one passport) does not reach them.
fn require_own(caller: &Caller) -> Result<()> {
    if caller.consent.is_some() {
        return Err(Error::forbidden(
            "notifications are read with an access token, not a consent token",
        ));
    }
    Ok(())
}

fn to_wire(n: StoredNotification) -> Notification {
    let words = rules::words(n.kind, &n.facts);
    Notification {
        id: n.id.to_string(),
        kind: n.kind,
        security: n.kind.is_security(),
        title: words.title,
        text: words.text,
        link: words.link.to_owned(),
        created_at: n.created_at.to_datetime(),
        read_at: n.read_at.map(Timestamp::to_datetime),
    }
}

/// The caller's notifications, newest first, older than `before`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    before: Option<&str>,
) -> Result<NotificationPage> {
    require_own(caller)?;
    let before = match before {
        None => None,
        Some(text) => Some(NotificationId::parse(text).ok_or_else(|| {
            Error::invalid_field("before", "must be a notification id (a lower-case UUID)")
        })?),
    };
    let (list, more) = state
        .store
        .notifications_of(&caller.party_id, before.as_ref())
        .await?;
    let next_before = more
        .then(|| list.last().map(|n| n.id.to_string()))
        .flatten();
    Ok(NotificationPage {
        notifications: list.into_iter().map(to_wire).collect(),
        unread: state.store.unread_count(&caller.party_id).await?,
        next_before,
    })
}

/// Marks one notification read (None: all of them).
pub async fn mark_read(
    state: &AppState,
    caller: &Caller,
    id: Option<&NotificationId>,
) -> Result<()> {
    require_own(caller)?;
    let now = crate::clock::now();
    if !state.store.mark_read(&caller.party_id, id, now).await? {
        return Err(Error::not_found("no such notification"));
    }
    Ok(())
}

/// The caller's address, choices and calendar.
pub async fn settings(state: &AppState, caller: &Caller) -> Result<NotificationSettings> {
    require_own(caller)?;
    let party = super::parties::party_or_404(state, &caller.party_id).await?;
    let membership = party.membership.as_ref().filter(|m| m.removed_at.is_none());
    let org_admin = membership.is_some_and(|m| m.role == Role::OrgAdmin);
    let kinds = Kind::for_party(party.kind, membership.is_some(), org_admin);
    let opted_out = state.store.email_opt_outs(&caller.party_id).await?;
    let email = state.store.email_address(&caller.party_id).await?;
    Ok(NotificationSettings {
        email_enabled: state.notifications.email_enabled(),
        email: email.map(|e| NotificationEmail {
            address: e.address,
            verified: e.verified,
        }),
        choices: kinds
            .into_iter()
            .map(|kind| EmailChoice {
                kind,
                title: rules::kind_title(kind).to_owned(),
                security: kind.is_security(),
                email: kind.is_security() || !opted_out.contains(&kind),
            })
            .collect(),
        calendar: state.store.has_calendar_feed(&caller.party_id).await?,
    })
}

/// Sets which kinds come by email.
pub async fn set_choices(
    state: &AppState,
    caller: &Caller,
    choices: SetEmailChoices,
) -> Result<NotificationSettings> {
    require_own(caller)?;
    let mut changes = Vec::new();
    for (kind, email) in choices.email {
        if kind.is_security() && !email {
            return Err(Error::invalid_field(
                "email",
                format!(
                    "{} is a security alert: it cannot be turned off",
                    kind.as_str()
                ),
            ));
        }
        changes.push((kind, email));
    }
    state
        .store
        .set_email_choices(&caller.party_id, &changes)
        .await?;
    settings(state, caller).await
}

/// Sets the caller's address and sends the verification link there; nothing else goes there
/// until it is opened.
pub async fn set_email(
    state: &AppState,
    caller: &Caller,
    request: SetNotificationEmail,
) -> Result<NotificationSettings> {
    require_own(caller)?;
    require_email(state)?;
    let address = request.address.trim();
    if !plausible_address(address) {
        return Err(Error::invalid_field(
            "address",
            "must be an email address: one @, no spaces, at most 254 characters",
        ));
    }
    log_change(
        state,
        caller,
        LogAction::NotificationEmailChanged,
        "owner set an address",
    )
    .await?;
    let now = crate::clock::now();
    let code = format!("wpe_{}", b64(&state.random_secret()?));
    let secret = b64(&state.random_secret()?);
    let verification = Notice::new(
        &caller.party_id,
        Kind::EmailVerification,
        Facts {
            code: Some(code.clone()),
            ..Facts::default()
        },
    );
    state
        .store
        .set_email_address(
            &caller.party_id,
            address,
            &code_hash(&code),
            now + VERIFY_SECS,
            &secret,
            &verification,
            now,
        )
        .await?;
    state.notifications.written();
    tracing::info!(party = %caller.party_id, "notification address set, verification sent");
    settings(state, caller).await
}

/// Refuses what needs email on a server that sends none.
pub(super) fn require_email(state: &AppState) -> Result<()> {
    if !state.notifications.email_enabled() {
        return Err(Error::client(
            ProblemType::Conflict,
            "this server sends no email: its operator has not configured a mail server",
        ));
    }
    Ok(())
}

/// An address as mail servers take it, roughly: one `@` with something either side, no
/// spaces or control characters. The verification link proves the rest.
pub(super) fn plausible_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.chars().count() <= MAX_ADDRESS_CHARS
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
}

pub async fn remove_email(state: &AppState, caller: &Caller) -> Result<()> {
    require_own(caller)?;
    if state.store.email_address(&caller.party_id).await?.is_none() {
        return Err(Error::not_found("no email address is set"));
    }
    log_change(
        state,
        caller,
        LogAction::NotificationEmailChanged,
        "owner removed the address",
    )
    .await?;
    if !state.store.remove_email_address(&caller.party_id).await? {
        return Err(Error::not_found("no email address is set"));
    }
    tracing::info!(party = %caller.party_id, "notification address removed");
    Ok(())
}

/// Verifies an address by the code its link carries (no sign-in: the link is the proof).
pub async fn verify_email(state: &AppState, request: VerifyEmail) -> Result<()> {
    let now = crate::clock::now();
    match state
        .store
        .verify_email_address(&code_hash(request.code.trim()), now)
        .await?
    {
        Some(party) => {
            tracing::info!(%party, "notification address verified");
            Ok(())
        }
        None => Err(Error::not_found(
            "this link is not valid: it was used already, has run out (after 2 days), or the \
             address was changed since. Set the address again to get a new one",
        )),
    }
}

/// One-click unsubscribe (RFC 8058): the token names the party and the kind, and proves both.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<Kind> {
    let refused =
        || Error::not_found("this unsubscribe link is not valid (or the address changed since)");
    let mut parts = token.splitn(3, '.');
    let (Some(party), Some(kind), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refused());
    };
    let party = PartyId::parse(party).ok_or_else(refused)?;
    let kind = Kind::parse(kind)
        .filter(|k| !k.is_security())
        .ok_or_else(refused)?;
    let address = state
        .store
        .email_address(&party)
        .await?
        .ok_or_else(refused)?;
    let expected = unsubscribe_token(&address.unsubscribe_secret, &party, kind);
    // Compared in constant time: a guess learns nothing from how long the refusal took.
    let differ = expected.len() != token.len()
        || expected
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0;
    if differ {
        return Err(refused());
    }
    state
        .store
        .set_email_choices(&party, &[(kind, false)])
        .await?;
    tracing::info!(%party, kind = kind.as_str(), "unsubscribed by link");
    Ok(kind)
}

/// Makes the caller a new calendar feed address (any earlier one stops working).
pub async fn new_calendar(state: &AppState, caller: &Caller) -> Result<CalendarFeed> {
    require_own(caller)?;
    log_change(
        state,
        caller,
        LogAction::CalendarFeedChanged,
        "owner made a new calendar address",
    )
    .await?;
    let token = format!("wpc_{}", b64(&state.random_secret()?));
    let now = crate::clock::now();
    state
        .store
        .set_calendar_feed(&caller.party_id, Some(&code_hash(&token)), now)
        .await?;
    let base = state.issuer.trim_end_matches('/');
    Ok(CalendarFeed {
        url: format!("{base}{}", wp_schemas::paths::calendar(&token)),
    })
}

pub async fn remove_calendar(state: &AppState, caller: &Caller) -> Result<()> {
    require_own(caller)?;
    log_change(
        state,
        caller,
        LogAction::CalendarFeedChanged,
        "owner stopped the calendar",
    )
    .await?;
    let now = crate::clock::now();
    state
        .store
        .set_calendar_feed(&caller.party_id, None, now)
        .await
}

/// The calendar at a feed's secret address (iCalendar, RFC 5545): the review dates and consent
/// end dates that concern its owner, as all-day events, in words without health data.
pub async fn calendar(state: &AppState, token: &str) -> Result<String> {
    let owner = state.store.calendar_feed_owner(&code_hash(token)).await?;
    let owner = owner.ok_or_else(|| {
        Error::not_found("no calendar at this address (it was replaced, or stopped)")
    })?;
    let party = super::parties::party_or_404(state, &owner).await?;
    let now = crate::clock::now();
    let base = state.issuer.trim_end_matches('/');
    let mut names = Names::default();
    let mut events = Vec::new();
    let mut event = |uid: String, on: &str, summary: String, link: &str| {
        if let Ok(date) = chrono::NaiveDate::parse_from_str(on, "%Y-%m-%d") {
            events.push(CalendarEvent {
                uid: format!("{uid}@{}", url_host(base)),
                date,
                description: format!("{summary}. Sign in to Work Passport to see more."),
                summary,
                url: Some(format!("{base}/{link}")),
            });
        }
    };
    let live = |g: &&GrantRecord| g.revoked_at.is_none() && g.ends_at > now;
    if party.kind == PartyKind::Employee {
        for review in state.store.reviews_of_owner(&owner).await? {
            let uid = format!("review-{}-{}", review.passport_id, review.record_id);
            event(
                uid,
                &review.review_on,
                "Adjustment review due".into(),
                "#/section/adjustments",
            );
        }
        if let Some(pid) = state.store.passport_of_owner(&owner).await? {
            for grant in state
                .store
                .grants_of_passport(&pid)
                .await?
                .iter()
                .filter(live)
            {
                let (who, _) = names.of(state, &grant.grantee).await?;
                let summary = format!("Your consent for {who} ends");
                event(
                    format!("grant-{}", grant.id),
                    &rules::day_of(grant.ends_at),
                    summary,
                    "#/grants",
                );
            }
        }
    } else {
        // A grantee: the consents it uses (for a member, those to its organisation that cover
        // it), and the reviews its organisation agreed while such a consent lasts.
        let grants = super::organisations::grants_for(state, &owner, now).await?;
        for grant in grants.iter().filter(live) {
            let (who, _) = names.of(state, &grant.grantor).await?;
            let summary = format!("Your access to {who}'s passport ends");
            event(
                format!("grant-{}", grant.id),
                &rules::day_of(grant.ends_at),
                summary,
                "#/shared",
            );
        }
        if let Some(m) = party.membership.as_ref().filter(|m| m.removed_at.is_none()) {
            let organisation = PartyId::parse(&m.organisation)
                .ok_or_else(|| anyhow::anyhow!("bad organisation id"))?;
            for review in state.store.reviews_agreed_by(&organisation).await? {
                if grants
                    .iter()
                    .filter(live)
                    .any(|g| g.passport_id == review.passport_id)
                {
                    let uid = format!("review-{}-{}", review.passport_id, review.record_id);
                    let summary =
                        format!("Review of an adjustment agreed with {}", review.owner_name);
                    event(uid, &review.review_on, summary, "#/shared");
                }
            }
        }
    }
    Ok(calendar_text(
        &format!("Work Passport: {}", party.display_name),
        &events,
        now,
    ))
}

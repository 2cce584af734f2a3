//! Notifications through the real server, on both databases: every event reaches the people it
//! concerns once, in words without health data (a canary written into the passport never shows
//! in one); reminders come due under the test clock, once each however often the scheduler
//! scans; a person's notifications are theirs alone.

use std::collections::BTreeMap;

use serde_json::json;
use wp_client::Client;
use wp_schemas::api::{
    Action, ApproveAccessRequest, CreateAccessRequest, LogAction, NotificationKind as Kind,
    PartyKind, Role, Scope,
};
use wp_schemas::jose::SigningKey;
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_server::clock::Clock;
use wp_tests::mail::{ReceivedEmail, SmtpSink, parse_ics};
use wp_tests::{Backend, TestServer, backend_tests, grant_to};

/// Two instances on one PostgreSQL: each email is sent by one of them, and when one is killed
/// (`kill -9`) while sending, the other sends the rest: none lost, at most one sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_email_once_and_survive_a_kill() {
    if wp_tests::postgres_url().is_none() {
        return;
    }
    two_instances(Backend::Postgres).await;
}

backend_tests!(
    a_failing_email_is_retried_then_parked_and_the_admins_told,
    email_and_calendar_reach_a_real_mail_server_and_parser,
    events_reach_each_person_once,
    reminders_come_due_once_under_the_test_clock,
    notifications_are_their_recipients_alone,
);

/// Written into the passport; must never appear in a notification, an email or a feed.
const CANARY: &str = "CANARY-7f3a-migraine-aura";

fn scope(section: Section, actions: &[Action]) -> Scope {
    Scope {
        section,
        actions: actions.to_vec(),
    }
}

/// The kinds of `client`'s notifications, counted; and a check that none carries the canary.
async fn kinds(client: &Client) -> BTreeMap<Kind, usize> {
    let page = client.notifications(None).await.expect("notifications");
    let mut kinds = BTreeMap::new();
    for n in &page.notifications {
        let text = serde_json::to_string(n).unwrap();
        assert!(
            !text.contains("CANARY"),
            "health data in a notification: {text}"
        );
        *kinds.entry(n.kind).or_insert(0) += 1;
    }
    kinds
}

fn counted(list: &[(Kind, usize)]) -> BTreeMap<Kind, usize> {
    list.iter().copied().collect()
}

/// Polls until `client` has `want`, or fails after a generous bound (reminders are written by
/// the scheduler's task, woken by the test clock).
async fn wait_for(client: &Client, want: &[(Kind, usize)]) {
    let want = counted(want);
    let mut got = BTreeMap::new();
    for _ in 0..200 {
        got = kinds(client).await;
        if got == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("expected {want:?}, got {got:?}");
}

/// A server that emails through `sink`, when there is one (the tests' Python is installed).
async fn server_with_email(backend: Backend, sink: Option<&SmtpSink>, clock: Clock) -> TestServer {
    TestServer::start_with(backend, |s| {
        if let Some(sink) = sink {
            s.smtp_url = Some(sink.url());
            s.smtp_from = Some("Work Passport <passport@example.org>".into());
        }
        s.clock = clock;
        // Scans run when the clock moves; a short tick makes them also run on their own, so
        // that several scans meet every reminder.
        s.notify_interval = 1;
    })
    .await
}

/// Gives `client` the verified address `address` (with the code from its verification email).
async fn verified_address(client: &Client, sink: Option<&SmtpSink>, address: &str) {
    let Some(sink) = sink else { return };
    client.set_notification_email(address).await.unwrap();
    for _ in 0..600 {
        let link = sink.messages().into_iter().find(|m| {
            m.rcpt_tos == [address] && header(m, "Subject") == Some("Confirm your email address")
        });
        if let Some(email) = link {
            let text = email.text.unwrap();
            let code = text.split("#/email/verify/").nth(1).unwrap();
            let code = code.split_whitespace().next().unwrap();
            client.verify_notification_email(code).await.unwrap();
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no verification email reached {address}");
}

/// The notification ids emailed to `address` (from their Message-IDs), with how many copies;
/// checking on the way that none carries the canary.
fn emailed_to(sink: &SmtpSink, address: &str) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for email in sink.messages() {
        assert!(
            !email.raw.contains("CANARY"),
            "health data in an email: {}",
            email.raw
        );
        if email.rcpt_tos != [address]
            || header(&email, "Subject") == Some("Confirm your email address")
        {
            continue;
        }
        let id = header(&email, "Message-ID").unwrap();
        let id = id
            .trim_start_matches('<')
            .split('@')
            .next()
            .unwrap()
            .to_owned();
        *ids.entry(id).or_insert(0) += 1;
    }
    ids
}

/// Every notification `client` sees in the pages was emailed to `address` once, and nothing
/// else was.
async fn emailed_once_each(client: &Client, sink: Option<&SmtpSink>, address: &str) {
    let Some(sink) = sink else { return };
    let page = client.notifications(None).await.unwrap();
    let listed: std::collections::BTreeSet<String> =
        page.notifications.iter().map(|n| n.id.clone()).collect();
    let mut emailed = BTreeMap::new();
    for _ in 0..600 {
        emailed = emailed_to(sink, address);
        if emailed.len() >= listed.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ids: std::collections::BTreeSet<String> = emailed.keys().cloned().collect();
    assert_eq!(ids, listed, "the emails to {address} are its notifications");
    assert!(emailed.values().all(|&n| n == 1), "{emailed:?}");
}

async fn events_reach_each_person_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let sink = sink.as_ref();
    let server = server_with_email(backend, sink, Clock::default()).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let olu = server.member(&acme.id, Role::OrgAdmin, "Olu Adeyemi").await;
    verified_address(&olu, sink, "olu@example.org").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    verified_address(&priya, sink, "priya@example.org").await;
    let ot = server.professional("Dana Okafor").await;
    verified_address(&ot, sink, "dana@example.org").await;
    let alice = server.employee("Alice Jones").await;
    verified_address(&alice, sink, "alice@example.org").await;
    let info = alice.create_passport().await.unwrap();
    let own = alice.own_passport(&info.id);
    let mut body = example_body(Section::Adjustments);
    body["title"] = json!(CANARY);
    body["notes"] = json!(format!("{CANARY} in the notes"));
    let rid = own
        .create_record(Section::Adjustments, body)
        .await
        .unwrap()
        .envelope
        .record_id;

    // An organisation's member asks Alice for access, naming her; she approves.
    let asked = CreateAccessRequest {
        scopes: vec![scope(Section::Adjustments, &[Action::Read, Action::Agree])],
        roles: Vec::new(),
        purpose: "workplace adjustments in your new job".into(),
        duration_days: 365,
        employee: Some(alice.party_id().unwrap().to_owned()),
        expires_in_days: None,
    };
    let request = priya.request_access(&acme.id, &asked).await.unwrap();
    let grant = alice
        .approve_access_request(&ApproveAccessRequest {
            code: request.code.unwrap(),
            scopes: None,
            ends_at: None,
            consent_text: "I agree.".into(),
        })
        .await
        .unwrap();
    // She declines a second request.
    let second = priya.request_access(&acme.id, &asked).await.unwrap();
    alice
        .decline_access_request(&second.code.unwrap())
        .await
        .unwrap();
    // Acme's HR agrees her adjustment; an occupational therapist writes one.
    let as_priya = priya.granted_passport(&grant.id).await.unwrap();
    as_priya.agree_adjustment_as_member(&rid).await.unwrap();
    let to_ot = grant_to(
        &ot,
        &[(Section::Adjustments, &[Action::Read, Action::Write])],
        86_400 * 60,
    );
    let ot_grant = own.grant(&to_ot).await.unwrap();
    let as_ot = ot.granted_passport(&ot_grant.id).await.unwrap();
    as_ot
        .create_record(Section::Adjustments, example_body(Section::Adjustments))
        .await
        .unwrap();
    // Alice writes herself: nobody is told of that.
    own.create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    // Security: a device added and removed, the passport downloaded.
    let device = SigningKey::generate();
    alice.add_key(&device).await.unwrap();
    alice.revoke_key(device.kid()).await.unwrap();
    own.export().await.unwrap();
    // Priya leaves Acme.
    priya
        .remove_member(&acme.id, priya.party_id().unwrap())
        .await
        .unwrap();

    assert_eq!(
        kinds(&alice).await,
        counted(&[
            (Kind::AccessRequested, 2),
            (Kind::AdjustmentAgreed, 1),
            (Kind::VersionWritten, 1),
            (Kind::KeyAdded, 1),
            (Kind::KeyRevoked, 1),
            (Kind::PassportExported, 1),
        ])
    );
    assert_eq!(
        kinds(&priya).await,
        counted(&[(Kind::RequestApproved, 1), (Kind::RequestDeclined, 1)])
    );
    // Olu saw Priya join and leave (not himself join: he was first).
    assert_eq!(
        kinds(&olu).await,
        counted(&[(Kind::MemberJoined, 1), (Kind::MemberLeft, 1)])
    );
    assert_eq!(kinds(&ot).await, counted(&[]));
    // And by email, once each, to everyone with an address.
    emailed_once_each(&alice, sink, "alice@example.org").await;
    emailed_once_each(&priya, sink, "priya@example.org").await;
    emailed_once_each(&olu, sink, "olu@example.org").await;
    emailed_once_each(&ot, sink, "dana@example.org").await;

    // The words: names and dates, where to act.
    let page = priya.notifications(None).await.unwrap();
    let approved = page
        .notifications
        .iter()
        .find(|n| n.kind == Kind::RequestApproved)
        .unwrap();
    assert!(
        approved.text.starts_with("Alice Jones approved"),
        "{}",
        approved.text
    );
    assert!(approved.text.contains("adjustments"), "{}", approved.text);
    assert_eq!(approved.link, "#/shared");
    let page = alice.notifications(None).await.unwrap();
    assert!(
        page.notifications
            .iter()
            .any(|n| n.text == "Acme Ltd agreed one of your adjustments.")
    );
    assert!(page.notifications.iter().all(|n| n.read_at.is_none()));
    assert_eq!(page.unread, 7);

    // Read one, then all.
    let first = page.notifications[0].id.clone();
    alice.mark_notifications_read(Some(&first)).await.unwrap();
    assert_eq!(alice.notifications(None).await.unwrap().unread, 6);
    alice.mark_notifications_read(None).await.unwrap();
    let page = alice.notifications(None).await.unwrap();
    assert_eq!(page.unread, 0);
    assert!(page.notifications.iter().all(|n| n.read_at.is_some()));
    server.stop().await;
}

async fn reminders_come_due_once_under_the_test_clock(backend: Backend) {
    const DAY: i64 = 86_400;
    let clock = Clock::manual();
    let sink = SmtpSink::start().await;
    let sink = sink.as_ref();
    let server = server_with_email(backend, sink, clock.clone()).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    verified_address(&priya, sink, "priya@example.org").await;
    let alice = server.employee("Alice Jones").await;
    verified_address(&alice, sink, "alice@example.org").await;
    let info = alice.create_passport().await.unwrap();
    let own = alice.own_passport(&info.id);

    // A consent to Acme's HR ending in 20 days, and an adjustment reviewed in 40 days, which
    // Priya agrees for Acme.
    let review_on = (chrono::Utc::now() + chrono::Duration::days(40))
        .format("%Y-%m-%d")
        .to_string();
    let mut body = example_body(Section::Adjustments);
    body["review_date"] = json!(review_on);
    body["title"] = json!(CANARY);
    let rid = own
        .create_record(Section::Adjustments, body)
        .await
        .unwrap()
        .envelope
        .record_id;
    let mut to_acme = grant_to(
        &priya,
        &[(Section::Adjustments, &[Action::Read, Action::Agree])],
        20 * DAY + 3600,
    );
    to_acme.grantee = acme.id.clone();
    to_acme.roles = vec![Role::Hr];
    let grant = own.grant(&to_acme).await.unwrap();
    let as_priya = priya.granted_passport(&grant.id).await.unwrap();
    as_priya.agree_adjustment_as_member(&rid).await.unwrap();
    wait_for(&alice, &[(Kind::AdjustmentAgreed, 1)]).await;
    wait_for(&priya, &[]).await;

    // Day 7: 14 days before the consent ends.
    clock.advance(7 * DAY);
    wait_for(
        &alice,
        &[(Kind::AdjustmentAgreed, 1), (Kind::GrantEnding, 1)],
    )
    .await;
    wait_for(&priya, &[(Kind::ConsentEnding, 1)]).await;
    // Day 11: 30 days before the review (Priya is reminded too: Acme agreed it).
    clock.advance(4 * DAY);
    wait_for(
        &alice,
        &[
            (Kind::AdjustmentAgreed, 1),
            (Kind::GrantEnding, 1),
            (Kind::ReviewDue, 1),
        ],
    )
    .await;
    wait_for(
        &priya,
        &[(Kind::ConsentEnding, 1), (Kind::AgreedReviewDue, 1)],
    )
    .await;
    // Day 18: 3 days before; day 21: ended. Nothing is written twice however often it scans.
    clock.advance(7 * DAY);
    clock.advance(3 * DAY);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    wait_for(
        &alice,
        &[
            (Kind::AdjustmentAgreed, 1),
            (Kind::GrantEnding, 2),
            (Kind::GrantEnded, 1),
            (Kind::ReviewDue, 1),
        ],
    )
    .await;
    wait_for(
        &priya,
        &[
            (Kind::ConsentEnding, 2),
            (Kind::ConsentEnded, 1),
            (Kind::AgreedReviewDue, 1),
        ],
    )
    .await;
    // Day 34: 7 days before the review. The consent has ended, so Acme is not reminded.
    clock.advance(13 * DAY);
    wait_for(
        &alice,
        &[
            (Kind::AdjustmentAgreed, 1),
            (Kind::GrantEnding, 2),
            (Kind::GrantEnded, 1),
            (Kind::ReviewDue, 2),
        ],
    )
    .await;
    // Day 42: overdue.
    clock.advance(8 * DAY);
    wait_for(
        &alice,
        &[
            (Kind::AdjustmentAgreed, 1),
            (Kind::GrantEnding, 2),
            (Kind::GrantEnded, 1),
            (Kind::ReviewDue, 2),
            (Kind::ReviewOverdue, 1),
        ],
    )
    .await;
    wait_for(
        &priya,
        &[
            (Kind::ConsentEnding, 2),
            (Kind::ConsentEnded, 1),
            (Kind::AgreedReviewDue, 1),
        ],
    )
    .await;
    let page = alice.notifications(None).await.unwrap();
    let overdue = page
        .notifications
        .iter()
        .find(|n| n.kind == Kind::ReviewOverdue)
        .unwrap();
    let spoken = wp_server::domain::notification::spoken_date(&review_on);
    assert_eq!(
        overdue.text,
        format!("A review of one of your adjustments was due on {spoken}.")
    );
    // Each reminder was emailed once too, whichever scan wrote it.
    emailed_once_each(&alice, sink, "alice@example.org").await;
    emailed_once_each(&priya, sink, "priya@example.org").await;
    server.stop().await;
}

async fn notifications_are_their_recipients_alone(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice Jones").await;
    let mallory = server.employee("Mallory").await;
    let device = SigningKey::generate();
    alice.add_key(&device).await.unwrap();
    let page = alice.notifications(None).await.unwrap();
    assert_eq!(page.notifications.len(), 1);
    let id = page.notifications[0].id.clone();
    // Another person neither sees it nor marks it read.
    assert!(
        mallory
            .notifications(None)
            .await
            .unwrap()
            .notifications
            .is_empty()
    );
    let refused = mallory
        .mark_notifications_read(Some(&id))
        .await
        .unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::NotFound));
    assert_eq!(alice.notifications(None).await.unwrap().unread, 1);
    // Without a token, nothing.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/notifications", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A consent token (for one passport) does not reach its holder's notifications.
    let ot = server.professional("Dana Okafor").await;
    let pid = alice.create_passport().await.unwrap().id;
    let to_ot = grant_to(&ot, &[(Section::Summary, &[Action::Read])], 3600);
    let grant = alice.own_passport(&pid).grant(&to_ot).await.unwrap();
    let consent = ot.consent_token(&grant.id).await.unwrap();
    let response = wp_tests::raw_request(
        &ot,
        reqwest::Method::GET,
        "/v1/notifications",
        &consent,
        None,
    )
    .await;
    let (status, problem) = wp_tests::problem_of(response).await;
    assert_eq!(
        (status, problem.kind()),
        (403, Some(ProblemType::Forbidden))
    );
    // Erasing the passport is a security alert, which outlives the passport.
    alice.own_passport(&pid).erase().await.unwrap();
    let told = alice.notifications(None).await.unwrap().notifications;
    let erased = told.iter().find(|n| n.kind == Kind::PassportErased);
    let erased = erased.expect("the erasure's alert");
    assert!(
        erased
            .text
            .starts_with("Your passport was erased from this service.")
    );
    // A bad cursor is a clear 400.
    let refused = alice.notifications(Some("not-an-id")).await.unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::InvalidBody));
    server.stop().await;
}

fn header<'a>(email: &'a ReceivedEmail, name: &str) -> Option<&'a str> {
    email
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Waits for the sink's `n`th message and checks that no message so far carries the canary.
async fn nth_email(sink: &SmtpSink, n: usize) -> ReceivedEmail {
    let all = sink.wait_for(n, std::time::Duration::from_secs(30)).await;
    for email in &all {
        assert!(
            !email.raw.contains("CANARY"),
            "health data in an email: {}",
            email.raw
        );
    }
    all[n - 1].clone()
}

async fn email_and_calendar_reach_a_real_mail_server_and_parser(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let server = TestServer::start_with(backend, |s| {
        s.smtp_url = Some(sink.url());
        s.smtp_from = Some("Work Passport <passport@example.org>".into());
    })
    .await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let alice = server.employee("Alice Jones").await;
    let info = alice.create_passport().await.unwrap();
    let own = alice.own_passport(&info.id);
    let review_on = (chrono::Utc::now() + chrono::Duration::days(40))
        .format("%Y-%m-%d")
        .to_string();
    let mut body = example_body(Section::Adjustments);
    body["review_date"] = json!(review_on);
    body["title"] = json!(CANARY);
    own.create_record(Section::Adjustments, body).await.unwrap();

    // The address is verified by the link sent to it; nothing else goes there before.
    let settings = alice
        .set_notification_email("alice@example.org")
        .await
        .unwrap();
    assert!(settings.email_enabled);
    assert!(!settings.email.as_ref().unwrap().verified);
    let verification = nth_email(&sink, 1).await;
    assert_eq!(verification.rcpt_tos, ["alice@example.org"]);
    assert_eq!(
        header(&verification, "Subject"),
        Some("Confirm your email address")
    );
    let text = verification.text.clone().unwrap();
    let code = text
        .split("#/email/verify/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a verification link");
    alice.verify_notification_email(code).await.unwrap();
    let used = alice.verify_notification_email(code).await.unwrap_err();
    assert_eq!(
        used.problem_type(),
        Some(ProblemType::NotFound),
        "a link works once"
    );
    assert!(
        alice
            .notification_settings()
            .await
            .unwrap()
            .email
            .unwrap()
            .verified
    );

    // An access request: in the pages and by email, with a one-click unsubscribe.
    let asked = CreateAccessRequest {
        scopes: vec![scope(Section::Adjustments, &[Action::Read])],
        roles: Vec::new(),
        purpose: "workplace adjustments".into(),
        duration_days: 30,
        employee: Some(alice.party_id().unwrap().to_owned()),
        expires_in_days: None,
    };
    priya.request_access(&acme.id, &asked).await.unwrap();
    let request = nth_email(&sink, 2).await;
    assert_eq!(
        header(&request, "Subject"),
        Some("A request to see your passport")
    );
    assert!(
        request
            .text
            .as_ref()
            .unwrap()
            .contains("Acme Ltd asked to see parts of your passport.")
    );
    assert_eq!(
        header(&request, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = header(&request, "List-Unsubscribe").unwrap();
    let url = unsubscribe.trim_start_matches('<').trim_end_matches('>');
    alice.unsubscribe(url).await.unwrap();
    let choices = alice.notification_settings().await.unwrap().choices;
    let choice = choices
        .iter()
        .find(|c| c.kind == Kind::AccessRequested)
        .unwrap();
    assert!(!choice.email);
    // A forged token is refused.
    let forged = format!("{}x", &url[..url.len() - 1]);
    assert!(alice.unsubscribe(&forged).await.is_err());
    // Security alerts cannot be turned off.
    let refused = alice
        .set_email_choices(BTreeMap::from([(Kind::KeyAdded, false)]))
        .await
        .unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::InvalidBody));

    // Another request reaches the pages only; a device added reaches the inbox too.
    priya.request_access(&acme.id, &asked).await.unwrap();
    let device = SigningKey::generate();
    alice.add_key(&device).await.unwrap();
    let alert = nth_email(&sink, 3).await;
    assert_eq!(
        header(&alert, "Subject"),
        Some("A device was added to your account")
    );
    assert_eq!(header(&alert, "List-Unsubscribe"), None);
    assert_eq!(kinds(&alice).await[&Kind::AccessRequested], 2);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 3, "nothing else was emailed");

    // The calendar feed, read by an independent iCalendar parser.
    let feed = alice.new_calendar_feed().await.unwrap();
    let text = alice.calendar(&feed.url).await.unwrap();
    assert!(!text.contains("CANARY"));
    let parsed = parse_ics(&text);
    let events = parsed["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{parsed}");
    assert_eq!(events[0]["summary"], "Adjustment review due");
    assert_eq!(events[0]["dtstart"], review_on);
    // A new address replaces the old one.
    let again = alice.new_calendar_feed().await.unwrap();
    let gone = alice.calendar(&feed.url).await.unwrap_err();
    assert_eq!(gone.problem_type(), Some(ProblemType::NotFound));
    assert!(alice.calendar(&again.url).await.is_ok());
    // Where her notifications go is in her access log, chained with the rest.
    let log = own.verified_access_log().await.unwrap();
    let changes = |action| log.iter().filter(|e| e.action == action).count();
    assert_eq!(changes(LogAction::NotificationEmailChanged), 1);
    assert_eq!(changes(LogAction::CalendarFeedChanged), 2);

    // An invitation by email: the person invited gets the link to join, and the code is kept
    // no longer than it takes to send it.
    let invitation = server
        .admin()
        .invite_by_email(&acme.id, Role::LineManager, None, "sam@example.org")
        .await
        .unwrap();
    let emailed = nth_email(&sink, 4).await;
    assert_eq!(emailed.rcpt_tos, ["sam@example.org"]);
    let text = emailed.text.unwrap();
    assert!(
        text.contains("Acme Ltd invited you to join them on Work Passport, as line manager."),
        "{text}"
    );
    let code = text
        .split("#/join/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a link to join");
    assert_eq!(Some(code), invitation.code.as_deref());
    // Once the sends are recorded (just after the mail server took them), no code is kept.
    let store = server.store().await;
    let mut kept: Vec<(String,)> = Vec::new();
    for _ in 0..200 {
        kept = wp_tests::on_db!(&store, pool => sqlx::query_as(
            "SELECT facts FROM notifications WHERE kind IN ('invitation', 'email_verification')",
        )
        .fetch_all(pool)
        .await
        .unwrap());
        if kept.iter().all(|(facts,)| facts == "{}") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(kept.iter().all(|(facts,)| facts == "{}"), "{kept:?}");
    store.close().await;
    let mut sam = Client::new(&server.url, SigningKey::generate());
    sam.redeem_invitation(code, "Sam Patel", None)
        .await
        .unwrap();
    server.stop().await;
}

/// The Message-IDs the sink received, each with how many copies.
fn copies(sink: &SmtpSink) -> BTreeMap<String, usize> {
    let mut copies = BTreeMap::new();
    for email in sink.messages() {
        let id = header(&email, "Message-ID")
            .expect("a Message-ID")
            .to_owned();
        *copies.entry(id).or_insert(0) += 1;
    }
    copies
}

/// Polls until the sink holds `n` distinct messages (a generous bound, no timing asserted).
async fn distinct(sink: &SmtpSink, n: usize) -> BTreeMap<String, usize> {
    for _ in 0..1200 {
        let seen = copies(sink);
        if seen.len() >= n {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the sink received {} distinct messages, expected {n}",
        copies(sink).len()
    );
}

/// A process's CPU time so far (user and system), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = text
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

async fn two_instances(backend: Backend) {
    use wp_server::domain::notification::{Facts, Notice};
    // Four claims' worth for each instance: enough for both to race, cheap enough for CI.
    const EMAILS: usize = 80;
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let binary = env!("CARGO_BIN_EXE_wp-test-server");
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = wp_tests::process_database(backend, dir.path()).await;
    let port = wp_tests::free_port();
    let public = format!("http://127.0.0.1:{port}");
    let smtp = sink.url();
    let args = [
        "--public-url",
        public.as_str(),
        "--smtp-url",
        smtp.as_str(),
        "--smtp-from",
        "passport@example.org",
        "--notify-interval",
        "1",
        "--email-lease",
        "5",
    ];
    let a = wp_tests::ServerProcess::spawn_on(binary, dir.path(), &database_url, port, &args).await;
    let b = wp_tests::ServerProcess::spawn(binary, dir.path(), &database_url, &args).await;

    // An employee with a verified address, and a backlog of notifications written straight into
    // the outbox (as any instance's changes would), which both dispatchers race to claim.
    let mut alice = Client::new(&public, SigningKey::generate());
    alice.register_employee("Alice Jones").await.unwrap();
    let alice_id: wp_tests::PartyId = wp_tests::id(alice.party_id().unwrap());
    let store = wp_server::Store::connect(&database_url, 2).await.unwrap();
    let now = wp_server::clock::now();
    let verification = Notice::new(&alice_id, Kind::EmailVerification, Facts::default());
    store
        .set_email_address(
            &alice_id,
            "alice@example.org",
            "h",
            now + 3600,
            "s",
            &verification,
            now,
        )
        .await
        .unwrap();
    assert!(
        store
            .verify_email_address("h", now)
            .await
            .unwrap()
            .is_some()
    );
    let backlog = |n: usize| -> Vec<Notice> {
        (0..n)
            .map(|_| Notice::new(&alice_id, Kind::GrantEnded, Facts::who("Acme Ltd")))
            .collect()
    };
    // Latency, one event at a time: from the change's answer to the mail server's receipt.
    let mut latencies = Vec::new();
    for n in 0..5 {
        let started = std::time::Instant::now();
        alice.add_key(&SigningKey::generate()).await.unwrap();
        distinct(&sink, n + 2).await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    eprintln!(
        "dispatch latency (add a key, email received), 5 events: median {:.1} ms, max {:.1} ms",
        latencies[2].as_secs_f64() * 1000.0,
        latencies[4].as_secs_f64() * 1000.0
    );
    let base = copies(&sink).len();
    let cpu_before = cpu_seconds(a.pid()) + cpu_seconds(b.pid());
    let started = std::time::Instant::now();
    store
        .notify(&backlog(EMAILS), wp_server::clock::now())
        .await
        .unwrap();
    let first = distinct(&sink, base + EMAILS).await;
    let elapsed = started.elapsed();
    let cpu = cpu_seconds(a.pid()) + cpu_seconds(b.pid()) - cpu_before;
    assert_eq!(first.len(), base + EMAILS);
    assert!(
        first.values().all(|&n| n == 1),
        "an email sent twice: {first:?}"
    );
    assert_eq!(sink.messages().len(), base + EMAILS);
    eprintln!(
        "dispatch, two instances: {EMAILS} emails in {:.2} s ({:.0}/s), {:.2} ms of server CPU each",
        elapsed.as_secs_f64(),
        EMAILS as f64 / elapsed.as_secs_f64(),
        cpu * 1000.0 / EMAILS as f64
    );

    // Another backlog; instance A is killed (SIGKILL) once it is sending, mid-batch.
    store
        .notify(&backlog(EMAILS), wp_server::clock::now())
        .await
        .unwrap();
    distinct(&sink, base + EMAILS + 5).await;
    drop(a);
    let after = distinct(&sink, base + 2 * EMAILS).await;
    assert_eq!(after.len(), base + 2 * EMAILS, "every email delivered");
    let twice: Vec<_> = after.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.len() <= 1 && twice.iter().all(|(_, n)| **n == 2),
        "at most one email sent twice (the one in flight when A died): {twice:?}"
    );
    // Every send recorded (the last just after the mail server took it): the outbox is empty.
    assert_eq!(outbox_becomes(&store, (0, 0)).await, (0, 0));
    store.close().await;
    drop(b);
}

/// A mail server that says "try later" gets the email again after the backoff; one that says
/// "never" gets it parked at once, and the service admins are told.
async fn a_failing_email_is_retried_then_parked_and_the_admins_told(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let clock = Clock::manual();
    let server = TestServer::start_with(backend, |s| {
        s.smtp_url = Some(sink.url());
        s.smtp_from = Some("passport@example.org".into());
        s.clock = clock.clone();
    })
    .await;
    let alice = server.employee("Alice Jones").await;
    verified_address(&alice, Some(&sink), "alice@example.org").await;

    // 451: tried again after a minute (the test clock's), then delivered.
    sink.refuse_with(Some(451));
    alice.add_key(&SigningKey::generate()).await.unwrap();
    let store = server.store().await;
    // Until the refused attempt is recorded: one attempt, its error, the email still pending.
    let mut tried = (0i64, None::<String>);
    for _ in 0..200 {
        tried = wp_tests::on_db!(&store, pool => sqlx::query_as(
            "SELECT email_attempts, email_error FROM notifications WHERE kind = 'key_added'",
        )
        .fetch_one(pool)
        .await
        .unwrap());
        if tried.1.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(tried.0, 1);
    assert!(tried.1.as_deref().unwrap().contains("451"), "{tried:?}");
    assert_eq!(store.email_counts().await.unwrap(), (1, 0));
    assert_eq!(sink.messages().len(), 1, "nothing delivered while refused");
    sink.refuse_with(None);
    clock.advance(61);
    let retried = nth_email(&sink, 2).await;
    assert_eq!(
        header(&retried, "Subject"),
        Some("A device was added to your account")
    );
    // Recorded as sent just after the mail server took it.
    assert_eq!(outbox_becomes(&store, (0, 0)).await, (0, 0));

    // 550: parked at once, the admin told in their notifications.
    sink.refuse_with(Some(550));
    alice.add_key(&SigningKey::generate()).await.unwrap();
    let admin = server.admin();
    wait_for(&admin, &[(Kind::DeliveriesFailing, 1)]).await;
    assert_eq!(store.email_counts().await.unwrap(), (0, 1));
    let page = admin.notifications(None).await.unwrap();
    assert!(
        page.notifications[0]
            .text
            .starts_with("1 notification emails could not be delivered")
    );
    // Another parked email the same day: the admin is not told twice.
    alice.add_key(&SigningKey::generate()).await.unwrap();
    assert_eq!(outbox_becomes(&store, (0, 2)).await, (0, 2));
    wait_for(&admin, &[(Kind::DeliveriesFailing, 1)]).await;
    store.close().await;
    server.stop().await;
}

/// The outbox's (pending, parked) counts once they are `want`, or as they are after a generous
/// bound: a send is recorded just after the mail server takes it.
async fn outbox_becomes(store: &wp_server::Store, want: (i64, i64)) -> (i64, i64) {
    let mut counts = store.email_counts().await.unwrap();
    for _ in 0..200 {
        if counts == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        counts = store.email_counts().await.unwrap();
    }
    counts
}

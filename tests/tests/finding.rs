//! Finding whom to share with, end to end on SQLite and PostgreSQL: an organisation's share
//! code (its members show it; anyone signed in resolves it, listed or not), the directory of
//! names (organisations choose to be listed, and say where they are and what they are, so two
//! of the same name can be told apart), and the service admin's list of every organisation,
//! where one with no admin gets a new first admin. Then the attacker's side: nobody without a
//! token finds anything, a consent token finds nothing, members who are not admins change
//! nothing, nobody reaches another organisation's listing, codes of every wrong form name
//! nothing (never a 500), and the directory is bounded.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use wp_client::Client;
use wp_schemas::api::{
    Action, CreateGrant, OrganisationListing, Party, PartyKind, Role, Scope, SetListing,
};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests, problem_of, raw_request};

backend_tests!(
    employees_find_organisations_by_name_or_share_code,
    the_service_admin_lists_organisations_and_invites_a_first_admin,
    finding_refuses_attackers,
);

fn listed(place: &str, about: &str) -> SetListing {
    SetListing {
        listed: true,
        place: Some(place.into()),
        about: Some(about.into()),
        new_share_code: false,
    }
}

fn is_shown_code(code: &str) -> bool {
    let groups: Vec<&str> = code.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 4
                && g.chars()
                    .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
        })
}

/// The problem type and status of a refused client call.
fn refused<T: std::fmt::Debug>(result: wp_client::Result<T>) -> (Option<ProblemType>, String) {
    let error = result.expect_err("refused");
    (error.problem_type(), error.to_string())
}

async fn employees_find_organisations_by_name_or_share_code(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let other = server.organisation(PartyKind::Employer, "ACME Ltd").await;
    let boss = server.member(&acme.id, Role::OrgAdmin, "Ada Boss").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let alice = server.employee("Alice").await;

    // Nothing is listed until its organisation chooses: the directory finds nobody.
    assert!(alice.find_organisations("acme").await.unwrap().is_empty());

    // Every member sees the share code (made the first time it is asked for, then kept).
    let seen_by_hr = priya.organisation_listing(&acme.id).await.unwrap();
    assert!(is_shown_code(&seen_by_hr.share_code), "{seen_by_hr:?}");
    assert_eq!(
        (
            seen_by_hr.listed,
            seen_by_hr.place.as_deref(),
            seen_by_hr.kind
        ),
        (false, None, PartyKind::Employer)
    );
    assert_eq!(
        boss.organisation_listing(&acme.id).await.unwrap(),
        seen_by_hr
    );

    // The share code finds it, listed or not, however it is typed.
    let code = seen_by_hr.share_code.clone();
    let typed = format!(" {} ", code.replace('-', " ").to_lowercase());
    let found = alice.organisation_by_share_code(&typed).await.unwrap();
    assert_eq!(
        (found.id.as_str(), found.display_name.as_str()),
        (acme.id.as_str(), "Acme Ltd")
    );
    let compact = code.replace('-', "");
    assert_eq!(
        alice.organisation_by_share_code(&compact).await.unwrap().id,
        acme.id
    );

    // Its organisation admin lists it, with a place and a line; the service admin lists the
    // other one: two of (almost) the same name, told apart.
    let set = boss
        .set_organisation_listing(&acme.id, &listed("Leeds", "Food manufacturer"))
        .await
        .unwrap();
    assert_eq!(
        (set.listed, set.place.as_deref(), set.about.as_deref()),
        (true, Some("Leeds"), Some("Food manufacturer"))
    );
    assert_eq!(set.share_code, code, "listing keeps the share code");
    server
        .admin()
        .set_organisation_listing(&other.id, &listed("Bristol", "Haulage"))
        .await
        .unwrap();
    let mut found = alice.find_organisations("acme LTD").await.unwrap();
    found.sort_by(|a, b| a.place.cmp(&b.place));
    let shown: Vec<(&str, Option<&str>, Option<&str>)> = found
        .iter()
        .map(|o| (o.id.as_str(), o.place.as_deref(), o.about.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (other.id.as_str(), Some("Bristol"), Some("Haulage")),
            (acme.id.as_str(), Some("Leeds"), Some("Food manufacturer")),
        ]
    );
    // The directory never hands out a share code.
    let raw = raw_request(
        &alice,
        Method::GET,
        "/v1/organisations?name=acme",
        &alice.access_token().await.unwrap(),
        None,
    )
    .await;
    assert_eq!(raw.status(), 200);
    let body: Value = raw.json().await.unwrap();
    assert!(
        !body.to_string().contains("share_code") && !body.to_string().contains(&compact),
        "{body}"
    );

    // What was found is whom Alice shares with: the grant reaches Acme's HR.
    let pid = alice.create_passport().await.unwrap().id;
    let passport = alice.own_passport(&pid);
    passport
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    let grant = passport
        .grant(&CreateGrant {
            grantee: found[1].id.clone(),
            roles: vec![Role::Hr],
            members: Vec::new(),
            scopes: vec![Scope {
                section: Section::Summary,
                actions: vec![Action::Read],
            }],
            purpose: "adjustments in my new job".into(),
            starts_at: None,
            ends_at: Utc::now() + Duration::days(30),
            consent_text: "I agree to share my summary with Acme Ltd's HR.".into(),
        })
        .await
        .unwrap();
    let read = priya.granted_passport(&grant.id).await.unwrap();
    assert_eq!(
        read.read().await.unwrap().records(Section::Summary).len(),
        1
    );

    // Taken out of the directory, it is found by its code only; a new code retires the old.
    let unlisted = boss
        .set_organisation_listing(
            &acme.id,
            &SetListing {
                listed: false,
                ..listed("Leeds", "Food manufacturer")
            },
        )
        .await
        .unwrap();
    assert!(!unlisted.listed);
    let names: Vec<String> = alice
        .find_organisations("acme")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(names, [other.id.as_str()]);
    assert_eq!(
        alice.organisation_by_share_code(&code).await.unwrap().id,
        acme.id
    );
    let renewed = boss
        .set_organisation_listing(
            &acme.id,
            &SetListing {
                new_share_code: true,
                ..SetListing::default()
            },
        )
        .await
        .unwrap();
    assert_ne!(renewed.share_code, code);
    assert_eq!(
        (renewed.place, renewed.about),
        (None, None),
        "a place or line left out is removed"
    );
    assert_eq!(
        refused(alice.organisation_by_share_code(&code).await).0,
        Some(ProblemType::NotFound),
        "the old code finds nothing"
    );
    assert_eq!(
        alice
            .organisation_by_share_code(&renewed.share_code)
            .await
            .unwrap()
            .id,
        acme.id
    );
    server.stop().await;
}

async fn the_service_admin_lists_organisations_and_invites_a_first_admin(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin();
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let practice = server
        .organisation(PartyKind::Practice, "Pathway OT Practice")
        .await;
    let old_boss = server.member(&acme.id, Role::OrgAdmin, "Ada Boss").await;
    server.member(&acme.id, Role::Hr, "Priya Shah").await;
    // An employer enrolled with a key of its own is an organisation too.
    let keyed = server.employer("Globex").await;
    admin
        .set_organisation_listing(&practice.id, &listed("Hull", "Occupational therapy"))
        .await
        .unwrap();

    let all = admin.organisations(None).await.unwrap();
    let rows: Vec<(&str, PartyKind, bool, i64, i64)> = all
        .iter()
        .map(|o| {
            (
                o.display_name.as_str(),
                o.kind,
                o.listed,
                o.members,
                o.admins,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("Acme Ltd", PartyKind::Employer, false, 2, 1),
            ("Globex", PartyKind::Employer, false, 0, 0),
            ("Pathway OT Practice", PartyKind::Practice, true, 0, 0),
        ],
        "every organisation, by name, listed or not; employees and admins are not organisations"
    );
    assert_eq!(all[1].id, keyed.party_id().unwrap());
    assert_eq!(all[2].place.as_deref(), Some("Hull"));
    let narrowed = admin.organisations(Some(" PATHWAY ")).await.unwrap();
    assert_eq!(narrowed.len(), 1);
    assert_eq!(narrowed[0].id, practice.id);
    assert!(admin.organisations(Some("%")).await.unwrap().is_empty());
    assert!(
        admin
            .organisations(Some("ac\u{0}me"))
            .await
            .unwrap()
            .is_empty(),
        "never a NUL to the database (PostgreSQL refuses one)"
    );

    // Acme's only admin leaves: the list shows it has none, and the service admin invites a
    // new first admin, who then manages its listing.
    old_boss
        .remove_member(&acme.id, old_boss.party_id().unwrap())
        .await
        .unwrap();
    let acme_row = admin.organisations(Some("acme")).await.unwrap().remove(0);
    assert_eq!((acme_row.members, acme_row.admins), (1, 0));
    let invitation = admin.invite(&acme.id, Role::OrgAdmin, None).await.unwrap();
    let mut new_boss = Client::new(&server.url, wp_client::SigningKey::generate());
    new_boss
        .redeem_invitation(invitation.code.as_deref().unwrap(), "Bo Newboss", None)
        .await
        .unwrap();
    let set = new_boss
        .set_organisation_listing(&acme.id, &listed("York", "Bakery"))
        .await
        .unwrap();
    assert!(set.listed);
    let acme_row = admin.organisations(Some("acme")).await.unwrap().remove(0);
    assert_eq!(
        (acme_row.members, acme_row.admins, acme_row.listed),
        (2, 1, true)
    );
    // The removed admin changes nothing any more.
    assert_eq!(
        refused(
            old_boss
                .set_organisation_listing(&acme.id, &SetListing::default())
                .await
        )
        .0,
        Some(ProblemType::Forbidden)
    );
    server.stop().await;
}

async fn finding_refuses_attackers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin();
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let globex = server.organisation(PartyKind::Employer, "Globex").await;
    let boss = server.member(&acme.id, Role::OrgAdmin, "Ada Boss").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let gina = server
        .member(&globex.id, Role::OrgAdmin, "Gina Globex")
        .await;
    let alice = server.employee("Alice").await;
    let listing: OrganisationListing = boss
        .set_organisation_listing(&acme.id, &listed("Leeds", "Food manufacturer"))
        .await
        .unwrap();
    let before = admin.organisation_listing(&acme.id).await.unwrap();
    let http = reqwest::Client::new();

    // Without a token, nothing: not the directory, a share code, a listing or the list.
    for path in [
        "/v1/organisations?name=acme".to_owned(),
        format!("/v1/share-codes/{}", listing.share_code),
        format!("/v1/organisations/{}/listing", acme.id),
        "/v1/admin/organisations".to_owned(),
    ] {
        let response = http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        let (status, problem) = problem_of(response).await;
        assert_eq!(
            (status, problem.kind()),
            (401, Some(ProblemType::InvalidToken)),
            "{path}"
        );
    }
    let response = http
        .put(format!(
            "{}/v1/organisations/{}/listing",
            server.url, acme.id
        ))
        .json(&json!({"listed": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Only the service admin lists every organisation.
    for caller in [&alice, &boss, &priya] {
        assert_eq!(
            refused(caller.organisations(None).await).0,
            Some(ProblemType::Forbidden)
        );
    }
    // A listing (with its share code) is its members' and the service admin's: an employee and
    // another organisation's admin are refused; a member who is not an admin, another
    // organisation's admin and an employee change nothing.
    for caller in [&alice, &gina] {
        assert_eq!(
            refused(caller.organisation_listing(&acme.id).await).0,
            Some(ProblemType::Forbidden)
        );
    }
    for caller in [&alice, &priya, &gina] {
        let (kind, text) = refused(
            caller
                .set_organisation_listing(
                    &acme.id,
                    &SetListing {
                        new_share_code: true,
                        ..SetListing::default()
                    },
                )
                .await,
        );
        assert_eq!(kind, Some(ProblemType::Forbidden), "{text}");
    }
    assert_eq!(admin.organisation_listing(&acme.id).await.unwrap(), before);
    // Nor is anything but an organisation made here one: an employee's id, a made-up one.
    for id in [
        alice.party_id().unwrap().to_owned(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        assert_eq!(
            refused(admin.organisation_listing(&id).await).0,
            Some(ProblemType::NotFound)
        );
    }

    // A consent token names one passport, and finds no organisation.
    let pid = alice.create_passport().await.unwrap().id;
    let grant = alice
        .own_passport(&pid)
        .grant(&CreateGrant {
            grantee: acme.id.clone(),
            roles: vec![Role::Hr],
            members: Vec::new(),
            scopes: vec![Scope {
                section: Section::Summary,
                actions: vec![Action::Read],
            }],
            purpose: "adjustments".into(),
            starts_at: None,
            ends_at: Utc::now() + Duration::days(1),
            consent_text: "I agree.".into(),
        })
        .await
        .unwrap();
    let consent = priya.consent_token(&grant.id).await.unwrap();
    for path in [
        "/v1/organisations?name=acme".to_owned(),
        format!("/v1/share-codes/{}", listing.share_code),
    ] {
        let (status, problem) =
            problem_of(raw_request(&priya, Method::GET, &path, &consent, None).await).await;
        assert_eq!(
            (status, problem.kind()),
            (403, Some(ProblemType::Forbidden)),
            "{path}"
        );
    }

    // Share codes of every wrong form name nothing: 404, never a 500, never a guess that
    // half-matches.
    let token = alice.access_token().await.unwrap();
    let real = listing.share_code.replace('-', "");
    let mut wrong = real.clone();
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(11.., last);
    for code in [
        wrong.as_str(),
        &real[..11],
        &format!("{real}0"),
        "UUUU-UUUU-UUUU",
        "%2E%2E%2Fetc",
        "AAAA-AAAA-AAA%C3%89",
        "0000-0000-0000",
    ] {
        let path = format!("/v1/share-codes/{code}");
        let (status, problem) =
            problem_of(raw_request(&alice, Method::GET, &path, &token, None).await).await;
        assert_eq!(
            (status, problem.kind()),
            (404, Some(ProblemType::NotFound)),
            "{code}"
        );
    }

    // The directory's bounds: 2 to 200 characters, LIKE's wildcards taken as text, at most 20.
    for name in ["a", " a ", &"x".repeat(201)] {
        assert_eq!(
            refused(alice.find_organisations(name).await).0,
            Some(ProblemType::BadRequest),
            "{name:?}"
        );
    }
    for i in 0..21 {
        let org: Party = server
            .organisation(PartyKind::Employer, &format!("Bulk {i:02}"))
            .await;
        admin
            .set_organisation_listing(&org.id, &listed("Here", "One of many"))
            .await
            .unwrap();
    }
    assert_eq!(alice.find_organisations("bulk").await.unwrap().len(), 20);
    for wildcard in ["%%", "__", "%_", "bu\u{0}lk", "bulk\u{7f}"] {
        assert!(
            alice.find_organisations(wildcard).await.unwrap().is_empty(),
            "{wildcard}"
        );
    }

    // What a listing says is checked: one line, not blank, bounded; nothing else is taken.
    for (body, field) in [
        (
            json!({"listed": true, "place": "Leeds\nWest Yorkshire"}),
            "place",
        ),
        (json!({"listed": true, "place": "   "}), "place"),
        (json!({"listed": true, "about": "x".repeat(201)}), "about"),
        (json!({"listed": true, "share_code": "AAAA-AAAA-AAAA"}), ""),
        (json!({"place": "Leeds"}), ""),
    ] {
        let path = format!("/v1/organisations/{}/listing", acme.id);
        let token = boss.access_token().await.unwrap();
        let (status, problem) =
            problem_of(raw_request(&boss, Method::PUT, &path, &token, Some(&body)).await).await;
        assert_eq!(
            (status, problem.kind()),
            (422, Some(ProblemType::InvalidBody)),
            "{body}"
        );
        let detail = serde_json::to_string(&problem).unwrap();
        assert!(detail.contains(field), "{body}: {detail}");
    }
    assert_eq!(
        admin.organisation_listing(&acme.id).await.unwrap(),
        before,
        "nothing refused changed the listing"
    );
    server.stop().await;
}

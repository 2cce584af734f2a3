//! Organisations and their people, end to end through the client library and real HTTP, on
//! SQLite and PostgreSQL: an employer and a practice, people who join them with invitation
//! codes, grants that cover roles or named members, and an access log that tells each person
//! apart. Then the attacks: people outside the grant, removed members, used, forged, expired
//! and revoked codes, and organisation admins reaching beyond their organisation.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use wp_client::consent::describe_actor;
use wp_client::{Client, ClientError, SigningKey};
use wp_schemas::api::{
    AccessLogEntry, AccessRequestStatus, Action, ApproveAccessRequest, CreateAccessRequest,
    CreateGrant, InvitationStatus, LogAction, OnBehalfOf, Outcome, Party, PartyKind,
    RedeemInvitation, Role, Scope, SetListing,
};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests, on_db, problem_of, raw_request};

backend_tests!(
    organisation_journey,
    people_outside_the_grant_are_refused,
    a_removed_member_is_refused_on_the_next_request,
    invitation_codes_work_once_and_only_while_pending,
    organisation_admins_act_only_for_their_own,
    an_access_request_through_the_library,
    the_operators_admin_link_works_once,
    used_invitations_and_removed_inviters,
);

fn scope(section: Section, actions: &[Action]) -> Scope {
    Scope {
        section,
        actions: actions.to_vec(),
    }
}

/// A grant to the organisation `org` covering `roles` and `members`, for 30 days.
fn grant_to_org(
    org: &Party,
    roles: &[Role],
    members: &[&Client],
    scopes: Vec<Scope>,
) -> CreateGrant {
    CreateGrant {
        grantee: org.id.clone(),
        roles: roles.to_vec(),
        members: members
            .iter()
            .map(|m| m.party_id().unwrap().to_owned())
            .collect(),
        scopes,
        purpose: "workplace adjustments".into(),
        starts_at: None,
        ends_at: Utc::now() + Duration::days(30),
        consent_text: "I agree to share these sections with these people until the end date."
            .into(),
    }
}

/// The claims of a (consent) token, unverified: what the server put in it.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&wp_schemas::jose::b64_decode(payload).expect("base64url"))
        .expect("JSON claims")
}

fn by<'a>(log: &'a [AccessLogEntry], actor: &Client) -> Vec<&'a AccessLogEntry> {
    log.iter()
        .filter(|e| e.actor.as_deref() == actor.party_id().ok())
        .collect()
}

/// Whether `log` records a denial of `action` to `actor`.
fn denied(log: &[AccessLogEntry], actor: &Client, action: LogAction) -> bool {
    by(log, actor)
        .iter()
        .any(|e| e.action == action && e.outcome == Outcome::Denied)
}

/// Alice, with a passport holding a summary: her client and the passport's id.
async fn alice_with_summary(server: &TestServer) -> (Client, String) {
    let alice = server.employee("Alice").await;
    let info = alice.create_passport().await.unwrap();
    alice
        .own_passport(&info.id)
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    (alice, info.id)
}

/// A client for the same party with nothing cached (no consent token from before).
fn fresh(client: &Client) -> Client {
    Client::for_party(
        client.base_url(),
        client.key().clone(),
        client.party_id().unwrap(),
    )
}

/// The journey: Acme (Sam, line manager; Priya, HR) and a practice (an OT clinician).
async fn organisation_journey(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    assert_eq!(acme.kind, PartyKind::Employer);
    assert!(
        acme.keys.is_empty(),
        "an organisation has no key of its own"
    );
    let practice = server
        .organisation(PartyKind::Practice, "Pathway OT Practice")
        .await;
    let sam = server
        .member(&acme.id, Role::LineManager, "Sam Patel")
        .await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let olu = server
        .member(&practice.id, Role::Clinician, "Olu Adeyemi")
        .await;

    // Each member is a party of their own, with a membership naming organisation and role.
    let me = sam.me().await.unwrap().party;
    assert_eq!(me.kind, PartyKind::Member);
    let membership = me.membership.clone().expect("a member's membership");
    assert_eq!(
        (
            membership.organisation.as_str(),
            membership.organisation_name.as_str(),
            membership.organisation_kind,
            membership.role,
        ),
        (
            acme.id.as_str(),
            "Acme Ltd",
            PartyKind::Employer,
            Role::LineManager
        )
    );
    assert_eq!(membership.removed_at, None);
    let olu_party = olu.me().await.unwrap().party;
    assert_eq!(
        olu_party.registration.as_ref().unwrap().registration_body,
        "HCPC"
    );

    // The directory finds the organisations that chose to be listed by any part of their name,
    // in any case.
    let alice = server.employee("Alice").await;
    assert!(alice.find_organisations("acme").await.unwrap().is_empty());
    for org in [&acme, &practice] {
        server
            .admin()
            .set_organisation_listing(
                &org.id,
                &SetListing {
                    listed: true,
                    ..SetListing::default()
                },
            )
            .await
            .unwrap();
    }
    let found = alice.find_organisations("acme").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].id.as_str(), found[0].kind),
        (acme.id.as_str(), PartyKind::Employer)
    );
    assert!(alice.find_organisations("Pathway ot").await.unwrap()[0].id == practice.id);
    assert!(
        alice
            .find_organisations("Globex & Sons")
            .await
            .unwrap()
            .is_empty()
    );
    let members = priya.members(&acme.id).await.unwrap();
    let mut names: Vec<(&str, Role)> = members
        .iter()
        .map(|m| (m.display_name.as_str(), m.role))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [("Priya Shah", Role::Hr), ("Sam Patel", Role::LineManager)]
    );

    // The employee's passport, with an adjustment.
    let info = alice.create_passport().await.unwrap();
    let mine = alice.own_passport(&info.id);
    mine.create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    let mut adjustment = example_body(Section::Adjustments);
    adjustment["status"] = json!("requested");
    adjustment.as_object_mut().unwrap().remove("agreed_by");
    let rid = mine
        .create_record(Section::Adjustments, adjustment)
        .await
        .unwrap()
        .envelope
        .record_id;

    // Acme's HR and line managers: read summary and adjustments, agree adjustments. The
    // practice's clinicians: read and write adjustments.
    let acme_grant = mine
        .grant(&grant_to_org(
            &acme,
            &[Role::Hr, Role::LineManager],
            &[],
            vec![
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Adjustments, &[Action::Read, Action::Agree]),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(acme_grant.grantee, acme.id);
    assert_eq!(acme_grant.roles, [Role::Hr, Role::LineManager]);
    let practice_grant = mine
        .grant(&grant_to_org(
            &practice,
            &[Role::Clinician],
            &[],
            vec![scope(Section::Adjustments, &[Action::Read, Action::Write])],
        ))
        .await
        .unwrap();
    // Each member sees the grants that cover them, and only those.
    let ids = |grants: Vec<wp_schemas::api::Grant>| -> Vec<String> {
        grants.into_iter().map(|g| g.id).collect()
    };
    let (acme_ids, practice_ids) = (vec![acme_grant.id.clone()], vec![practice_grant.id.clone()]);
    assert_eq!(ids(sam.grants_to_me().await.unwrap()), acme_ids);
    assert_eq!(ids(priya.grants_to_me().await.unwrap()), acme_ids);
    assert_eq!(ids(olu.grants_to_me().await.unwrap()), practice_ids);

    // The OT updates the adjustment, signed with their own key.
    let as_olu = olu.granted_passport(&practice_grant.id).await.unwrap();
    assert_eq!(
        as_olu
            .read()
            .await
            .unwrap()
            .sections
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [Section::Adjustments]
    );
    let mut body = as_olu.record(&rid).await.unwrap().payload.body.unwrap();
    body["notes"] = json!("Assessed: a six-week trial, then review.");
    let by_olu = as_olu.update_record(&rid, body).await.unwrap();
    assert_eq!(by_olu.author.id, olu.party_id().unwrap());
    assert_eq!(
        as_olu.on_behalf_of(),
        Some(&OnBehalfOf {
            organisation: practice.id.clone(),
            role: Role::Clinician
        }),
        "the token response names the organisation and role"
    );
    let olu_token = claims(&olu.consent_token(&practice_grant.id).await.unwrap());
    assert_eq!(
        olu_token["authorization_details"][0]["on_behalf_of"],
        json!({ "organisation": practice.id, "role": "clinician" })
    );

    // Sam reads it; Priya agrees it, signed with her own key.
    let as_sam = sam.granted_passport(&acme_grant.id).await.unwrap();
    let seen = as_sam.read().await.unwrap();
    assert_eq!(
        seen.sections.keys().copied().collect::<Vec<_>>(),
        [Section::Summary, Section::Adjustments]
    );
    assert_eq!(
        seen.records(Section::Adjustments)[0].author.id,
        olu.party_id().unwrap(),
        "Sam sees the OT's signed version"
    );
    let sam_token = claims(&sam.consent_token(&acme_grant.id).await.unwrap());
    assert_eq!(
        sam_token["authorization_details"][0]["on_behalf_of"],
        json!({ "organisation": acme.id, "role": "line_manager" })
    );
    assert_eq!(sam_token["sub"], sam.party_id().unwrap());
    let as_priya = priya.granted_passport(&acme_grant.id).await.unwrap();
    // A member's agreement names the member who signs it, and no one else.
    let refused = as_priya
        .agree_adjustment(&rid, "Sam Patel (line manager, Acme Ltd)")
        .await
        .unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::Forbidden));
    let agreed = as_priya.agree_adjustment_as_member(&rid).await.unwrap();
    assert_eq!(
        agreed.payload.body.as_ref().unwrap()["agreed_by"],
        "Priya Shah (HR, Acme Ltd)"
    );
    assert_eq!(agreed.author.id, priya.party_id().unwrap());
    assert_eq!(
        agreed.author.membership.as_ref().map(|m| m.role),
        Some(Role::Hr)
    );
    assert_eq!(agreed.payload.body.as_ref().unwrap()["status"], "agreed");
    // Agreeing is not writing: Priya may not change anything else in the adjustment.
    let head = as_priya.record(&rid).await.unwrap();
    let mut sneaky = head.payload.body.clone().unwrap();
    sneaky["title"] = json!("Four-day week");
    let refused = as_priya
        .write_after(&head.envelope, Some(sneaky))
        .await
        .unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::Forbidden));
    // The owner sees both signatures, each verified against its author's own key.
    let history = mine.history(&rid).await.unwrap();
    let authors: Vec<&str> = history.iter().map(|v| v.author.id.as_str()).collect();
    assert_eq!(
        authors,
        [
            alice.party_id().unwrap(),
            olu.party_id().unwrap(),
            priya.party_id().unwrap()
        ]
    );

    // The verified log tells each person apart: who, for which organisation, as what.
    let log = mine.verified_access_log().await.unwrap();
    let acting = |client: &Client, organisation: &Party, role: Role| {
        let entries = by(&log, client);
        assert!(!entries.is_empty(), "{:?} is in the log", client.party_id());
        for e in entries {
            assert_eq!(
                e.on_behalf_of,
                Some(OnBehalfOf {
                    organisation: organisation.id.clone(),
                    role,
                }),
                "{e:?}"
            );
        }
    };
    acting(&sam, &acme, Role::LineManager);
    acting(&priya, &acme, Role::Hr);
    acting(&olu, &practice, Role::Clinician);
    for (client, action) in [
        (&sam, LogAction::TokenIssued),
        (&sam, LogAction::PassportRead),
        (&priya, LogAction::VersionWritten),
        (&olu, LogAction::VersionWritten),
    ] {
        assert!(
            by(&log, client)
                .iter()
                .any(|e| e.action == action && e.outcome == Outcome::Allowed),
            "{action:?} by {:?}",
            client.party_id()
        );
    }
    assert!(by(&log, &alice).iter().all(|e| e.on_behalf_of.is_none()));
    // In plain words, from the parties as anyone can look them up.
    let mut parties = HashMap::new();
    for id in [
        sam.party_id().unwrap(),
        priya.party_id().unwrap(),
        olu.party_id().unwrap(),
        &acme.id,
        &practice.id,
    ] {
        parties.insert(id.to_owned(), alice.party(id).await.unwrap());
    }
    let words = |client: &Client| describe_actor(by(&log, client)[0], &parties).unwrap();
    assert_eq!(words(&sam), "Sam Patel (line manager, Acme Ltd)");
    assert_eq!(words(&priya), "Priya Shah (HR, Acme Ltd)");
    assert_eq!(words(&olu), "Olu Adeyemi (clinician, Pathway OT Practice)");
    server.stop().await;
}

/// A member of another organisation, and a member whose role the grant does not cover, get
/// no consent token; each refusal is in the owner's log.
async fn people_outside_the_grant_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let globex = server.organisation(PartyKind::Employer, "Globex").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let sam = server
        .member(&acme.id, Role::LineManager, "Sam Patel")
        .await;
    let gina = server.member(&globex.id, Role::Hr, "Gina Globex").await;
    let (alice, pid) = alice_with_summary(&server).await;
    let mine = alice.own_passport(&pid);
    let hr_only = mine
        .grant(&grant_to_org(
            &acme,
            &[Role::Hr],
            &[],
            vec![scope(Section::Summary, &[Action::Read])],
        ))
        .await
        .unwrap();
    // Priya (HR) is covered.
    priya
        .granted_passport(&hr_only.id)
        .await
        .unwrap()
        .read()
        .await
        .unwrap();
    // Gina is HR too, but at Globex; Sam is at Acme, but a line manager.
    for outsider in [&gina, &sam] {
        let error = fresh(outsider)
            .granted_passport(&hr_only.id)
            .await
            .err()
            .unwrap();
        assert_eq!(
            error.problem_type(),
            Some(ProblemType::Forbidden),
            "{error}"
        );
        assert!(outsider.grants_to_me().await.unwrap().is_empty());
    }
    let log = mine.verified_access_log().await.unwrap();
    for outsider in [&gina, &sam] {
        assert!(denied(&log, outsider, LogAction::TokenIssued));
        assert!(
            !by(&log, outsider)
                .iter()
                .any(|e| e.outcome == Outcome::Allowed)
        );
    }

    // A grant naming Sam covers him whatever his role; it covers nobody else at Acme.
    let sam_only = mine
        .grant(&grant_to_org(
            &acme,
            &[],
            &[&sam],
            vec![scope(Section::Summary, &[Action::Read])],
        ))
        .await
        .unwrap();
    assert_eq!(sam_only.members, [sam.party_id().unwrap()]);
    sam.granted_passport(&sam_only.id)
        .await
        .unwrap()
        .read()
        .await
        .unwrap();
    let error = fresh(&priya)
        .granted_passport(&sam_only.id)
        .await
        .err()
        .unwrap();
    assert_eq!(error.problem_type(), Some(ProblemType::Forbidden));
    // Naming someone who is not Acme's member is refused when the grant is made.
    let refused = mine
        .grant(&grant_to_org(
            &acme,
            &[],
            &[&gina],
            vec![scope(Section::Summary, &[Action::Read])],
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.status(), Some(400..=499)),
        "naming another organisation's member: {refused}"
    );
    server.stop().await;
}

/// A member removed while holding a consent token is refused on their very next request, and
/// the refusal is logged; a member can also leave.
async fn a_removed_member_is_refused_on_the_next_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let sam = server
        .member(&acme.id, Role::LineManager, "Sam Patel")
        .await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let (alice, pid) = alice_with_summary(&server).await;
    let mine = alice.own_passport(&pid);
    let grant = mine
        .grant(&grant_to_org(
            &acme,
            &[Role::Hr, Role::LineManager],
            &[],
            vec![scope(Section::Summary, &[Action::Read])],
        ))
        .await
        .unwrap();
    let token = sam.consent_token(&grant.id).await.unwrap();
    let path = format!("/v1/passports/{pid}");
    let response = raw_request(&sam, Method::GET, &path, &token, None).await;
    assert_eq!(response.status(), 200);

    let removed = server
        .admin()
        .remove_member(&acme.id, sam.party_id().unwrap())
        .await
        .unwrap();
    assert!(removed.removed_at.is_some());
    // The same, still unexpired token is refused at once.
    let response = raw_request(&sam, Method::GET, &path, &token, None).await;
    let (status, problem) = problem_of(response).await;
    assert_eq!(
        (status, problem.kind()),
        (403, Some(ProblemType::ConsentInactive)),
        "{problem:?}"
    );
    // No new token either (consent has ended for him), and the grant no longer lists for him.
    assert!(matches!(
        fresh(&sam).granted_passport(&grant.id).await.err().unwrap(),
        ClientError::ConsentEnded(_)
    ));
    assert!(sam.grants_to_me().await.unwrap().is_empty());
    let log = mine.verified_access_log().await.unwrap();
    assert!(denied(&log, &sam, LogAction::PassportRead));
    let members = priya.members(&acme.id).await.unwrap();
    let sam_row = members
        .iter()
        .find(|m| m.party == sam.party_id().unwrap())
        .unwrap();
    assert!(
        sam_row.removed_at.is_some(),
        "the row stays, marked removed"
    );

    // Priya leaves by removing herself; then she may not act for Acme either.
    let left = priya
        .remove_member(&acme.id, priya.party_id().unwrap())
        .await
        .unwrap();
    assert!(left.removed_at.is_some());
    let error = fresh(&priya)
        .granted_passport(&grant.id)
        .await
        .err()
        .unwrap();
    assert!(matches!(error.status(), Some(403)), "{error}");
    // Sam's past entries still name him as he acted then.
    let log = mine.verified_access_log().await.unwrap();
    assert!(
        by(&log, &sam)
            .iter()
            .all(|e| e.on_behalf_of.as_ref().map(|o| o.role) == Some(Role::LineManager))
    );
    server.stop().await;
}

/// Redeem `code` as a new person, returning the refusal's problem type.
async fn redeem_refused(server: &TestServer, code: &str) -> Option<ProblemType> {
    let mut client = Client::new(&server.url, SigningKey::generate());
    let error = client
        .redeem_invitation(code, "Mallory", None)
        .await
        .expect_err("the code is refused");
    assert!(client.party_id().is_err(), "a refused client stays nobody");
    error.problem_type()
}

/// A code joins one person once, only before it expires, and not after it is revoked; a code
/// nobody issued joins nobody.
async fn invitation_codes_work_once_and_only_while_pending(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin();
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let invitation = admin.invite(&acme.id, Role::Hr, Some(1)).await.unwrap();
    let code = invitation.code.clone().expect("the code, shown once");
    assert!(code.starts_with("wpi_") && code.len() == 47, "{code}");
    assert_eq!(invitation.status, InvitationStatus::Pending);
    assert!(invitation.expires_at <= Utc::now() + Duration::days(1) + Duration::seconds(5));

    // A proof of possession made for another URL (registration), or by another key, joins
    // nobody, and leaves the code unused.
    let key = SigningKey::generate();
    let other = SigningKey::generate();
    for (signer, aud) in [
        (&key, format!("{}/v1/parties", server.url)),
        (&other, format!("{}/v1/invitations/redeem", server.url)),
    ] {
        let body = RedeemInvitation {
            code: code.clone(),
            display_name: "Mallory".into(),
            jwk: key.public_jwk().clone(),
            proof: wp_client::proofs::key_proof(signer, &aud),
            registration: None,
        };
        let response = redeem_raw(&server.url, &body).await;
        let (status, problem) = problem_of(response).await;
        assert_eq!(
            (status, problem.kind()),
            (400, Some(ProblemType::InvalidKeyProof)),
            "{aud}: {problem:?}"
        );
    }
    assert_eq!(
        admin.invitations(&acme.id).await.unwrap()[0].status,
        InvitationStatus::Pending
    );

    // Redeemed once: the client becomes the new member.
    let mut priya = Client::new(&server.url, SigningKey::generate());
    let party = priya
        .redeem_invitation(&code, "Priya Shah", None)
        .await
        .unwrap();
    assert_eq!(priya.party_id().unwrap(), party.id);
    assert_eq!(party.kind, PartyKind::Member);
    assert_eq!(party.membership.as_ref().unwrap().role, Role::Hr);
    priya.me().await.unwrap();
    // Used again: refused.
    assert_eq!(
        redeem_refused(&server, &code).await,
        Some(ProblemType::InvitationUsed)
    );
    // A well-formed code nobody issued.
    let forged = format!("wpi_{}", "A".repeat(43));
    assert_eq!(
        redeem_refused(&server, &forged).await,
        Some(ProblemType::InvalidInvitation)
    );

    // Expired: the shortest life is a day, so the test moves its end into the past.
    let expiring = admin.invite(&acme.id, Role::Hr, Some(1)).await.unwrap();
    let store = server.store().await;
    on_db!(&store, pool => {
        let updated = sqlx::query("UPDATE invitations SET expires_at = created_at - 1 WHERE id = $1")
            .bind(&expiring.id)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(updated, 1);
    });
    store.close().await;
    assert_eq!(
        redeem_refused(&server, expiring.code.as_deref().unwrap()).await,
        Some(ProblemType::InvitationExpired)
    );

    // Revoked.
    let revocable = admin
        .invite(&acme.id, Role::LineManager, None)
        .await
        .unwrap();
    let revoked = admin
        .revoke_invitation(&acme.id, &revocable.id)
        .await
        .unwrap();
    assert_eq!(revoked.status, InvitationStatus::Revoked);
    assert_eq!(revoked.code, None);
    assert_eq!(
        redeem_refused(&server, revocable.code.as_deref().unwrap()).await,
        Some(ProblemType::InvitationRevoked)
    );

    // The list shows each, and never a code.
    let listed = admin.invitations(&acme.id).await.unwrap();
    let status = |id: &str| listed.iter().find(|i| i.id == id).unwrap().status;
    assert_eq!(status(&invitation.id), InvitationStatus::Redeemed);
    assert_eq!(status(&expiring.id), InvitationStatus::Expired);
    assert_eq!(status(&revocable.id), InvitationStatus::Revoked);
    assert!(listed.iter().all(|i| i.code.is_none()));
    assert_eq!(
        listed
            .iter()
            .find(|i| i.id == invitation.id)
            .unwrap()
            .redeemed_by
            .as_deref(),
        Some(party.id.as_str())
    );
    // Only one member joined.
    assert_eq!(admin.members(&acme.id).await.unwrap().len(), 1);

    // A clinician gives a registration; an HR adviser does not.
    let practice = server
        .organisation(PartyKind::Practice, "Pathway OT Practice")
        .await;
    let clinician = admin
        .invite(&practice.id, Role::Clinician, None)
        .await
        .unwrap();
    let mut without = Client::new(&server.url, SigningKey::generate());
    let error = without
        .redeem_invitation(clinician.code.as_deref().unwrap(), "Olu Adeyemi", None)
        .await
        .unwrap_err();
    assert!(matches!(error.status(), Some(400..=499)), "{error}");
    // A role the organisation does not have is refused when inviting.
    let error = admin
        .invite(&practice.id, Role::LineManager, None)
        .await
        .unwrap_err();
    assert!(matches!(error.status(), Some(400..=499)), "{error}");
    server.stop().await;
}

/// Only the service admin creates organisations; an organisation admin invites, lists and
/// removes at their own organisation only.
async fn organisation_admins_act_only_for_their_own(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let globex = server.organisation(PartyKind::Employer, "Globex").await;
    let boss = server
        .member(&acme.id, Role::OrgAdmin, "Ada Acme-Admin")
        .await;
    let gina = server.member(&globex.id, Role::Hr, "Gina Globex").await;
    let alice = server.employee("Alice").await;

    // Creating organisations is the service admin's alone.
    for caller in [&boss, &alice, &gina] {
        let error = caller
            .create_organisation(PartyKind::Employer, "Evil Corp")
            .await
            .unwrap_err();
        assert_eq!(
            error.problem_type(),
            Some(ProblemType::Forbidden),
            "{error}"
        );
    }
    assert!(alice.find_organisations("Evil").await.unwrap().is_empty());

    // At Acme, its organisation admin invites and removes.
    let invitation = boss.invite(&acme.id, Role::Hr, None).await.unwrap();
    assert_eq!(invitation.created_by, boss.party_id().unwrap());
    let mut priya = Client::new(&server.url, SigningKey::generate());
    priya
        .redeem_invitation(invitation.code.as_deref().unwrap(), "Priya Shah", None)
        .await
        .unwrap();
    // Two invitations: the admin's that made Ada an org_admin, and hers.
    assert_eq!(boss.invitations(&acme.id).await.unwrap().len(), 2);
    // A plain member may not invite or remove.
    let error = priya
        .invite(&acme.id, Role::OrgAdmin, None)
        .await
        .unwrap_err();
    assert_eq!(error.problem_type(), Some(ProblemType::Forbidden));
    let error = priya
        .remove_member(&acme.id, boss.party_id().unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.problem_type(), Some(ProblemType::Forbidden));
    boss.remove_member(&acme.id, priya.party_id().unwrap())
        .await
        .unwrap();

    // At Globex, Acme's organisation admin may do nothing.
    let forbidden = |result: Result<(), ClientError>| {
        assert_eq!(
            result.unwrap_err().problem_type(),
            Some(ProblemType::Forbidden)
        );
    };
    forbidden(
        boss.invite(&globex.id, Role::OrgAdmin, None)
            .await
            .map(drop),
    );
    forbidden(boss.invitations(&globex.id).await.map(drop));
    forbidden(
        boss.remove_member(&globex.id, gina.party_id().unwrap())
            .await
            .map(drop),
    );
    forbidden(boss.members(&globex.id).await.map(drop));
    // Nor can Acme's admin remove Globex's member by naming Acme.
    let error = boss
        .remove_member(&acme.id, gina.party_id().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error.status(), Some(403 | 404)), "{error}");
    let still = server.admin().members(&globex.id).await.unwrap();
    assert!(still.iter().all(|m| m.removed_at.is_none()));
    assert_eq!(
        server.admin().invitations(&globex.id).await.unwrap().len(),
        1
    );
    server.stop().await;
}

/// Issue 23 item 4. Revoking a used invitation is 409 `invitation-used` and changes nothing.
/// A member's pending invitations are revoked with their removal: a removed org_admin does not
/// come back through an `org_admin` invitation they made before. A refused redemption (a key
/// already registered here, a clinician with no registration) leaves the code unused.
async fn used_invitations_and_removed_inviters(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin();
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let boss = server
        .member(&acme.id, Role::OrgAdmin, "Ada Acme-Admin")
        .await;

    // A used invitation: revoking it is refused, and it stays used.
    let used = boss.invite(&acme.id, Role::Hr, None).await.unwrap();
    let mut priya = Client::new(&server.url, SigningKey::generate());
    priya
        .redeem_invitation(used.code.as_deref().unwrap(), "Priya Shah", None)
        .await
        .unwrap();
    for revoker in [&admin, &boss] {
        let error = revoker
            .revoke_invitation(&acme.id, &used.id)
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(409), "{error}");
        assert_eq!(error.problem_type(), Some(ProblemType::InvitationUsed));
    }
    let status_of = |list: &[wp_schemas::api::Invitation], id: &str| {
        list.iter().find(|i| i.id == id).unwrap().status
    };
    let listed = admin.invitations(&acme.id).await.unwrap();
    assert_eq!(status_of(&listed, &used.id), InvitationStatus::Redeemed);
    // Revoking a revoked one again is harmless: it stays revoked.
    let spare = admin.invite(&acme.id, Role::Hr, None).await.unwrap();
    for _ in 0..2 {
        let revoked = admin.revoke_invitation(&acme.id, &spare.id).await.unwrap();
        assert_eq!(revoked.status, InvitationStatus::Revoked);
    }

    // A refused redemption leaves the code unused. A key registered here already:
    let pending = boss
        .invite(&acme.id, Role::LineManager, None)
        .await
        .unwrap();
    let code = pending.code.clone().unwrap();
    let body = RedeemInvitation {
        code: code.clone(),
        display_name: "Priya Again".into(),
        jwk: priya.key().public_jwk().clone(),
        proof: wp_client::proofs::key_proof(
            priya.key(),
            &format!("{}/v1/invitations/redeem", server.url),
        ),
        registration: None,
    };
    let response = redeem_raw(&server.url, &body).await;
    assert_eq!(response.status(), 409);
    let listed = admin.invitations(&acme.id).await.unwrap();
    assert_eq!(status_of(&listed, &pending.id), InvitationStatus::Pending);
    // A clinician invitation redeemed without a registration, then with one:
    let practice = server
        .organisation(PartyKind::Practice, "Pathway OT Practice")
        .await;
    let clinician = admin
        .invite(&practice.id, Role::Clinician, None)
        .await
        .unwrap();
    let clinician_code = clinician.code.clone().unwrap();
    let mut olu = Client::new(&server.url, SigningKey::generate());
    let error = olu
        .redeem_invitation(&clinician_code, "Olu Adeyemi", None)
        .await
        .unwrap_err();
    assert!(matches!(error.status(), Some(400..=499)), "{error}");
    let registration = wp_schemas::api::ProfessionalRegistration {
        profession: "occupational therapist".into(),
        registration_body: "HCPC".into(),
        registration_number: "OT12345".into(),
    };
    olu.redeem_invitation(&clinician_code, "Olu Adeyemi", Some(registration))
        .await
        .expect("the refused attempt left the code unused");

    // The org_admin invites another org_admin, then is removed before it is redeemed: the
    // invitation is revoked with the removal, and the one they made that was used stays used.
    let comeback = boss.invite(&acme.id, Role::OrgAdmin, None).await.unwrap();
    let others = admin.invite(&acme.id, Role::OrgAdmin, None).await.unwrap();
    admin
        .remove_member(&acme.id, boss.party_id().unwrap())
        .await
        .unwrap();
    let listed = admin.invitations(&acme.id).await.unwrap();
    assert_eq!(status_of(&listed, &comeback.id), InvitationStatus::Revoked);
    assert_eq!(status_of(&listed, &pending.id), InvitationStatus::Revoked);
    assert_eq!(status_of(&listed, &used.id), InvitationStatus::Redeemed);
    assert_eq!(
        status_of(&listed, &others.id),
        InvitationStatus::Pending,
        "only the removed member's invitations are revoked"
    );
    assert_eq!(
        redeem_refused(&server, comeback.code.as_deref().unwrap()).await,
        Some(ProblemType::InvitationRevoked)
    );
    // A member who leaves takes their invitations with them too.
    let manager = server.member(&acme.id, Role::OrgAdmin, "Max Manager").await;
    let theirs = manager.invite(&acme.id, Role::Hr, None).await.unwrap();
    manager
        .remove_member(&acme.id, manager.party_id().unwrap())
        .await
        .unwrap();
    assert_eq!(
        redeem_refused(&server, theirs.code.as_deref().unwrap()).await,
        Some(ProblemType::InvitationRevoked)
    );
    server.stop().await;
}

/// The library's side of an access request: Priya (HR at Acme) asks Alice; Alice opens it,
/// approves it narrowed to the summary, and Priya reads under the grant it made; a second
/// request is declined.
async fn an_access_request_through_the_library(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let (alice, pid) = alice_with_summary(&server).await;
    let asked = CreateAccessRequest {
        scopes: vec![
            scope(Section::Summary, &[Action::Read]),
            scope(Section::Adjustments, &[Action::Read, Action::Agree]),
        ],
        roles: Vec::new(),
        purpose: "workplace adjustments in your new job".into(),
        duration_days: 365,
        employee: Some(alice.party_id().unwrap().to_owned()),
        expires_in_days: None,
    };
    let request = priya.request_access(&acme.id, &asked).await.unwrap();
    let code = request.code.clone().expect("the code, once");
    let seen = alice.open_access_request(&code).await.unwrap();
    assert_eq!(
        (
            seen.organisation_name.as_str(),
            seen.requested_by_name.as_str(),
            seen.status
        ),
        ("Acme Ltd", "Priya Shah", AccessRequestStatus::Pending)
    );
    let grant = alice
        .approve_access_request(&ApproveAccessRequest {
            code: code.clone(),
            scopes: Some(vec![scope(Section::Summary, &[Action::Read])]),
            ends_at: None,
            consent_text: "I agree to share my summary with Acme's HR.".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        (grant.grantee.as_str(), grant.roles.as_slice()),
        (acme.id.as_str(), [Role::Hr].as_slice())
    );
    let seen = priya
        .granted_passport(&grant.id)
        .await
        .unwrap()
        .read()
        .await
        .unwrap();
    assert_eq!(seen.id, pid);
    assert_eq!(
        seen.sections.keys().copied().collect::<Vec<_>>(),
        [Section::Summary]
    );
    let listed = priya.access_requests(&acme.id).await.unwrap();
    assert_eq!(listed[0].status, AccessRequestStatus::Approved);
    assert_eq!(listed[0].grant_id.as_deref(), Some(grant.id.as_str()));

    let again = priya.request_access(&acme.id, &asked).await.unwrap();
    let declined = alice
        .decline_access_request(again.code.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(declined.status, AccessRequestStatus::Declined);
    server.stop().await;
}

/// The operator's `admin-link` command, run against the running installation, prints a link
/// whose invitation makes one admin, once; a forged one makes nobody.
async fn the_operators_admin_link_works_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Once the server answers, its key files exist for the command to read.
    let ready = reqwest::get(format!("{}/readyz", server.url))
        .await
        .unwrap();
    assert!(ready.status().is_success());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wp-test-server"))
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .args(["--database-url", &server.database_url])
        .args(["--public-url", &server.url])
        .args(["admin-link", "--hours", "2"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run admin-link");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let invitation = link
        .strip_prefix(&format!("{}/#/admin-join/", server.url))
        .unwrap_or_else(|| panic!("a link to this server's pages: {link}"))
        .to_owned();

    let mut admin = Client::new(&server.url, SigningKey::generate());
    let party = admin
        .join_as_admin(&invitation, "Sam Operator")
        .await
        .unwrap();
    assert_eq!(
        (party.kind, party.display_name.as_str()),
        (PartyKind::Admin, "Sam Operator")
    );
    // The new admin acts as one: it creates an organisation.
    let acme = admin
        .create_organisation(PartyKind::Employer, "Acme Ltd")
        .await
        .unwrap();
    assert_eq!(acme.kind, PartyKind::Employer);

    let refused = |invitation: String| {
        let url = server.url.clone();
        async move {
            let mut mallory = Client::new(&url, SigningKey::generate());
            let error = mallory
                .join_as_admin(&invitation, "Mallory")
                .await
                .expect_err("refused");
            assert!(mallory.party_id().is_err());
            error.problem_type()
        }
    };
    assert_eq!(
        refused(invitation.clone()).await,
        Some(ProblemType::InvitationUsed)
    );
    // A flipped signature byte, or an access token, is no invitation.
    let mut forged = invitation.into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        refused(String::from_utf8(forged).unwrap()).await,
        Some(ProblemType::InvalidInvitation)
    );
    let token = admin.access_token().await.unwrap();
    assert_eq!(refused(token).await, Some(ProblemType::InvalidInvitation));
    server.stop().await;
}

/// POSTs `body` to the redemption endpoint as it is, for the refusals the client library would
/// not send.
async fn redeem_raw(server_url: &str, body: &RedeemInvitation) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{server_url}/v1/invitations/redeem"))
        .json(body)
        .send()
        .await
        .unwrap()
}

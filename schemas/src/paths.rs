//! Every path of the API, once: the template the server's route table (and so the OpenAPI
//! document) names, and a builder for the URL path a client sends. The client library builds
//! its URLs with these builders, and the web pages with `server/web/js/endpoints.js`, which is
//! generated from [`ALL`] ([`javascript_module`]; the server's `generated_files` test keeps it
//! in step). A new endpoint's path is added here and nowhere else.
//!
//! The builders put each argument in its segment as it is: ids are canonical UUIDs and key ids
//! base64url thumbprints, which need no escaping, and any other value names nothing (404).

use std::fmt::Display;

/// One path of the API: the builder's name and the template, whose `{name}` segments are its
/// parameters, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathTemplate {
    pub name: &'static str,
    pub template: &'static str,
}

impl PathTemplate {
    /// The parameter names, in order.
    pub fn params(&self) -> impl Iterator<Item = &'static str> {
        self.template
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }
}

/// Declares each path's template (`NAME`), its builder (`name(params)`, for a path with
/// parameters) and its entry in [`ALL`].
macro_rules! paths {
    (@builder [$($doc:tt)*] $fn:ident = $template:literal) => {};
    (@builder [$($doc:tt)*] $fn:ident ($($param:ident),+) = $template:literal) => {
        $($doc)*
        pub fn $fn($($param: impl Display),+) -> String {
            format!($template)
        }
    };
    ($(
        $(#[$doc:meta])*
        $const:ident, $fn:ident $(($($param:ident),+))? = $template:literal;
    )*) => {
        $(
            $(#[$doc])*
            pub const $const: &str = $template;
            paths!(@builder [$(#[$doc])*] $fn $(($($param),+))? = $template);
        )*

        /// Every path, in the route table's order.
        pub const ALL: &[PathTemplate] = &[
            $(PathTemplate { name: stringify!($fn), template: $template },)*
        ];
    };
}

paths! {
    /// Liveness.
    HEALTHZ, healthz = "/healthz";
    /// Readiness.
    READYZ, readyz = "/readyz";
    /// The server's public keys.
    JWKS, jwks = "/.well-known/jwks.json";
    /// The OpenAPI document.
    OPENAPI, openapi = "/openapi.json";
    /// The token endpoint (also the audience of a client assertion).
    TOKEN, token = "/v1/token";
    /// An employee registers (also the audience of the key proof).
    PARTIES, parties = "/v1/parties";
    /// The operator's admin invitation is redeemed (also the audience of the key proof).
    ADMIN_JOIN, admin_join = "/v1/admin/join";
    /// An admin enrols a party.
    ADMIN_PARTIES, admin_parties = "/v1/admin/parties";
    /// The caller's party and passport id.
    ME, me = "/v1/me";
    /// A party's public facts and keys.
    PARTY, party(party_id) = "/v1/parties/{party_id}";
    /// A party's keys (also the audience of the added key's proof).
    PARTY_KEYS, party_keys(party_id) = "/v1/parties/{party_id}/keys";
    /// Revokes one of a party's keys.
    PARTY_KEY_REVOKE, party_key_revoke(party_id, kid) = "/v1/parties/{party_id}/keys/{kid}/revoke";
    /// Passports (creation).
    PASSPORTS, passports = "/v1/passports";
    /// One passport.
    PASSPORT, passport(pid) = "/v1/passports/{pid}";
    /// A passport's export bundle.
    PASSPORT_EXPORT, passport_export(pid) = "/v1/passports/{pid}/export";
    /// A passport moved here from a bundle.
    PASSPORT_IMPORT, passport_import = "/v1/passports/import";
    /// A passport's sync feed.
    PASSPORT_CHANGES, passport_changes(pid) = "/v1/passports/{pid}/changes";
    /// A passport's access log.
    PASSPORT_ACCESS_LOG, passport_access_log(pid) = "/v1/passports/{pid}/access-log";
    /// A passport's records (a new record's first version).
    PASSPORT_RECORDS, passport_records(pid) = "/v1/passports/{pid}/records";
    /// A record's latest version.
    PASSPORT_RECORD, passport_record(pid, rid) = "/v1/passports/{pid}/records/{rid}";
    /// A record's versions.
    PASSPORT_RECORD_VERSIONS, passport_record_versions(pid, rid) = "/v1/passports/{pid}/records/{rid}/versions";
    /// A passport's consent grants.
    PASSPORT_GRANTS, passport_grants(pid) = "/v1/passports/{pid}/grants";
    /// Revokes a consent grant.
    PASSPORT_GRANT_REVOKE, passport_grant_revoke(pid, gid) = "/v1/passports/{pid}/grants/{gid}/revoke";
    /// The grants made to the caller.
    GRANTS, grants = "/v1/grants";
    /// The service admin creates an organisation.
    ADMIN_ORGANISATIONS, admin_organisations = "/v1/admin/organisations";
    /// The directory of organisations that chose to be listed.
    ORGANISATIONS, organisations = "/v1/organisations";
    /// An organisation found by its share code.
    SHARE_CODE, share_code(share_code) = "/v1/share-codes/{share_code}";
    /// How employees find an organisation: its listing and share code.
    ORGANISATION_LISTING, organisation_listing(oid) = "/v1/organisations/{oid}/listing";
    /// An organisation's invitations.
    ORGANISATION_INVITATIONS, organisation_invitations(oid) = "/v1/organisations/{oid}/invitations";
    /// Revokes an invitation.
    ORGANISATION_INVITATION_REVOKE, organisation_invitation_revoke(oid, iid) = "/v1/organisations/{oid}/invitations/{iid}/revoke";
    /// An invitation code is redeemed (also the audience of the key proof).
    INVITATIONS_REDEEM, invitations_redeem = "/v1/invitations/redeem";
    /// An organisation's members.
    ORGANISATION_MEMBERS, organisation_members(oid) = "/v1/organisations/{oid}/members";
    /// Removes a member.
    ORGANISATION_MEMBER_REMOVE, organisation_member_remove(oid, mid) = "/v1/organisations/{oid}/members/{mid}/remove";
    /// An organisation's access requests.
    ORGANISATION_ACCESS_REQUESTS, organisation_access_requests(oid) = "/v1/organisations/{oid}/access-requests";
    /// The employee opens an access request.
    ACCESS_REQUESTS_OPEN, access_requests_open = "/v1/access-requests/open";
    /// The employee approves an access request.
    ACCESS_REQUESTS_APPROVE, access_requests_approve = "/v1/access-requests/approve";
    /// The employee declines an access request.
    ACCESS_REQUESTS_DECLINE, access_requests_decline = "/v1/access-requests/decline";
    /// The caller's notifications.
    NOTIFICATIONS, notifications = "/v1/notifications";
    /// Marks one notification read.
    NOTIFICATION_READ, notification_read(nid) = "/v1/notifications/{nid}/read";
    /// Marks every notification read.
    NOTIFICATIONS_READ_ALL, notifications_read_all = "/v1/notifications/read-all";
    /// The caller's email address and choices.
    NOTIFICATION_SETTINGS, notification_settings = "/v1/notifications/settings";
    /// The caller's email address for notifications.
    NOTIFICATION_EMAIL, notification_email = "/v1/notifications/email";
    /// The caller's calendar feed (a new secret address, or none).
    NOTIFICATION_CALENDAR, notification_calendar = "/v1/notifications/calendar";
    /// An email address is verified by the code its link carries.
    EMAIL_VERIFY, email_verify = "/v1/email/verify";
    /// One-click unsubscribe from one kind of email (RFC 8058), without signing in.
    UNSUBSCRIBE, unsubscribe(token) = "/v1/unsubscribe/{token}";
    /// A calendar feed (iCalendar), at its secret address.
    CALENDAR, calendar(token) = "/v1/calendar/{token}";
}

/// `server/web/js/endpoints.js`: [`ALL`] as an ES module for the web pages, one export per
/// path in camelCase: a string for a path without parameters, a function of the parameters
/// (in order, in camelCase too) for the others.
pub fn javascript_module() -> String {
    let mut js = String::from(
        "// Generated from wp_schemas::paths (schemas/src/paths.rs): do not edit. The server's\n\
         // `generated_files` test keeps it in step; `UPDATE_SCHEMAS=1 cargo test -p wp-server\n\
         // --test openapi_file` writes it again.\n",
    );
    js.push('\n');
    for path in ALL {
        let name = camel_case(path.name);
        let params: Vec<String> = path.params().map(camel_case).collect();
        if params.is_empty() {
            js.push_str(&format!("export const {name} = \"{}\";\n", path.template));
            continue;
        }
        let segments: Vec<String> = path
            .template
            .split('/')
            .map(|segment| match segment.strip_prefix('{') {
                Some(param) => format!("${{{}}}", camel_case(param.trim_end_matches('}'))),
                None => segment.to_owned(),
            })
            .collect();
        js.push_str(&format!(
            "export const {name} = ({}) => `{}`;\n",
            params.join(", "),
            segments.join("/")
        ));
    }
    js
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_the_templates() {
        assert_eq!(
            passport_record("p", "r"),
            PASSPORT_RECORD.replace("{pid}", "p").replace("{rid}", "r")
        );
        assert_eq!(
            party_key_revoke("a", "k"),
            "/v1/parties/a/keys/k/revoke".to_owned()
        );
    }

    #[test]
    fn names_and_templates_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.template, b.template);
            }
        }
    }

    #[test]
    fn javascript_names_its_parameters() {
        let js = javascript_module();
        assert!(js.contains(
            "export const passportRecord = (pid, rid) => `/v1/passports/${pid}/records/${rid}`;"
        ));
        assert!(js.contains("export const token = \"/v1/token\";"));
        assert!(
            js.contains("export const partyKeys = (partyId) => `/v1/parties/${partyId}/keys`;")
        );
    }
}

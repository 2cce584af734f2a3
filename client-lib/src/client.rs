//! The HTTP client: tokens (with DPoP proofs on every call), parties, passports.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::{Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wp_schemas::api::{
    ASSERTION_TYPE, AccessRequest, AccessRequestCode, AddKey, ApproveAccessRequest,
    CreateAccessRequest, CreateInvitation, CreateOrganisation, EnrolParty, GRANT_TYPE, Grant,
    Invitation, JoinAsAdmin, Me, Member, OnBehalfOf, OrganisationEntry, OrganisationListing,
    OrganisationSummary, Party, PartyKind, PassportInfo, ProfessionalRegistration,
    RedeemInvitation, RegisterEmployee, Role, Scope, SetListing, TokenResponse,
};
use wp_schemas::jose::{PublicJwk, SigningKey};
use wp_schemas::paths;
use wp_schemas::problem::{Problem, ProblemType};

use crate::error::{ClientError, Result};
use crate::passport::{Consent, PassportClient};
use crate::proofs;

/// How often a read is retried when the server answers 503 (the database is unavailable).
const RETRIES_ON_503: u32 = 4;

/// A 503 the server expects to pass: the database went away for a moment, or is not ready.
fn is_transient(error: &ClientError) -> bool {
    matches!(
        error.problem_type(),
        Some(ProblemType::DatabaseUnavailable | ProblemType::Unavailable)
    )
}

/// The server's Retry-After (capped at 10 s), or exponential backoff from 250 ms.
fn retry_after(response: &reqwest::Response, retries: u32) -> std::time::Duration {
    let backoff = std::time::Duration::from_millis(250 << retries.min(5));
    response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(backoff, |secs| {
            std::time::Duration::from_secs(secs.min(10)).max(backoff)
        })
}

/// Renew a cached token this long before it expires.
const RENEW_BEFORE_SECS: i64 = 30;

#[derive(Clone)]
struct CachedToken {
    token: String,
    expires_at: i64,
    passport_id: Option<String>,
    scopes: Option<Vec<Scope>>,
    on_behalf_of: Option<OnBehalfOf>,
}

/// A party's connection to a Work Passport server, signing with its own key.
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: SigningKey,
    party_id: Option<String>,
    /// Access token under "", consent tokens under their grant id.
    tokens: Mutex<HashMap<String, CachedToken>>,
    /// Parties seen as authors, to check their signatures.
    parties: Mutex<HashMap<String, Party>>,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`) holding `key`.
    pub fn new(base_url: &str, key: SigningKey) -> Self {
        Self::with_http(base_url, key, reqwest::Client::new())
    }

    /// The same through an HTTP client of the caller's (e.g. one that trusts a private
    /// certificate authority: `reqwest::ClientBuilder::add_root_certificate`).
    pub fn with_http(base_url: &str, key: SigningKey, http: reqwest::Client) -> Self {
        Client {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            key,
            party_id: None,
            tokens: Mutex::new(HashMap::new()),
            parties: Mutex::new(HashMap::new()),
        }
    }

    /// The same, for an already registered party.
    pub fn for_party(base_url: &str, key: SigningKey, party_id: &str) -> Self {
        Self::new(base_url, key).with_party(party_id)
    }

    /// This client as the already registered party `party_id`.
    pub fn with_party(mut self, party_id: &str) -> Self {
        self.party_id = Some(party_id.to_owned());
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    pub fn party_id(&self) -> Result<&str> {
        self.party_id.as_deref().ok_or_else(|| {
            ClientError::Other("this client has no party id yet: register first".into())
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    // -----------------------------------------------------------------------------------------
    // Plumbing

    pub(crate) async fn problem(response: reqwest::Response) -> ClientError {
        let status = response.status().as_u16();
        match response.json::<Problem>().await {
            Ok(problem) => ClientError::from_problem(problem),
            Err(_) => ClientError::Protocol(format!("HTTP {status} without a problem document")),
        }
    }

    /// Exchanges a fresh assertion (and DPoP proof) for a token; with `grant_id`, a consent token.
    async fn fetch_token(&self, grant_id: Option<&str>) -> Result<CachedToken> {
        let url = format!("{}{}", self.base, paths::TOKEN);
        let assertion = proofs::assertion(&self.key, self.party_id()?, &url);
        let mut form = vec![
            ("grant_type", GRANT_TYPE.to_owned()),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", assertion),
        ];
        if let Some(gid) = grant_id {
            form.push(("grant_id", gid.to_owned()));
        }
        // A fresh assertion and proof per attempt: retrying a token request on 503 is safe.
        let mut retries = 0;
        let response = loop {
            let mut form = form.clone();
            if retries > 0 {
                form[2].1 = proofs::assertion(&self.key, self.party_id()?, &url);
            }
            let response = self
                .http
                .post(&url)
                .header("DPoP", proofs::dpop(&self.key, "POST", &url, None))
                .form(&form)
                .send()
                .await?;
            if response.status().is_success() {
                break response;
            }
            let wait = retry_after(&response, retries);
            let error = Self::problem(response).await;
            if retries < RETRIES_ON_503 && is_transient(&error) {
                retries += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(error);
        };
        let token: TokenResponse = response.json().await?;
        Ok(CachedToken {
            token: token.access_token,
            expires_at: proofs::now() + token.expires_in,
            passport_id: token.passport_id,
            scopes: token.scopes,
            on_behalf_of: token.on_behalf_of,
        })
    }

    /// A valid token from the cache, renewed shortly before it expires.
    async fn token(&self, grant_id: Option<&str>) -> Result<CachedToken> {
        let slot = grant_id.unwrap_or_default().to_owned();
        if let Some(cached) = self.tokens.lock().expect("token cache").get(&slot)
            && cached.expires_at - RENEW_BEFORE_SECS > proofs::now()
        {
            return Ok(cached.clone());
        }
        let fresh = self.fetch_token(grant_id).await?;
        self.tokens
            .lock()
            .expect("token cache")
            .insert(slot, fresh.clone());
        Ok(fresh)
    }

    /// The current access token (for tools that make their own requests).
    pub async fn access_token(&self) -> Result<String> {
        Ok(self.token(None).await?.token)
    }

    /// A consent token under `grant_id`.
    pub async fn consent_token(&self, grant_id: &str) -> Result<String> {
        Ok(self.token(Some(grant_id)).await?.token)
    }

    fn forget_token(&self, grant_id: Option<&str>) {
        self.tokens
            .lock()
            .expect("token cache")
            .remove(grant_id.unwrap_or_default());
    }

    /// Sends an authenticated request: the token in the DPoP scheme and a fresh proof. A read
    /// that meets a database outage (503) is retried a few times, after the server's
    /// Retry-After; a write is not, since it may have been applied.
    pub(crate) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        grant_id: Option<&str>,
        body: Option<&(impl Serialize + ?Sized)>,
        extra: Option<(header::HeaderName, String)>,
    ) -> Result<reqwest::Response> {
        let mut renewed = false;
        let mut retries = 0;
        loop {
            let token = self.token(grant_id).await?.token;
            let path = path_and_query.split('?').next().unwrap_or_default();
            let proof = proofs::dpop(
                &self.key,
                method.as_str(),
                &format!("{}{path}", self.base),
                Some(&token),
            );
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path_and_query}", self.base))
                .header(header::AUTHORIZATION, format!("DPoP {token}"))
                .header("DPoP", proof);
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some((name, value)) = &extra {
                request = request.header(name.clone(), value.clone());
            }
            let response = request.send().await?;
            if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                return Ok(response);
            }
            let wait = retry_after(&response, retries);
            let error = Self::problem(response).await;
            if method == Method::GET && retries < RETRIES_ON_503 && is_transient(&error) {
                retries += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            // A token can die early (key rotation on the server, clock skew): renew once.
            if !renewed && error.problem_type() == Some(ProblemType::InvalidToken) {
                renewed = true;
                self.forget_token(grant_id);
                continue;
            }
            if error.problem_type() == Some(ProblemType::ConsentInactive) {
                self.forget_token(grant_id);
            }
            return Err(error);
        }
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        grant_id: Option<&str>,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        Ok(self
            .send(method, path, grant_id, body, None)
            .await?
            .json()
            .await?)
    }

    // -----------------------------------------------------------------------------------------
    // Parties

    /// Sends `body` to `url` without a token (registration, joining): the caller proves
    /// possession of its key inside the body instead.
    pub(crate) async fn post_anonymous<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        let response = self.http.post(url).json(body).send().await?;
        if !response.status().is_success() {
            return Err(Self::problem(response).await);
        }
        Ok(response.json().await?)
    }

    /// Registers this client's key as a new employee, proving possession of the key.
    pub async fn register_employee(&mut self, display_name: &str) -> Result<Party> {
        let url = format!("{}{}", self.base, paths::PARTIES);
        let body = RegisterEmployee {
            display_name: display_name.into(),
            jwk: self.key.public_jwk().clone(),
            proof: proofs::key_proof(&self.key, &url),
        };
        let party: Party = self.post_anonymous(&url, &body).await?;
        self.party_id = Some(party.id.clone());
        Ok(party)
    }

    /// Joins an organisation with an invitation code: registers this client's key as a new
    /// member (proving possession of the key) and becomes that party. A clinician gives their
    /// `registration`; other roles give none.
    pub async fn redeem_invitation(
        &mut self,
        code: &str,
        display_name: &str,
        registration: Option<ProfessionalRegistration>,
    ) -> Result<Party> {
        let url = format!("{}{}", self.base, paths::INVITATIONS_REDEEM);
        let body = RedeemInvitation {
            code: code.trim().to_owned(),
            display_name: display_name.into(),
            jwk: self.key.public_jwk().clone(),
            proof: proofs::key_proof(&self.key, &url),
            registration,
        };
        let party: Party = self.post_anonymous(&url, &body).await?;
        self.party_id = Some(party.id.clone());
        Ok(party)
    }

    /// Becomes an admin with the operator's one-time invitation (`work-passport-server
    /// admin-link` prints it, after `#/admin-join/` in a link): registers this client's key,
    /// proving possession of it.
    pub async fn join_as_admin(&mut self, invitation: &str, display_name: &str) -> Result<Party> {
        let url = format!("{}{}", self.base, paths::ADMIN_JOIN);
        let body = JoinAsAdmin {
            invitation: invitation.trim().to_owned(),
            display_name: display_name.into(),
            jwk: self.key.public_jwk().clone(),
            proof: proofs::key_proof(&self.key, &url),
        };
        let party: Party = self.post_anonymous(&url, &body).await?;
        self.party_id = Some(party.id.clone());
        Ok(party)
    }

    /// As an admin: enrols an employer, a professional or another admin with their public key.
    pub async fn enrol(
        &self,
        kind: PartyKind,
        display_name: &str,
        jwk: &PublicJwk,
        registration: Option<ProfessionalRegistration>,
    ) -> Result<Party> {
        let body = EnrolParty {
            kind,
            display_name: display_name.into(),
            jwk: jwk.clone(),
            registration,
        };
        self.call(Method::POST, paths::ADMIN_PARTIES, None, Some(&body))
            .await
    }

    pub async fn me(&self) -> Result<Me> {
        self.call(Method::GET, paths::ME, None, None::<&()>).await
    }

    /// A party's public facts and keys (cached: used to check signatures).
    pub async fn party(&self, id: &str) -> Result<Party> {
        if let Some(p) = self.parties.lock().expect("party cache").get(id) {
            return Ok(p.clone());
        }
        self.refresh_party(id).await
    }

    pub(crate) async fn refresh_party(&self, id: &str) -> Result<Party> {
        let party: Party = self
            .call(Method::GET, &paths::party(id), None, None::<&()>)
            .await?;
        self.parties
            .lock()
            .expect("party cache")
            .insert(id.to_owned(), party.clone());
        Ok(party)
    }

    /// Adds `new_key` to this party (key rotation), proving possession of it.
    pub async fn add_key(&self, new_key: &SigningKey) -> Result<Party> {
        let path = paths::party_keys(self.party_id()?);
        let body = AddKey {
            jwk: new_key.public_jwk().clone(),
            proof: proofs::key_proof(new_key, &format!("{}{path}", self.base)),
        };
        self.call(Method::POST, &path, None, Some(&body)).await
    }

    pub async fn revoke_key(&self, kid: &str) -> Result<Party> {
        let path = paths::party_key_revoke(self.party_id()?, kid);
        self.call(Method::POST, &path, None, None::<&()>).await
    }

    // -----------------------------------------------------------------------------------------
    // Organisations and their people

    /// As the service admin: creates an employer or a practice (without keys: its members act
    /// for it).
    pub async fn create_organisation(&self, kind: PartyKind, display_name: &str) -> Result<Party> {
        let body = CreateOrganisation {
            kind,
            display_name: display_name.into(),
        };
        self.call(Method::POST, paths::ADMIN_ORGANISATIONS, None, Some(&body))
            .await
    }

    /// `path` with the query `pairs`, encoded.
    fn with_query(&self, path: &str, pairs: &[(&str, &str)]) -> Result<String> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), pairs)
            .map_err(|e| ClientError::Other(format!("the server URL: {e}")))?;
        Ok(format!("{path}?{}", url.query().unwrap_or_default()))
    }

    /// Organisations that chose to be listed and whose name contains `name` (any case; at
    /// most 20), with the place and line each gave: how an employee finds whom to share with.
    pub async fn find_organisations(&self, name: &str) -> Result<Vec<OrganisationEntry>> {
        let path = self.with_query(paths::ORGANISATIONS, &[("name", name)])?;
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// The organisation whose share code is `code` (as its members show it, `K7PD-4MQX-93HN`;
    /// case, spaces and hyphens do not matter), listed or not.
    pub async fn organisation_by_share_code(&self, code: &str) -> Result<OrganisationEntry> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ClientError::Other(
                "a share code is letters and digits, like K7PD-4MQX-93HN".into(),
            ));
        }
        self.call(Method::GET, &paths::share_code(code), None, None::<&()>)
            .await
    }

    /// As the service admin or an active member of `organisation`: whether it is listed, what
    /// its listing says, and its share code.
    pub async fn organisation_listing(&self, organisation: &str) -> Result<OrganisationListing> {
        let path = paths::organisation_listing(organisation);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// As the service admin or an `org_admin` of `organisation`: lists it in the directory (or
    /// takes it out), sets its place and line, or gives it a new share code.
    pub async fn set_organisation_listing(
        &self,
        organisation: &str,
        listing: &SetListing,
    ) -> Result<OrganisationListing> {
        let path = paths::organisation_listing(organisation);
        self.call(Method::PUT, &path, None, Some(listing)).await
    }

    /// As the service admin: every organisation made here (at most 200, by name), or those
    /// whose name contains `name`.
    pub async fn organisations(&self, name: Option<&str>) -> Result<Vec<OrganisationSummary>> {
        let path = match name {
            Some(name) => self.with_query(paths::ADMIN_ORGANISATIONS, &[("name", name)])?,
            None => paths::ADMIN_ORGANISATIONS.to_owned(),
        };
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// As the service admin or an `org_admin` of `organisation`: invites a person to join as
    /// `role`, for `days` (the server's default, 7, without). The answer holds the code, once.
    pub async fn invite(
        &self,
        organisation: &str,
        role: Role,
        days: Option<i64>,
    ) -> Result<Invitation> {
        let body = CreateInvitation {
            role,
            expires_in_days: days,
            email: None,
        };
        let path = paths::organisation_invitations(organisation);
        self.call(Method::POST, &path, None, Some(&body)).await
    }

    /// As [`Client::invite`], and the server emails the link to join to `email` (a server
    /// that sends no email refuses, 409).
    pub async fn invite_by_email(
        &self,
        organisation: &str,
        role: Role,
        days: Option<i64>,
        email: &str,
    ) -> Result<Invitation> {
        let body = CreateInvitation {
            role,
            expires_in_days: days,
            email: Some(email.to_owned()),
        };
        let path = paths::organisation_invitations(organisation);
        self.call(Method::POST, &path, None, Some(&body)).await
    }

    /// The invitations of `organisation` (without their codes).
    pub async fn invitations(&self, organisation: &str) -> Result<Vec<Invitation>> {
        let path = paths::organisation_invitations(organisation);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// Revokes a pending invitation: its code no longer works.
    pub async fn revoke_invitation(
        &self,
        organisation: &str,
        invitation: &str,
    ) -> Result<Invitation> {
        let path = paths::organisation_invitation_revoke(organisation, invitation);
        self.call(Method::POST, &path, None, None::<&()>).await
    }

    /// The members of `organisation`, removed ones included (with `removed_at`).
    pub async fn members(&self, organisation: &str) -> Result<Vec<Member>> {
        let path = paths::organisation_members(organisation);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// Removes `member` from `organisation` (a member removing themself leaves): they act for
    /// it no more, and their consent tokens stop working on their next request.
    pub async fn remove_member(&self, organisation: &str, member: &str) -> Result<Member> {
        let path = paths::organisation_member_remove(organisation, member);
        self.call(Method::POST, &path, None, None::<&()>).await
    }

    // -----------------------------------------------------------------------------------------
    // Access requests: a member asks, the employee decides

    /// As a member of `organisation`: asks an employee for access. The answer holds the
    /// one-time code to give the employee; the request grants nothing by itself.
    pub async fn request_access(
        &self,
        organisation: &str,
        request: &CreateAccessRequest,
    ) -> Result<AccessRequest> {
        let path = paths::organisation_access_requests(organisation);
        self.call(Method::POST, &path, None, Some(request)).await
    }

    /// The access requests of `organisation` (without their codes).
    pub async fn access_requests(&self, organisation: &str) -> Result<Vec<AccessRequest>> {
        let path = paths::organisation_access_requests(organisation);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// As the employee: who asks for what, and why, under `code`.
    pub async fn open_access_request(&self, code: &str) -> Result<AccessRequest> {
        let body = AccessRequestCode {
            code: code.trim().to_owned(),
        };
        self.call(Method::POST, paths::ACCESS_REQUESTS_OPEN, None, Some(&body))
            .await
    }

    /// As the employee: approves, as asked or narrowed; this makes the grant.
    pub async fn approve_access_request(&self, approval: &ApproveAccessRequest) -> Result<Grant> {
        self.call(
            Method::POST,
            paths::ACCESS_REQUESTS_APPROVE,
            None,
            Some(approval),
        )
        .await
    }

    /// As the employee: declines the request under `code`.
    pub async fn decline_access_request(&self, code: &str) -> Result<AccessRequest> {
        let body = AccessRequestCode {
            code: code.trim().to_owned(),
        };
        self.call(
            Method::POST,
            paths::ACCESS_REQUESTS_DECLINE,
            None,
            Some(&body),
        )
        .await
    }

    // -----------------------------------------------------------------------------------------
    // Passports and grants

    /// As an employee: creates this party's passport.
    pub async fn create_passport(&self) -> Result<PassportInfo> {
        self.call(Method::POST, paths::PASSPORTS, None, None::<&()>)
            .await
    }

    /// The passport `id`, as its owner.
    pub fn own_passport(&self, id: &str) -> PassportClient<'_> {
        PassportClient::new(self, id.to_owned(), None)
    }

    /// The passport shared under `grant_id`, as its grantee: obtains a consent token.
    pub async fn granted_passport(&self, grant_id: &str) -> Result<PassportClient<'_>> {
        let token = self.token(Some(grant_id)).await?;
        let pid = token
            .passport_id
            .ok_or_else(|| ClientError::Protocol("a consent token without its passport".into()))?;
        let consent = Consent {
            grant_id: grant_id.to_owned(),
            scopes: token.scopes.unwrap_or_default(),
            on_behalf_of: token.on_behalf_of,
        };
        Ok(PassportClient::new(self, pid, Some(consent)))
    }

    /// As a grantee: the grants made to this party; for a member, the grants to their
    /// organisation that cover them.
    pub async fn grants_to_me(&self) -> Result<Vec<Grant>> {
        self.call(Method::GET, paths::GRANTS, None, None::<&()>)
            .await
    }
}

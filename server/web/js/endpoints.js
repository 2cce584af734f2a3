// Generated from wp_schemas::paths (schemas/src/paths.rs): do not edit. The server's
// `generated_files` test keeps it in step; `UPDATE_SCHEMAS=1 cargo test -p wp-server
// --test openapi_file` writes it again.

export const healthz = "/healthz";
export const readyz = "/readyz";
export const jwks = "/.well-known/jwks.json";
export const openapi = "/openapi.json";
export const token = "/v1/token";
export const parties = "/v1/parties";
export const adminJoin = "/v1/admin/join";
export const adminParties = "/v1/admin/parties";
export const me = "/v1/me";
export const party = (partyId) => `/v1/parties/${partyId}`;
export const partyKeys = (partyId) => `/v1/parties/${partyId}/keys`;
export const partyKeyRevoke = (partyId, kid) => `/v1/parties/${partyId}/keys/${kid}/revoke`;
export const passports = "/v1/passports";
export const passport = (pid) => `/v1/passports/${pid}`;
export const passportExport = (pid) => `/v1/passports/${pid}/export`;
export const passportImport = "/v1/passports/import";
export const passportChanges = (pid) => `/v1/passports/${pid}/changes`;
export const passportAccessLog = (pid) => `/v1/passports/${pid}/access-log`;
export const passportRecords = (pid) => `/v1/passports/${pid}/records`;
export const passportRecord = (pid, rid) => `/v1/passports/${pid}/records/${rid}`;
export const passportRecordVersions = (pid, rid) => `/v1/passports/${pid}/records/${rid}/versions`;
export const passportGrants = (pid) => `/v1/passports/${pid}/grants`;
export const passportGrantRevoke = (pid, gid) => `/v1/passports/${pid}/grants/${gid}/revoke`;
export const grants = "/v1/grants";
export const adminOrganisations = "/v1/admin/organisations";
export const organisations = "/v1/organisations";
export const shareCode = (shareCode) => `/v1/share-codes/${shareCode}`;
export const organisationListing = (oid) => `/v1/organisations/${oid}/listing`;
export const organisationInvitations = (oid) => `/v1/organisations/${oid}/invitations`;
export const organisationInvitationRevoke = (oid, iid) => `/v1/organisations/${oid}/invitations/${iid}/revoke`;
export const invitationsRedeem = "/v1/invitations/redeem";
export const organisationMembers = (oid) => `/v1/organisations/${oid}/members`;
export const organisationMemberRemove = (oid, mid) => `/v1/organisations/${oid}/members/${mid}/remove`;
export const organisationAccessRequests = (oid) => `/v1/organisations/${oid}/access-requests`;
export const accessRequestsOpen = "/v1/access-requests/open";
export const accessRequestsApprove = "/v1/access-requests/approve";
export const accessRequestsDecline = "/v1/access-requests/decline";

// The JSON API, as docs/PROTOCOL.md describes it: key proofs, client assertions, DPoP proofs
// and tokens. Every request is signed here, in the browser, with the device's key.

import * as jose from "./jose.js";
import * as paths from "./endpoints.js";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** The server's public base URL (the page is served with it): DPoP `htu`s and `aud`s use it. */
export const BASE = document.querySelector('meta[name="wp-base"]').content;

/** A refusal from the server: an RFC 9457 problem, or a network failure. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
    this.kind = (problem.type || "").replace("urn:work-passport:problem:", "");
  }
}

async function send(method, path, { headers = {}, body, form } = {}) {
  const init = { method, headers: { ...headers }, cache: "no-store", referrerPolicy: "no-referrer" };
  if (form) {
    init.body = new URLSearchParams(form);
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { title: "The server could not be reached. Check your connection and try again." });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json || {});
  return json;
}

/** A key proof (section 3.1): signed by the key being registered, for exactly `path`. */
async function keyProof(keyPair, jwk, path) {
  const iat = jose.now();
  return jose.sign(
    keyPair.privateKey,
    { alg: "EdDSA", typ: "JWT", kid: jwk.kid },
    { aud: BASE + path, iat, exp: iat + 120, jti: crypto.randomUUID() },
  );
}

/** Registers a new employee with `keyPair`; answers the Party. */
export async function register(displayName, keyPair) {
  const jwk = await jose.publicJwk(keyPair.publicKey);
  const proof = await keyProof(keyPair, jwk, paths.parties);
  return send("POST", paths.parties, { body: { display_name: displayName, jwk, proof } });
}

/** Joins an organisation with an invitation code and `keyPair`; answers the Party. */
export async function redeemInvitation(code, displayName, keyPair, registration) {
  const jwk = await jose.publicJwk(keyPair.publicKey);
  const proof = await keyProof(keyPair, jwk, paths.invitationsRedeem);
  const body = { code, display_name: displayName, jwk, proof };
  if (registration) body.registration = registration;
  return send("POST", paths.invitationsRedeem, { body });
}

/** Becomes an admin with the operator's one-time invitation and `keyPair`; answers the Party. */
export async function joinAsAdmin(invitation, displayName, keyPair) {
  const jwk = await jose.publicJwk(keyPair.publicKey);
  const proof = await keyProof(keyPair, jwk, paths.adminJoin);
  return send("POST", paths.adminJoin, { body: { invitation, display_name: displayName, jwk, proof } });
}

/** A request made without signing in: the links an email carries (verify an address,
 * unsubscribe), whose code or token is the proof. */
export function publicCall(method, path, body) {
  return send(method, path, { body });
}

/** One party signed in with one key: obtains tokens and signs each request. */
export class Session {
  constructor(partyId, keyPair, jwk) {
    this.partyId = partyId;
    this.keyPair = keyPair;
    this.jwk = jwk;
    this.tokens = new Map();
  }

  async dpop(method, path, token) {
    const claims = { jti: crypto.randomUUID(), htm: method, htu: BASE + path.split("?")[0], iat: jose.now() };
    if (token) claims.ath = await jose.hash(token);
    return jose.sign(this.keyPair.privateKey, { alg: "EdDSA", typ: "dpop+jwt", jwk: this.jwk }, claims);
  }

  /** A token: the access token, or with `grantId` a consent token (section 4). */
  async token(grantId) {
    const slot = grantId || "";
    const cached = this.tokens.get(slot);
    if (cached && cached.expires > jose.now() + 30) return cached;
    const iat = jose.now();
    const assertion = await jose.sign(
      this.keyPair.privateKey,
      { alg: "EdDSA", kid: this.jwk.kid, typ: "JWT" },
      { iss: this.partyId, sub: this.partyId, aud: BASE + paths.token, iat, exp: iat + 120, jti: crypto.randomUUID() },
    );
    const form = { grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: assertion };
    if (grantId) form.grant_id = grantId;
    const answer = await send("POST", paths.token, { headers: { DPoP: await this.dpop("POST", paths.token) }, form });
    const token = { ...answer, expires: iat + answer.expires_in };
    this.tokens.set(slot, token);
    return token;
  }

  /** An authenticated call; under `grantId`, with that grant's consent token. */
  async call(method, path, body, grantId) {
    const { access_token } = await this.token(grantId);
    const headers = { Authorization: "DPoP " + access_token, DPoP: await this.dpop(method, path, access_token) };
    return send(method, path, { headers, body });
  }

  /** Adds `keyPair` (another device, or the recovery key) to this party. */
  async addKey(keyPair) {
    const jwk = await jose.publicJwk(keyPair.publicKey);
    const path = paths.partyKeys(this.partyId);
    return this.call("POST", path, { jwk, proof: await keyProof(keyPair, jwk, path) });
  }

  /** Signs a record version (section 6.1) with this session's key. */
  async signVersion(fields) {
    const payload = { ...fields, author: this.partyId, iat: jose.now() };
    return jose.sign(this.keyPair.privateKey, { alg: "EdDSA", typ: "wp-version+jws", kid: this.jwk.kid }, payload);
  }

  forget() {
    this.tokens.clear();
  }
}

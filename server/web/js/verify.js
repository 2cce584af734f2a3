// Verification on this device (docs/PROTOCOL.md 6.3 and 10): nothing the server says about a
// version or the access log is shown as trusted until its signature and chain check here.

import * as jose from "./jose.js";
import * as paths from "./endpoints.js";

/** Looks up and caches authors, and checks versions and the log. */
export class Verifier {
  constructor(session, grantId, passportId) {
    this.session = session;
    this.grantId = grantId;
    this.passportId = passportId;
    this.parties = new Map();
  }

  async party(id) {
    if (!this.parties.has(id)) {
      this.parties.set(id, this.session.call("GET", paths.party(id), undefined, this.grantId));
    }
    return this.parties.get(id);
  }

  /** `{ok, author, reason}` for one envelope: hash, header, signature, payload fields. */
  async version(envelope) {
    const fail = (reason, author) => ({ ok: false, author, reason });
    if ((await jose.hash(envelope.jws)) !== envelope.hash) return fail("its hash does not match");
    let header, payload;
    try {
      ({ header, payload } = jose.decode(envelope.jws));
    } catch {
      return fail("it is not a readable signed version");
    }
    if (header.alg !== "EdDSA" || header.typ !== "wp-version+jws") return fail("its header is wrong");
    let author;
    try {
      author = await this.party(envelope.author);
    } catch {
      return fail("its author could not be looked up");
    }
    const created = Date.parse(envelope.created_at);
    const key = author.keys.find(
      (k) => k.kid === header.kid && (!k.revoked_at || Date.parse(k.revoked_at) > created),
    );
    if (!key) return fail("it is signed with a key its author did not hold", author);
    if (!(await jose.verify(envelope.jws, key.jwk))) return fail("its signature does not verify", author);
    const same =
      (!this.passportId || payload.passport === this.passportId) &&
      payload.record === envelope.record_id &&
      payload.section === envelope.section &&
      payload.version === envelope.version &&
      payload.author === envelope.author &&
      (payload.deleted === true) === envelope.deleted;
    if (!same) return fail("what it says does not match what the server says", author);
    return { ok: true, author, payload };
  }

  /** Checks a record's whole history, oldest first: each version and the chain. */
  async history(versions) {
    const results = [];
    let prev;
    for (const [i, envelope] of versions.entries()) {
      const result = await this.version(envelope);
      if (result.ok) {
        const expected = i === 0 ? undefined : prev;
        if (result.payload.version !== i + 1 || result.payload.prev !== expected) {
          results.push({ ...result, ok: false, reason: "it does not follow the version before it" });
          prev = envelope.hash;
          continue;
        }
      }
      results.push(result);
      prev = envelope.hash;
    }
    return results;
  }
}

/** Checks the access log's hash chain from entry 1 (entries in any order). */
export async function verifyLog(passportId, entries) {
  const sorted = [...entries].sort((a, b) => a.seq - b.seq);
  let prev = await jose.hash("work-passport/access-log/" + passportId);
  for (const [i, e] of sorted.entries()) {
    if (e.seq !== i + 1 || e.prev_hash !== prev) return { ok: false, at: e.seq };
    const members = [
      e.passport_id, e.seq, Math.floor(Date.parse(e.at) / 1000), e.actor ?? null, e.grant_id ?? null,
      e.action, e.sections ?? [], e.outcome, e.reason, e.prev_hash,
    ];
    if (e.on_behalf_of) members.push([e.on_behalf_of.organisation, e.on_behalf_of.role]);
    if ((await jose.hash(JSON.stringify(members))) !== e.hash) return { ok: false, at: e.seq };
    prev = e.hash;
  }
  return { ok: true, count: sorted.length };
}

// The passport travels (docs/BUNDLE.md): download it as a bundle checked and co-signed on this
// device, and move it to another Work Passport server with the recovery key.

import * as api from "../api.js";
import * as jose from "../jose.js";
import { Verifier, verifyLog } from "../verify.js";
import { button, choices, clearErrors, h, page, para, submit, warning } from "../ui.js";
import { busy, explain, go, refuse } from "../flow.js";
import { state } from "../session.js";
import { lockFields, readLock, withNewDeviceKey } from "./unlock.js";
import * as paths from "../endpoints.js";

const FORMAT = "work-passport-bundle/2";
const FORMAT_V1 = "work-passport-bundle/1";

/** RFC 8785 (JCS) for the JSON a bundle holds: members sorted, no white space. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const members = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${members.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The owner's signature over the bundle's body (BUNDLE.md section 3), by `session`'s key. */
async function cosign(bundle, session) {
  const payload = { passport: bundle.body.passport_id, owner: bundle.body.owner, digest: await jose.hash(canonical(bundle.body)), iat: jose.now() };
  return jose.sign(session.keyPair.privateKey, { alg: "EdDSA", typ: "wp-bundle+jws", kid: session.jwk.kid }, payload);
}

/** The server's attestation over the whole body (BUNDLE.md section 2), checked against the
 * keys this server publishes: answers the attestation key's thumbprint, shown to the owner. */
async function checkAttestation(bundle) {
  const fail = () => { throw new Error("The server's attestation of the download does not verify: it was not signed."); };
  if (typeof bundle.attestation !== "string") fail();
  const { header, payload } = jose.decode(bundle.attestation);
  const response = await fetch(paths.jwks);
  const published = response.ok ? (await response.json()).keys || [] : [];
  const key = published.find((k) => k.kid === header.kid);
  if (header.typ !== "wp-bundle-attestation+jws" || !key || !(await jose.verify(bundle.attestation, key))) fail();
  const body = bundle.body;
  if (payload.server !== body.server || payload.passport !== body.passport_id || payload.owner !== body.owner
    || payload.digest !== await jose.hash(canonical(body))) fail();
  return header.kid;
}

/** Checks, before signing, that every version verifies with its author's key as the bundle
 * gives it, every record's chain, and the access log's chain. */
async function check(body) {
  const verifier = new Verifier(state.session, undefined, body.passport_id);
  for (const p of body.parties) verifier.parties.set(p.id, Promise.resolve(p));
  const records = new Map();
  for (const v of body.versions) records.set(v.record_id, [...(records.get(v.record_id) || []), v]);
  for (const versions of records.values()) {
    const failed = (await verifier.history(versions)).find((r) => !r.ok);
    if (failed) throw new Error(`A version in the download does not verify (${failed.reason}): it was not signed.`);
  }
  const log = await verifyLog(body.passport_id, body.access_log);
  if (!log.ok) throw new Error(`The access log in the download is broken at entry ${log.at}: it was not signed.`);
  return { versions: body.versions.length, records: records.size, entries: body.access_log.length };
}

export async function download() {
  const out = h("div", { id: "download" });
  page(
    "Download your passport",
    para("One file with every version of every record as its author signed it, the keys that check them, who you shared with and the words you agreed, and your whole access log. This device checks it and signs it as released by you."),
    para("Anyone can check the file without a server, and another Work Passport server can take it in."),
    warning("The file holds your health information. Keep it as safe as your passport."),
    h("p", {}, button("Download my passport", async (event) => {
      event.target.disabled = true;
      try {
        const bundle = await state.session.call("GET", paths.passportExport(state.passportId));
        if (bundle.format !== FORMAT || bundle.body.owner !== state.session.partyId) throw new Error("The server sent something that is not your passport.");
        const counts = await check(bundle.body);
        const serverKey = await checkAttestation(bundle);
        bundle.owner_signature = await cosign(bundle, state.session);
        const url = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: "application/json" }));
        out.replaceChildren(
          para(`Checked and signed: ${counts.versions} versions of ${counts.records} records, ${counts.entries} access-log entries.`),
          para("This server vouched for the file with its key ", h("code", { dir: "ltr" }, serverKey), ". Keep a note of it: with it anyone can check later that the file came from here."),
          h("p", {}, h("a", { href: url, download: "work-passport.json", class: "button" }, "Save the file")),
        );
        out.querySelector("a").focus();
      } catch (e) {
        refuse([{ text: e instanceof api.ApiError ? explain(e) : e.message }]);
      } finally {
        event.target.disabled = false;
      }
    })),
    out,
    h("h2", { class: "heading-m" }, "Move to another Work Passport server"),
    para("Open the other server's pages, choose \"Move a passport here\", and give it this file and your recovery key. Then erase your passport here."),
  );
}

/** On the new server: the bundle and the recovery key; the key registers here, re-signs the
 * bundle as its owner, and the passport continues here. */
export async function moveHere() {
  const fileField = (id, label, hint) => h("div", { class: "form-group", "data-field": id },
    h("label", { class: "label", for: id }, label),
    h("div", { class: "hint", id: `${id}-hint` }, hint),
    h("input", { class: "file-upload", id, name: id, type: "file", accept: ".json,application/json", "aria-describedby": `${id}-hint` }));
  const form = h("form", { novalidate: true },
    fileField("bundle", "Your passport file", "The work-passport.json you downloaded from your old server."),
    fileField("key", "Your recovery key file", "The work-passport-recovery-key.json you saved when you made your passport."),
    lockFields(),
    submit("Move my passport here"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const read = async (id) => {
      const file = form.elements[id].files[0];
      try {
        return file && JSON.parse(await file.text());
      } catch {
        return null;
      }
    };
    const [bundle, key] = [await read("bundle"), await read("key")];
    const chosen = (id) => form.elements[id].files.length > 0;
    const errors = [];
    if (bundle?.format === FORMAT_V1) {
      errors.push({ id: "bundle", text: "This file was downloaded before Work Passport servers vouched for their downloads: download your passport again from your old server" });
    } else if (bundle?.format !== FORMAT) {
      errors.push({ id: "bundle", text: chosen("bundle") ? "This file is not a Work Passport download: choose work-passport.json" : "Choose your passport file (work-passport.json)" });
    }
    if (key?.type !== "work-passport-recovery-key") {
      errors.push({ id: "key", text: chosen("key") ? "This file is not a Work Passport recovery key" : "Choose your recovery key file" });
    }
    const acknowledged = form.elements.acknowledge?.checked === true;
    if (form.elements.acknowledge && !acknowledged) {
      errors.push({ id: "acknowledge", text: "Confirm that you downloaded this file yourself from your old server, or choose another file" });
    }
    errors.push(...readLock(form).errors);
    if (errors.length) return refuse(errors);
    await busy(form, "Moving your passport", async () => {
      try {
        await move(form, bundle, key, acknowledged);
      } catch (e) {
        if (!(e instanceof api.ApiError && e.kind === "origin-unverified") || form.elements.acknowledge) throw e;
        // This server cannot ask the old one whether it made the file: the owner decides.
        form.querySelector("button").before(unverifiedOrigin(bundle.body.server));
        refuse([{ id: "acknowledge", text: `This server could not check with ${bundle.body.server} that the file came from there: confirm that you downloaded it yourself, or choose another file` }]);
      }
    });
  });
  page("Move a passport here", para("Your passport continues on this server with its whole history: every version keeps its signature, and the access log carries on. Sharing does not move: share again here."), form);
}

/** What the owner must know and confirm before a file whose origin could not be checked moves. */
function unverifiedOrigin(server) {
  return h("div", {},
    warning(`This server could not check with ${server} that the file came from there: this server does not know that server, or could not reach it. Without that check, nothing proves that the people named in the file, and their keys, are who the file says.`),
    choices({
      id: "acknowledge",
      legend: "Did you download this file yourself from your old server?",
      hint: "Only continue with a file you downloaded yourself and kept safe. Your access log will say that the file's origin could not be checked.",
      type: "checkbox",
      options: [["yes", `Yes, I downloaded it myself from ${server}, move it here anyway`]],
    }));
}

// The party registered here for a recovery key, kept for a second attempt (after the owner
// confirmed an origin this server could not check) so the key is not registered twice.
const registered = new Map();

async function move(form, bundle, file, acknowledged) {
  const recovery = await jose.importPrivateJwk(file.jwk);
  const owner = bundle.body.parties.find((p) => p.id === bundle.body.owner);
  // Before anything is registered here: a key that is not the owner's would leave a party on
  // this server that holds no passport, and the server would refuse the bundle anyway.
  const { kid } = await jose.publicJwk(recovery.publicKey);
  if (!owner?.keys?.some((k) => k.kid === kid && !k.revoked_at)) {
    return refuse([{ id: "key", text: "This recovery key is not the one for this passport: choose the recovery key file saved with it" }]);
  }
  if (!registered.has(kid)) registered.set(kid, await api.register(owner?.display_name || file.name, recovery));
  const party = registered.get(kid);
  const viaRecovery = new api.Session(party.id, recovery, await jose.publicJwk(recovery.publicKey));
  bundle.owner_signature = await cosign(bundle, viaRecovery);
  await viaRecovery.call("POST", paths.passportImport + (acknowledged ? "?acknowledge_unverified_origin=true" : ""), bundle);
  const moved = await withNewDeviceKey(form, party.display_name, async (device) =>
    ({ party: await viaRecovery.addKey(device), recoveryKid: viaRecovery.jwk.kid }));
  if (moved) go("/passport", "Your passport moved here. Share it again with whoever needs it, then erase it at the old server.");
}

// Who is signed in on this page, and the passport they are looking at. Passport contents are
// kept nowhere but in the page's memory; the device's key is in IndexedDB (keystore.js).

import * as api from "./api.js";
import * as jose from "./jose.js";
import * as keystore from "./keystore.js";
import * as paths from "./endpoints.js";

/** Who is signed in, their passport, and `signedOut` once they sign out of this page. */
export const state = { session: null, me: null, passportId: null, device: null, recovery: null, signedOut: false };

/** Signs in with this device's key, if it has one for this server. */
export async function resume() {
  state.signedOut = false;
  const device = await keystore.load();
  if (!device || device.base !== api.BASE) return false;
  state.device = device;
  state.session = new api.Session(device.partyId, device, device.jwk);
  const me = await state.session.call("GET", paths.me);
  state.me = me.party;
  state.passportId = me.passport_id || null;
  return true;
}

/** Keeps `keyPair` as this device's key for `party` (in IndexedDB) and signs in with it. */
export async function adopt(keyPair, party, recoveryKid) {
  const jwk = await jose.publicJwk(keyPair.publicKey);
  const device = { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey, jwk, partyId: party.id, name: party.display_name, base: api.BASE };
  await keystore.save(recoveryKid ? { ...device, recoveryKid } : device);
  state.session = null;
  return resume();
}

/** Where each kind of person starts. */
export function home() {
  return { employee: "/passport", admin: "/admin" }[state.me?.kind] || "/shared";
}

/** The owner's own passport, as a place pages read and write in. */
export function own() {
  return { passportId: state.passportId, grantId: undefined, home: "/passport", prefix: "" };
}

/** A passport shared with this person under `grantId` (a consent token names it). */
export async function granted(grantId) {
  const token = await state.session.token(grantId);
  return { passportId: token.passport_id, grantId, home: `/shared/${grantId}`, prefix: `/shared/${grantId}`, scopes: token.scopes };
}

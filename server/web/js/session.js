// Who is signed in on this page, and the passport they are looking at. Passport contents are
// kept nowhere but in the page's memory. The device's key is in IndexedDB (keystore.js), locked
// (lock.js): it opens only with the person's unlock, and only in the page's memory.

import * as api from "./api.js";
import * as jose from "./jose.js";
import * as keystore from "./keystore.js";
import * as lock from "./lock.js";
import * as paths from "./endpoints.js";

/** Who is signed in, their passport, and this device's unlocked key (`key`). */
export const state = { session: null, me: null, passportId: null, device: null, recovery: null, key: null };

/** This device's stored record for this server: locked (`sealed`), from before the lock
 * (`privateKey`), or undefined. */
export async function thisDevice() {
  const device = await keystore.load();
  return device && device.base === api.BASE ? device : undefined;
}

/** Minutes without use before this device locks. */
export function idleMinutes(device = state.device) {
  return device?.idleMinutes || lock.DEFAULT_IDLE_MINUTES;
}

/** Signs in with this device's key if it is unlocked in this tab (this page, or a reload of it
 * within the idle time). */
export async function resume() {
  const device = await thisDevice();
  if (!device?.sealed) return false;
  const kid = device.jwk.kid;
  const privateKey = state.key?.kid === kid ? state.key.privateKey : await lock.fromTab(kid, idleMinutes(device));
  return privateKey ? start(device, privateKey) : false;
}

async function start(device, privateKey) {
  state.device = device;
  state.key = { kid: device.jwk.kid, privateKey };
  state.session = new api.Session(device.partyId, { privateKey, publicKey: device.publicKey }, device.jwk);
  const me = await state.session.call("GET", paths.me);
  state.me = me.party;
  state.passportId = me.passport_id || null;
  return true;
}

/** Unlocks this device with the key its lock gave back (lock.unlockKey), and signs in. */
export async function unlock(device, key) {
  const kid = device.jwk.kid;
  // Extractable only for the moment it takes to keep it for reloads of this tab.
  await lock.rememberInTab(await lock.unwrap(device.sealed, key, kid, true), kid);
  return start(device, await lock.unwrap(device.sealed, key, kid));
}

/** Keeps `keyPair` (made extractable for this, and never stored so) as this device's key for
 * `party`, locked as `choice` says ({lock, key}, from lock.js), and signs in with it. */
export async function adopt(keyPair, party, choice, recoveryKid) {
  const jwk = await jose.publicJwk(keyPair.publicKey);
  const device = {
    publicKey: keyPair.publicKey,
    jwk,
    partyId: party.id,
    name: party.display_name,
    kind: party.kind,
    base: api.BASE,
    sealed: await lock.wrap(keyPair.privateKey, choice.key, jwk.kid),
    lock: choice.lock,
    idleMinutes: lock.DEFAULT_IDLE_MINUTES,
  };
  if (recoveryKid) device.recoveryKid = recoveryKid;
  await keystore.save(device);
  state.session = null;
  return unlock(device, choice.key);
}

/** Locks this device: the key and everything read with it leave the page's memory. */
export function lockNow() {
  state.session?.forget();
  lock.forgetTab();
  Object.assign(state, { session: null, me: null, passportId: null, device: null, recovery: null, key: null });
}

/** Locks this device after its idle time without a key press, click, touch or scroll;
 * `then` shows what follows. */
export function watchIdle(then) {
  let last = Date.now();
  let kept = 0;
  const active = () => {
    last = Date.now();
    // The tab's copy learns of use at most every few seconds: enough for a reload's check.
    if (last - kept > 5_000) {
      kept = last;
      lock.touchTab();
    }
  };
  for (const type of ["keydown", "pointerdown", "wheel", "touchstart", "scroll"]) {
    window.addEventListener(type, active, { capture: true, passive: true });
  }
  const check = () => {
    if (state.key && Date.now() - last > idleMinutes() * 60_000) {
      const minutes = idleMinutes();
      lockNow();
      then(minutes);
    }
  };
  setInterval(check, 5_000);
  document.addEventListener("visibilitychange", check);
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

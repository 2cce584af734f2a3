// The device lock. At rest this browser keeps the device's private key only wrapped (AES-GCM)
// under a key that the person's unlock gives back: the PRF secret of a passkey, released by the
// authenticator only after it verifies the person (fingerprint, face or PIN), or a passphrase
// stretched by PBKDF2. Unwrapped, the key is a non-extractable CryptoKey in the page's memory.
// docs/PROTOCOL.md ("The pages' device lock") says why each choice was made.

const utf8 = new TextEncoder();
const ED25519 = { name: "Ed25519" };
const AES = { name: "AES-GCM", length: 256 };

/** PBKDF2-HMAC-SHA256 rounds for a new passphrase lock (OWASP's figure for 2023 and after). */
export const PBKDF2_ITERATIONS = 600_000;
/** The shortest passphrase accepted. */
export const MIN_PASSPHRASE = 12;
/** Minutes without use before the device locks itself, unless the person chose otherwise. */
export const DEFAULT_IDLE_MINUTES = 15;
export const IDLE_CHOICES = [5, 15, 30, 60];

/** The unlock was refused: a wrong passphrase, or a passkey that was not used. */
export class UnlockFailed extends Error {}

function random(length) {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** Whether to offer a passkey: WebAuthn in a secure context, at a host name (it refuses IP
 * addresses). Whether the passkey can lock (its PRF) is known only once it is made. */
export function passkeyPossible() {
  return Boolean(window.PublicKeyCredential && window.isSecureContext) && !/^[\d.]+$|^\[/.test(location.hostname);
}

async function keyFromSecret(secret) {
  const base = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: utf8.encode("work-passport device lock 1") };
  return crypto.subtle.deriveKey(params, base, AES, false, ["wrapKey", "unwrapKey"]);
}

async function keyFromPassphrase(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", utf8.encode(passphrase.normalize("NFKC")), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, AES, false, ["wrapKey", "unwrapKey"]);
}

/** A new passkey for this device's lock (`name` is the person, for the passkey's label): the
 * lock's description to store, and the key it gives. Throws UnlockFailed when the browser or the
 * authenticator cannot make one with the PRF extension. */
export async function newPasskeyLock(name) {
  const salt = random(32);
  let credential;
  try {
    credential = await navigator.credentials.create({
      publicKey: {
        rp: { name: "Work Passport" },
        user: { id: random(16), name, displayName: name },
        challenge: random(32),
        pubKeyCredParams: [-8, -7, -257].map((alg) => ({ type: "public-key", alg })),
        authenticatorSelection: { userVerification: "required", residentKey: "discouraged" },
        extensions: { prf: { eval: { first: salt } } },
      },
    });
  } catch {
    throw new UnlockFailed("No passkey was made. Try again, or use a passphrase instead.");
  }
  const prf = credential?.getClientExtensionResults().prf;
  if (!prf?.enabled && !prf?.results) {
    throw new UnlockFailed("This passkey cannot lock a device (it has no PRF). Use a passphrase instead.");
  }
  const lock = { kind: "passkey", credentialId: new Uint8Array(credential.rawId), salt };
  // Some authenticators give the PRF secret only when the passkey is used, not when it is made.
  const secret = prf.results?.first || (await passkeySecret(lock));
  return { lock, key: await keyFromSecret(secret) };
}

async function passkeySecret(lock) {
  let assertion;
  try {
    assertion = await navigator.credentials.get({
      publicKey: {
        challenge: random(32),
        allowCredentials: [{ type: "public-key", id: lock.credentialId }],
        userVerification: "required",
        extensions: { prf: { eval: { first: lock.salt } } },
      },
    });
  } catch (e) {
    console.warn(`passkey: ${e?.name}: ${e?.message}`);
    throw new UnlockFailed("Your passkey was not used. Try again.");
  }
  const secret = assertion?.getClientExtensionResults().prf?.results?.first;
  if (!secret) throw new UnlockFailed("Your passkey did not give the secret that unlocks this device.");
  return secret;
}

/** A new passphrase lock: its description to store, and the key it gives. */
export async function newPassphraseLock(passphrase) {
  const lock = { kind: "passphrase", salt: random(16), iterations: PBKDF2_ITERATIONS };
  return { lock, key: await keyFromPassphrase(passphrase, lock.salt, lock.iterations) };
}

/** The key a stored lock gives back: from the passkey (which asks the person), or from
 * `passphrase`. */
export async function unlockKey(lock, passphrase) {
  return lock.kind === "passkey" ? keyFromSecret(await passkeySecret(lock)) : keyFromPassphrase(passphrase, lock.salt, lock.iterations);
}

/** The device's private key (extractable, in memory only while it is being locked) wrapped
 * under `key`, bound to its key id: a wrapped key moved to another record does not unwrap. */
export async function wrap(privateKey, key, kid) {
  const iv = random(12);
  const wrapped = await crypto.subtle.wrapKey("pkcs8", privateKey, key, { name: "AES-GCM", iv, additionalData: utf8.encode(kid) });
  return { iv, wrapped: new Uint8Array(wrapped) };
}

/** The private key back, non-extractable unless `extractable` (to wrap it again). */
export async function unwrap(sealed, key, kid, extractable = false) {
  try {
    return await crypto.subtle.unwrapKey("pkcs8", sealed.wrapped, key, { name: "AES-GCM", iv: sealed.iv, additionalData: utf8.encode(kid) }, ED25519, extractable, ["sign"]);
  } catch {
    throw new UnlockFailed("That is not the passphrase for this device. Check it and try again.");
  }
}

// While unlocked, a reload of the page stays unlocked: the key is wrapped again under a key
// kept in sessionStorage, which belongs to this tab alone and ends with it. Signing out and the
// idle time delete both; a tab restored after the idle time has passed finds them expired.
const TAB = "work-passport-unlocked";

/** Keeps the unlocked key for reloads of this tab. */
export async function rememberInTab(privateKey, kid) {
  const key = await crypto.subtle.generateKey(AES, true, ["wrapKey", "unwrapKey"]);
  const sealed = await wrap(privateKey, key, kid);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", key));
  sessionStorage.setItem(TAB, JSON.stringify({ kid, key: [...raw], iv: [...sealed.iv], wrapped: [...sealed.wrapped], active: Date.now() }));
}

/** The key this tab kept, if it is for `kid` and was used within `idleMinutes`. */
export async function fromTab(kid, idleMinutes) {
  let kept;
  try {
    kept = JSON.parse(sessionStorage.getItem(TAB) || "null");
  } catch {
    kept = null;
  }
  if (!kept || kept.kid !== kid || Date.now() - kept.active > idleMinutes * 60_000) {
    forgetTab();
    return null;
  }
  const key = await crypto.subtle.importKey("raw", new Uint8Array(kept.key), AES, false, ["unwrapKey"]);
  try {
    return await unwrap({ iv: new Uint8Array(kept.iv), wrapped: new Uint8Array(kept.wrapped) }, key, kid);
  } catch {
    forgetTab();
    return null;
  }
}

/** Records use now, for the idle time of a reload. */
export function touchTab() {
  const text = sessionStorage.getItem(TAB);
  if (!text) return;
  try {
    sessionStorage.setItem(TAB, JSON.stringify({ ...JSON.parse(text), active: Date.now() }));
  } catch {
    forgetTab();
  }
}

export function forgetTab() {
  sessionStorage.removeItem(TAB);
}

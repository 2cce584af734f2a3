// JOSE for the browser: base64url, SHA-256, Ed25519 keys (WebCrypto), compact JWS. Every rule
// here is in docs/PROTOCOL.md sections 1, 4, 5 and 6.

const utf8 = new TextEncoder();
const ED25519 = { name: "Ed25519" };

export function b64u(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64uDecode(text) {
  const plain = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(plain + "=".repeat((4 - (plain.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** H(text): base64url(SHA-256(UTF-8 bytes)), the protocol's one hash. */
export async function hash(text) {
  return b64u(await crypto.subtle.digest("SHA-256", utf8.encode(text)));
}

/** A new key pair. A device key is made extractable only to be wrapped by the device lock
 * (lock.js) before it is stored; unwrapped, it is never extractable again. */
export function generateKey(extractable) {
  return crypto.subtle.generateKey(ED25519, extractable, ["sign", "verify"]);
}

/** The public JWK of a key pair, with its RFC 7638 thumbprint as `kid`. */
export async function publicJwk(publicKey) {
  const x = b64u(await crypto.subtle.exportKey("raw", publicKey));
  const kid = await hash(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`);
  return { kty: "OKP", crv: "Ed25519", x, kid };
}

/** The private JWK of an extractable key (the recovery key, shown once). */
export async function privateJwk(privateKey) {
  const { kty, crv, x, d } = await crypto.subtle.exportKey("jwk", privateKey);
  return { kty, crv, x, d };
}

/** A signing key from a private JWK (a recovery key file); not extractable again. */
export async function importPrivateJwk(jwk) {
  if (jwk?.kty !== "OKP" || jwk?.crv !== "Ed25519" || typeof jwk.d !== "string") {
    throw new Error("This is not a Work Passport recovery key.");
  }
  const privateKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d },
    ED25519,
    false,
    ["sign"],
  );
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: jwk.x },
    ED25519,
    true,
    ["verify"],
  );
  return { privateKey, publicKey };
}

/** A compact JWS over the JSON of `payload`. */
export async function sign(privateKey, header, payload) {
  const input =
    b64u(utf8.encode(JSON.stringify(header))) + "." + b64u(utf8.encode(JSON.stringify(payload)));
  const signature = await crypto.subtle.sign(ED25519, privateKey, utf8.encode(input));
  return input + "." + b64u(signature);
}

/** The header and payload of a compact JWS, not yet verified. */
export function decode(jws) {
  const parts = jws.split(".");
  if (parts.length !== 3) throw new Error("not a compact JWS");
  const json = (part) => JSON.parse(new TextDecoder().decode(b64uDecode(part)));
  return { header: json(parts[0]), payload: json(parts[1]) };
}

/** Whether `jws`'s signature verifies under the public JWK. */
export async function verify(jws, jwk) {
  const [header, payload, signature] = jws.split(".");
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: jwk.x },
    ED25519,
    false,
    ["verify"],
  );
  return crypto.subtle.verify(
    ED25519,
    key,
    b64uDecode(signature),
    utf8.encode(header + "." + payload),
  );
}

export function now() {
  return Math.floor(Date.now() / 1000);
}

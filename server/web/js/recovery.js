// The recovery key as a person can keep it: 80 characters in 16 groups of 5 that can be written
// down, printed or typed, besides the file. The characters are Crockford's base32 (no I, L, O
// or U; typing I or L reads as 1, O as 0; case, spaces and dashes do not matter) over 50 bytes:
// the party's id (16), the Ed25519 private key (32) and a check (the first 2 bytes of the
// SHA-256 of the 48 before it), so a mistyped character is caught before anything is sent.
// docs/PROTOCOL.md ("The recovery key as a code") describes it for other clients.

import { importPrivateJwk } from "./jose.js";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PKCS8_ED25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/** What a typed recovery key is not, in words a person can act on. */
export class CodeRefused extends Error {}

function uuidBytes(id) {
  const hex = id.replace(/-/g, "");
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

function uuidText(bytes) {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function base64urlBytes(text) {
  const plain = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(plain + "=".repeat((4 - (plain.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

async function check(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).slice(0, 2);
}

/** The code of a recovery key file's contents: "K3Q8M 1ZC0T ..." (16 groups of 5). */
export async function encode(file) {
  const body = new Uint8Array([...uuidBytes(file.party_id), ...base64urlBytes(file.jwk.d)]);
  const bytes = [...body, ...(await check(body))];
  let bits = 0;
  let value = 0;
  let text = "";
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      text += ALPHABET[(value >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return text.match(/.{5}/g).join(" ");
}

/** Whether `text` looks like a typed code rather than a pasted file. */
export function looksLikeCode(text) {
  return !text.trim().startsWith("{");
}

/** The recovery key file's contents from a typed code, or CodeRefused saying what is wrong. */
export async function decode(text) {
  const chars = text.toUpperCase().replace(/[\s-]/g, "").replace(/[IL]/g, "1").replace(/O/g, "0");
  const wrong = [...chars].filter((c) => !ALPHABET.includes(c));
  if (wrong.length) throw new CodeRefused(`Your recovery key has only letters and numbers: remove ${[...new Set(wrong)].join(" ")}`);
  if (chars.length !== 80) {
    throw new CodeRefused(`Your recovery key has 80 letters and numbers, in 16 groups of 5; you entered ${chars.length}`);
  }
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const c of chars) {
    value = ((value << 5) | ALPHABET.indexOf(c)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const body = Uint8Array.from(bytes.slice(0, 48));
  const sum = await check(body);
  if (sum[0] !== bytes[48] || sum[1] !== bytes[49]) {
    throw new CodeRefused("Your recovery key is not right: check each group of 5 against the one you kept");
  }
  const pkcs8 = new Uint8Array([...PKCS8_ED25519, ...body.slice(16)]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const { x, d } = await crypto.subtle.exportKey("jwk", key);
  await importPrivateJwk({ kty: "OKP", crv: "Ed25519", x, d });
  return { type: "work-passport-recovery-key", party_id: uuidText(body.slice(0, 16)), jwk: { kty: "OKP", crv: "Ed25519", x, d } };
}


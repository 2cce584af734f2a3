// The device lock in the pages: how a new device key is locked (the fields every form that makes
// one shows), the page that unlocks a locked device, and the one that locks a device set up
// before the lock existed.

import * as api from "../api.js";
import * as jose from "../jose.js";
import * as keystore from "../keystore.js";
import * as lock from "../lock.js";
import { button, checkedValues, choices, clearErrors, h, page, para, submit, textField, link, warning } from "../ui.js";
import { busy, go, refuse } from "../flow.js";
import { adopt, home, idleMinutes, state, unlock } from "../session.js";
import * as paths from "../endpoints.js";

const PASSPHRASE_HINT = `At least ${lock.MIN_PASSPHRASE} characters. Three or four random words are easy to remember and hard to guess. It is not sent anywhere.`;

/** The fields that choose how a new device key is locked: a passkey (where the browser can make
 * one) or a passphrase. */
export function lockFields() {
  const passphrase = h("div", { class: "lock-passphrase" },
    textField({ id: "passphrase", label: "Choose a passphrase", hint: PASSPHRASE_HINT, type: "password", autocomplete: "new-password" }),
    textField({ id: "passphrase2", label: "Enter the passphrase again", type: "password", autocomplete: "new-password" }));
  const why = `This device locks when you sign out, and after ${lock.DEFAULT_IDLE_MINUTES} minutes without use. Nobody can open Work Passport on it again without unlocking it.`;
  if (!lock.passkeyPossible()) {
    return h("div", {}, h("h2", { class: "heading-m" }, "Lock this device"), para(why), passphrase);
  }
  const radios = choices({
    id: "unlock",
    legend: "How will you unlock this device?",
    hint: why,
    options: [
      ["passkey", "With a passkey", "Your fingerprint, your face, or this device's PIN or password. Your browser asks for it."],
      ["passphrase", "With a passphrase"],
    ],
  });
  // The passphrase's fields show only once a passphrase is chosen (GOV.UK's conditional reveal).
  const reveal = () => { passphrase.hidden = !radios.querySelector('input[value="passphrase"]').checked; };
  radios.addEventListener("change", reveal);
  reveal();
  return h("div", {}, radios, passphrase);
}

/** What the lock fields of `form` say: `errors` to show, or `make(name)`, which makes the lock
 * (asking for the passkey, or stretching the passphrase) and answers `{lock, key}`. */
export function readLock(form) {
  const hasRadios = Boolean(form.elements.unlock);
  const how = hasRadios ? checkedValues(form, "unlock")[0] : "passphrase";
  if (!how) return { errors: [{ id: "unlock", text: "Choose how you will unlock this device" }] };
  if (how === "passkey") return { errors: [], make: (name) => lock.newPasskeyLock(name) };
  const passphrase = form.elements.passphrase.value;
  const errors = [];
  if (passphrase.length < lock.MIN_PASSPHRASE) {
    errors.push({ id: "passphrase", text: passphrase ? `Enter a passphrase of at least ${lock.MIN_PASSPHRASE} characters` : "Choose a passphrase" });
  } else if (form.elements.passphrase2.value !== passphrase) {
    errors.push({ id: "passphrase2", text: "Enter the same passphrase again" });
  }
  return { errors, make: () => lock.newPassphraseLock(passphrase) };
}

// A passkey that could not lock shows at the radios; other failures as they are.
function lockRefused(e) {
  if (e instanceof lock.UnlockFailed) {
    refuse([{ id: "unlock", text: e.message }]);
    return true;
  }
  return false;
}

/** Makes a device key locked as the lock fields of `form` say, then runs `register` with it
 * (which answers the party the key now belongs to, and optionally the recovery key's id). False
 * when a passkey could not lock (the form shows why). */
export async function withNewDeviceKey(form, name, register) {
  const { make } = readLock(form);
  let choice;
  try {
    choice = await make(name);
  } catch (e) {
    if (lockRefused(e)) return false;
    throw e;
  }
  const device = await jose.generateKey(true);
  const { party, recoveryKid } = await register(device);
  await adopt(device, party, choice, recoveryKid);
  return true;
}

// After unlocking, the address the person asked for, or their start.
function afterUnlock() {
  const asked = location.hash.replace(/^#/, "");
  go(asked && !["/", "/signout"].includes(asked) ? asked : home());
}

/** A device whose key is locked: unlock it, or what to do instead. */
export function unlockPage(device) {
  const employee = device.kind === "employee";
  const passkey = device.lock.kind === "passkey";
  const form = h("form", { novalidate: true },
    passkey ? null : textField({ id: "passphrase", label: "Your passphrase for this device", type: "password", autocomplete: "current-password" }),
    passkey ? h("button", { type: "submit", class: "button", id: "unlock" }, "Unlock with your passkey") : submit("Unlock"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const passphrase = passkey ? undefined : form.elements.passphrase.value;
    if (!passkey && !passphrase) return refuse([{ id: "passphrase", text: "Enter your passphrase" }]);
    await busy(form, "Unlocking", async () => {
      try {
        await unlock(device, await lock.unlockKey(device.lock, passphrase));
      } catch (e) {
        if (!(e instanceof lock.UnlockFailed)) throw e;
        // A passkey has no field: its error links to the button that tries again.
        return refuse([{ id: passkey ? "unlock" : "passphrase", text: e.message }]);
      }
      afterUnlock();
    });
  });
  page(
    employee ? "Unlock your passport" : "Unlock Work Passport",
    para(`This device is set up for ${device.name}. It is locked: it locks when you sign out, and after ${idleMinutes(device)} minutes without use.`),
    form,
    h("h2", { class: "heading-m" }, `If you cannot unlock it`),
    employee
      ? para(link("#/recover", "Sign in with your recovery key"), ". This device then gets a new key, and you choose a new way to unlock it.")
      : para("Ask your organisation's admin for a new invitation, and join again on this device."),
    forgetButton(),
  );
}

function forgetButton() {
  return [
    para("On a computer that is not yours, remove Work Passport from this browser. It cannot be opened here again without your recovery key or a new invitation."),
    h("p", {}, button("Remove from this browser", async () => {
      await keystore.forget();
      go("/", "Work Passport was removed from this browser.");
    }, "secondary")),
  ];
}

/** A device set up before the lock: its key opens with nothing, so it gets a new key, locked,
 * and the old one is revoked. */
export function lockOldDevice(device) {
  const form = h("form", { novalidate: true }, lockFields(), submit("Lock this device"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { errors } = readLock(form);
    if (errors.length) return refuse(errors);
    await busy(form, "Locking this device", async () => {
      const old = new api.Session(device.partyId, { privateKey: device.privateKey, publicKey: device.publicKey }, device.jwk);
      const locked = await withNewDeviceKey(form, device.name, async (fresh) =>
        ({ party: await old.addKey(fresh), recoveryKid: device.recoveryKid }));
      if (!locked) return;
      await state.session.call("POST", paths.partyKeyRevoke(device.partyId, device.jwk.kid));
      go(home(), "This device is locked. It locks again when you sign out, and after some time without use.");
    });
  });
  page(
    "Lock this device",
    para(`This device is set up for ${device.name}, from before Work Passport could lock a device. Anyone using this browser could open it. Choose how to unlock it from now on.`),
    form,
    forgetButton(),
  );
}

/** The devices page's setting: how long without use before this device locks. */
export function idleSetting() {
  const form = h("form", { novalidate: true },
    choices({
      id: "idle",
      legend: "Lock this device after",
      hint: "Without a key press, click or touch. It also locks when you sign out.",
      options: lock.IDLE_CHOICES.map((m) => [String(m), m === 60 ? "1 hour" : `${m} minutes`]),
      checked: [String(idleMinutes())],
    }),
    submit("Save", "secondary"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const minutes = Number(checkedValues(form, "idle")[0]);
    state.device = { ...state.device, idleMinutes: minutes };
    await keystore.save(state.device);
    go("/devices", `This device now locks after ${minutes === 60 ? "1 hour" : `${minutes} minutes`} without use.`);
  });
  return [h("h2", { class: "heading-m" }, "Locking"), form, warning("Sign out when you finish on a computer others use: it locks at once.")];
}

// Starting: creating a passport and its recovery key, signing in on a new device, joining an
// organisation, the operator's admin link, signing out.

import * as api from "../api.js";
import * as jose from "../jose.js";
import * as keystore from "../keystore.js";
import * as recoveryCode from "../recovery.js";
import * as words from "../words.js";
import { button, checkedValues, choices, clearErrors, h, link, page, para, submit, textField, warning } from "../ui.js";
import { busy, codeProblem, go, label, refuse } from "../flow.js";
import { home, lockNow, resume, state, thisDevice } from "../session.js";
import { lockFields, lockOldDevice, readLock, unlockPage, withNewDeviceKey } from "./unlock.js";
import * as paths from "../endpoints.js";

export async function landing() {
  const device = await thisDevice();
  const unlocked = device?.sealed && (state.session || (await resume()));
  if (device?.sealed && !unlocked) return unlockPage(device);
  if (device?.privateKey) return lockOldDevice(device);
  page(
    "Your health and work passport",
    para("Write down once what helps you work well, and the adjustments you need. Share it with an employer or an occupational therapist, choose what they see and for how long, and see every time they look."),
    para("Your passport is yours: only people you share it with can read it, and only while you allow it. Everything you write is signed on this device."),
    unlocked
      ? [para(`You are signed in as ${device.name}.`), h("p", {}, link(`#${home()}`, "Continue", { class: "button" }))]
      : [
        h("p", {}, link("#/signup", "Create your passport", { class: "button button--start" })),
        para(link("#/recover", "I already have a passport: sign in with my recovery key")),
        para(link("#/move", "Move a passport here from another Work Passport server")),
      ],
  );
}

export async function signUp() {
  const form = h(
    "form",
    { novalidate: true },
    textField({ id: "name", label: "Your name", hint: "As the people you share your passport with will see it.", autocomplete: "name" }),
    lockFields(),
    warning("We will give you a recovery key. Keep it safe: if you lose this device and your recovery key, nobody can get your passport back, not even us."),
    submit("Create my passport"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const name = form.elements.name.value.trim();
    const problem = !name ? "Enter your name" : name.length > 200 ? "Your name must be 200 characters or fewer" : null;
    const errors = [...(problem ? [{ id: "name", text: problem }] : []), ...readLock(form).errors];
    if (errors.length) {
      return refuse(errors);
    }
    await busy(form, "Creating your passport", () => createPassport(form, name), { display_name: "name" });
  });
  page("Create your passport", para("It takes a minute. You need nothing but this browser."), form);
}

// Whether the recovery key being saved is the first, made with the passport.
let justCreated = false;

export async function createPassport(form, name) {
  if (!(await withNewDeviceKey(form, name, async (device) => ({ party: await api.register(name, device) })))) return;
  const passport = await state.session.call("POST", paths.passports);
  state.passportId = passport.id;
  await makeRecoveryKey();
  // Not "ready" yet: the recovery key is saved first (the next step cannot be skipped).
  justCreated = true;
  go("/recovery-key");
}

/** A second key, registered like any other, shown once for the person to keep. */
export async function makeRecoveryKey() {
  const recovery = await jose.generateKey(true);
  const party = await state.session.addKey(recovery);
  const pub = await jose.publicJwk(recovery.publicKey);
  state.device.recoveryKid = pub.kid;
  await keystore.save(state.device);
  state.me = party;
  state.recovery = {
    type: "work-passport-recovery-key",
    server: api.BASE,
    party_id: state.session.partyId,
    name: state.device.name,
    created_at: new Date().toISOString(),
    jwk: { ...(await jose.privateJwk(recovery.privateKey)), kid: pub.kid },
  };
}

export async function recoveryKey() {
  if (!state.recovery) return go("/devices");
  const code = await recoveryCode.encode(state.recovery);
  const text = JSON.stringify({ ...state.recovery, code }, null, 2);
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const form = h(
    "form",
    { novalidate: true },
    choices({ id: "saved", legend: "Have you saved your recovery key?", type: "checkbox", options: [["yes", "I have saved my recovery key somewhere safe"]] }),
    submit("Continue to my passport"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkedValues(form, "saved").length) {
      const errors = [{ id: "saved", text: "Save your recovery key, then tick the box" }];
      refuse(errors);
      return;
    }
    state.recovery = null;
    URL.revokeObjectURL(url);
    go(home(), justCreated ? "Your passport is ready." : "Your new recovery key is ready to use.");
    justCreated = false;
  });
  // Read aloud group by group, not as one 80-letter word.
  const groups = code.split(" ");
  page(
    "Save your recovery key",
    para("Your recovery key lets you sign in on a new device if you lose this one or forget how to unlock it, and move your passport to another Work Passport server. It is shown only now."),
    h("div", { class: "recovery-code", role: "group", "aria-label": "Your recovery key, 16 groups of 5 letters and numbers" },
      h("p", { class: "recovery-code__text", dir: "ltr" }, groups.map((g, i) => [h("span", { class: "recovery-code__group" }, g), i < groups.length - 1 ? " " : ""]))),
    para("Write it down, print it, or save the file. Keep it somewhere only you can reach, as you would a passport. Letters and numbers only: there is no I, L, O or U, and capitals do not matter."),
    warning("Anyone with your recovery key can read and change your passport. Nobody from Work Passport will ever ask you for it."),
    h("p", {}, h("a", { href: url, download: "work-passport-recovery-key.json", class: "button button--secondary" }, "Download recovery key"), " ",
      button("Print recovery key", () => window.print(), "secondary")),
    form,
  );
}

export async function recover() {
  const form = h(
    "form",
    { novalidate: true },
    h("div", { class: "form-group", "data-field": "file" },
      h("label", { class: "label", for: "file" }, "Recovery key file"),
      h("div", { class: "hint", id: "file-hint" }, "The file work-passport-recovery-key.json you saved when you made your passport."),
      h("input", { class: "file-upload", id: "file", name: "file", type: "file", accept: ".json,application/json", "aria-describedby": "file-hint" })),
    textField({ id: "pasted", label: "Or type your recovery key", hint: "The 16 groups of 5 letters and numbers you wrote down or printed.", autocomplete: "off" }),
    lockFields(),
    submit("Sign in and add this device"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const file = form.elements.file.files[0];
    const text = file ? await file.text() : form.elements.pasted.value.trim();
    let key = null;
    let problem = text ? "This is not a Work Passport recovery key" : "Choose your recovery key file, or type your recovery key";
    try {
      if (!file && text && recoveryCode.looksLikeCode(text)) {
        key = await recoveryCode.decode(text);
      } else {
        key = JSON.parse(text);
        if (key.type !== "work-passport-recovery-key") throw new Error();
      }
    } catch (e) {
      if (e instanceof recoveryCode.CodeRefused) problem = e.message;
      key = null;
    }
    const errors = [
      ...(key ? [] : [{ id: file ? "file" : "pasted", text: problem }]),
      ...readLock(form).errors,
    ];
    if (errors.length) return refuse(errors);
    await busy(form, "Signing in", () => addThisDevice(form, key));
  });
  page("Sign in with your recovery key", para("Use this on a new device. This device gets a key of its own; your recovery key keeps working."), form);
}

export async function addThisDevice(form, file) {
  const recovery = await jose.importPrivateJwk(file.jwk);
  const recoveryJwk = await jose.publicJwk(recovery.publicKey);
  const viaRecovery = new api.Session(file.party_id, recovery, recoveryJwk);
  const added = await withNewDeviceKey(form, file.name || "Work Passport", async (device) =>
    ({ party: await viaRecovery.addKey(device), recoveryKid: recoveryJwk.kid }));
  if (added) go("/passport", "This device is added and locked. You are signed in.");
}

/** Joining an organisation; `code` comes from a join link (`#/join/CODE`) and is filled in. */
export async function join(code) {
  // The code is a secret: keep it in the form, not in the address bar or the history.
  if (code) window.history.replaceState(null, "", "#/join");
  const form = h(
    "form",
    { novalidate: true },
    textField({ id: "code", label: "Invitation code", hint: "It starts with wpi_. Whoever invited you gave it to you.", autocomplete: "off", value: code || "" }),
    textField({ id: "name", label: "Your name", hint: "As your organisation and the employees who share with you will see it.", autocomplete: "name" }),
    h("details", { class: "details" }, h("summary", {}, "Clinicians: your professional registration"),
      textField({ id: "profession", label: "Profession", hint: "For example, occupational therapist." }),
      textField({ id: "registration_body", label: "Registration body", hint: "For example, HCPC, NMC or GMC." }),
      textField({ id: "registration_number", label: "Registration number", hint: "For example, OT12345." })),
    lockFields(),
    warning("Your key is made and kept in this browser. To use another device, ask your organisation admin for another invitation."),
    submit("Join"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const value = (id) => form.elements[id].value.trim();
    const errors = [];
    const code = codeProblem(value("code"), "wpi_", "invitation code");
    if (code) errors.push({ id: "code", text: code });
    if (!value("name")) errors.push({ id: "name", text: "Enter your name" });
    else if ([...value("name")].length > 200) errors.push({ id: "name", text: "Your name must be 200 characters or fewer" });
    const registration = ["profession", "registration_body", "registration_number"].map(value);
    if (registration.some(Boolean) && !registration.every(Boolean)) {
      errors.push({ id: registration[0] ? (registration[1] ? "registration_number" : "registration_body") : "profession", text: "Clinicians: enter profession, registration body and number" });
    }
    errors.push(...readLock(form).errors);
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(form, "Joining", async () => {
      const [profession, registration_body, registration_number] = registration;
      const joined = await withNewDeviceKey(form, value("name"), async (device) => ({
        party: await api.redeemInvitation(value("code"), value("name"), device,
          profession ? { profession, registration_body, registration_number } : undefined),
      }));
      if (!joined) return;
      const { membership } = state.me;
      go("/shared", `You joined ${membership.organisation_name} as ${words.ROLES[membership.role]}.`);
    }, { display_name: "name" });
  });
  page("Join your organisation", para("Your organisation invited you to Work Passport. You sign in as yourself, with a key made in this browser."), form);
}

/** The operator's one-time link: whoever opens it first becomes an admin, with a key made here. */
export async function adminJoin(invitation) {
  // The invitation is a secret: keep it in memory, not in the address bar or the history.
  window.history.replaceState(null, "", "#/admin-join");
  const form = h("form", { novalidate: true },
    textField({ id: "name", label: "Your name", hint: "As organisations and other admins will see it.", autocomplete: "name" }),
    lockFields(),
    warning("Your admin key is made and kept in this browser. Keep this device safe."),
    submit("Become an admin"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const name = form.elements.name.value.trim();
    const errors = [...(name ? [] : [{ id: "name", text: "Enter your name" }]), ...readLock(form).errors];
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(form, "Setting up your admin key", async () => {
      if (await withNewDeviceKey(form, name, async (device) => ({ party: await api.joinAsAdmin(invitation, name, device) }))) {
        go("/admin", "You are an admin of this Work Passport service.");
      }
    }, { display_name: "name" });
  });
  page("Become an admin", para("The operator of this service gave you a one-time link. It works once."), form);
}

export function signOut() {
  lockNow();
  go("/", "You are signed out and this device is locked. Nothing from your passport opens here again without your unlock.");
}

// Starting: creating a passport and its recovery key, signing in on a new device, joining an
// organisation, the operator's admin link, signing out.

import * as api from "../api.js";
import * as jose from "../jose.js";
import * as keystore from "../keystore.js";
import * as words from "../words.js";
import { button, checkedValues, choices, clearErrors, h, link, page, para, submit, textField, warning } from "../ui.js";
import { busy, codeProblem, go, label, refuse } from "../flow.js";
import { adopt, home, resume, state } from "../session.js";
import * as paths from "../endpoints.js";

export async function landing() {
  const device = await keystore.load();
  const known = device && device.base === api.BASE;
  page(
    "Your health and work passport",
    para("Write down once what helps you work well, and the adjustments you need. Share it with an employer or an occupational therapist, choose what they see and for how long, and see every time they look."),
    para("Your passport is yours: only people you share it with can read it, and only while you allow it. Everything you write is signed on this device."),
    known
      ? [para(`This device is set up for ${device.name}.`), h("p", {}, button(`Continue as ${device.name}`, async () => {
        await resume();
        go(home());
      }))]
      : [h("p", {}, link("#/signup", "Create your passport", { class: "button button--start" })), para(link("#/recover", "I already have a passport: sign in with my recovery key")), para(link("#/move", "Move a passport here from another Work Passport server"))],
  );
}

export async function signUp() {
  const form = h(
    "form",
    { novalidate: true },
    textField({ id: "name", label: "Your name", hint: "As the people you share your passport with will see it.", autocomplete: "name" }),
    warning("We will give you a recovery key. Keep it safe: if you lose this device and your recovery key, nobody can get your passport back, not even us."),
    submit("Create my passport"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const name = form.elements.name.value.trim();
    const problem = !name ? "Enter your name" : name.length > 200 ? "Your name must be 200 characters or fewer" : null;
    if (problem) {
      return refuse([{ id: "name", text: problem }]);
    }
    await busy(form, "Creating your passport", () => createPassport(name), { display_name: "name" });
  });
  page("Create your passport", para("It takes a minute. You need nothing but this browser."), form);
}

// Whether the recovery key being saved is the first, made with the passport.
let justCreated = false;

export async function createPassport(name) {
  const device = await jose.generateKey(false);
  const party = await api.register(name, device);
  await adopt(device, party);
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
  const text = JSON.stringify(state.recovery, null, 2);
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
  page(
    "Save your recovery key",
    para("Your recovery key lets you sign in on a new device if you lose this one. It is shown only now."),
    warning("Anyone with your recovery key can read and change your passport. Keep it private: print it or save the file somewhere only you can reach."),
    h("p", {}, h("a", { href: url, download: "work-passport-recovery-key.json", class: "button button--secondary" }, "Download recovery key"), " ",
      button("Print recovery key", () => window.print(), "secondary")),
    h("details", { class: "details" }, h("summary", {}, "Show the recovery key"), h("pre", { class: "recovery-key" }, text)),
    h("pre", { class: "recovery-key print-only", "aria-hidden": "true" }, text),
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
    textField({ id: "pasted", label: "Or paste your recovery key", hint: "Everything from the first { to the last }.", multiline: true }),
    submit("Sign in and add this device"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const file = form.elements.file.files[0];
    const text = file ? await file.text() : form.elements.pasted.value.trim();
    let key;
    try {
      key = JSON.parse(text);
      if (key.type !== "work-passport-recovery-key") throw new Error();
    } catch {
      const errors = [{ id: file ? "file" : "pasted", text: text ? "This is not a Work Passport recovery key" : "Choose your recovery key file, or paste the key" }];
      refuse(errors);
      return;
    }
    await busy(form, "Signing in", () => addThisDevice(key));
  });
  page("Sign in with your recovery key", para("Use this on a new device. This device gets a key of its own; your recovery key keeps working."), form);
}

export async function addThisDevice(file) {
  const recovery = await jose.importPrivateJwk(file.jwk);
  const recoveryJwk = await jose.publicJwk(recovery.publicKey);
  const viaRecovery = new api.Session(file.party_id, recovery, recoveryJwk);
  const device = await jose.generateKey(false);
  const party = await viaRecovery.addKey(device);
  await adopt(device, party, recoveryJwk.kid);
  go("/passport", "This device is added. You are signed in.");
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
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(form, "Joining", async () => {
      const device = await jose.generateKey(false);
      const [profession, registration_body, registration_number] = registration;
      const party = await api.redeemInvitation(value("code"), value("name"), device,
        profession ? { profession, registration_body, registration_number } : undefined);
      await adopt(device, party);
      go("/shared", `You joined ${party.membership.organisation_name} as ${words.ROLES[party.membership.role]}.`);
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
    warning("Your admin key is made and kept in this browser. Keep this device safe."),
    submit("Become an admin"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const name = form.elements.name.value.trim();
    if (!name) {
      const errors = [{ id: "name", text: "Enter your name" }];
      refuse(errors);
      return;
    }
    await busy(form, "Setting up your admin key", async () => {
      const device = await jose.generateKey(false);
      const party = await api.joinAsAdmin(invitation, name, device);
      await adopt(device, party);
      go("/admin", "You are an admin of this Work Passport service.");
    }, { display_name: "name" });
  });
  page("Become an admin", para("The operator of this service gave you a one-time link. It works once."), form);
}

export function signOut() {
  state.signedOut = true;
  state.session?.forget();
  Object.assign(state, { session: null, me: null, passportId: null, device: null, recovery: null });
  go("/", "You are signed out. Nothing from your passport is kept in this browser.");
}

// The pages: a hash router and one function per page. Each page is a client of the JSON API
// (api.js), signs with this device's key, and verifies what it shows (verify.js).

import * as api from "./api.js";
import * as jose from "./jose.js";
import * as keystore from "./keystore.js";
import * as forms from "./forms.js";
import { Verifier, verifyLog } from "./verify.js";
import * as words from "./words.js";
import {
  h, page, announce, errorSummary, showErrors, link, button, submit, summaryList, tag, warning,
  para, inset, textField, choices, checkedValues, clearErrors, date, dateTime,
} from "./ui.js";

/** Who is signed in on this page; passport contents are kept nowhere but in memory. */
const state = { session: null, me: null, passportId: null, device: null, recovery: null };

// ---------------------------------------------------------------------------------------------
// Routing

const ROUTES = [
  [/^\/?$/, landing],
  [/^\/signup$/, signUp],
  [/^\/recovery-key$/, recoveryKey],
  [/^\/recover$/, recover],
  [/^\/passport$/, signedIn(overview)],
  [/^\/section\/([a-z_]+)$/, signedIn(sectionPage)],
  [/^\/section\/([a-z_]+)\/new$/, signedIn((s) => recordForm(own(), s))],
  [/^\/record\/([0-9a-f-]{36})\/edit$/, signedIn((r) => editRecord(own(), r))],
  [/^\/record\/([0-9a-f-]{36})\/history$/, signedIn((r) => recordHistory(own(), r))],
  [/^\/shared$/, signedIn(sharedWithMe)],
  [/^\/shared\/([0-9a-f-]{36})$/, signedIn(sharedPassport)],
  [/^\/shared\/([0-9a-f-]{36})\/section\/([a-z_]+)\/new$/, signedIn(async (g, s) => recordForm(await granted(g), s))],
  [/^\/shared\/([0-9a-f-]{36})\/record\/([0-9a-f-]{36})\/edit$/, signedIn(async (g, r) => editRecord(await granted(g), r))],
  [/^\/shared\/([0-9a-f-]{36})\/record\/([0-9a-f-]{36})\/history$/, signedIn(async (g, r) => recordHistory(await granted(g), r))],
  [/^\/join$/, join],
  [/^\/admin-join\/([A-Za-z0-9_.-]+)$/, adminJoin],
  [/^\/admin$/, signedIn(admin)],
  [/^\/request$/, signedIn(respondToRequest)],
  [/^\/organisation$/, signedIn(organisation)],
  [/^\/requests$/, signedIn(requestsSent)],
  [/^\/print$/, signedIn(printable)],
  [/^\/share$/, signedIn(share)],
  [/^\/grants$/, signedIn(grants)],
  [/^\/log$/, signedIn(accessLog)],
  [/^\/devices$/, signedIn(devices)],
  [/^\/erase$/, signedIn(erase)],
  [/^\/signout$/, signOut],
];

async function route() {
  const path = location.hash.replace(/^#/, "") || "/";
  announceNext();
  for (const [pattern, show] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      try {
        await show(...match.slice(1));
      } catch (e) {
        failure(e);
      }
      nav();
      return;
    }
  }
  page("Page not found", para("There is no page at this address."), para(link("#/", "Go to the start")));
}

function go(path, message) {
  pending = message;
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

// A message to announce once the next page is shown ("Saved and signed").
let pending;
function announceNext() {
  announce(pending);
  pending = undefined;
}

// Set by "Sign out": this page then shows the start page until the person continues.
let signedOut = false;

/** Pages that need a signed-in person: without one, the start page. A new page on a device with
 * a key signs in with it. */
function signedIn(show) {
  return async (...args) => {
    if (!state.session && (signedOut || !(await resume()))) return landing();
    return show(...args);
  };
}

async function resume() {
  signedOut = false;
  const device = await keystore.load();
  if (!device || device.base !== api.BASE) return false;
  state.device = device;
  state.session = new api.Session(device.partyId, device, device.jwk);
  const me = await state.session.call("GET", "/v1/me");
  state.me = me.party;
  state.passportId = me.passport_id || null;
  return true;
}

/** Where each kind of person starts. */
function home() {
  return { employee: "/passport", admin: "/admin" }[state.me?.kind] || "/shared";
}

function nav() {
  const employee = state.me?.kind === "employee";
  const links = !state.session
    ? [["#/signup", "Create a passport"], ["#/recover", "Sign in with a recovery key"], ["#/join", "Join an organisation"]]
    : employee
      ? [["#/passport", "Your passport"], ["#/share", "Share"], ["#/grants", "Who can see it"], ["#/log", "Access log"], ["#/devices", "Devices"], ["#/signout", "Sign out"]]
      : state.me?.kind === "admin"
        ? [["#/admin", "Organisations"], ["#/devices", "Devices"], ["#/signout", "Sign out"]]
        : [
          ["#/shared", "Shared with you"],
          state.me?.membership && ["#/requests", "Access requests"],
          state.me?.membership?.role === "org_admin" && ["#/organisation", "Your organisation"],
          ["#/devices", "Devices"],
          ["#/signout", "Sign out"],
        ].filter(Boolean);
  const current = location.hash || "#/";
  document.getElementById("nav").replaceChildren(
    h("ul", { class: "nav__list" }, links.map(([href, text]) =>
      h("li", {}, h("a", { href, class: "nav__link", "aria-current": current === href ? "page" : undefined }, text)))),
  );
}

/** An error page a person can act on; the problem's request id helps support find it. */
function failure(e) {
  if (e instanceof api.ApiError && e.kind === "consent-inactive") return consentEnded();
  if (e instanceof api.ApiError && e.kind === "gone") {
    return page("This passport was erased", para("Its contents no longer exist anywhere on the server."));
  }
  if (!(e instanceof api.ApiError)) console.error(e);
  const detail = e instanceof api.ApiError ? e.message : "Something went wrong on this page.";
  page(
    "Sorry, there is a problem",
    para(detail),
    e?.problem?.instance && para(`If you contact support, give them this reference: ${e.problem.instance}.`),
    para(link("#/passport", "Go back to your passport")),
  );
}

// ---------------------------------------------------------------------------------------------
// Starting: sign up, the recovery key, signing in on a new device

async function landing() {
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
      : [h("p", {}, link("#/signup", "Create your passport", { class: "button button--start" })), para(link("#/recover", "I already have a passport: sign in with my recovery key"))],
  );
}

async function signUp() {
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
      showErrors([{ id: "name", text: problem }]);
      forms.mark([{ id: "name", text: problem }]);
      return;
    }
    await busy(form, "Creating your passport", () => createPassport(name));
  });
  page("Create your passport", para("It takes a minute. You need nothing but this browser."), form);
}

async function createPassport(name) {
  const device = await jose.generateKey(false);
  const party = await api.register(name, device);
  const jwk = await jose.publicJwk(device.publicKey);
  state.device = { privateKey: device.privateKey, publicKey: device.publicKey, jwk, partyId: party.id, name, base: api.BASE };
  await keystore.save(state.device);
  state.session = new api.Session(party.id, device, jwk);
  state.me = party;
  const passport = await state.session.call("POST", "/v1/passports");
  state.passportId = passport.id;
  await makeRecoveryKey();
  go("/recovery-key", "Your passport is ready.");
}

/** A second key, registered like any other, shown once for the person to keep. */
async function makeRecoveryKey() {
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

async function recoveryKey() {
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
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    state.recovery = null;
    URL.revokeObjectURL(url);
    go("/passport");
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

async function recover() {
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
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Signing in", () => addThisDevice(key));
  });
  page("Sign in with your recovery key", para("Use this on a new device. This device gets a key of its own; your recovery key keeps working."), form);
}

async function addThisDevice(file) {
  const recovery = await jose.importPrivateJwk(file.jwk);
  const recoveryJwk = await jose.publicJwk(recovery.publicKey);
  const viaRecovery = new api.Session(file.party_id, recovery, recoveryJwk);
  const device = await jose.generateKey(false);
  const party = await viaRecovery.addKey(device);
  const jwk = await jose.publicJwk(device.publicKey);
  state.device = { privateKey: device.privateKey, publicKey: device.publicKey, jwk, partyId: party.id, name: party.display_name, base: api.BASE, recoveryKid: recoveryJwk.kid };
  await keystore.save(state.device);
  state.session = null;
  await resume();
  go("/passport", "This device is added. You are signed in.");
}

/** Runs `work` with the form's button disabled and a message announced; shows a refusal. */
async function busy(form, message, work) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  announce(`${message}...`);
  try {
    await work();
    // A page shown without a message of its own (e.g. a conflict) drops "Saving...".
    if (document.getElementById("status").textContent === `${message}...`) announce("");
  } catch (e) {
    announce("");
    const errors = e instanceof api.ApiError ? [...forms.serverErrors(e.problem), ...(e.problem.errors?.length ? [] : [{ text: e.message }])] : [{ text: e.message }];
    showErrors(errors);
    forms.mark(errors);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---------------------------------------------------------------------------------------------
// The passport: overview, sections, records, history

/** The owner's own passport, as a place pages read and write in. */
function own() {
  return { passportId: state.passportId, grantId: undefined, home: "/passport", prefix: "" };
}

/** A passport shared with this person under `grantId` (a consent token names it). */
async function granted(grantId) {
  const token = await state.session.token(grantId);
  return { passportId: token.passport_id, grantId, home: `/shared/${grantId}`, prefix: `/shared/${grantId}`, scopes: token.scopes };
}

async function readPassport(place = own()) {
  const view = await state.session.call("GET", `/v1/passports/${place.passportId}`, undefined, place.grantId);
  const verifier = new Verifier(state.session, place.grantId, place.passportId);
  const checked = {};
  for (const [section, envelopes] of Object.entries(view.sections)) {
    checked[section] = await Promise.all(envelopes.map(async (e) => ({ envelope: e, check: await verifier.version(e) })));
  }
  return checked;
}

function signature(check, envelope) {
  const who = words.party(check.author, state.session.partyId);
  return check.ok
    ? h("p", { class: "signature" }, tag("Verified", "green"), ` Signed by ${who} on ${dateTime(envelope.created_at)}.`)
    : h("p", { class: "signature" }, tag("Not verified", "red"), ` Do not rely on this version: ${check.reason}.`);
}

async function overview() {
  if (!state.passportId) {
    return page("Your passport", para("You have no passport yet."), button("Create my passport", async () => {
      const passport = await state.session.call("POST", "/v1/passports");
      state.passportId = passport.id;
      go("/passport", "Your passport is ready.");
    }));
  }
  const sections = await readPassport();
  const due = reviewsDue(sections);
  page(
    "Your passport",
    para(`Everything here is signed and checked on this device. You decide who sees which part: `, link("#/share", "share your passport"), "."),
    dueSoon(due),
    para(link("#/print", "A one-page summary for a new manager"), " (to print or save as PDF)."),
    words.SECTIONS.map((s) => {
      const records = sections[s.id] || [];
      return h("section", { class: "section-card", "aria-labelledby": `h-${s.id}` },
        h("h2", { class: "heading-m", id: `h-${s.id}` }, s.title),
        para(s.about),
        records.length
          ? h("ul", { class: "list" }, records.map(({ envelope, check }) =>
              h("li", {}, words.recordTitle(s.id, envelope.deleted ? null : check.payload?.body), " ", check.ok ? "" : tag("Not verified", "red"))))
          : para(`No ${s.one} yet.`),
        h("p", {}, records.length
          ? link(`#/section/${s.id}`, `View and change ${s.title.toLowerCase()}`)
          : link(`#/section/${s.id}/new`, `Add ${article(s.one)} ${s.one}`)));
    }),
    h("h2", { class: "heading-m" }, "Erase"),
    para("You can erase your passport at any time: ", link("#/erase", "erase my passport"), "."),
  );
}

function article(noun) {
  return /^[aeiou]/.test(noun) ? "an" : "a";
}

async function sectionPage(sectionId) {
  const s = words.section(sectionId);
  if (!s) return route404();
  const records = (await readPassport())[sectionId] || [];
  const cards = await Promise.all(records.map(async ({ envelope, check }, i) =>
    h("section", { class: "record", "aria-labelledby": `r-${i}` },
      h("h2", { class: "heading-m", id: `r-${i}` }, words.recordTitle(sectionId, check.payload?.body)),
      signature(check, envelope),
      check.ok && summaryList(await forms.rows(sectionId, check.payload.body)),
      recordLinks(own(), envelope, `r-${i}`, true))));
  page(
    s.title,
    para(s.about),
    cards.length ? cards : para(`You have no ${s.one} yet.`),
    h("p", {}, link(`#/section/${sectionId}/new`, `Add ${article(s.one)} ${s.one}`, { class: "button" })),
    para(link("#/passport", "Back to your passport")),
  );
}

function route404() {
  page("Page not found", para("There is no page at this address."), para(link("#/passport", "Go to your passport")));
}

async function editRecord(place, recordId) {
  const head = await state.session.call("GET", `/v1/passports/${place.passportId}/records/${recordId}`, undefined, place.grantId);
  const check = await new Verifier(state.session, place.grantId, place.passportId).version(head);
  if (!check.ok) throw new Error(`This record's latest version cannot be trusted: ${check.reason}.`);
  return recordForm(place, head.section, head, check.payload.body);
}

/** The form for a new record, or for the next version of `head`. */
async function recordForm(place, sectionId, head, body) {
  const s = words.section(sectionId);
  if (!s) return route404();
  const form = h("form", { novalidate: true }, await forms.fields(sectionId, body), submit(head ? "Save and sign" : `Add and sign`));
  const recordId = head ? head.record_id : crypto.randomUUID();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { body: next, errors } = await forms.read(sectionId, form);
    if (errors.length) {
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Signing and saving", () => write(place, sectionId, recordId, head, next));
  });
  page(head ? `Change ${s.one}` : `Add ${article(s.one)} ${s.one}`,
    para("What you save is signed on this device with your key, and kept as a new version: earlier versions stay in its history."),
    form, para(link(`#${back(place, sectionId)}`, "Go back without saving")));
}

/** Where a page about `sectionId` returns to: the section page, or the shared passport. */
function back(place, sectionId) {
  return place.grantId ? place.home : `/section/${sectionId}`;
}

async function write(place, sectionId, recordId, head, body, done = "Saved and signed.") {
  const fields = { passport: place.passportId, record: recordId, section: sectionId, version: head ? head.version + 1 : 1, body };
  if (head) fields.prev = head.hash;
  const jws = await state.session.signVersion(fields);
  const records = `/v1/passports/${place.passportId}/records`;
  const path = head ? `${records}/${recordId}/versions` : records;
  try {
    await state.session.call("POST", path, { jws }, place.grantId);
  } catch (e) {
    if (e instanceof api.ApiError && e.kind === "version-conflict" && e.problem.current_head) {
      return conflict(place, sectionId, recordId, e.problem.current_head, body);
    }
    throw e;
  }
  go(back(place, sectionId), done);
}

/** Someone else saved a version first: show both, and let the person re-apply theirs on top. */
async function conflict(place, sectionId, recordId, current, mine) {
  const check = await new Verifier(state.session, place.grantId, place.passportId).version(current);
  page(
    "Someone else changed this meanwhile",
    para("Your change is not saved yet. Compare the two, then save yours on top of theirs, or keep theirs."),
    h("h2", { class: "heading-m" }, "Their version"),
    signature(check, current),
    check.ok && summaryList(await forms.rows(sectionId, check.payload.body)),
    h("h2", { class: "heading-m" }, "Your change"),
    summaryList(await forms.rows(sectionId, mine)),
    h("p", {}, button("Save my change on top of theirs", () => write(place, sectionId, recordId, current, mine).catch(failure)), " ",
      link(`#${back(place, sectionId)}`, "Keep theirs", { class: "button button--secondary" })),
  );
}

async function recordHistory(place, recordId) {
  const answer = await state.session.call("GET", `/v1/passports/${place.passportId}/records/${recordId}/versions`, undefined, place.grantId);
  const checks = await new Verifier(state.session, place.grantId, place.passportId).history(answer.versions);
  const s = words.section(answer.section);
  const all = checks.every((c) => c.ok);
  page(
    `History of ${s.one}`,
    all ? inset(`All ${checks.length} versions are signed and follow one another: verified on this device.`)
      : warning("Part of this history does not verify: do not rely on the versions marked so."),
    h("ol", { class: "history", reversed: true }, await Promise.all([...answer.versions].reverse().map(async (v, i) => {
      const check = checks[checks.length - 1 - i];
      return h("li", { class: "history__version" },
        h("h2", { class: "heading-s" }, `Version ${v.version}`),
        signature(check, v),
        check.ok && (v.deleted ? para("Removed.") : summaryList(await forms.rows(answer.section, check.payload.body))));
    }))),
    para(link(`#${back(place, answer.section)}`, "Back")),
  );
}

// ---------------------------------------------------------------------------------------------
// Sharing: grants, the access log

const DURATIONS = [["30", "1 month"], ["91", "3 months"], ["182", "6 months"], ["365", "12 months"]];

async function share() {
  const sectionOptions = words.SECTIONS.map((s) => [s.id, s.title]);
  const form = h(
    "form",
    { novalidate: true },
    textField({ id: "grantee", label: "Their Work Passport id", hint: "The employer, organisation or professional gives you this id. It looks like 3f2b8c1e-5d4a-4c2b-9e7f-0a1b2c3d4e5f.", width: 30 }),
    choices({ id: "roles", legend: "Who at the organisation", type: "checkbox", hint: "Only when sharing with an organisation: the people in these roles there.", options: Object.entries(words.ROLES).filter(([r]) => r !== "org_admin").map(([r, t]) => [r, label(t)]) }),
    choices({ id: "read", legend: "What they may read", type: "checkbox", options: sectionOptions }),
    choices({ id: "agree", legend: "May they agree your adjustments?", type: "checkbox", hint: "Employers: they record that an adjustment is agreed, signed by them.", options: [["adjustments", "Yes, they may agree adjustments"]] }),
    choices({ id: "write", legend: "What they may write", type: "checkbox", hint: "Occupational therapists and other professionals: they add and update these, signed by them.", options: sectionOptions }),
    textField({ id: "purpose", label: "Why you are sharing", hint: "For example: workplace adjustments in my new job at Acme Ltd." }),
    choices({ id: "duration", legend: "For how long", hint: "Sharing always ends. You can stop it sooner at any time.", options: DURATIONS, checked: ["91"] }),
    submit("Continue"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const grantee = form.elements.grantee.value.trim().toLowerCase();
    const read = checkedValues(form, "read");
    const agree = checkedValues(form, "agree");
    const write = checkedValues(form, "write");
    const purpose = form.elements.purpose.value.trim();
    const errors = [];
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(grantee)) errors.push({ id: "grantee", text: "Enter their Work Passport id, like 3f2b8c1e-5d4a-4c2b-9e7f-0a1b2c3d4e5f" });
    if (!read.length && !agree.length && !write.length) errors.push({ id: "read", text: "Choose at least one part of your passport to share" });
    if (!purpose) errors.push({ id: "purpose", text: "Enter why you are sharing" });
    let party;
    if (!errors.length) {
      try {
        party = await state.session.call("GET", `/v1/parties/${grantee}`);
      } catch {
        errors.push({ id: "grantee", text: "There is nobody with this Work Passport id" });
      }
    }
    const roles = checkedValues(form, "roles");
    if (party && ["employer", "practice"].includes(party.kind) && !party.keys.length && !roles.length) {
      errors.push({ id: "roles", text: `Choose who at ${party.display_name} may use it` });
    }
    if (errors.length) {
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    const days = Number(checkedValues(form, "duration")[0] || "91");
    const endsAt = new Date(Date.now() + days * 86400000);
    confirmShare({ party, roles, read, agree, write, purpose, endsAt });
  });
  page("Share your passport", para("Choose who, what and for how long. You will see what you agree to before anything is shared."), form);
}

function label(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function scopesOf({ read, agree, write }) {
  const actions = new Map();
  const add = (sections, action) => sections.forEach((s) => {
    const set = actions.get(s) || new Set();
    set.add("read");
    set.add(action);
    actions.set(s, set);
  });
  add(read, "read");
  add(write, "write");
  add(agree, "agree");
  return [...actions].map(([section, set]) => ({ section, actions: ["read", "write", "agree"].filter((a) => set.has(a)) }));
}

function confirmShare(choice) {
  const scopes = scopesOf(choice);
  const who = choice.roles.length
    ? `${choice.party.display_name} (${words.words(choice.roles.map((r) => words.ROLES[r]))})`
    : words.party(choice.party);
  const until = choice.endsAt.toISOString().slice(0, 10);
  const text = `I, ${state.me.display_name}, agree to share my Work Passport with ${who} for: ${choice.purpose}. They may ${words.scopes(scopes)}. This consent ends on ${until} unless I revoke it sooner.`;
  page(
    "Check what you are agreeing to",
    summaryList([["Shared with", who], ["They may", words.scopes(scopes)], ["Why", choice.purpose], ["Until", date(choice.endsAt.toISOString())]]),
    h("h2", { class: "heading-m" }, "Your consent"),
    inset(text),
    para("Every time they look, it is written in your access log. You can stop sharing at any time."),
    h("p", {}, button("Confirm and share", async (event) => {
      event.target.disabled = true;
      try {
        await state.session.call("POST", `/v1/passports/${state.passportId}/grants`, {
          grantee: choice.party.id, roles: choice.roles, scopes, purpose: choice.purpose,
          ends_at: choice.endsAt.toISOString().replace(/\.\d+Z$/, "Z"), consent_text: text,
        });
        go("/grants", `Shared with ${who}.`);
      } catch (e) {
        failure(e);
      }
    }), " ", link("#/share", "Change", { class: "button button--secondary" })),
  );
}

async function grants() {
  const list = await state.session.call("GET", `/v1/passports/${state.passportId}/grants`);
  const verifier = new Verifier(state.session);
  const rows = await Promise.all(list.map(async (g) => {
    const party = await verifier.party(g.grantee).catch(() => null);
    const who = g.roles?.length ? `${party?.display_name} (${words.words(g.roles.map((r) => words.ROLES[r]))})` : words.party(party);
    return { g, who };
  }));
  const active = rows.filter(({ g }) => g.status === "active");
  const ended = rows.filter(({ g }) => g.status !== "active");
  const card = ({ g, who }, i) => h("section", { class: "record", "aria-labelledby": `g-${i}` },
    h("h3", { class: "heading-s", id: `g-${i}` }, who),
    summaryList([["They may", words.scopes(g.scopes)], ["Why", g.purpose], [g.status === "active" ? "Until" : "Ended", date(g.revoked_at || g.ends_at)], ["Status", label(g.status)]]),
    g.status === "active" && h("p", {}, button(`Stop sharing with ${who}`, () => revoke(g, who), "warning")));
  page(
    "Who can see your passport",
    h("h2", { class: "heading-m" }, "Sharing now"),
    active.length ? active.map(card) : para("You are not sharing your passport with anyone."),
    h("p", {}, link("#/share", "Share your passport", { class: "button" }), " ",
      link("#/request", "Respond to an access request", { class: "button button--secondary" })),
    ended.length > 0 && [h("h2", { class: "heading-m" }, "Ended"), ended.map((r, i) => card(r, i + active.length))],
  );
}

async function revoke(g, who) {
  await state.session.call("POST", `/v1/passports/${state.passportId}/grants/${g.id}/revoke`);
  go("/grants", `You stopped sharing with ${who}. Their next request is refused.`);
}

async function accessLog() {
  const entries = [];
  let before;
  do {
    const query = before ? `?limit=500&before=${before}` : "?limit=500";
    const answer = await state.session.call("GET", `/v1/passports/${state.passportId}/access-log${query}`);
    entries.push(...answer.entries);
    before = answer.next_before;
  } while (before);
  const chain = await verifyLog(state.passportId, entries);
  const verifier = new Verifier(state.session);
  const names = new Map();
  for (const e of entries) {
    for (const id of [e.actor, e.on_behalf_of?.organisation]) {
      if (id && !names.has(id)) names.set(id, await verifier.party(id).catch(() => null));
    }
  }
  const who = (e) => {
    if (!e.actor) return "Someone unknown";
    const p = names.get(e.actor);
    if (e.on_behalf_of) {
      const org = names.get(e.on_behalf_of.organisation);
      return `${p?.display_name || e.actor} (${words.ROLES[e.on_behalf_of.role]}, ${org?.display_name || e.on_behalf_of.organisation})`;
    }
    return e.actor === state.session.partyId ? "You" : words.party(p);
  };
  page(
    "Access log",
    chain.ok ? inset(`All ${chain.count} entries are linked in an unbroken chain: verified on this device. Nothing was removed or changed.`)
      : warning(`The log's chain is broken at entry ${chain.at}: entries may have been changed or removed. Contact the service.`),
    h("ol", { class: "log", reversed: true }, entries.map((e) =>
      h("li", { class: e.outcome === "denied" ? "log__entry log__entry--denied" : "log__entry" },
        h("span", { class: "log__time" }, dateTime(e.at)), " ",
        e.outcome === "denied" ? tag("Refused", "red") : null, " ",
        words.logEntry(e, who(e))))),
  );
}

/** "Change" and "History" links for a record, named by the record's heading for screen readers. */
function recordLinks(place, envelope, labelledBy, canWrite) {
  return h("p", {},
    canWrite && !envelope.deleted && [link(`#${place.prefix}/record/${envelope.record_id}/edit`, "Change", { "aria-describedby": labelledBy }), " "],
    link(`#${place.prefix}/record/${envelope.record_id}/history`, "History", { "aria-describedby": labelledBy }));
}

// ---------------------------------------------------------------------------------------------
// Passports shared with me (employers' people, professionals)

async function sharedWithMe() {
  const list = await state.session.call("GET", "/v1/grants");
  const verifier = new Verifier(state.session);
  const cards = await Promise.all(list.map(async (g, i) => {
    const owner = await verifier.party(g.grantor).catch(() => null);
    const name = owner?.display_name || "Someone";
    return h("section", { class: "record", "aria-labelledby": `s-${i}` },
      h("h2", { class: "heading-m", id: `s-${i}` }, `${name}'s passport`),
      summaryList([["You may", words.scopes(g.scopes)], ["Why", g.purpose], [g.status === "active" ? "Until" : "Ended", date(g.revoked_at || g.ends_at)], ["Status", label(g.status)]]),
      g.status === "active" && h("p", {}, link(`#/shared/${g.id}`, `Open ${name}'s passport`, { class: "button" })));
  }));
  page(
    "Passports shared with you",
    state.me.membership && para(`You act as ${words.ROLES[state.me.membership.role]} at ${state.me.membership.organisation_name}. Each time you open a passport, its owner sees it was you.`),
    cards.length ? cards : para("Nobody has shared a passport with you yet. Ask the employee to share theirs, or send them an access request."),
  );
}

async function sharedPassport(grantId) {
  let place, sections;
  try {
    place = await granted(grantId);
    sections = await readPassport(place);
  } catch (e) {
    if (e instanceof api.ApiError && ["consent-inactive", "forbidden"].includes(e.kind)) return consentEnded();
    throw e;
  }
  const may = (section, action) => (place.scopes || []).some((sc) => sc.section === section && sc.actions.includes(action));
  const grant = (await state.session.call("GET", "/v1/grants")).find((g) => g.id === grantId);
  const owner = grant && (await new Verifier(state.session, grantId).party(grant.grantor).catch(() => null));
  const blocks = await Promise.all(words.SECTIONS.filter((s) => sections[s.id] || may(s.id, "write")).map(async (s) => {
    const records = sections[s.id] || [];
    const cards = await Promise.all(records.map(async ({ envelope, check }, i) => {
      const id = `r-${s.id}-${i}`;
      const body = check.payload?.body;
      const agreeable = check.ok && s.id === "adjustments" && may("adjustments", "agree") && body && body.status !== "agreed";
      return h("section", { class: "record", "aria-labelledby": id },
        h("h3", { class: "heading-s", id }, words.recordTitle(s.id, body)),
        signature(check, envelope),
        check.ok && body && summaryList(await forms.rows(s.id, body)),
        agreeable && h("p", {}, button(`Agree this adjustment: ${words.recordTitle(s.id, body)}`, () => agree(place, envelope, body).catch(failure))),
        recordLinks(place, envelope, id, may(s.id, "write")));
    }));
    return h("section", { "aria-labelledby": `h-${s.id}` },
      h("h2", { class: "heading-m", id: `h-${s.id}` }, s.title),
      cards.length ? cards : para(`No ${s.one} yet.`),
      may(s.id, "write") && h("p", {}, link(`#${place.prefix}/section/${s.id}/new`, `Add ${article(s.one)} ${s.one}`)));
  }));
  page(
    owner ? `${owner.display_name}'s passport` : "Shared passport",
    para("Only the parts shared with you are shown. Every version is checked on this device."),
    grant && summaryList([["You may", words.scopes(grant.scopes)], ["Why", grant.purpose], ["Until", date(grant.ends_at)]]),
    dueSoon(reviewsDue(sections)),
    blocks,
    para(link("#/shared", "Back to passports shared with you")),
  );
}

/** An agreement: the same body with status "agreed", signed by this person in their own name. */
async function agree(place, head, body) {
  const m = state.me.membership;
  const agreedBy = m ? `${state.me.display_name} (${words.ROLES[m.role]}, ${m.organisation_name})` : state.me.display_name;
  await write(place, "adjustments", head.record_id, head, { ...body, status: "agreed", agreed_by: agreedBy }, `Agreed and signed by ${agreedBy}.`);
}

function consentEnded() {
  page(
    "Your access to this passport has ended",
    para("The employee stopped sharing it with you, or the time they chose has passed. Nothing from it is kept on this device."),
    para("If you still need it, ask the employee to share it again."),
    para(link("#/shared", "Back to passports shared with you")),
  );
}

// ---------------------------------------------------------------------------------------------
// Joining an organisation, access requests, organisation admin

async function join() {
  const form = h(
    "form",
    { novalidate: true },
    textField({ id: "code", label: "Invitation code", hint: "It starts with wpi_. Whoever invited you gave it to you.", autocomplete: "off" }),
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
    if (!/^wpi_[A-Za-z0-9_-]{43}$/.test(value("code"))) errors.push({ id: "code", text: "Enter the invitation code, starting wpi_" });
    if (!value("name")) errors.push({ id: "name", text: "Enter your name" });
    const registration = ["profession", "registration_body", "registration_number"].map(value);
    if (registration.some(Boolean) && !registration.every(Boolean)) {
      errors.push({ id: registration[0] ? (registration[1] ? "registration_number" : "registration_body") : "profession", text: "Clinicians: enter profession, registration body and number" });
    }
    if (errors.length) {
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Joining", async () => {
      const device = await jose.generateKey(false);
      const [profession, registration_body, registration_number] = registration;
      const party = await api.redeemInvitation(value("code"), value("name"), device,
        profession ? { profession, registration_body, registration_number } : undefined);
      const jwk = await jose.publicJwk(device.publicKey);
      state.device = { privateKey: device.privateKey, publicKey: device.publicKey, jwk, partyId: party.id, name: party.display_name, base: api.BASE };
      await keystore.save(state.device);
      state.session = null;
      await resume();
      go("/shared", `You joined ${party.membership.organisation_name} as ${words.ROLES[party.membership.role]}.`);
    });
  });
  page("Join your organisation", para("Your organisation invited you to Work Passport. You sign in as yourself, with a key made in this browser."), form);
}

async function respondToRequest() {
  const form = h("form", { novalidate: true },
    textField({ id: "code", label: "Request code", hint: "It starts with wpr_. The organisation that asks gave it to you.", autocomplete: "off" }),
    submit("Continue"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const code = form.elements.code.value.trim();
    if (!/^wpr_[A-Za-z0-9_-]{43}$/.test(code)) {
      const errors = [{ id: "code", text: "Enter the request code, starting wpr_" }];
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Opening the request", async () => decide(code, await state.session.call("POST", "/v1/access-requests/open", { code })));
  });
  page("Respond to an access request", para("An organisation asked to see your passport. Nothing is shared until you approve."), form);
}

/** Who asks for what and why; approve as asked or narrowed, or decline. */
function decide(code, request) {
  const who = request.roles.length ? `${request.organisation_name} (${words.words(request.roles.map((r) => words.ROLES[r]))})` : request.organisation_name;
  if (request.status !== "pending") {
    return page("This request is closed", para(`The request from ${who} is ${request.status}.`), para(link("#/grants", "See who can see your passport")));
  }
  const asked = request.scopes.map((sc) => sc.section);
  const form = h("form", { novalidate: true },
    choices({ id: "sections", legend: "What to share", type: "checkbox", hint: "Untick anything you do not want to share.", options: asked.map((id) => [id, words.section(id).title]), checked: asked }),
    choices({ id: "duration", legend: "For how long", options: DURATIONS.filter(([d]) => Number(d) <= request.duration_days).concat([[String(request.duration_days), `${request.duration_days} days, as asked`]]), checked: [String(request.duration_days)] }),
    submit("Continue"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const chosen = checkedValues(form, "sections");
    if (!chosen.length) {
      const errors = [{ id: "sections", text: "Choose at least one part to share, or decline the request" }];
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    const days = Number(checkedValues(form, "duration")[0]);
    const scopes = request.scopes.filter((sc) => chosen.includes(sc.section));
    const endsAt = new Date(Date.now() + days * 86400000 - 60000);
    const text = `I, ${state.me.display_name}, agree to share my Work Passport with ${who} for: ${request.purpose}. They may ${words.scopes(scopes)}. This consent ends on ${endsAt.toISOString().slice(0, 10)} unless I revoke it sooner.`;
    page("Check what you are agreeing to",
      summaryList([["Shared with", who], ["They may", words.scopes(scopes)], ["Why", request.purpose], ["Until", date(endsAt.toISOString())]]),
      h("h2", { class: "heading-m" }, "Your consent"), inset(text),
      h("p", {}, button("Confirm and share", async () => {
        try {
          await state.session.call("POST", "/v1/access-requests/approve", {
            code, scopes, ends_at: endsAt.toISOString().replace(/\.\d+Z$/, "Z"), consent_text: text,
          });
          go("/grants", `Shared with ${who}.`);
        } catch (e) {
          failure(e);
        }
      })));
  });
  page(
    `${request.organisation_name} asks to see your passport`,
    summaryList([["Who asks", `${request.requested_by_name}, for ${who}`], ["They ask to", words.scopes(request.scopes)], ["Why", request.purpose], ["For", `${request.duration_days} days`], ["Answer by", date(request.expires_at)]]),
    form,
    h("p", {}, button("Decline this request", async () => {
      await state.session.call("POST", "/v1/access-requests/decline", { code });
      go("/grants", `You declined the request from ${who}. Nothing was shared.`);
    }, "warning")),
  );
}

async function organisation() {
  const m = state.me.membership;
  if (!m || m.role !== "org_admin") {
    return page("Your organisation", para(m ? `You are ${words.ROLES[m.role]} at ${m.organisation_name}. Your organisation admin invites and removes people.` : "You are not a member of an organisation."));
  }
  const [members, invitations] = await Promise.all([
    state.session.call("GET", `/v1/organisations/${m.organisation}/members`),
    state.session.call("GET", `/v1/organisations/${m.organisation}/invitations`),
  ]);
  const roles = Object.keys(words.ROLES).filter((r) => (m.organisation_kind === "practice") === (r === "clinician") || r === "org_admin");
  const form = h("form", { novalidate: true },
    choices({ id: "role", legend: "Their role", options: roles.map((r) => [r, label(words.ROLES[r])]) }),
    submit("Make an invitation"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const role = checkedValues(form, "role")[0];
    if (!role) {
      const errors = [{ id: "role", text: "Choose their role" }];
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Making the invitation", async () => {
      const invitation = await state.session.call("POST", `/v1/organisations/${m.organisation}/invitations`, { role });
      page("Invitation made",
        para(`Give this code to the person you invite, privately. It works once, until ${date(invitation.expires_at)}, and is not shown again.`),
        h("p", {}, h("code", { class: "code-block" }, invitation.code)),
        para(`They open ${api.BASE}/#/join and enter it.`),
        para(link("#/organisation", "Back to your organisation")));
    });
  });
  page(
    m.organisation_name,
    h("h2", { class: "heading-m" }, "Members"),
    members.filter((x) => !x.removed_at).map((x, i) => h("section", { class: "record", "aria-labelledby": `m-${i}` },
      h("h3", { class: "heading-s", id: `m-${i}` }, `${x.display_name}, ${words.ROLES[x.role]}`),
      x.party !== state.session.partyId && h("p", {}, button(`Remove ${x.display_name}`, async () => {
        await state.session.call("POST", `/v1/organisations/${m.organisation}/members/${x.party}/remove`);
        go("/organisation", `${x.display_name} was removed: their next request is refused.`);
      }, "warning")))),
    h("h2", { class: "heading-m" }, "Invite someone"),
    form,
    h("h2", { class: "heading-m" }, "Invitations"),
    invitations.length ? h("ul", { class: "list" }, invitations.map((i) => h("li", {}, `${label(words.ROLES[i.role])}: ${i.status}, until ${date(i.expires_at)}`))) : para("No invitations yet."),
  );
}

/** A member asks an employee for access, and sees the requests their organisation sent. */
async function requestsSent() {
  const m = state.me.membership;
  if (!m) return page("Access requests", para("Only people at an organisation send access requests."));
  const sent = await state.session.call("GET", `/v1/organisations/${m.organisation}/access-requests`).catch((e) => {
    if (e instanceof api.ApiError && e.kind === "forbidden") return null;
    throw e;
  });
  const sectionOptions = words.SECTIONS.map((x) => [x.id, x.title]);
  const clinician = m.organisation_kind === "practice";
  const form = h("form", { novalidate: true },
    choices({ id: "read", legend: "What you ask to read", type: "checkbox", options: sectionOptions }),
    clinician
      ? choices({ id: "write", legend: "What you ask to write", type: "checkbox", hint: "After an assessment: you add and update these, signed by you.", options: sectionOptions })
      : choices({ id: "agree", legend: "Do you ask to agree adjustments?", type: "checkbox", options: [["adjustments", "Yes, we ask to agree adjustments"]] }),
    textField({ id: "purpose", label: "Why you ask", hint: "The employee sees this, for example: workplace adjustments in your new job." }),
    choices({ id: "duration", legend: "For how long", options: DURATIONS, checked: ["365"] }),
    textField({ id: "employee", label: "The employee's Work Passport id (optional)", hint: "If you know it: then only they can open the request.", width: 30 }),
    submit("Make the request"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const read = checkedValues(form, "read");
    const write = clinician ? checkedValues(form, "write") : [];
    const agree = clinician ? [] : checkedValues(form, "agree");
    const purpose = form.elements.purpose.value.trim();
    const employee = form.elements.employee.value.trim().toLowerCase();
    const errors = [];
    if (!read.length && !write.length && !agree.length) errors.push({ id: "read", text: "Choose at least one part of the passport" });
    if (!purpose) errors.push({ id: "purpose", text: "Enter why you ask" });
    if (employee && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(employee)) errors.push({ id: "employee", text: "Enter their Work Passport id, like 3f2b8c1e-5d4a-4c2b-9e7f-0a1b2c3d4e5f, or leave it empty" });
    if (errors.length) {
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Making the request", async () => {
      const body = { scopes: scopesOf({ read, write, agree }), purpose, duration_days: Number(checkedValues(form, "duration")[0]) };
      if (employee) body.employee = employee;
      const made = await state.session.call("POST", `/v1/organisations/${m.organisation}/access-requests`, body);
      page("Request made",
        para(`Give this code to the employee, privately. It works once, until ${date(made.expires_at)}, and grants nothing until they approve.`),
        h("p", {}, h("code", { class: "code-block" }, made.code)),
        para(`They sign in at ${api.BASE}/, choose "Who can see it", then "Respond to an access request", and enter it.`),
        para(link("#/requests", "Back to access requests")));
    });
  });
  page(
    "Access requests",
    para(`Ask an employee to share their passport with ${m.organisation_name}. They see who asks, for what and why, and choose.`),
    h("h2", { class: "heading-m" }, "Ask for access"),
    form,
    sent && [h("h2", { class: "heading-m" }, "Requests sent"),
      sent.length ? h("ul", { class: "list" }, sent.map((r) =>
        h("li", {}, `${r.requested_by_name}: ${words.scopes(r.scopes)}, for ${r.purpose}. ${label(r.status)}${r.status === "pending" ? `, until ${date(r.expires_at)}` : ""}.`)))
        : para("None yet.")],
  );
}

/** One page for a new manager: what helps, and the adjustments in place; print it or save a PDF. */
async function printable() {
  const sections = await readPassport();
  const trusted = (id) => (sections[id] || []).filter((r) => r.check.ok && r.check.payload.body);
  const summary = trusted("summary")[0]?.check.payload.body;
  const adjustments = trusted("adjustments").map((r) => r.check.payload.body).filter((b) => ["agreed", "in_place", "trialled", "requested"].includes(b.status));
  const impacts = trusted("impacts").map((r) => r.check.payload.body);
  page(
    `${state.me.display_name}: what helps me at work`,
    h("p", { class: "no-print" }, button("Print this page", () => window.print(), "secondary")),
    summary && [h("h2", { class: "heading-m" }, "About me"), para(summary.about_me),
      summary.what_helps?.length && [h("h3", { class: "heading-s" }, "What helps"), h("ul", { class: "list" }, summary.what_helps.map((x) => h("li", {}, x)))],
      summary.communication_preferences && [h("h3", { class: "heading-s" }, "How to communicate with me"), para(summary.communication_preferences)]],
    adjustments.length > 0 && [h("h2", { class: "heading-m" }, "My adjustments"),
      h("ul", { class: "list" }, adjustments.map((a) => h("li", {}, `${a.title}: ${label(a.status.replace(/_/g, " "))}${a.review_date ? `, review by ${date(a.review_date)}` : ""}.`)))],
    impacts.length > 0 && [h("h2", { class: "heading-m" }, "Good days and bad days"),
      impacts.map((i) => [h("h3", { class: "heading-s" }, i.area), summaryList([["Good day", i.good_day], ["Bad day", i.bad_day]])])],
    !summary && !adjustments.length && !impacts.length && para("Write your summary, impacts and adjustments first: they appear here."),
    h("p", { class: "body-s" }, `Printed from my Work Passport on ${date(new Date().toISOString())}. Every part is signed; ask me for the shared passport to check it.`),
  );
}

/** The "Reviews due" box, or nothing. */
function dueSoon(due) {
  return due.length > 0 && h("section", { class: "inset-text", "aria-labelledby": "h-due" },
    h("h2", { class: "heading-s", id: "h-due" }, "Reviews due"),
    h("ul", { class: "list" }, due.map((d) => h("li", {}, `${words.recordTitle(d.section, d.body)}: review by ${date(d.body.review_date)}`))));
}

/** Adjustments and plans whose review date is within `days` (or past). */
function reviewsDue(sections, days = 42) {
  const soon = Date.now() + days * 86400000;
  return ["adjustments", "plans"].flatMap((id) => (sections[id] || [])
    .filter((r) => r.check.ok && r.check.payload.body?.review_date && Date.parse(r.check.payload.body.review_date) <= soon && r.check.payload.body.status !== "ended")
    .map((r) => ({ section: id, body: r.check.payload.body })));
}

/** The operator's one-time link: whoever opens it first becomes an admin, with a key made here. */
async function adminJoin(invitation) {
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
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Setting up your admin key", async () => {
      const device = await jose.generateKey(false);
      const party = await api.joinAsAdmin(invitation, name, device);
      const jwk = await jose.publicJwk(device.publicKey);
      state.device = { privateKey: device.privateKey, publicKey: device.publicKey, jwk, partyId: party.id, name: party.display_name, base: api.BASE };
      await keystore.save(state.device);
      state.session = null;
      await resume();
      go("/admin", "You are an admin of this Work Passport service.");
    });
  });
  page("Become an admin", para("The operator of this service gave you a one-time link. It works once."), form);
}

/** The service admin: organisations, and the first person invited to run each. */
async function admin() {
  if (state.me.kind !== "admin") return page("Organisations", para("Only a service admin sets up organisations."));
  const create = h("form", { novalidate: true },
    choices({ id: "kind", legend: "What kind of organisation", options: [["employer", "Employer", "Its HR and line managers read passports and agree adjustments."], ["practice", "Practice", "An occupational health or therapy practice: its clinicians read and write."]] }),
    textField({ id: "org_name", label: "Its name", hint: "For example, Acme Ltd." }),
    submit("Create and invite its first admin"));
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(create);
    const kind = checkedValues(create, "kind")[0];
    const name = create.elements.org_name.value.trim();
    const errors = [];
    if (!kind) errors.push({ id: "kind", text: "Choose what kind of organisation" });
    if (!name) errors.push({ id: "org_name", text: "Enter its name" });
    if (errors.length) {
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(create, "Creating the organisation", async () => {
      const org = await state.session.call("POST", "/v1/admin/organisations", { kind, display_name: name });
      const invitation = await state.session.call("POST", `/v1/organisations/${org.id}/invitations`, { role: "org_admin" });
      page(`${org.display_name} is set up`,
        summaryList([["Work Passport id", h("code", {}, org.id)], ["Kind", label(org.kind)]]),
        para(`Give this invitation code to the person who will run ${org.display_name} here, privately. It works once, until ${date(invitation.expires_at)}.`),
        h("p", {}, h("code", { class: "code-block" }, invitation.code)),
        para(`They open ${api.BASE}/#/join and enter it; then they invite their colleagues.`),
        para(link("#/admin", "Back to organisations")));
    });
  });
  const search = h("form", { novalidate: true, role: "search" },
    textField({ id: "find", label: "Find an organisation", hint: "Any part of its name." }),
    submit("Search", "secondary"),
    h("div", { id: "found" }));
  search.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = search.elements.find.value.trim();
    const found = name ? await state.session.call("GET", `/v1/organisations?name=${encodeURIComponent(name)}`) : [];
    search.querySelector("#found").replaceChildren(found.length
      ? h("ul", { class: "list" }, found.map((o) => h("li", {}, `${o.display_name} (${o.kind}): `, h("code", {}, o.id))))
      : para("No organisation has that name."));
    announce(`${found.length} found.`);
  });
  page("Organisations", h("h2", { class: "heading-m" }, "Set up an organisation"), create, h("h2", { class: "heading-m" }, "Find one"), search);
}

// ---------------------------------------------------------------------------------------------
// Devices, erasing, signing out

async function devices() {
  const me = (await state.session.call("GET", "/v1/me")).party;
  const keys = me.keys.filter((k) => !k.revoked_at);
  const which = (k) => k.kid === state.session.jwk.kid ? "This device" : k.kid === state.device.recoveryKid ? "Your recovery key" : "Another device";
  page(
    "Your devices",
    para("Each device you use has a key of its own. Remove a device you no longer use or have lost: it stops working at once."),
    keys.map((k, i) => h("section", { class: "record", "aria-labelledby": `k-${i}` },
      h("h2", { class: "heading-s", id: `k-${i}` }, which(k)),
      summaryList([["Added", dateTime(k.created_at)], ["Key id", h("code", {}, k.kid)]]),
      k.kid !== state.session.jwk.kid && h("p", {}, button(`Remove ${which(k).toLowerCase()}`, async () => {
        await state.session.call("POST", `/v1/parties/${me.id}/keys/${k.kid}/revoke`);
        go("/devices", `${which(k)} removed.`);
      }, "warning")))),
    h("h2", { class: "heading-m" }, "This device"),
    para("On a shared or borrowed computer, remove this device when you finish: its key is revoked and deleted from this browser. To sign in again you need your recovery key or another device."),
    h("p", {}, button("Remove this device and sign out", async () => {
      try {
        await state.session.call("POST", `/v1/parties/${me.id}/keys/${state.session.jwk.kid}/revoke`);
      } catch (e) {
        if (e instanceof api.ApiError && e.kind === "conflict") {
          return showErrors([{ text: "This is your only key: make a recovery key first, then remove this device." }]);
        }
        throw e;
      }
      await keystore.forget();
      signOut();
    }, "warning")),
    h("h2", { class: "heading-m" }, "Recovery key"),
    para("Lost your recovery key? Make a new one: remove the old one above afterwards."),
    h("p", {}, button("Make a new recovery key", async () => {
      await makeRecoveryKey();
      go("/recovery-key");
    }, "secondary")),
  );
}

async function erase() {
  const form = h(
    "form",
    { novalidate: true },
    choices({ id: "sure", legend: "Are you sure?", type: "checkbox", options: [["yes", "I understand my passport and its history will be erased for good"]] }),
    submit("Erase my passport", "warning"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkedValues(form, "sure").length) {
      const errors = [{ id: "sure", text: "Tick the box to confirm you want to erase your passport" }];
      showErrors(errors);
      forms.mark(errors);
      return;
    }
    await busy(form, "Erasing", async () => {
      await state.session.call("DELETE", `/v1/passports/${state.passportId}`);
      state.passportId = null;
      go("/passport", "Your passport was erased.");
    });
  });
  page(
    "Erase your passport",
    warning("This cannot be undone. Everything you and others wrote is erased, and everyone you shared it with loses access at once."),
    form,
  );
}

function signOut() {
  signedOut = true;
  state.session?.forget();
  Object.assign(state, { session: null, me: null, passportId: null, device: null, recovery: null });
  pending = "You are signed out. Nothing from your passport is kept in this browser.";
  go("/");
}

// ---------------------------------------------------------------------------------------------

document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", route);
route();

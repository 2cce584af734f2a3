// A passport's records: the overview, sections, forms, signed versions, conflicts, history, the
// printable summary, erasing. The same pages serve its owner and a grantee (a "place").

import * as api from "../api.js";
import * as forms from "../forms.js";
import * as words from "../words.js";
import { Verifier } from "../verify.js";
import { announce, button, checkedValues, choices, clearErrors, date, dateTime, h, inset, link, page, para, submit, summaryList, tag, warning } from "../ui.js";
import { article, busy, failure, go, label, notFound, refuse } from "../flow.js";
import { own, state } from "../session.js";
import * as paths from "../endpoints.js";

export async function readPassport(place = own()) {
  const view = await state.session.call("GET", paths.passport(place.passportId), undefined, place.grantId);
  const verifier = new Verifier(state.session, place.grantId, place.passportId);
  const checked = {};
  for (const [section, envelopes] of Object.entries(view.sections)) {
    checked[section] = await Promise.all(envelopes.map(async (e) => ({ envelope: e, check: await verifier.version(e) })));
  }
  return checked;
}

export function signature(check, envelope) {
  const who = words.party(check.author, state.session.partyId);
  return check.ok
    ? h("p", { class: "signature" }, tag("Verified", "green"), ` Signed by ${who} on ${dateTime(envelope.created_at)}.`)
    : h("p", { class: "signature" }, tag("Not verified", "red"), ` Do not rely on this version: ${check.reason}.`);
}

export async function overview() {
  if (!state.passportId) {
    return page("Your passport", para("You have no passport yet."), button("Create my passport", async () => {
      const passport = await state.session.call("POST", paths.passports);
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
              h("li", { dir: "auto" }, words.recordTitle(s.id, check.payload?.body, envelope, check), " ", check.ok ? "" : tag("Not verified", "red"))))
          : para(`No ${s.one} yet.`),
        h("p", {}, records.length
          ? link(`#/section/${s.id}`, `View and change ${s.title.toLowerCase()}`)
          : link(`#/section/${s.id}/new`, `Add ${article(s.one)} ${s.one}`)));
    }),
    h("h2", { class: "heading-m" }, "Download or move"),
    para(link("#/download", "Download your passport"), ", checked and signed by you, to keep or to move to another Work Passport server."),
    h("h2", { class: "heading-m" }, "Erase"),
    para("You can erase your passport at any time: ", link("#/erase", "erase my passport"), "."),
  );
}

export async function sectionPage(sectionId) {
  const s = words.section(sectionId);
  if (!s) return notFound();
  const records = (await readPassport())[sectionId] || [];
  const cards = await Promise.all(records.map(async ({ envelope, check }, i) =>
    h("section", { class: "record", "aria-labelledby": `r-${i}` },
      h("h2", { class: "heading-m", id: `r-${i}`, dir: "auto" }, words.recordTitle(sectionId, check.payload?.body, envelope, check)),
      signature(check, envelope),
      check.ok && summaryList(await forms.rows(sectionId, check.payload.body)),
      recordLinks(own(), envelope, `r-${i}`, true))));
  page(
    s.title,
    para(s.about),
    cards.length ? cards : para(`You have no ${s.one} yet.`),
    canAdd(sectionId, records) && h("p", {}, link(`#/section/${sectionId}/new`, `Add ${article(s.one)} ${s.one}`, { class: "button" })),
    para(link("#/passport", "Back to your passport")),
  );
}

/** Whether to offer "Add ..." in a section: a passport has one summary, so once it has one
 * (not removed) it is changed, not added to. */
export function canAdd(sectionId, records) {
  return sectionId !== "summary" || !records.some(({ envelope }) => !envelope.deleted);
}

export async function editRecord(place, recordId) {
  const head = await state.session.call("GET", paths.passportRecord(place.passportId, recordId), undefined, place.grantId);
  const check = await new Verifier(state.session, place.grantId, place.passportId).version(head);
  if (!check.ok) throw new Error(`This record's latest version cannot be trusted: ${check.reason}.`);
  return recordForm(place, head.section, head, check.payload.body);
}

/** The form for a new record, or for the next version of `head`. */
export async function recordForm(place, sectionId, head, body) {
  const s = words.section(sectionId);
  if (!s) return notFound();
  const form = h("form", { novalidate: true }, await forms.fields(sectionId, body, !place.grantId), submit(head ? "Save and sign" : `Add and sign`));
  const recordId = head ? head.record_id : crypto.randomUUID();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { body: next, errors } = await forms.read(sectionId, form);
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(form, "Signing and saving", () => write(place, sectionId, recordId, head, next));
  });
  page(head ? `Change ${s.one}` : `Add ${article(s.one)} ${s.one}`,
    para("What you save is signed on this device with your key, and kept as a new version: earlier versions stay in its history."),
    form, para(link(`#${back(place, sectionId)}`, "Go back without saving")));
}

/** Where a page about `sectionId` returns to: the section page, or the shared passport. */
export function back(place, sectionId) {
  return place.grantId ? place.home : `/section/${sectionId}`;
}

export async function write(place, sectionId, recordId, head, body, done = "Saved and signed.") {
  const from = location.hash;
  const fields = { passport: place.passportId, record: recordId, section: sectionId, version: head ? head.version + 1 : 1, body };
  if (head) fields.prev = head.hash;
  const jws = await state.session.signVersion(fields);
  const path = head ? paths.passportRecordVersions(place.passportId, recordId) : paths.passportRecords(place.passportId);
  try {
    await state.session.call("POST", path, { jws }, place.grantId);
  } catch (e) {
    if (e instanceof api.ApiError && e.kind === "version-conflict" && e.problem.current_head) {
      return conflict(place, sectionId, recordId, e.problem.current_head, body);
    }
    throw e;
  }
  // The person may have moved on while it was saving: say so, but leave them where they are.
  if (location.hash === from) go(back(place, sectionId), done);
  else announce(done);
}

/** Someone saved a version first (someone else, or this person on another device): show both,
 * and let the person re-apply theirs on top. */
export async function conflict(place, sectionId, recordId, current, mine) {
  const check = await new Verifier(state.session, place.grantId, place.passportId).version(current);
  const self = current.author === state.session.partyId;
  page(
    self ? "You changed this on another device meanwhile" : "Someone else changed this meanwhile",
    para(self
      ? "Your change here is not saved yet. The version saved from your other device (or another tab) is below: save this change on top of it, or keep that one."
      : "Your change is not saved yet. Compare the two, then save yours on top of theirs, or keep theirs."),
    h("h2", { class: "heading-m" }, self ? "The version saved first" : "Their version"),
    signature(check, current),
    check.ok && summaryList(await forms.rows(sectionId, check.payload.body)),
    h("h2", { class: "heading-m" }, self ? "Your change here" : "Your change"),
    summaryList(await forms.rows(sectionId, mine)),
    h("p", {}, button(self ? "Save this change on top" : "Save my change on top of theirs", () => write(place, sectionId, recordId, current, mine).catch(failure)), " ",
      link(`#${back(place, sectionId)}`, self ? "Keep the version saved first" : "Keep theirs", { class: "button button--secondary" })),
  );
}

export async function recordHistory(place, recordId) {
  const answer = await state.session.call("GET", paths.passportRecordVersions(place.passportId, recordId), undefined, place.grantId);
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

/** "Change" and "History" links for a record, named by the record's heading for screen readers. */
export function recordLinks(place, envelope, labelledBy, canWrite) {
  return h("p", {},
    canWrite && !envelope.deleted && [link(`#${place.prefix}/record/${envelope.record_id}/edit`, "Change", { "aria-describedby": labelledBy }), " "],
    link(`#${place.prefix}/record/${envelope.record_id}/history`, "History", { "aria-describedby": labelledBy }));
}

/** One page for a new manager: what helps, and the adjustments in place; print it or save a PDF. */
export async function printable() {
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
export function dueSoon(due) {
  return due.length > 0 && h("section", { class: "inset-text", "aria-labelledby": "h-due" },
    h("h2", { class: "heading-s", id: "h-due" }, "Reviews due"),
    h("ul", { class: "list" }, due.map((d) => h("li", {}, `${words.recordTitle(d.section, d.body)}: review by ${date(d.body.review_date)}`))));
}

/** Adjustments and plans whose review date is within `days` (or past). */
export function reviewsDue(sections, days = 42) {
  const soon = Date.now() + days * 86400000;
  return ["adjustments", "plans"].flatMap((id) => (sections[id] || [])
    .filter((r) => r.check.ok && r.check.payload.body?.review_date && Date.parse(r.check.payload.body.review_date) <= soon && r.check.payload.body.status !== "ended")
    .map((r) => ({ section: id, body: r.check.payload.body })));
}

export async function erase() {
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
      refuse(errors);
      return;
    }
    await busy(form, "Erasing", async () => {
      await state.session.call("DELETE", paths.passport(state.passportId));
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

// The owner's side of consent: sharing, answering access requests, stopping, the access log.

import * as api from "../api.js";
import { ApiError } from "../api.js";
import * as words from "../words.js";
import { Verifier, verifyLog } from "../verify.js";
import { announce, button, checkedValues, choices, clearErrors, date, dateTime, h, inset, link, page, para, showErrors, submit, summaryList, tag, textField, warning } from "../ui.js";
import { busy, codeProblem, go, label, problemErrors, refuse } from "../flow.js";
import { state } from "../session.js";
import * as paths from "../endpoints.js";

export const DURATIONS = [["30", "1 month"], ["91", "3 months"], ["182", "6 months"], ["365", "12 months"]];

/** An organisation's share code as a person may type it: 12 letters and digits, in any case,
 * with or without hyphens and spaces (the server reads I and L as 1, O as 0). */
export function shareCodeOf(text) {
  const code = text.replace(/[\s-]/g, "").toUpperCase();
  return /^[0-9A-Z]{12}$/.test(code) ? code : null;
}

// The share form being filled in for organisation `id`, kept (with what was typed and ticked)
// while its choices are checked on their own page, so that "Change" comes back to it as it was;
// and those choices. Only for the session that filled it in: after a sign-out, nobody else sees it.
const draft = { session: null, id: null, title: null, parts: null, choice: null };
const drafted = (id) => draft.session && draft.session === state.session && draft.id === id;

// The organisations found on this page, by id, so that the one chosen is shown as it was found
// (with its place and line).
const found = new Map();

/** Who to share with: an organisation found by its name (those that chose to be listed) or by
 * the share code it gave; its share link (`#/share/CODE`) skips this step. */
export async function share() {
  if (state.me.kind !== "employee") return notAnEmployee();
  const results = h("div", { id: "results" });
  const form = h(
    "form",
    { novalidate: true, role: "search" },
    textField({ id: "find", label: "Organisation name or share code", hint: "Type part of its name, for example Acme, or the share code the organisation gave you, like K7PD-4MQX-93HN.", autocomplete: "organization" }),
    submit("Search"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    results.replaceChildren();
    const text = form.elements.find.value.trim();
    if (text.length < 2) {
      refuse([{ id: "find", text: text ? "Enter at least 2 characters of the organisation's name" : "Enter the organisation's name or its share code" }]);
      return;
    }
    showErrors([]);
    await busy(form, "Searching", async () => {
      const code = shareCodeOf(text);
      const byCode = code ? await state.session.call("GET", paths.shareCode(code)).catch((e) => {
        if (e instanceof ApiError && e.kind === "not-found") return null;
        throw e;
      }) : null;
      const list = byCode ? [byCode] : await state.session.call("GET", `${paths.organisations}?name=${encodeURIComponent(text)}`);
      list.forEach((o) => found.set(o.id, o));
      results.replaceChildren(
        h("h2", { class: "heading-m" }, list.length ? "Choose who to share with" : "No organisation found"),
        list.length
          ? h("ul", { class: "results" }, list.map((o, i) => h("li", { class: "results__item" },
            link(`#/share/to/${o.id}`, o.display_name, { "aria-describedby": `result-${i}` }),
            h("p", { class: "hint", id: `result-${i}` }, words.organisationDetails(o)))))
          : para(code ? "No organisation has this share code, and none that is listed has this name. Check the code with the organisation." : "No organisation that is listed has this name. Some organisations are not listed: ask them for their share code or share link."),
      );
      announce(list.length === 1 ? "1 organisation found." : `${list.length} organisations found.`);
    });
  });
  page(
    "Share your passport",
    para("First find the employer, practice or organisation you want to share with. Then you choose what they see and for how long, and see what you agree to before anything is shared."),
    form,
    results,
  );
}

/** Only an employee has a passport to share: anyone else who opens Share is told so. */
function notAnEmployee() {
  return page("Only employees share a passport", para("You are signed in for an organisation or as an admin: you have no passport to share. An employee opens this link in their own browser, where their passport is."));
}

/** A share link opened where nobody is signed in: what to do, rather than the start page. */
export function shareLinkSignedOut() {
  return page(
    "Sign in to share your passport",
    para("This link lets you share your passport with an organisation. Your passport opens only on a device where you are signed in."),
    para("Create your passport, or sign in with your recovery key, then open the link again."),
    h("p", {}, link("#/signup", "Create your passport", { class: "button" }), " ", link("#/recover", "Sign in with your recovery key", { class: "button button--secondary" })),
  );
}

/** The share link an organisation gives: `#/share/CODE` opens the share form for it. */
export async function shareByCode(text) {
  if (state.me.kind !== "employee") return notAnEmployee();
  const code = shareCodeOf(text);
  const org = code && await state.session.call("GET", paths.shareCode(code)).catch((e) => {
    if (e instanceof ApiError && e.kind === "not-found") return null;
    throw e;
  });
  if (!org) {
    return page("This share link does not work", para("No organisation has the share code in this link. Ask the organisation for its share link again, or find it by its name."), para(link("#/share", "Find an organisation to share with")));
  }
  found.set(org.id, org);
  return shareWith(org.id);
}

/** What to share with organisation `id` (found by name or share code), for how long. */
export async function shareWith(id) {
  if (state.me.kind !== "employee") return notAnEmployee();
  if (drafted(id) && draft.parts) return page(draft.title, ...draft.parts);
  const party = await state.session.call("GET", paths.party(id)).catch((e) => {
    if (e instanceof ApiError && e.kind === "not-found") return null;
    throw e;
  });
  if (!party || !["employer", "practice"].includes(party.kind) || party.origin) {
    return page("Organisation not found", para("There is no organisation at this address."), para(link("#/share", "Find an organisation to share with")));
  }
  const entry = found.get(id) || { ...party };
  const sectionOptions = words.SECTIONS.map((s) => [s.id, s.title]);
  // An organisation whose people act for it: the employee says who there may see it.
  const byRole = !party.keys.length;
  const roleOptions = Object.entries(words.ROLES).filter(([r]) => r !== "org_admin" && (party.kind === "practice") === (r === "clinician"));
  const form = h(
    "form",
    { novalidate: true },
    byRole && choices({ id: "roles", legend: "Who at the organisation", hint: `The people in these roles at ${party.display_name}.`, type: "checkbox", options: roleOptions.map(([r, t]) => [r, label(t)]) }),
    choices({ id: "read", legend: "What they may read", type: "checkbox", options: sectionOptions }),
    choices({ id: "agree", legend: "May they agree your adjustments?", type: "checkbox", hint: "Employers: they record that an adjustment is agreed, signed by them.", options: [["adjustments", "Yes, they may agree adjustments"]] }),
    choices({ id: "write", legend: "What they may write", type: "checkbox", hint: "Occupational therapists and other professionals: they add and update these, signed by them.", options: sectionOptions }),
    textField({ id: "purpose", label: "Why you are sharing", hint: `For example: workplace adjustments in my new job at ${party.display_name}.` }),
    choices({ id: "duration", legend: "For how long", hint: "Sharing always ends. You can stop it sooner at any time.", options: DURATIONS, checked: ["91"] }),
    submit("Continue"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const read = checkedValues(form, "read");
    const agree = checkedValues(form, "agree");
    const write = checkedValues(form, "write");
    const roles = checkedValues(form, "roles");
    const purpose = form.elements.purpose.value.trim();
    const errors = [];
    if (byRole && !roles.length) errors.push({ id: "roles", text: `Choose who at ${party.display_name} may see it` });
    if (!read.length && !agree.length && !write.length) errors.push({ id: "read", text: "Choose at least one part of your passport to share" });
    if (!purpose) errors.push({ id: "purpose", text: "Enter why you are sharing" });
    else if ([...purpose].length > 500) errors.push({ id: "purpose", text: "Why you are sharing must be 500 characters or fewer" });
    if (errors.length) {
      refuse(errors);
      return;
    }
    const days = Number(checkedValues(form, "duration")[0] || "91");
    const endsAt = new Date(Date.now() + days * 86400000);
    Object.assign(draft, { session: state.session, id, title, parts, choice: { party, roles, read, agree, write, purpose, endsAt } });
    go(`/share/to/${id}/check`);
  });
  const title = `Share your passport with ${party.display_name}`;
  const parts = [
    summaryList([["Sharing with", [party.display_name, h("br"), h("span", { class: "hint" }, words.organisationDetails(entry))]]]),
    para(link("#/share", "Choose another organisation")),
    form,
  ];
  page(title, ...parts);
}

/** The share's choices, checked before anything is shared (from the share form for `id`). */
export function checkShare(id) {
  if (!drafted(id) || !draft.choice) return go(`/share/to/${id}`);
  confirmShare(draft.choice, `#/share/to/${id}`);
}

export function scopesOf({ read, agree, write }) {
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

export function confirmShare(choice, change) {
  const scopes = scopesOf(choice);
  const who = choice.roles.length ? words.covering(choice.party.display_name, choice.roles) : words.party(choice.party);
  checkConsent({
    who, scopes, purpose: choice.purpose, endsAt: choice.endsAt, change,
    send: async (text, endsAt) => {
      await state.session.call("POST", paths.passportGrants(state.passportId), {
        grantee: choice.party.id, roles: choice.roles, scopes, purpose: choice.purpose, ends_at: endsAt, consent_text: text,
      });
      Object.assign(draft, { session: null, id: null, title: null, parts: null, choice: null });
    },
  });
}

/** The consent in full before anything is shared; `send(text, endsAt)` makes the grant, then
 * the person sees who can see their passport. */
function checkConsent({ who, scopes, purpose, endsAt, change, send }) {
  const text = words.consentText(state.me.display_name, who, purpose, scopes, endsAt);
  page(
    "Check what you are agreeing to",
    summaryList([["Shared with", who], ["They may", words.scopes(scopes)], ["Why", purpose], ["Until", date(endsAt.toISOString())]]),
    h("h2", { class: "heading-m" }, "Your consent"),
    h("div", { class: "inset-text", dir: "auto" }, text),
    para("Every time they look, it is written in your access log. You can stop sharing at any time."),
    h("p", {}, button("Confirm and share", async (event) => {
      event.target.disabled = true;
      try {
        await send(text, endsAt.toISOString().replace(/\.\d+Z$/, "Z"));
        go("/grants", `Shared with ${who}.`);
      } catch (e) {
        // Nothing was shared: say why here, and keep the choices to try again or change.
        event.target.disabled = false;
        showErrors(problemErrors(e).map((x) => ({ text: `Nothing was shared. ${x.text}` })));
      }
    }), change && [" ", link(change, "Change", { class: "button button--secondary" })]),
  );
}

export async function grants() {
  const list = await state.session.call("GET", paths.passportGrants(state.passportId));
  const verifier = new Verifier(state.session);
  const rows = await Promise.all(list.map(async (g) => {
    const party = await verifier.party(g.grantee).catch(() => null);
    const who = g.roles?.length ? words.covering(party?.display_name, g.roles) : words.party(party);
    return { g, who };
  }));
  const active = rows.filter(({ g }) => g.status === "active");
  const ended = rows.filter(({ g }) => g.status !== "active");
  const card = ({ g, who }, i) => h("section", { class: "record", "aria-labelledby": `g-${i}` },
    h("h3", { class: "heading-s", id: `g-${i}` }, who),
    summaryList([["They may", words.scopes(g.scopes)], ["Why", g.purpose], [g.status === "active" ? "Until" : "Ended", date(g.revoked_at || g.ends_at)], ["Status", label(g.status)]]),
    g.status === "active" && h("p", {}, link(`#/grants/${g.id}/stop`, `Stop sharing with ${who}`, { class: "button button--warning" })));
  page(
    "Who can see your passport",
    h("h2", { class: "heading-m" }, "Sharing now"),
    active.length ? active.map(card) : para("You are not sharing your passport with anyone."),
    h("p", {}, link("#/share", "Share your passport", { class: "button" }), " ",
      link("#/request", "Respond to an access request", { class: "button button--secondary" })),
    ended.length > 0 && [h("h2", { class: "heading-m" }, "Ended"), ended.map((r, i) => card(r, i + active.length))],
  );
}

/** Before sharing stops: with whom, what they may do now, and what stopping does. */
export async function confirmStop(grantId) {
  const list = await state.session.call("GET", paths.passportGrants(state.passportId));
  const g = list.find((x) => x.id === grantId && x.status === "active");
  if (!g) return go("/grants");
  const party = await new Verifier(state.session).party(g.grantee).catch(() => null);
  const who = g.roles?.length ? words.covering(party?.display_name, g.roles) : words.party(party);
  page(
    `Stop sharing with ${who}?`,
    summaryList([["They may", words.scopes(g.scopes)], ["Why", g.purpose], ["Until", date(g.ends_at)]]),
    warning("They lose access at once: their next request is refused. What they already read, they may remember or have noted. To share again, you make a new share."),
    h("p", {},
      button("Yes, stop sharing", async (event) => {
        event.target.disabled = true;
        try {
          await revoke(g, who);
        } catch (e) {
          event.target.disabled = false;
          showErrors(problemErrors(e).map((x) => ({ text: x.text })));
        }
      }, "warning"), " ",
      link("#/grants", "No, keep sharing", { class: "button button--secondary" })),
  );
}

export async function revoke(g, who) {
  await state.session.call("POST", paths.passportGrantRevoke(state.passportId, g.id));
  go("/grants", `You stopped sharing with ${who}. Their next request is refused.`);
}

export async function accessLog() {
  const entries = [];
  let before;
  do {
    const query = before ? `?limit=500&before=${before}` : "?limit=500";
    const answer = await state.session.call("GET", paths.passportAccessLog(state.passportId) + query);
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
  // The shares the log names, to say with whom and until when.
  const shares = new Map();
  if (entries.some((e) => e.action === "grant_created" || e.action === "grant_revoked")) {
    for (const g of await state.session.call("GET", paths.passportGrants(state.passportId)).catch(() => [])) {
      const party = names.get(g.grantee) || (await verifier.party(g.grantee).catch(() => null));
      shares.set(g.id, { who: g.roles?.length ? words.covering(party?.display_name, g.roles) : party?.display_name, ends_at: g.ends_at });
    }
  }
  const who = (e) => {
    if (!e.actor) return "Someone unknown";
    const p = names.get(e.actor);
    if (e.on_behalf_of) {
      const org = names.get(e.on_behalf_of.organisation);
      return `${p?.display_name || "Someone"} (${words.ROLES[e.on_behalf_of.role]}, ${org?.display_name || "an organisation"})`;
    }
    return e.actor === state.session.partyId ? "You" : words.party(p);
  };
  const time = (at) => dateTime(at).replace(/^.* at /, "");
  page(
    "Access log",
    chain.ok ? inset(`All ${chain.count} entries are linked in an unbroken chain: verified on this device. Nothing was removed or changed.`)
      : warning(`The log's chain is broken at entry ${chain.at}: entries may have been changed or removed. Contact the service.`),
    para("Everything done with your passport, newest first. The same thing done again on the same day is counted on one line."),
    h("ol", { class: "log" }, words.groupLog(entries).map(({ entry: e, count, first }) => {
      const mine = e.actor === state.session.partyId;
      const said = words.logEntry(e, who(e), { grant: shares.get(e.grant_id), count, mine });
      return h("li", { class: said.alarm ? "log__entry log__entry--denied" : "log__entry" },
        h("span", { class: "log__time" }, dateTime(e.at)), " ",
        said.alarm ? tag("Refused", "red") : null, " ",
        h("span", { dir: "auto" }, said.text),
        count > 1 && time(first.at) !== time(e.at) ? ` The first time was at ${time(first.at)}.` : null);
    })),
  );
}

export async function respondToRequest() {
  const form = h("form", { novalidate: true },
    textField({ id: "code", label: "Request code", hint: "It starts with wpr_. The organisation that asks gave it to you.", autocomplete: "off" }),
    submit("Continue"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const code = form.elements.code.value.trim();
    const problem = codeProblem(code, "wpr_", "request code");
    if (problem) {
      refuse([{ id: "code", text: problem }]);
      return;
    }
    await busy(form, "Opening the request", async () => {
      try {
        decide(code, await state.session.call("POST", paths.accessRequestsOpen, { code }));
      } catch (e) {
        if (e instanceof api.ApiError && e.status === 404) throw new api.ApiError(404, { type: "urn:work-passport:problem:request-unknown" });
        throw e;
      }
    });
  });
  page("Respond to an access request", para("An organisation asked to see your passport. Nothing is shared until you approve."), form);
}

/** Who asks for what and why; approve as asked or narrowed, or decline. */
export function decide(code, request) {
  const who = words.covering(request.organisation_name, request.roles);
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
      refuse(errors);
      return;
    }
    const days = Number(checkedValues(form, "duration")[0]);
    const scopes = request.scopes.filter((sc) => chosen.includes(sc.section));
    // A minute short of the asked end: never later than the server allows.
    const endsAt = new Date(Date.now() + days * 86400000 - 60000);
    checkConsent({
      who, scopes, purpose: request.purpose, endsAt,
      send: (text, end) => state.session.call("POST", paths.accessRequestsApprove, { code, scopes, ends_at: end, consent_text: text }),
    });
  });
  page(
    `${request.organisation_name} asks to see your passport`,
    summaryList([["Who asks", `${request.requested_by_name}, for ${who}`], ["They ask to", words.scopes(request.scopes)], ["Why", request.purpose], ["For", `${request.duration_days} days`], ["Answer by", date(request.expires_at)]]),
    form,
    h("p", {}, button("Decline this request", async () => {
      await state.session.call("POST", paths.accessRequestsDecline, { code });
      go("/grants", `You declined the request from ${who}. Nothing was shared.`);
    }, "warning")),
  );
}

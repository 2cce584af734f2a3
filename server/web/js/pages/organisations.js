// Organisations: their admins' members and invitations, access requests sent, the service admin.

import * as api from "../api.js";
import * as words from "../words.js";
import { announce, button, checkedValues, choices, clearErrors, date, h, link, page, para, showErrors, submit, summaryList, textField, warning } from "../ui.js";
import { busy, go, label, problemErrors, refuse } from "../flow.js";
import { state } from "../session.js";
import { DURATIONS, scopesOf } from "./sharing.js";
import * as paths from "../endpoints.js";

export async function organisation() {
  const m = state.me.membership;
  if (!m || m.role !== "org_admin") {
    return page("Your organisation", para(m ? `You are ${words.ROLES[m.role]} at ${m.organisation_name}. Your organisation admin invites and removes people.` : "You are not a member of an organisation."));
  }
  const [members, invitations] = await Promise.all([
    state.session.call("GET", paths.organisationMembers(m.organisation)),
    state.session.call("GET", paths.organisationInvitations(m.organisation)),
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
      refuse(errors);
      return;
    }
    await busy(form, "Making the invitation", async () => {
      keep("invitation", await state.session.call("POST", paths.organisationInvitations(m.organisation), { role }));
      go("/organisation/invitation");
    });
  });
  page(
    m.organisation_name,
    h("h2", { class: "heading-m" }, "Members"),
    members.filter((x) => !x.removed_at).map((x, i) => h("section", { class: "record", "aria-labelledby": `m-${i}` },
      h("h3", { class: "heading-s", id: `m-${i}` }, h("span", { dir: "auto" }, x.display_name), `, ${words.ROLES[x.role]}`),
      x.party !== state.session.partyId && h("p", {}, link(`#/organisation/remove/${x.party}`, `Remove ${x.display_name}`, { class: "button button--warning" })))),
    h("h2", { class: "heading-m" }, "Invite someone"),
    form,
    h("h2", { class: "heading-m" }, "Invitations"),
    invitations.length ? h("ul", { class: "list" }, invitations.map((i) => h("li", {}, `${label(words.ROLES[i.role])}: ${invitationState(i)}`))) : para("No invitations yet."),
  );
}

/** Where an invitation is, in words: "not used yet, works until 3 March 2027", "used". */
function invitationState(i) {
  return {
    pending: `not used yet, works until ${date(i.expires_at)}`,
    redeemed: "used: they joined",
    expired: `not used, expired on ${date(i.expires_at)}`,
    revoked: "cancelled",
  }[i.status] || i.status;
}

// What was just made, shown once on its own page (a code is never shown again), then forgotten;
// only to the session that made it.
const made = { invitation: null, request: null, organisation: null };

function take(what) {
  const kept = made[what];
  made[what] = null;
  return kept && kept.session === state.session ? kept.value : null;
}

function keep(what, value) {
  made[what] = { session: state.session, value };
}

/** The invitation just made: its code, and the role it is for. */
export function invitationMade() {
  const invitation = take("invitation");
  const m = state.me.membership;
  if (!invitation || !m) return go("/organisation");
  const role = words.ROLES[invitation.role];
  page("Invitation made",
    para(`This invitation is for the role of ${role} at ${m.organisation_name}. Give the code to the person you invite, privately. It works once, until ${date(invitation.expires_at)}, and is not shown again.`),
    summaryList([["Role", label(role)], ["Works until", date(invitation.expires_at)]]),
    h("p", {}, h("code", { class: "code-block" }, invitation.code)),
    para(`They open ${api.BASE}/#/join and enter it.`),
    para(link("#/organisation", "Back to your organisation")));
}

/** Before a member is removed: who, and what removing does. */
export async function confirmRemoveMember(partyId) {
  const m = state.me.membership;
  if (!m || m.role !== "org_admin") return go("/organisation");
  const members = await state.session.call("GET", paths.organisationMembers(m.organisation));
  const x = members.find((y) => y.party === partyId && !y.removed_at);
  if (!x) return go("/organisation");
  page(
    `Remove ${x.display_name}?`,
    summaryList([["Name", x.display_name], ["Role", label(words.ROLES[x.role])], ["Organisation", m.organisation_name]]),
    warning(`They lose access at once: their next request is refused, and they no longer see passports shared with ${m.organisation_name}. To have them back, invite them again.`),
    h("p", {},
      button(`Yes, remove ${x.display_name}`, async (event) => {
        event.target.disabled = true;
        try {
          await state.session.call("POST", paths.organisationMemberRemove(m.organisation, x.party));
          go("/organisation", `${x.display_name} was removed: their next request is refused.`);
        } catch (e) {
          event.target.disabled = false;
          showErrors(problemErrors(e));
        }
      }, "warning"), " ",
      link("#/organisation", "No, keep them", { class: "button button--secondary" })),
  );
}

/** A member asks an employee for access, and sees the requests their organisation sent. */
export async function requestsSent() {
  const m = state.me.membership;
  if (!m) return page("Access requests", para("Only people at an organisation send access requests."));
  const sent = await state.session.call("GET", paths.organisationAccessRequests(m.organisation)).catch((e) => {
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
    else if ([...purpose].length > 500) errors.push({ id: "purpose", text: "Why you ask must be 500 characters or fewer" });
    if (employee && !words.isId(employee)) errors.push({ id: "employee", text: "Enter their Work Passport id, like 3f2b8c1e-5d4a-4c2b-9e7f-0a1b2c3d4e5f, or leave it empty" });
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(form, "Making the request", async () => {
      const body = { scopes: scopesOf({ read, write, agree }), purpose, duration_days: Number(checkedValues(form, "duration")[0]) };
      if (employee) body.employee = employee;
      keep("request", await state.session.call("POST", paths.organisationAccessRequests(m.organisation), body));
      go("/requests/made");
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

/** The access request just made: its code, shown once. */
export function requestMade() {
  const request = take("request");
  if (!request) return go("/requests");
  page("Request made",
    para(`Give this code to the employee, privately. It works once, until ${date(request.expires_at)}, and grants nothing until they approve.`),
    h("p", {}, h("code", { class: "code-block" }, request.code)),
    para(`They sign in at ${api.BASE}/, choose "Who can see it", then "Respond to an access request", and enter it.`),
    para(link("#/requests", "Back to access requests")));
}

/** The service admin: organisations, and the first person invited to run each. */
export async function admin() {
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
    else if ([...name].length > 200) errors.push({ id: "org_name", text: "Its name must be 200 characters or fewer" });
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(create, "Creating the organisation", async () => {
      const org = await state.session.call("POST", paths.adminOrganisations, { kind, display_name: name });
      const invitation = await state.session.call("POST", paths.organisationInvitations(org.id), { role: "org_admin" });
      keep("organisation", { org, invitation });
      go("/admin/set-up");
    }, { display_name: "org_name" });
  });
  const search = h("form", { novalidate: true, role: "search" },
    textField({ id: "find", label: "Find an organisation", hint: "Any part of its name." }),
    submit("Search", "secondary"),
    h("div", { id: "found" }));
  search.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = search.elements.find.value.trim();
    const found = name ? await state.session.call("GET", `${paths.organisations}?name=${encodeURIComponent(name)}`) : [];
    search.querySelector("#found").replaceChildren(found.length
      ? h("ul", { class: "list" }, found.map((o) => h("li", {}, `${o.display_name} (${o.kind}): `, h("code", {}, o.id))))
      : para("No organisation has that name."));
    announce(`${found.length} found.`);
  });
  page("Organisations", h("h2", { class: "heading-m" }, "Set up an organisation"), create, h("h2", { class: "heading-m" }, "Find one"), search);
}

/** The organisation just set up, with its first admin's invitation code (shown once). */
export function organisationSetUp() {
  const done = take("organisation");
  if (!done) return go("/admin");
  const { org, invitation } = done;
  page(`${org.display_name} is set up`,
    summaryList([["Work Passport id", h("code", {}, org.id)], ["Kind", label(org.kind)]]),
    para(`Give this invitation code to the person who will run ${org.display_name} here, privately. It works once, until ${date(invitation.expires_at)}.`),
    h("p", {}, h("code", { class: "code-block" }, invitation.code)),
    para(`They open ${api.BASE}/#/join and enter it; then they invite their colleagues.`),
    para(link("#/admin", "Back to organisations")));
}

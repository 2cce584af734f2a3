// Organisations: their admins' members and invitations, access requests sent, the service admin.

import * as api from "../api.js";
import * as words from "../words.js";
import { announce, button, checkedValues, choices, clearErrors, copyable, date, h, link, page, para, showErrors, submit, summaryList, textField, warning } from "../ui.js";
import { article, busy, go, label, problemErrors, refuse } from "../flow.js";
import { state } from "../session.js";
import { DURATIONS, scopesOf } from "./sharing.js";
import * as paths from "../endpoints.js";

/** A member's organisation: how employees share with it; for its organisation admins also its
 * listing, members and invitations. */
export async function organisation() {
  const m = state.me.membership;
  if (!m) return page("Your organisation", para("You are not a member of an organisation."));
  return organisationPage(m.organisation, m.role === "org_admin");
}

/** The service admin's view of one organisation: all its organisation admins see, and more. */
export async function adminOrganisation(id) {
  if (state.me.kind !== "admin") return page("Organisations", para("Only a service admin sets up organisations."));
  return organisationPage(id, true);
}

/** How employees share with organisation `listing`: its share link and code, to copy. */
function howToShare(listing, own) {
  const name = listing.display_name;
  return [
    h("h2", { class: "heading-m" }, own ? "How employees share with you" : `How employees share with ${name}`),
    para(listing.listed
      ? `${name} is listed: employees find it by its name when they share. They can also use its share link or code.`
      : `${name} is not listed: employees find it only by its share link or share code.`),
    copyable({ id: "share-link", label: "Share link", value: shareLink(listing), multiline: true, hint: `Send it to an employee: it opens the page where they share their passport, with ${name} chosen.` }),
    copyable({ id: "share-code", label: "Share code", value: listing.share_code, hint: "Or they type this code when they share. It is not secret: put it where your employees look." }),
  ];
}

function shareLink(listing) {
  return `${api.BASE}/#/share/${listing.share_code}`;
}

async function organisationPage(id, manages) {
  const admin = state.me.kind === "admin";
  const home = admin ? `/admin/organisations/${id}` : "/organisation";
  const m = state.me.membership;
  const listing = await state.session.call("GET", paths.organisationListing(id));
  const name = listing.display_name;
  if (!manages) {
    return page(name,
      para(`You are ${words.ROLES[m.role]} at ${name}. Your organisation admin invites and removes people.`),
      howToShare(listing, true));
  }
  const [members, invitations] = await Promise.all([
    state.session.call("GET", paths.organisationMembers(id)),
    state.session.call("GET", paths.organisationInvitations(id)),
  ]);
  const active = members.filter((x) => !x.removed_at);
  const roles = Object.keys(words.ROLES).filter((r) => (listing.kind === "practice") === (r === "clinician") || r === "org_admin");
  const listingForm = h("form", { novalidate: true },
    choices({ id: "listed", legend: "Directory", type: "checkbox", options: [["yes", `List ${name} so that employees can find it by its name`]], checked: listing.listed ? ["yes"] : [] }),
    textField({ id: "place", label: "Place (optional)", hint: "Where it is, so that employees can tell it from another organisation of the same name. For example, Leeds.", value: listing.place || "" }),
    textField({ id: "about", label: "About it (optional)", hint: "One line. For example, food manufacturer.", value: listing.about || "" }),
    submit("Save the listing", "secondary"));
  listingForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(listingForm);
    const place = listingForm.elements.place.value.trim();
    const about = listingForm.elements.about.value.trim();
    const errors = [];
    if (place.length > 100) errors.push({ id: "place", text: "The place must be 100 characters or fewer" });
    if (about.length > 200) errors.push({ id: "about", text: "About it must be 200 characters or fewer" });
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(listingForm, "Saving the listing", async () => {
      const body = { listed: checkedValues(listingForm, "listed").length > 0 };
      if (place) body.place = place;
      if (about) body.about = about;
      const saved = await state.session.call("PUT", paths.organisationListing(id), body);
      go(home, saved.listed ? `${name} is listed: employees find it by its name.` : `${name} is not listed: employees find it by its share link or code.`);
    });
  });
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
      keep("invitation", { invitation: await state.session.call("POST", paths.organisationInvitations(id), { role }), name });
      go(`${home}/invitation`);
    });
  });
  const noAdmin = !active.some((x) => x.role === "org_admin");
  page(
    name,
    admin && noAdmin && warning(`${name} has no organisation admin. Invite one: choose Organisation admin below.`),
    howToShare(listing, !admin),
    h("h2", { class: "heading-m" }, "Listing"),
    listingForm,
    h("h2", { class: "heading-m" }, "Members"),
    active.length ? active.map((x, i) => h("section", { class: "record", "aria-labelledby": `m-${i}` },
      h("h3", { class: "heading-s", id: `m-${i}` }, h("span", { dir: "auto" }, x.display_name), `, ${words.ROLES[x.role]}`),
      x.party !== state.session.partyId && h("p", {}, link(`#${home}/remove/${x.party}`, `Remove ${x.display_name}`, { class: "button button--warning" })))) : para("Nobody has joined yet."),
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

/** Where an organisation's page is: the member's own, or the service admin's view of `id`. */
function homeOf(id) {
  return state.me.kind === "admin" ? `/admin/organisations/${id}` : "/organisation";
}

/** The invitation just made (its own address: "Back" then goes somewhere): its join link and
 * code, each with a copy button, shown only now. `id` is the organisation for the service
 * admin; a member's is their own. */
export function invitationMade(id) {
  const home = homeOf(id || state.me.membership?.organisation);
  const done = take("invitation");
  if (!done) return go(home);
  const { invitation, name } = done;
  const back = link(`#${home}`, state.me.kind === "admin" ? `Back to ${name}` : "Back to your organisation");
  page("Invitation made",
    para(`This invitation makes its holder ${article(words.ROLES[invitation.role])} ${words.ROLES[invitation.role]} at ${name}. Give it to the person you invite, privately. It works once, until ${date(invitation.expires_at)}, and is not shown again.`),
    copyable({ id: "join-link", label: "Join link", value: `${api.BASE}/#/join/${invitation.code}`, multiline: true, hint: "Send them this link: it opens the page where they join, with the code filled in." }),
    copyable({ id: "invitation-code", label: "Invitation code", value: invitation.code, hint: `Or they open ${api.BASE}/#/join and enter this code.` }),
    para(back));
}

/** Before a member is removed: who, and what removing does. `id` is the organisation for the
 * service admin; a member's is their own. */
export async function confirmRemoveMember(...ids) {
  const [partyId, id] = ids.length > 1 ? [ids[1], ids[0]] : [ids[0], state.me.membership?.organisation];
  const home = homeOf(id);
  if (!id) return go(home);
  const [listing, members] = await Promise.all([
    state.session.call("GET", paths.organisationListing(id)),
    state.session.call("GET", paths.organisationMembers(id)),
  ]);
  const x = members.find((y) => y.party === partyId && !y.removed_at);
  if (!x) return go(home);
  const name = listing.display_name;
  page(
    `Remove ${x.display_name}?`,
    summaryList([["Name", x.display_name], ["Role", label(words.ROLES[x.role])], ["Organisation", name]]),
    warning(`They lose access at once: their next request is refused, and they no longer see passports shared with ${name}. To have them back, invite them again.`),
    h("p", {},
      button(`Yes, remove ${x.display_name}`, async (event) => {
        event.target.disabled = true;
        try {
          await state.session.call("POST", paths.organisationMemberRemove(id, x.party));
          go(home, `${x.display_name} was removed: their next request is refused.`);
        } catch (e) {
          event.target.disabled = false;
          showErrors(problemErrors(e));
        }
      }, "warning"), " ",
      link(`#${home}`, "No, keep them", { class: "button button--secondary" })),
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
    submit("Make the request"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const read = checkedValues(form, "read");
    const write = clinician ? checkedValues(form, "write") : [];
    const agree = clinician ? [] : checkedValues(form, "agree");
    const purpose = form.elements.purpose.value.trim();
    const errors = [];
    if (!read.length && !write.length && !agree.length) errors.push({ id: "read", text: "Choose at least one part of the passport" });
    if (!purpose) errors.push({ id: "purpose", text: "Enter why you ask" });
    else if ([...purpose].length > 500) errors.push({ id: "purpose", text: "Why you ask must be 500 characters or fewer" });
    if (errors.length) {
      refuse(errors);
      return;
    }
    await busy(form, "Making the request", async () => {
      const body = { scopes: scopesOf({ read, write, agree }), purpose, duration_days: Number(checkedValues(form, "duration")[0]) };
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

/** The access request just made: its code, shown once, on its own address. */
export function requestMade() {
  const request = take("request");
  if (!request) return go("/requests");
  page("Request made",
    para(`Give this code to the employee, privately. It works once, until ${date(request.expires_at)}, and grants nothing until they approve.`),
    copyable({ id: "request-code", label: "Request code", value: request.code }),
    para(`They sign in at ${api.BASE}/, choose "Who can see it", then "Respond to an access request", and enter it.`),
    para(link("#/requests", "Back to access requests")));
}

/** The service admin: every organisation (each a link to its page, where a new first admin is
 * invited), and a new one set up with its first admin's invitation. */
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
  const list = h("div", { id: "organisations" });
  const show = async (name) => {
    const query = name ? `?name=${encodeURIComponent(name)}` : "";
    const all = await state.session.call("GET", paths.adminOrganisations + query);
    list.replaceChildren(all.length
      ? h("ul", { class: "results" }, all.map((o, i) => h("li", { class: "results__item" },
        link(`#/admin/organisations/${o.id}`, o.display_name, { "aria-describedby": `org-${i}` }),
        h("p", { class: "hint", id: `org-${i}` }, [
          words.organisationDetails(o),
          `. ${o.listed ? "Listed" : "Not listed"}; ${o.members === 1 ? "1 member" : `${o.members} members`}`,
          o.admins ? "." : "; no organisation admin.",
        ].join("")))))
      : para(name ? "No organisation has that name." : "There are no organisations yet."));
    return all.length;
  };
  await show("");
  const search = h("form", { novalidate: true, role: "search" },
    textField({ id: "find", label: "Find an organisation", hint: "Any part of its name." }),
    submit("Search", "secondary"));
  search.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(search, "Searching", async () => {
      const count = await show(search.elements.find.value.trim());
      announce(count === 1 ? "1 organisation found." : `${count} organisations found.`);
    });
  });
  page("Organisations",
    h("h2", { class: "heading-m" }, "Set up an organisation"), create,
    h("h2", { class: "heading-m" }, "All organisations"), search, list);
}

/** The organisation just set up, with its first admin's invitation (shown once), on its own
 * address: the menu's "Organisations" then leads back to the list. */
export function organisationSetUp() {
  const done = take("organisation");
  if (!done) return go("/admin");
  const { org, invitation } = done;
  page(`${org.display_name} is set up`,
    summaryList([["Kind", label(org.kind)]]),
    para(`Give this invitation to the person who will run ${org.display_name} here, privately. It works once, until ${date(invitation.expires_at)}. Once they join, they invite their colleagues.`),
    copyable({ id: "join-link", label: "Join link", value: `${api.BASE}/#/join/${invitation.code}`, multiline: true, hint: "Send them this link: it opens the page where they join, with the code filled in." }),
    copyable({ id: "invitation-code", label: "Invitation code", value: invitation.code, hint: `Or they open ${api.BASE}/#/join and enter this code.` }),
    para(link(`#/admin/organisations/${org.id}`, `Open ${org.display_name}`)),
    para(link("#/admin", "Back to organisations")));
}

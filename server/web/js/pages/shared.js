// The grantee's side: passports shared with me, read, written and agreed under consent.

import * as api from "../api.js";
import * as forms from "../forms.js";
import * as words from "../words.js";
import { Verifier } from "../verify.js";
import { date, h, link, page, para, submit, summaryList } from "../ui.js";
import { article, busy, consentEnded, label } from "../flow.js";
import { granted, state } from "../session.js";
import { canAdd, dueSoon, readPassport, recordLinks, reviewsDue, signature, write } from "./passport.js";
import * as paths from "../endpoints.js";

export async function sharedWithMe() {
  // Who this person is now, not when they signed in: an admin may have removed them, or changed
  // their role, since.
  const [me, list] = await Promise.all([state.session.call("GET", paths.me), state.session.call("GET", paths.grants)]);
  state.me = me.party;
  const verifier = new Verifier(state.session);
  const cards = await Promise.all(list.map(async (g, i) => {
    const owner = await verifier.party(g.grantor).catch(() => null);
    const name = owner?.display_name || "Someone";
    return h("section", { class: "record", "aria-labelledby": `s-${i}` },
      h("h2", { class: "heading-m", id: `s-${i}` }, h("span", { dir: "auto" }, name), "'s passport"),
      summaryList([["You may", words.scopes(g.scopes)], ["Why", g.purpose], [g.status === "active" ? "Until" : "Ended", date(g.revoked_at || g.ends_at)], ["Status", label(g.status)]]),
      g.status === "active" && h("p", {}, link(`#/shared/${g.id}`, `Open ${name}'s passport`, { class: "button" })));
  }));
  page(
    "Passports shared with you",
    membershipNote(state.me.membership),
    cards.length ? cards : para("Nobody has shared a passport with you yet. Ask the employee to share theirs, or send them an access request."),
  );
}

/** Whom this person acts for, or that they no longer do (an admin removed them). */
function membershipNote(m) {
  if (!m) return null;
  if (m.removed_at) {
    return para(`You are no longer a member of ${m.organisation_name}: you were removed on ${date(m.removed_at)}. Passports shared with ${m.organisation_name} are closed to you. If this is a mistake, ask its organisation admin.`);
  }
  return para(`You act as ${words.ROLES[m.role]} at ${m.organisation_name}. Each time you open a passport, its owner sees it was you.`);
}

export async function sharedPassport(grantId) {
  let place, sections;
  try {
    place = await granted(grantId);
    sections = await readPassport(place);
  } catch (e) {
    if (e instanceof api.ApiError && ["consent-inactive", "forbidden"].includes(e.kind)) return consentEnded();
    throw e;
  }
  const may = (section, action) => (place.scopes || []).some((sc) => sc.section === section && sc.actions.includes(action));
  const grant = (await state.session.call("GET", paths.grants)).find((g) => g.id === grantId);
  const owner = grant && (await new Verifier(state.session, grantId).party(grant.grantor).catch(() => null));
  const blocks = await Promise.all(words.SECTIONS.filter((s) => sections[s.id] || may(s.id, "write")).map(async (s) => {
    const records = sections[s.id] || [];
    const cards = await Promise.all(records.map(async ({ envelope, check }, i) => {
      const id = `r-${s.id}-${i}`;
      const body = check.payload?.body;
      const agreeable = check.ok && s.id === "adjustments" && may("adjustments", "agree") && body && body.status !== "agreed";
      return h("section", { class: "record", "aria-labelledby": id },
        h("h3", { class: "heading-s", id, dir: "auto" }, words.recordTitle(s.id, body, envelope, check)),
        signature(check, envelope),
        check.ok && body && summaryList(await forms.rows(s.id, body)),
        agreeable && h("p", {}, link(`#${place.prefix}/record/${envelope.record_id}/agree`, `Agree this adjustment: ${words.recordTitle(s.id, body)}`, { class: "button" })),
        recordLinks(place, envelope, id, may(s.id, "write")));
    }));
    return h("section", { "aria-labelledby": `h-${s.id}` },
      h("h2", { class: "heading-m", id: `h-${s.id}` }, s.title),
      cards.length ? cards : para(`No ${s.one} yet.`),
      may(s.id, "write") && canAdd(s.id, records) && h("p", {}, link(`#${place.prefix}/section/${s.id}/new`, `Add ${article(s.one)} ${s.one}`)));
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

/** Before an agreement is signed: the adjustment as it stands, and what signing means. */
export async function confirmAgree(grantId, recordId) {
  let place, head;
  try {
    place = await granted(grantId);
    head = await state.session.call("GET", paths.passportRecord(place.passportId, recordId), undefined, grantId);
  } catch (e) {
    if (e instanceof api.ApiError && ["consent-inactive", "forbidden"].includes(e.kind)) return consentEnded();
    throw e;
  }
  const check = await new Verifier(state.session, grantId, place.passportId).version(head);
  if (!check.ok) throw new Error(`This adjustment's latest version cannot be trusted: ${check.reason}.`);
  const body = check.payload.body;
  const by = agreedBy();
  page(
    "Agree this adjustment",
    para("Check the adjustment. When you agree it, you sign a new version of it in your own name: the employee sees your signature, and so does anyone they share it with later."),
    summaryList(await forms.rows("adjustments", body)),
    h("h2", { class: "heading-m" }, "Your agreement"),
    summaryList([["Status", "Agreed"], ["Agreed by", by]]),
    h("form", { novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      await busy(event.target, "Signing the agreement", () => agree(place, head, body));
    } }, h("p", {}, submit("Agree and sign"), " ", link(`#${place.home}`, "Go back without agreeing", { class: "button button--secondary" }))),
  );
}

function agreedBy() {
  const m = state.me.membership;
  return m ? `${state.me.display_name} (${words.ROLES[m.role]}, ${m.organisation_name})` : state.me.display_name;
}

/** An agreement: the same body with status "agreed", signed by this person in their own name. */
export async function agree(place, head, body) {
  const by = agreedBy();
  await write(place, "adjustments", head.record_id, head, { ...body, status: "agreed", agreed_by: by }, `Agreed and signed by ${by}.`);
}

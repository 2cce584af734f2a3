// Plain words for what the API says in codes: sections, roles, actions, log entries.

export const SECTIONS = [
  ["summary", "Summary", "summary", "About you and what helps, in your own words, for your managers."],
  ["impacts", "Impacts at work", "impact", "How your work is affected, area by area, on good days and bad."],
  ["adjustments", "Adjustments", "adjustment", "Workplace adjustments: asked for, agreed, in place, reviewed."],
  ["conditions", "Conditions", "condition", "Optional, and the most private: share it only if you want to."],
  ["fit_notes", "Fit notes", "fit note", "Statements of fitness for work."],
  ["plans", "Plans", "plan", "Return-to-work and wellness action plans."],
].map(([id, title, one, about]) => ({ id, title, one, about }));

export function section(id) {
  return SECTIONS.find((s) => s.id === id);
}

/** `about_me` -> "About me". */
export function label(name) {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The line that names a record in a list. */
export function recordTitle(sectionId, body) {
  if (!body) return "Removed";
  const first = {
    summary: body.about_me,
    impacts: body.area,
    adjustments: body.title,
    conditions: (body.categories || []).map(label).join(", "),
    fit_notes: body.condition,
    plans: body.kind && label(body.kind),
  }[sectionId];
  const text = String(first || label(sectionId));
  return text.length > 80 ? text.slice(0, 77) + "..." : text;
}

export const ROLES = { org_admin: "organisation admin", hr: "HR", line_manager: "line manager", clinician: "clinician" };

/** An organisation and who there a grant covers: "Acme Ltd (HR and line managers)". */
export function covering(name, roles) {
  return roles?.length ? `${name} (${words(roles.map((r) => ROLES[r]))})` : name;
}

const KINDS = { employer: "Employer", practice: "Occupational health or therapy practice" };

/** What tells an organisation from another of the same name: "Employer, Leeds: Food maker". */
export function organisationDetails(o) {
  const where = o.place ? `${KINDS[o.kind] || o.kind}, ${o.place}` : KINDS[o.kind] || o.kind;
  return o.about ? `${where}: ${o.about}` : where;
}

/** Whether `text` is a Work Passport id (a canonical lower-case UUID). */
export function isId(text) {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text);
}

/** A party in plain words: "Sam Patel (line manager, Acme Ltd)". */
export function party(p, me) {
  if (!p) return "someone unknown";
  if (me && p.id === me) return `${p.display_name} (you)`;
  if (p.membership) return `${p.display_name} (${ROLES[p.membership.role]}, ${p.membership.organisation_name})`;
  if (p.registration) return `${p.display_name} (${p.registration.profession}, ${p.registration.registration_body} ${p.registration.registration_number})`;
  return `${p.display_name} (${p.kind})`;
}

/** "read summary and adjustments; agree adjustments". */
export function scopes(list) {
  return ["read", "write", "agree"]
    .map((action) => {
      const names = list.filter((s) => s.actions.includes(action)).map((s) => section(s.section).title.toLowerCase());
      return names.length ? `${action} ${words(names)}` : null;
    })
    .filter(Boolean)
    .join("; ");
}

/** The consent an owner gives, in one sentence naming who, what, why and until when (the
 * same words as the client library's `consent` module). */
export function consentText(owner, who, purpose, scopeList, endsAt) {
  const why = purpose.replace(/[.!?\s]+$/, "");
  const until = endsAt.toISOString().slice(0, 10);
  return `I, ${owner}, agree to share my Work Passport with ${who} for: ${why}. They may ${scopes(scopeList)}. This consent ends on ${until} unless I revoke it sooner.`;
}

/** "a", "a and b", "a, b and c". */
export function words(items) {
  if (items.length < 2) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

const DONE = {
  token_issued: "was given access",
  passport_created: "created the passport",
  passport_read: "read",
  history_read: "read the history of",
  changes_read: "synced",
  version_written: "wrote",
  grant_created: "shared the passport",
  grants_listed: "looked at the list of shares",
  grant_revoked: "stopped a share",
  access_log_read: "looked at this access log",
  exported: "downloaded the passport",
  passport_erased: "erased the passport",
};

/** One access-log entry as a sentence: "Sam Patel (line manager, Acme Ltd) read summary." */
export function logEntry(entry, who) {
  const sections = (entry.sections || []).map((s) => section(s)?.title.toLowerCase() || s);
  const what = DONE[entry.action] || entry.action.replace(/_/g, " ");
  const on = sections.length ? ` ${words(sections)}` : "";
  if (entry.outcome === "denied") {
    return `${who} was refused: ${entry.action.replace(/_/g, " ")}${on} (${entry.reason}).`;
  }
  return `${who} ${what}${on}.`;
}

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

// Codes whose words need more than their spaces back.
const LABELS = {
  working_pattern_hours: "Working pattern or hours",
  equipment_assistive_technology: "Equipment and assistive technology",
  absence_appointments: "Absence and appointments",
  access_to_work: "Access to Work",
  self: "Self-funded",
  learning_concentrating: "Learning or concentrating",
  stamina_breathing_fatigue: "Stamina, breathing or fatigue",
  social_behavioural: "Social or behavioural",
  not_fit: "Not fit for work",
  may_be_fit: "May be fit for work",
  wellness_action: "Wellness action plan",
  return_to_work: "Return-to-work plan",
};

/** `about_me` -> "About me"; a few codes in the words people use (LABELS). */
export function label(name) {
  if (LABELS[name]) return LABELS[name];
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The line that names a record in a list: its first words, "Removed" for a record its owner
 * removed, and "Not verified" for one whose latest version does not check (its contents are
 * not shown, and it is not called removed). */
export function recordTitle(sectionId, body, envelope, check) {
  if (check && !check.ok) return `${section(sectionId)?.one ? label(section(sectionId).one) : "Record"} that could not be verified`;
  if (envelope?.deleted || !body) return "Removed";
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

// Each kind of notification as its settings name it (the server's `kind_title`): the
// unsubscribe page says which emails it stops before anyone signs in, so it cannot ask.
export const NOTIFICATION_KINDS = {
  access_requested: "Requests to see your passport",
  grant_ending: "A consent you gave ends soon",
  grant_ended: "A consent you gave has ended",
  review_due: "An adjustment review is due",
  review_overdue: "An adjustment review is overdue",
  version_written: "Someone else updated your passport",
  adjustment_agreed: "An employer agreed an adjustment",
  request_approved: "A request you sent was approved",
  request_declined: "A request you sent was declined",
  consent_ending: "Your access to a passport ends soon",
  consent_ended: "Your access to a passport has ended",
  agreed_review_due: "A review of an adjustment you agreed is due",
  member_joined: "Someone joined your organisation",
  member_left: "Someone left your organisation",
  deliveries_failing: "Emails are not being delivered",
};

// Where a notification's link goes, said as what to do there: a link's words say where it
// leads (WCAG 2.4.4), and "Open" ten times over says nothing.
const DESTINATIONS = {
  "#/request": "Respond to the request",
  "#/grants": "See who can see your passport",
  "#/section/adjustments": "See your adjustments",
  "#/passport": "See your passport",
  "#/devices": "Check your devices",
  "#/log": "See your access log",
  "#/shared": "See passports shared with you",
  "#/requests": "See your access requests",
  "#/organisation": "See your organisation",
  "#/admin": "See organisations",
  "#/": "Go to the start",
};

/** A notification's link in words: "Check your devices". */
export function destination(link) {
  return DESTINATIONS[link] || "Go to the page";
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
 * client library's `consent` module says the same, with the date as YYYY-MM-DD; here the date
 * is written as the check page's table writes it, "3 March 2027"). */
export function consentText(owner, who, purpose, scopeList, endsAt) {
  const why = purpose.replace(/[.!?\s]+$/, "");
  const until = endsAt.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  return `I, ${owner}, agree to share my Work Passport with ${who} for: ${why}. They may ${scopes(scopeList)}. This consent ends on ${until} unless I revoke it sooner.`;
}

/** "a", "a and b", "a, b and c". */
export function words(items) {
  if (items.length < 2) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

// Each action as a verb phrase: as done ("read") and as tried ("read"), and what it is done to
// ("sections": the sections it names, as "your summary and adjustments"; "passport": "your
// passport"; nothing: the phrase is whole).
const ACTIONS = {
  token_issued: ["was given access to", "get access to", "sections"],
  passport_created: ["created", "create", "passport"],
  passport_read: ["read", "read", "sections"],
  history_read: ["read the history of", "read the history of", "sections"],
  changes_read: ["fetched the latest changes to", "fetch the latest changes to", "sections"],
  version_written: ["saved a change to", "save a change to", "sections"],
  grant_created: ["shared", "share", "sections"],
  grants_listed: ["looked at who can see your passport", "look at who can see your passport"],
  grant_revoked: ["stopped sharing", "stop sharing"],
  access_log_read: ["looked at this access log", "look at this access log"],
  exported: ["downloaded", "download", "passport"],
  passport_erased: ["erased", "erase", "passport"],
  passport_imported: ["moved", "move", "passport"],
  notification_email_changed: ["changed the email address for notifications", "change the email address for notifications"],
  calendar_feed_changed: ["changed the calendar link", "change the calendar link"],
};

// Why someone was refused, in the owner's words (the server's reasons, domain/access.rs).
const REFUSALS = [
  [/revoked/, "you had stopped sharing with them"],
  [/expired/, "the time you chose had passed"],
  [/not started/, "the sharing had not started yet"],
  [/no longer exists/, "that sharing no longer exists"],
  [/member was removed/, "they had been removed from their organisation"],
  [/does not cover the member's role/, "you did not share with people in their role"],
  [/does not allow/, "you did not let them do that"],
  [/only the owner/, "only you may do that"],
  [/no consent token|another party|another passport/, "you have not shared your passport with them"],
];

/** One access-log entry (or `count` alike) as a sentence a person would say, and whether it
 * is one to worry about (someone else refused): `{ text, alarm }`.
 * `who` names the actor ("You", "Sam Patel (line manager, Acme Ltd)"); `grant` is the grant the
 * entry names, with `who` (the grantee, in words) and `ends_at`, when it is known. */
export function logEntry(entry, who, { grant, count = 1, mine = false } = {}) {
  const [done, tried, object] = ACTIONS[entry.action] || [entry.action.replace(/_/g, " "), entry.action.replace(/_/g, " ")];
  const sections = (entry.sections || []).map((s) => section(s)?.title.toLowerCase() || s.replace(/_/g, " "));
  const whole = sections.length === SECTIONS.length;
  const what = object === "sections"
    ? whole ? " your whole passport" : sections.length ? ` your ${words(sections)}` : " your passport"
    : object === "passport" ? " your passport" : "";
  const times = count > 1 ? ` ${count} times` : "";
  if (entry.outcome === "denied") {
    if (mine) {
      // The owner's own form refused (a date in the wrong order, say): nothing to worry about.
      return { text: `A change you tried to make to${what || " your passport"} was not saved${times}, as it needed correcting: nothing changed.`, alarm: false };
    }
    const why = REFUSALS.find(([re]) => re.test(entry.reason || ""))?.[1];
    return { text: `${who} tried to ${tried}${what}${times}, and was refused${why ? `: ${why}` : ""}.`, alarm: true };
  }
  if (entry.action === "version_written" && /agreement/.test(entry.reason || "")) {
    return { text: `${who} agreed one of your adjustments${times}, signed in their own name.`, alarm: false };
  }
  if (entry.action === "grant_created" || entry.action === "grant_revoked") {
    const to = grant?.who ? ` with ${grant.who}` : "";
    const until = entry.action === "grant_created" && grant?.ends_at ? ` until ${longDate(grant.ends_at)}` : "";
    return { text: `${who} ${done}${entry.action === "grant_created" ? what : ""}${to}${until}${times}.`, alarm: false };
  }
  if (entry.action === "passport_imported") {
    return { text: `${who === "You" ? "You" : who} moved your passport here from another Work Passport server.`, alarm: false };
  }
  return { text: `${who} ${done}${what}${times}.`, alarm: false };
}

function longDate(text) {
  return new Date(text).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
}

/** The log's entries, newest first, with alike ones on the same day (the same person doing
 * the same thing to the same sections, allowed or refused alike) as one: `{ entry, count,
 * first }`, where `entry` is the latest and `first` the earliest of them. */
export function groupLog(entries) {
  const groups = new Map();
  for (const e of [...entries].sort((a, b) => b.seq - a.seq)) {
    const day = e.at.slice(0, 10);
    const key = JSON.stringify([day, e.actor, e.on_behalf_of, e.grant_id, e.action, e.sections, e.outcome, /agreement/.test(e.reason || "")]);
    const group = groups.get(key);
    if (group) {
      group.count += 1;
      group.first = e;
    } else {
      groups.set(key, { entry: e, count: 1, first: e });
    }
  }
  return [...groups.values()];
}

// Moving between pages, and what every page does the same way: busy forms, refusals shown in
// the error summary, failures a person can act on.

import * as api from "./api.js";
import * as forms from "./forms.js";
import { announce, button, h, link, page, para, showErrors } from "./ui.js";
import { home, state } from "./session.js";

/** Shows the page at `path` (again, if it is the current one), then announces `message`. */
export function go(path, message) {
  pending = message;
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = path;
}

// A message to announce once the next page is shown ("Saved and signed").
export let pending;

export function announceNext() {
  announce(pending);
  pending = undefined;
}

/** Runs `work` with the form's button disabled and a message announced; shows a refusal.
 * `fields` maps the names the server gives fields to the form's ids, where they differ
 * (`{ display_name: "org_name" }`). */
export async function busy(form, message, work, fields = {}) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  announce(`${message}...`);
  try {
    await work();
    // A page shown without a message of its own (e.g. a conflict) drops "Saving...".
    if (document.getElementById("status").textContent === `${message}...`) announce("");
  } catch (e) {
    announce("");
    refuse(problemErrors(e, form, fields));
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// Refusals that are about one field of the form they come from, and what to do about them.
const KINDS = {
  "invalid-invitation": ["code", "That invitation code is not right: check it with whoever invited you, and enter it again"],
  "invitation-used": ["code", "That invitation code was already used: ask whoever invited you for a new one"],
  "invitation-expired": ["code", "That invitation code has expired: ask whoever invited you for a new one"],
  "invitation-revoked": ["code", "That invitation code was cancelled: ask whoever invited you for a new one"],
  "request-unknown": ["code", "There is no request with this code: check it with the organisation that asked, and enter it again"],
  "request-decided": ["code", "That request was already answered: nothing more to do"],
  "request-expired": ["code", "That request has expired: ask the organisation to send a new one"],
  "invalid-bundle": ["bundle", "This file could not be moved here: it is not a whole, unchanged Work Passport download. Choose the work-passport.json you downloaded"],
  "bundle-not-yours": ["key", "This recovery key is not the one for this passport: choose the recovery key file saved with it"],
  "passport-exists": [null, "There is already a passport for you on this server: erase it first, or sign in to it"],
  "rate-limited": [null, "There were too many tries in a short time. Wait a minute, then try again"],
  "payload-too-large": [null, "This is too long to save. Make it shorter, then try again"],
  forbidden: [null, "You are not allowed to do this. If you think you should be, ask whoever manages your access"],
  "consent-inactive": [null, "The sharing this relied on has ended. Ask the employee to share again"],
  gone: [null, "This passport was erased"],
};

/** What went wrong, in words that say what to do (never the server's own text). */
export function explain(e) {
  // The pages' own refusals (`new Error("This record's latest version cannot be trusted...")`)
  // are written for people; anything else thrown (a TypeError, a DOMException) is not.
  if (!(e instanceof api.ApiError)) {
    return e?.constructor === Error && e.message ? e.message : "Something went wrong on this page. Try again, and if it keeps happening, contact support.";
  }
  if (e.status === 0) return "The service could not be reached. Check your connection, then try again.";
  if (KINDS[e.kind]) return KINDS[e.kind][1] + ".";
  if (e.status === 404) return "It was not found: it may have been removed. Go back and try again.";
  if (e.status >= 500) return "The service is not working at the moment. Try again in a few minutes.";
  return "The service could not do this. Check what you entered, then try again.";
}

/** A refusal as errors for the form's error summary, each on its field where there is one. */
export function problemErrors(e, form, fields = {}) {
  if (!(e instanceof api.ApiError)) return [{ text: explain(e) }];
  const onForm = (name) => {
    const id = fields[name] || (form?.querySelector(`[data-field="field-${name}"]`) ? `field-${name}` : name);
    return form?.querySelector(`[data-field="${CSS.escape(id)}"]`) ? id : null;
  };
  const errors = (e.problem.errors || []).map((fe) => {
    const name = fe.field.replace(/^body\./, "").split(/[.[]/)[0];
    const id = onForm(name);
    if (!id) return null;
    const shown = form.querySelector(`[data-field="${CSS.escape(id)}"]`).querySelector("label, legend").textContent;
    return { id, text: forms.plain(shown.replace(/\s*\(optional\)\s*$/, ""), fe.reason) };
  }).filter(Boolean);
  if (errors.length) return errors;
  const [field] = KINDS[e.kind] || [];
  return [{ id: field && onForm(field), text: explain(e).replace(/\.$/, "") }];
}

/** What is wrong with a code someone typed (`prefix` and 43 characters), said so they can put
 * it right; or nothing. */
export function codeProblem(code, prefix, what) {
  if (!code) return `Enter the ${what}`;
  if (!code.startsWith(prefix)) return `The ${what} starts with ${prefix}: check you entered the code you were given`;
  const rest = code.slice(prefix.length);
  if (/[^A-Za-z0-9_-]/.test(rest)) return `The ${what} has only letters, numbers, - and _ after ${prefix}: check for a space or a missing character`;
  if (rest.length !== 43) return `The ${what} is ${prefix.length + 43} characters long, and this is ${code.length}: copy all of it again`;
  return null;
}

/** Shows `errors` in the error summary and on their fields. */
export function refuse(errors) {
  showErrors(errors);
  forms.mark(errors);
}

/** An error page a person can act on; the problem's request id helps support find it. */
export function failure(e) {
  if (e instanceof api.ApiError && e.kind === "consent-inactive") return consentEnded();
  if (e instanceof api.ApiError && e.kind === "gone") {
    return page("This passport was erased", para("Its contents no longer exist anywhere on the server."));
  }
  if (!(e instanceof api.ApiError)) console.error(e);
  page(
    "Sorry, there is a problem",
    para(explain(e)),
    e?.problem?.instance && para(`If you contact support, give them this reference: ${e.problem.instance}.`),
    againOrHome(),
  );
}

// After a failure: where this person starts, or, when that is the page that failed, trying it
// again (a link to the address already open would go nowhere).
function againOrHome() {
  const start = state.session ? home() : "/";
  const here = location.hash.replace(/^#/, "") || "/";
  const names = { "/passport": "Go to your passport", "/admin": "Go to organisations", "/shared": "Go to passports shared with you", "/": "Go to the start" };
  if (here !== start) return para(link(`#${start}`, names[start] || "Go to the start"));
  return h("p", {}, button("Try again", () => go(here)));
}

/** What a grantee sees once the employee's consent has ended: no data, and what to do. */
export function consentEnded() {
  page(
    "Your access to this passport has ended",
    para("The employee stopped sharing it with you, or the time they chose has passed. Nothing from it is kept on this device."),
    para("If you still need it, ask the employee to share it again."),
    para(link("#/shared", "Back to passports shared with you")),
  );
}

/** The page for an address that names nothing. */
export function notFound() {
  page("Page not found", para("There is no page at this address."), para(link("#/", "Go to the start")));
}

/** "a" or "an", for a noun in a sentence. */
export function article(noun) {
  return /^[aeiou]/.test(noun) ? "an" : "a";
}

/** Text with a capital first letter. */
export function label(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

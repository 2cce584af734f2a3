// Moving between pages, and what every page does the same way: busy forms, refusals shown in
// the error summary, failures a person can act on.

import * as api from "./api.js";
import * as forms from "./forms.js";
import { announce, link, page, para, showErrors } from "./ui.js";

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

/** Runs `work` with the form's button disabled and a message announced; shows a refusal. */
export async function busy(form, message, work) {
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
    refuse(errors);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
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
  const detail = e instanceof api.ApiError ? e.message : "Something went wrong on this page.";
  page(
    "Sorry, there is a problem",
    para(detail),
    e?.problem?.instance && para(`If you contact support, give them this reference: ${e.problem.instance}.`),
    para(link("#/passport", "Go back to your passport")),
  );
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

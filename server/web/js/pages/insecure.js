// The page shown instead of every other where the browser withholds its cryptography: every key
// the pages make and use needs WebCrypto, which browsers give only to secure contexts (an
// https:// address, or http:// at localhost on the person's own machine).

import { h, inset, page, para } from "../ui.js";

/** Whether this browser lets the pages make and use keys at this address. */
export function secure() {
  return window.isSecureContext === true && !!globalThis.crypto?.subtle;
}

/** What to do, for the person and for whoever runs the service; no other view runs. */
export function insecure() {
  if (window.isSecureContext !== true) {
    page(
      "Open Work Passport at an https:// address",
      para(
        `This address, ${location.origin}, does not use a secure connection. Work Passport makes and keeps `,
        "your keys in this browser, and browsers allow that only over a secure connection: an address ",
        "that starts with https://.",
      ),
      para("Nothing has been saved or sent from this page."),
      h("h2", { class: "heading-m" }, "What you can do"),
      para("If you were given an address for this service that starts with https://, use that one instead."),
      para("Otherwise, tell whoever runs this Work Passport service:"),
      inset(
        "Work Passport must be served over HTTPS. Give the server a certificate, or put a reverse proxy ",
        "that serves HTTPS in front of it, and send people to its https:// address (the section ",
        "\"HTTPS\" of its README says how). Plain http:// works only at localhost, on the computer the ",
        "server runs on.",
      ),
    );
  } else {
    page(
      "This browser cannot run Work Passport",
      para("Work Passport makes and keeps your keys in the browser, and this browser cannot do that."),
      para("Nothing has been saved or sent from this page."),
      para("Use a current version of Firefox, Chrome, Edge or Safari."),
    );
  }
}

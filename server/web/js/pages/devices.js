// This person's devices and recovery key.

import * as api from "../api.js";
import * as keystore from "../keystore.js";
import { button, dateTime, h, link, page, para, showErrors, summaryList, warning } from "../ui.js";
import { go, problemErrors } from "../flow.js";
import { state } from "../session.js";
import { makeRecoveryKey, signOut } from "./start.js";
import { idleSetting } from "./unlock.js";
import * as paths from "../endpoints.js";

// Which key is which, in words. Only employees have a recovery key: members of organisations
// and admins join with an invitation instead.
const which = (k) => k.kid === state.session.jwk.kid ? "This device" : k.kid === state.device.recoveryKid && state.me?.kind === "employee" ? "Your recovery key" : "Another device";

export async function devices() {
  const me = (await state.session.call("GET", paths.me)).party;
  const keys = me.keys.filter((k) => !k.revoked_at);
  const employee = me.kind === "employee";
  const hasRecovery = employee && keys.some((k) => k.kid === state.device.recoveryKid);
  page(
    "Your devices",
    para("Each device you use has a key of its own. Remove a device you no longer use or have lost: it stops working at once."),
    keys.map((k, i) => h("section", { class: "record", "aria-labelledby": `k-${i}` },
      h("h2", { class: "heading-s", id: `k-${i}` }, which(k)),
      summaryList([["Added", dateTime(k.created_at)], ["Key id", h("code", {}, k.kid)]]),
      k.kid !== state.session.jwk.kid && h("p", {}, link(`#/devices/remove/${k.kid}`, `Remove ${which(k).toLowerCase()}`, { class: "button button--warning" })))),
    idleSetting(),
    h("h2", { class: "heading-m" }, "This device"),
    para(`On a shared or borrowed computer, remove this device when you finish: its key is revoked and deleted from this browser. ${
      !employee ? "To use Work Passport here again, ask your organisation admin for a new invitation."
        : hasRecovery ? "To sign in again you need your recovery key or another device." : "To sign in again you need another device that is signed in."}`),
    h("p", {}, button("Remove this device and sign out", async () => {
      try {
        await state.session.call("POST", paths.partyKeyRevoke(me.id, state.session.jwk.kid));
      } catch (e) {
        if (e instanceof api.ApiError && e.kind === "conflict") {
          return showErrors([{ text: employee
            ? "This is your only key: make a recovery key first, then remove this device."
            : "This is your only key: to leave, ask your organisation admin to remove you instead." }]);
        }
        throw e;
      }
      await keystore.forget();
      signOut();
    }, "warning")),
    employee && [
      h("h2", { class: "heading-m" }, "Recovery key"),
      hasRecovery
        ? para("Lost your recovery key? Make a new one: remove the old one above afterwards.")
        : para("You have no recovery key. Without one, if you lose this device nobody can get your passport back: make one and keep it safe."),
      h("p", {}, button(hasRecovery ? "Make a new recovery key" : "Make a recovery key", async () => {
        await makeRecoveryKey();
        go("/recovery-key");
      }, "secondary")),
    ],
  );
}

/** Before a key is removed: which, and what removing it does. */
export async function confirmRemoveKey(kid) {
  const me = (await state.session.call("GET", paths.me)).party;
  const k = me.keys.find((x) => x.kid === kid && !x.revoked_at);
  if (!k || kid === state.session.jwk.kid) return go("/devices");
  const recovery = which(k) === "Your recovery key";
  page(
    recovery ? "Remove your recovery key?" : "Remove this other device?",
    summaryList([["Added", dateTime(k.created_at)], ["Key id", h("code", {}, k.kid)]]),
    warning(recovery
      ? "It stops working at once, for anyone holding a copy. Without a recovery key, if you lose your devices nobody can get your passport back: make a new one afterwards."
      : "It stops working at once: that device can no longer open your passport."),
    h("p", {},
      button(recovery ? "Yes, remove my recovery key" : "Yes, remove that device", async (event) => {
        event.target.disabled = true;
        try {
          await state.session.call("POST", paths.partyKeyRevoke(me.id, k.kid));
          go("/devices", `${which(k)} was removed.`);
        } catch (e) {
          event.target.disabled = false;
          showErrors(problemErrors(e));
        }
      }, "warning"), " ",
      link("#/devices", "No, keep it", { class: "button button--secondary" })),
  );
}

// This person's devices and recovery key.

import * as api from "../api.js";
import * as keystore from "../keystore.js";
import { button, dateTime, h, page, para, showErrors, summaryList } from "../ui.js";
import { go } from "../flow.js";
import { state } from "../session.js";
import { makeRecoveryKey, signOut } from "./start.js";
import { idleSetting } from "./unlock.js";
import * as paths from "../endpoints.js";

export async function devices() {
  const me = (await state.session.call("GET", paths.me)).party;
  const keys = me.keys.filter((k) => !k.revoked_at);
  const which = (k) => k.kid === state.session.jwk.kid ? "This device" : k.kid === state.device.recoveryKid ? "Your recovery key" : "Another device";
  page(
    "Your devices",
    para("Each device you use has a key of its own. Remove a device you no longer use or have lost: it stops working at once."),
    keys.map((k, i) => h("section", { class: "record", "aria-labelledby": `k-${i}` },
      h("h2", { class: "heading-s", id: `k-${i}` }, which(k)),
      summaryList([["Added", dateTime(k.created_at)], ["Key id", h("code", {}, k.kid)]]),
      k.kid !== state.session.jwk.kid && h("p", {}, button(`Remove ${which(k).toLowerCase()}`, async () => {
        await state.session.call("POST", paths.partyKeyRevoke(me.id, k.kid));
        go("/devices", `${which(k)} removed.`);
      }, "warning")))),
    idleSetting(),
    h("h2", { class: "heading-m" }, "This device"),
    para("On a shared or borrowed computer, remove this device when you finish: its key is revoked and deleted from this browser. To sign in again you need your recovery key or another device."),
    h("p", {}, button("Remove this device and sign out", async () => {
      try {
        await state.session.call("POST", paths.partyKeyRevoke(me.id, state.session.jwk.kid));
      } catch (e) {
        if (e instanceof api.ApiError && e.kind === "conflict") {
          return showErrors([{ text: "This is your only key: make a recovery key first, then remove this device." }]);
        }
        throw e;
      }
      await keystore.forget();
      signOut();
    }, "warning")),
    h("h2", { class: "heading-m" }, "Recovery key"),
    para("Lost your recovery key? Make a new one: remove the old one above afterwards."),
    h("p", {}, button("Make a new recovery key", async () => {
      await makeRecoveryKey();
      go("/recovery-key");
    }, "secondary")),
  );
}

// Notifications: the list, the unread count in the menu, the settings (the email address,
// which kinds are emailed, the calendar link), and the two pages an email's links open, which
// work without signing in (verifying the address, unsubscribing).

import * as api from "../api.js";
import * as words from "../words.js";
import { announce, button, checkedValues, choices, clearErrors, copyable, dateTime, h, inset, link, page, para, showErrors, submit, summaryList, tag, textField, warning } from "../ui.js";
import { busy, explain, go, problemErrors, refuse } from "../flow.js";
import { resume, state } from "../session.js";
import * as paths from "../endpoints.js";

// The unread count the menu shows, for the session that read it. The menu draws at once with
// the count known, and reads it again in the background after each page: the count never
// holds up a page. One just read (by the notifications page, say) is not read again at once.
const FRESH_MS = 2_000;
const unread = { session: null, count: null, at: 0, reading: null };

/** The menu's link with the unread count: "Notifications (3)", said as "Notifications
 * (3 unread)". The count is in a span the background read updates in place (redrawing the
 * menu would take focus away from a link in it). */
export function navLabel() {
  return ["Notifications", h("span", { id: "nav-unread" }, countWords())];
}

// What is said comes whole after what is shown: hidden text in the middle of a name gets
// spaces around it ("(3 unread )").
function countWords() {
  const count = unread.session === state.session ? unread.count : null;
  return count ? [" ", h("span", { "aria-hidden": "true" }, `(${count})`), h("span", { class: "visually-hidden" }, `(${count} unread)`)] : [];
}

function setUnread(count) {
  Object.assign(unread, { session: state.session, count, at: Date.now() });
  document.getElementById("nav-unread")?.replaceChildren(...countWords());
}

/** Reads the unread count again, and shows it in the menu. A failure leaves the count as it
 * was: the menu is no place for an error. */
export function refreshUnread() {
  const session = state.session;
  if (!session || state.recovery) return;
  if (unread.session === session && (unread.reading || Date.now() - unread.at < FRESH_MS)) return;
  if (unread.session !== session) Object.assign(unread, { session, count: null, at: 0 });
  const started = Date.now();
  // A count set here meanwhile (a notification just marked read) is newer than this answer.
  unread.reading = session.call("GET", paths.notifications)
    .then((answer) => state.session === session && started >= unread.at && setUnread(answer.unread))
    .catch(() => {})
    .finally(() => (unread.reading = null));
}

/** The person's notifications, newest first: each says what happened and links to where to
 * act. Opening the page marks nothing read; following a notification's link marks that one. */
export async function notifications() {
  const first = await state.session.call("GET", paths.notifications);
  setUnread(first.unread);
  let shown = 0;
  const item = (n) => {
    const id = `n-${shown++}`;
    const fresh = !n.read_at;
    return h("li", { class: fresh ? "notice notice--unread" : "notice" },
      h("h2", { class: "heading-s notice__title", id, tabindex: "-1" }, fresh && [tag("Unread"), " "], n.title),
      h("p", { class: "body" }, n.text),
      h("p", { class: "hint notice__time" }, h("time", { datetime: n.created_at }, dateTime(n.created_at))),
      h("p", { class: "body" }, link(n.link, words.destination(n.link), { "aria-describedby": id, onclick: (event) => follow(event, n) })));
  };
  const list = h("ol", { class: "notices" }, first.notifications.map(item));
  let before = first.next_before;
  const older = h("p", {}, button("Show older notifications", async (event) => {
    event.target.disabled = true;
    try {
      const next = await state.session.call("GET", `${paths.notifications}?before=${encodeURIComponent(before)}`);
      const items = next.notifications.map(item);
      list.append(...items);
      before = next.next_before;
      older.hidden = !before;
      announce(items.length === 1 ? "1 older notification shown." : `${items.length} older notifications shown.`);
      // Reading goes on from the first one added, not from the button (hidden when no more).
      items[0]?.querySelector("h2").focus();
    } catch (e) {
      showErrors(problemErrors(e));
    } finally {
      event.target.disabled = false;
    }
  }, "secondary"));
  older.hidden = !before;
  const count = first.unread;
  page(
    "Notifications",
    first.notifications.length
      ? [
        para(count ? `You have ${count} unread notification${count === 1 ? "" : "s"}.` : "You have no unread notifications."),
        count > 0 && h("p", {}, button("Mark all as read", async (event) => {
          event.target.disabled = true;
          try {
            await state.session.call("POST", paths.notificationsReadAll);
            setUnread(0);
            go("/notifications", "All your notifications are marked as read.");
          } catch (e) {
            event.target.disabled = false;
            showErrors(problemErrors(e));
          }
        }, "secondary")),
        list,
        older,
      ]
      : para("You have no notifications. When something happens that you may need to act on, it is listed here."),
    para(link("#/notifications/settings", "Choose how you get notifications")),
  );
}

// A notification's link marks it read, then goes where it leads: there even if marking
// failed, as the notification stays listed to come back to.
async function follow(event, n) {
  // Opened in another tab or window (Ctrl, Shift, Cmd, the middle button): the browser's own.
  if (event.button !== 0 || event.ctrlKey || event.shiftKey || event.metaKey || event.altKey) return;
  event.preventDefault();
  if (!n.read_at) {
    try {
      await state.session.call("POST", paths.notificationRead(n.id));
      n.read_at = new Date().toISOString();
      if (unread.count) setUnread(unread.count - 1);
    } catch {
      // Unread still: the count says so next time.
    }
  }
  go(n.link.replace(/^#/, "") || "/");
}

/** The email address notifications go to, which kinds go there, and the calendar link. */
export async function notificationSettings() {
  const settings = await state.session.call("GET", paths.notificationSettings);
  page(
    "Notification settings",
    para(link("#/notifications", "Back to your notifications")),
    h("h2", { class: "heading-m" }, "Email"),
    settings.email_enabled
      ? emailParts(settings)
      : para("This service does not send email: whoever runs it has not set that up. Your notifications are listed on the notifications page."),
    // A service admin has no dates: no consents, no reviews.
    state.me.kind !== "admin" && calendarParts(settings),
  );
}

function calendarParts(settings) {
  return [
    h("h2", { class: "heading-m" }, "Calendar"),
    para(state.me.kind === "employee"
      ? "A calendar link puts your adjustments' review dates and the dates your consents end in your calendar app, kept up to date."
      : "A calendar link puts the dates your access to passports ends, and reviews due, in your calendar app, kept up to date."),
    para(settings.calendar
      ? "You have a calendar link. Getting a new one stops the old one working."
      : "You have no calendar link."),
    h("p", {},
      button(settings.calendar ? "Get a new calendar link" : "Get a calendar link", async (event) => {
        event.target.disabled = true;
        try {
          made.calendar = { session: state.session, url: (await state.session.call("POST", paths.notificationCalendar)).url };
          go("/notifications/calendar");
        } catch (e) {
          event.target.disabled = false;
          showErrors(problemErrors(e));
        }
      }, settings.calendar ? "secondary" : undefined),
      settings.calendar && [" ", link("#/notifications/calendar/stop", "Stop the calendar", { class: "button button--warning" })]),
  ];
}

// The address, its form, and which kinds are emailed; only where the server sends email.
function emailParts(settings) {
  const email = settings.email;
  const form = h("form", { novalidate: true },
    textField({
      id: "address",
      label: email ? "New email address" : "Email address",
      hint: "We send a link to this address. Nothing else is emailed there until you open it. Emails say what happened, never anything from a passport.",
      type: "email",
      autocomplete: "email",
    }),
    submit(email ? "Change email address" : "Set email address", email ? "secondary" : undefined));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const address = form.elements.address.value.trim();
    if (!address) return refuse([{ id: "address", text: "Enter your email address" }]);
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) return refuse([{ id: "address", text: "Enter an email address in the correct format, like name@example.com" }]);
    showErrors([]);
    await busy(form, "Sending the link", async () => {
      await state.session.call("PUT", paths.notificationEmail, { address });
      go("/notifications/settings", `We sent a link to ${address}. Open it to confirm the address: nothing else is emailed there until you do.`);
    });
  });
  const kinds = settings.choices.filter((c) => c.kind !== "email_verification");
  const choicesForm = h("form", { novalidate: true },
    choices({
      id: "kinds",
      legend: "Which notifications to email you",
      hint: "Every notification is listed on the notifications page too. Security alerts are always emailed to a verified address.",
      type: "checkbox",
      options: kinds.map((c) => [c.kind, c.title, c.security ? "A security alert: it cannot be turned off." : undefined]),
      checked: kinds.filter((c) => c.email).map((c) => c.kind),
    }),
    submit("Save choices"));
  // Security alerts stay ticked: shown, so that nobody wonders whether they come.
  for (const c of kinds.filter((k) => k.security)) {
    choicesForm.querySelector(`input[value="${c.kind}"]`).disabled = true;
  }
  choicesForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ticked = checkedValues(choicesForm, "kinds");
    const email = Object.fromEntries(kinds.filter((c) => !c.security).map((c) => [c.kind, ticked.includes(c.kind)]));
    await busy(choicesForm, "Saving your choices", async () => {
      await state.session.call("PUT", paths.notificationSettings, { email });
      go("/notifications/settings", "Your choices are saved.");
    });
  });
  return [
    email
      ? [
        summaryList([["Email address", email.address], ["Status", email.verified ? tag("Verified", "green") : tag("Not verified yet")]]),
        !email.verified && inset(`We sent a link to ${email.address}. Open it to confirm the address: nothing is emailed there until you do. The link works for 2 days; for a new one, set the address again.`),
        h("p", {}, link("#/notifications/email/remove", "Remove this email address", { class: "button button--warning" })),
      ]
      : para("No email address is set: notifications are only listed here."),
    form,
    h("h2", { class: "heading-m" }, "What is emailed"),
    choicesForm,
  ];
}

// The calendar link just made, shown once on its own page (never again), for the session
// that made it.
const made = { calendar: null };

/** The calendar link just made: to copy into a calendar app. */
export function calendarMade() {
  const kept = made.calendar;
  made.calendar = null;
  if (!kept || kept.session !== state.session) return go("/notifications/settings");
  page(
    "Your calendar link",
    para("Add this link to your calendar app (for example, as a calendar to subscribe to from the web). It is shown only now."),
    copyable({ id: "calendar-link", label: "Calendar link", value: kept.url, multiline: true }),
    warning("Anyone with this link can see the dates in it and who they concern, but nothing from your passport. Keep it private. Getting a new link stops this one working."),
    para(link("#/notifications/settings", "Back to notification settings")),
  );
}

/** Before the calendar link stops. */
export async function confirmStopCalendar() {
  const settings = await state.session.call("GET", paths.notificationSettings);
  if (!settings.calendar) return go("/notifications/settings");
  page(
    "Stop your calendar link?",
    warning("The link stops working at once: calendar apps that use it get no more dates. To have one again, get a new link."),
    h("p", {},
      button("Yes, stop the calendar", async (event) => {
        event.target.disabled = true;
        try {
          await state.session.call("DELETE", paths.notificationCalendar);
          go("/notifications/settings", "Your calendar link was stopped.");
        } catch (e) {
          event.target.disabled = false;
          showErrors(problemErrors(e));
        }
      }, "warning"), " ",
      link("#/notifications/settings", "No, keep it", { class: "button button--secondary" })),
  );
}

/** Before the email address is removed. */
export async function confirmRemoveEmail() {
  const settings = await state.session.call("GET", paths.notificationSettings);
  if (!settings.email) return go("/notifications/settings");
  page(
    "Remove your email address?",
    summaryList([["Email address", settings.email.address]]),
    warning("Nothing more is emailed to you, security alerts included, and emails not yet sent are not sent. Your notifications are still listed here."),
    h("p", {},
      button("Yes, remove it", async (event) => {
        event.target.disabled = true;
        try {
          await state.session.call("DELETE", paths.notificationEmail);
          go("/notifications/settings", "Your email address was removed.");
        } catch (e) {
          event.target.disabled = false;
          showErrors(problemErrors(e));
        }
      }, "warning"), " ",
      link("#/notifications/settings", "No, keep it", { class: "button button--secondary" })),
  );
}

// The pages an email's links open work without signing in; when this device is unlocked in
// this tab, the person is signed in all the same (the menu is theirs).
async function signedInIfUnlocked() {
  if (!state.session) await resume().catch(() => false);
  return Boolean(state.session);
}

/** `#/email/verify/{code}`, the link the verification email carries: the code is sent at once
 * (opening the link is the person's act; nothing is done but confirm the address). */
export async function verifyEmail(code) {
  const signedIn = await signedInIfUnlocked();
  const settings = signedIn ? para(link("#/notifications/settings", "Go to your notification settings")) : null;
  try {
    await api.publicCall("POST", paths.emailVerify, { code });
  } catch (e) {
    if (!(e instanceof api.ApiError) || e.status !== 404) throw e;
    return page(
      "This link does not work",
      para("It was used already, it has run out (links work for 2 days), or the email address was changed since it was sent."),
      para("To get a new link, set your email address again in your notification settings."),
      settings,
    );
  }
  page(
    "Your email address is confirmed",
    para("Notifications you choose are emailed to it from now on. Security alerts always are."),
    settings,
  );
}

/** `#/unsubscribe/{token}`, the link in an email to stop that kind of email: it says which,
 * and stops them only when the button is pressed (a link checker opening it changes nothing). */
export async function unsubscribe(token) {
  const signedIn = await signedInIfUnlocked();
  const kind = words.NOTIFICATION_KINDS[token.split(".")[1]];
  const settings = signedIn
    ? para(link("#/notifications/settings", "Choose which emails you get in your notification settings"))
    : para("To choose which emails you get, sign in and go to Notifications, then Notification settings.");
  const invalid = () => page(
    "This unsubscribe link does not work",
    para("It may be from an email sent before the email address was changed: links in older emails stop working then. Or it was not copied whole."),
    para("Nothing was changed."),
    settings,
  );
  if (!kind) return invalid();
  page(
    "Stop these emails",
    summaryList([["Emails about", kind]]),
    para("Stop them here: they are still listed on your notifications page when you sign in. Security alerts are always emailed."),
    h("p", {}, button("Stop these emails", async (event) => {
      event.target.disabled = true;
      try {
        await api.publicCall("POST", paths.unsubscribe(token));
      } catch (e) {
        event.target.disabled = false;
        if (e instanceof api.ApiError && e.status === 404) return invalid();
        return showErrors([{ text: explain(e).replace(/\.$/, "") }]);
      }
      page(
        "You will not get these emails any more",
        summaryList([["Emails about", kind]]),
        para("You can turn them on again in your notification settings."),
        settings,
      );
    })),
  );
}

// The pages: a hash router from addresses to page functions (in pages/), and the navigation.
// Each page is a client of the JSON API (api.js), signs with this device's key, and verifies
// what it shows (verify.js).

import { h } from "./ui.js";
import { announceNext, failure, go, notFound } from "./flow.js";
import { granted, own, resume, state, thisDevice, watchIdle } from "./session.js";
import { confirmRemoveKey, devices } from "./pages/devices.js";
import { download, moveHere } from "./pages/move.js";
import { admin, adminOrganisation, confirmRemoveMember, invitationMade, organisation, organisationSetUp, requestMade, requestsSent } from "./pages/organisations.js";
import { editRecord, erase, overview, printable, recordForm, recordHistory, sectionPage } from "./pages/passport.js";
import { confirmAgree, sharedPassport, sharedWithMe } from "./pages/shared.js";
import { accessLog, checkShare, confirmStop, grants, respondToRequest, share, shareByCode, shareLinkSignedOut, shareWith } from "./pages/sharing.js";
import { adminJoin, join, landing, recover, recoveryKey, signOut, signUp } from "./pages/start.js";
import { insecure, secure } from "./pages/insecure.js";
import { calendarMade, confirmRemoveEmail, confirmStopCalendar, navLabel, notificationSettings, notifications, refreshUnread, unsubscribe, verifyEmail } from "./pages/notifications.js";

const ROUTES = [
  [/^\/?$/, landing],
  [/^\/signup$/, signUp],
  [/^\/recovery-key$/, recoveryKey],
  [/^\/recover$/, recover],
  [/^\/passport$/, signedIn(overview)],
  [/^\/section\/([a-z_]+)$/, signedIn(sectionPage)],
  [/^\/section\/([a-z_]+)\/new$/, signedIn((s) => recordForm(own(), s))],
  [/^\/record\/([0-9a-f-]{36})\/edit$/, signedIn((r) => editRecord(own(), r))],
  [/^\/record\/([0-9a-f-]{36})\/history$/, signedIn((r) => recordHistory(own(), r))],
  [/^\/shared$/, signedIn(sharedWithMe)],
  [/^\/shared\/([0-9a-f-]{36})$/, signedIn(sharedPassport)],
  [/^\/shared\/([0-9a-f-]{36})\/section\/([a-z_]+)\/new$/, signedIn(async (g, s) => recordForm(await granted(g), s))],
  [/^\/shared\/([0-9a-f-]{36})\/record\/([0-9a-f-]{36})\/edit$/, signedIn(async (g, r) => editRecord(await granted(g), r))],
  [/^\/shared\/([0-9a-f-]{36})\/record\/([0-9a-f-]{36})\/history$/, signedIn(async (g, r) => recordHistory(await granted(g), r))],
  [/^\/shared\/([0-9a-f-]{36})\/record\/([0-9a-f-]{36})\/agree$/, signedIn(confirmAgree)],
  [/^\/join$/, join],
  [/^\/join\/(wpi_[A-Za-z0-9_-]{43})$/, join],
  [/^\/admin-join\/([A-Za-z0-9_.-]+)$/, adminJoin],
  [/^\/admin$/, signedIn(admin)],
  [/^\/admin\/set-up$/, signedIn(organisationSetUp)],
  [/^\/admin\/organisations\/([0-9a-f-]{36})$/, signedIn(adminOrganisation)],
  [/^\/admin\/organisations\/([0-9a-f-]{36})\/invitation$/, signedIn(invitationMade)],
  [/^\/admin\/organisations\/([0-9a-f-]{36})\/remove\/([0-9a-f-]{36})$/, signedIn(confirmRemoveMember)],
  [/^\/request$/, signedIn(respondToRequest)],
  [/^\/organisation$/, signedIn(organisation)],
  [/^\/organisation\/invitation$/, signedIn(() => invitationMade())],
  [/^\/organisation\/remove\/([0-9a-f-]{36})$/, signedIn(confirmRemoveMember)],
  [/^\/requests$/, signedIn(requestsSent)],
  [/^\/requests\/made$/, signedIn(requestMade)],
  [/^\/print$/, signedIn(printable)],
  [/^\/share$/, signedIn(share)],
  [/^\/share\/to\/([0-9a-f-]{36})$/, signedIn(shareWith)],
  [/^\/share\/to\/([0-9a-f-]{36})\/check$/, signedIn(checkShare)],
  [/^\/share\/([0-9A-Za-z-]{12,16})$/, signedIn(shareByCode, shareLinkSignedOut)],
  [/^\/grants$/, signedIn(grants)],
  [/^\/grants\/([0-9a-f-]{36})\/stop$/, signedIn(confirmStop)],
  [/^\/log$/, signedIn(accessLog)],
  [/^\/devices$/, signedIn(devices)],
  [/^\/devices\/remove\/([A-Za-z0-9_-]+)$/, signedIn(confirmRemoveKey)],
  [/^\/notifications$/, signedIn(notifications)],
  [/^\/notifications\/settings$/, signedIn(notificationSettings)],
  [/^\/notifications\/calendar$/, signedIn(calendarMade)],
  [/^\/notifications\/calendar\/stop$/, signedIn(confirmStopCalendar)],
  [/^\/notifications\/email\/remove$/, signedIn(confirmRemoveEmail)],
  // The links emails carry: they work signed in or not (the code or token is the proof).
  [/^\/email\/verify\/([A-Za-z0-9_-]+)$/, verifyEmail],
  [/^\/unsubscribe\/([A-Za-z0-9_.-]+)$/, unsubscribe],
  [/^\/erase$/, signedIn(erase)],
  [/^\/download$/, signedIn(download)],
  [/^\/move$/, moveHere],
  [/^\/signout$/, signOut],
];

// Pages are shown one after another, each for the address current when its turn comes: a slow
// page (one that reads a passport) never draws over a page asked for after it.
let showing = Promise.resolve();

function route() {
  showing = showing.then(show);
  return showing;
}

async function show() {
  const path = location.hash.replace(/^#/, "") || "/";
  announceNext();
  const found = ROUTES.map(([pattern, view]) => [path.match(pattern), view]).find(([m]) => m);
  try {
    await (found ? found[1](...found[0].slice(1)) : notFound());
  } catch (e) {
    failure(e);
  }
  nav();
}

/** Pages that need a signed-in person: without one, the start page (or `otherwise`); on a locked
 * device, the unlock page, which comes back here once unlocked. */
function signedIn(show, otherwise = landing) {
  return async (...args) => {
    if (!state.session && !(await resume())) return (await thisDevice())?.sealed ? landing() : otherwise();
    // A recovery key made but not yet saved: nothing else until it is.
    if (state.recovery) return go("/recovery-key");
    return show(...args);
  };
}

function nav() {
  const employee = state.me?.kind === "employee";
  const member = state.me?.membership?.removed_at ? null : state.me?.membership;
  // The employee's promise in the footer is not about admins and organisations' members.
  document.querySelector(".footer").hidden = Boolean(state.session && !employee);
  // With the unread count known so far; read again after drawing, never before.
  const notices = ["#/notifications", navLabel()];
  const links = state.recovery
    ? []
    : !state.session
    ? [["#/signup", "Create a passport"], ["#/recover", "Sign in with a recovery key"], ["#/join", "Join an organisation"]]
    : employee
      ? [["#/passport", "Your passport"], ["#/share", "Share"], ["#/grants", "Who can see it"], ["#/log", "Access log"], notices, ["#/devices", "Devices"], ["#/signout", "Sign out"]]
      : state.me?.kind === "admin"
        ? [["#/admin", "Organisations"], notices, ["#/devices", "Devices"], ["#/signout", "Sign out"]]
        : [
          ["#/shared", "Shared with you"],
          member && ["#/requests", "Access requests"],
          member && ["#/organisation", "Your organisation"],
          notices,
          ["#/devices", "Devices"],
          ["#/signout", "Sign out"],
        ].filter(Boolean);
  // The page showing is named, not linked: a link to the address already open goes nowhere.
  const current = location.hash || "#/";
  const name = document.querySelector(".header__name");
  if (current === "#/") name.removeAttribute("href");
  else name.setAttribute("href", "#/");
  document.getElementById("nav").replaceChildren(
    h("ul", { class: "nav__list" }, links.map(([href, text]) =>
      h("li", {}, current === href
        ? h("span", { class: "nav__link nav__link--current", "aria-current": "page" }, text)
        : h("a", { href, class: "nav__link" }, text)))),
  );
  if (state.session) refreshUnread();
}

document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
// Where the browser withholds its cryptography (plain http:// off this machine), one page says
// what to do, and no other view runs.
if (secure()) {
  window.addEventListener("hashchange", route);
  watchIdle((minutes) => go(location.hash.replace(/^#/, "") || "/", `This device locked itself after ${minutes} minutes without use. Unlock it to carry on.`));
  route();
} else {
  insecure();
}

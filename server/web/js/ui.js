// Building pages: DOM helpers (text is always set as text, never parsed as HTML) and the
// GOV.UK Design System patterns the pages use: error summary, hints, summary lists, tags,
// warning text, notification banners.

const main = () => document.getElementById("main");

/** An element: `attrs` sets attributes (`on*` adds listeners), children are nodes or text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Shows a page: its title names it (WCAG 2.4.2), and focus moves to its heading. */
export function page(title, ...content) {
  document.title = `${title} - Work Passport`;
  const heading = h("h1", { class: "heading-l", tabindex: "-1" }, title);
  main().replaceChildren(heading, ...content.flat(Infinity).filter(Boolean));
  const summary = main().querySelector(".error-summary");
  (summary || heading).focus();
}

/** Says `text` in the status region, for screen readers as well as eyes. */
export function announce(text) {
  const region = document.getElementById("status");
  region.replaceChildren();
  if (text) {
    region.append(h("p", { class: "notification" }, text));
  }
}

/** The error summary: "There is a problem" with a link to each field in error. */
export function errorSummary(errors) {
  if (!errors.length) return null;
  return h(
    "div",
    { class: "error-summary", role: "alert", tabindex: "-1", "aria-labelledby": "error-summary-title" },
    h("h2", { class: "error-summary__title", id: "error-summary-title" }, "There is a problem"),
    h(
      "ul",
      { class: "error-summary__list" },
      errors.map((e) =>
        e.id
          ? h("li", {}, h("a", { href: `#${e.id}`, onclick: (event) => focusField(event, e.id) }, e.text))
          : h("li", {}, e.text),
      ),
    ),
  );
}

// The summary's links move focus to the field without touching the page's route.
function focusField(event, id) {
  event.preventDefault();
  const field = document.getElementById(id);
  if (field) {
    field.focus();
    field.scrollIntoView({ block: "center" });
  }
}

/** Replaces the error summary of the current page (or clears it). */
export function showErrors(errors, before) {
  main().querySelector(".error-summary")?.remove();
  const summary = errorSummary(errors);
  if (summary) {
    (before || main().querySelector("h1")).after(summary);
    summary.focus();
  }
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

export function button(text, onclick, kind) {
  const cls = kind ? `button button--${kind}` : "button";
  return h("button", { type: "button", class: cls, onclick }, text);
}

export function submit(text, kind) {
  return h("button", { type: "submit", class: kind ? `button button--${kind}` : "button" }, text);
}

/** Key-value rows (`<dl>`), e.g. a record's fields. */
export function summaryList(rows) {
  return h(
    "dl",
    { class: "summary-list" },
    rows.map(([key, value]) =>
      h("div", { class: "summary-list__row" }, h("dt", {}, key), h("dd", {}, value)),
    ),
  );
}

/** A tag: words first, colour only as an extra (WCAG 1.4.1). */
export function tag(text, kind) {
  return h("strong", { class: kind ? `tag tag--${kind}` : "tag" }, text);
}

export function warning(text) {
  return h(
    "div",
    { class: "warning-text" },
    h("span", { class: "warning-text__icon", "aria-hidden": "true" }, "!"),
    h("strong", { class: "warning-text__text" }, h("span", { class: "visually-hidden" }, "Warning: "), text),
  );
}

export function para(...text) {
  return h("p", { class: "body" }, ...text);
}

export function inset(...text) {
  return h("div", { class: "inset-text" }, ...text);
}

/** Text with a label and hint; `multiline` for a textarea. */
export function textField({ id, label, hint, value = "", multiline, type = "text", autocomplete, width }) {
  const describedBy = hint ? `${id}-hint` : undefined;
  const control = multiline
    ? h("textarea", { class: "textarea", id, name: id, rows: 5, "aria-describedby": describedBy }, value)
    : h("input", {
        class: width ? `input input--width-${width}` : "input",
        id,
        name: id,
        type,
        value,
        autocomplete,
        "aria-describedby": describedBy,
        spellcheck: type === "text" ? undefined : "false",
      });
  return h(
    "div",
    { class: "form-group", "data-field": id },
    h("label", { class: "label", for: id }, label),
    hint && h("div", { class: "hint", id: `${id}-hint` }, hint),
    control,
  );
}

/** Marks a field in error: the message above the control, named in its description. */
export function markError(id, text) {
  const group = document.querySelector(`[data-field="${CSS.escape(id)}"]`);
  if (!group) return false;
  group.classList.add("form-group--error");
  const message = h("p", { class: "error-message", id: `${id}-error` }, h("span", { class: "visually-hidden" }, "Error: "), text);
  const anchor = group.querySelector(".hint") || group.querySelector("legend") || group.querySelector("label");
  anchor.after(message);
  const control = document.getElementById(id);
  if (control) {
    const ids = [control.getAttribute("aria-describedby"), `${id}-error`].filter(Boolean).join(" ");
    control.setAttribute("aria-describedby", ids);
  }
  return true;
}

export function clearErrors(form) {
  form.querySelectorAll(".error-message").forEach((m) => m.remove());
  form.querySelectorAll(".form-group--error").forEach((g) => g.classList.remove("form-group--error"));
  form.querySelectorAll("[aria-describedby]").forEach((c) => {
    const ids = c.getAttribute("aria-describedby").split(" ").filter((i) => !i.endsWith("-error"));
    if (ids.length) c.setAttribute("aria-describedby", ids.join(" "));
    else c.removeAttribute("aria-describedby");
  });
}

/** Radios or checkboxes in a fieldset whose legend asks the question. */
export function choices({ id, legend, hint, type = "radio", options, checked = [] }) {
  return h(
    "div",
    { class: "form-group", "data-field": id },
    h(
      "fieldset",
      { class: "fieldset", "aria-describedby": hint ? `${id}-hint` : undefined },
      h("legend", { class: "fieldset__legend" }, legend),
      hint && h("div", { class: "hint", id: `${id}-hint` }, hint),
      h(
        "div",
        { class: type === "radio" ? "radios" : "checkboxes" },
        options.map(([value, text, itemHint], i) => {
          const itemId = i === 0 ? id : `${id}-${i}`;
          return h(
            "div",
            { class: "choice" },
            h("input", {
              class: "choice__input",
              id: itemId,
              name: id,
              type,
              value,
              checked: checked.includes(value),
              "aria-describedby": itemHint ? `${itemId}-hint` : undefined,
            }),
            h("label", { class: "label choice__label", for: itemId }, text),
            itemHint && h("div", { class: "hint choice__hint", id: `${itemId}-hint` }, itemHint),
          );
        }),
      ),
    ),
  );
}

export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

/** A long date for people: "3 March 2026". */
export function date(text) {
  return new Date(text).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
}

/** "3 March 2026 at 10:41". */
export function dateTime(text) {
  const d = new Date(text);
  const time = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  return `${date(text)} at ${time} UTC`;
}

/** A value to hand on (a code, a link): shown in a read-only field a keyboard can reach and
 * select, with a button that copies it and says "Copied" in a live region beside it. */
export function copyable({ id, label, value, hint, multiline }) {
  const describedBy = hint ? `${id}-hint` : undefined;
  const control = multiline
    ? h("textarea", { class: "textarea textarea--code", id, name: id, rows: 2, readonly: true, spellcheck: "false", "aria-describedby": describedBy }, value)
    : h("input", { class: "input input--code", id, name: id, type: "text", value, readonly: true, spellcheck: "false", autocomplete: "off", "aria-describedby": describedBy });
  const status = h("span", { class: "copy__status", role: "status", id: `${id}-copied` });
  const copy = h("button", { type: "button", class: "button button--secondary copy__button" }, `Copy ${label.charAt(0).toLowerCase()}${label.slice(1)}`);
  copy.addEventListener("click", async () => {
    status.textContent = "";
    try {
      await navigator.clipboard.writeText(value);
      status.textContent = "Copied";
    } catch {
      // No clipboard for this page (an insecure origin, or the browser refused): the text is
      // selected for the person to copy themself.
      control.focus();
      control.select();
      status.textContent = "Could not copy: the text is selected, copy it with Ctrl+C (Cmd+C on a Mac)";
    }
  });
  return h(
    "div",
    { class: "form-group copy", "data-field": id },
    h("label", { class: "label", for: id }, label),
    hint && h("div", { class: "hint", id: `${id}-hint` }, hint),
    control,
    h("div", { class: "copy__actions" }, copy, status),
  );
}

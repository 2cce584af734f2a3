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

/** Shows a page: its title names it (WCAG 2.4.2), and focus moves to its heading (or to its
 * error summary, which comes first in the main content, as GOV.UK places it). */
export function page(title, ...content) {
  const heading = h("h1", { class: "heading-l", tabindex: "-1" }, title);
  const parts = content.flat(Infinity).filter(Boolean);
  const summary = parts.find((p) => p.classList?.contains("error-summary"));
  main().replaceChildren(...(summary ? [summary] : []), heading, ...parts.filter((p) => p !== summary));
  main().dataset.title = `${title} - Work Passport`;
  retitle();
  (summary || heading).focus();
}

/** The document title: "Error: " before it while the page shows an error summary (GOV.UK). */
export function retitle() {
  const base = main().dataset.title || document.title.replace(/^Error: /, "");
  document.title = main().querySelector(".error-summary") ? `Error: ${base}` : base;
}

/** Says `text` in the status region, for screen readers as well as eyes. */
export function announce(text) {
  const region = document.getElementById("status");
  region.replaceChildren();
  if (text) {
    region.append(h("p", { class: "notification" }, text));
  }
}

/** The error summary: "There is a problem" with a link to each field in error. A link goes to
 * the field's control (the first part of a date in error, the first radio of a group); an error
 * whose field is not on the page is listed without a link rather than with a dead one. */
export function errorSummary(errors) {
  if (!errors.length) return null;
  return h(
    "div",
    { class: "error-summary", role: "alert", tabindex: "-1", "aria-labelledby": "error-summary-title" },
    h("h2", { class: "error-summary__title", id: "error-summary-title" }, "There is a problem"),
    h(
      "ul",
      { class: "error-summary__list" },
      errors.map((e) => {
        const target = e.id && controlFor(e.id, e.parts);
        return target
          ? h("li", {}, h("a", { href: `#${target}`, onclick: (event) => focusField(event, target) }, e.text))
          : h("li", {}, e.text);
      }),
    ),
  );
}

/** The id of the control an error about field `id` links to, if the page has it. */
export function controlFor(id, parts) {
  if (parts?.length && document.getElementById(`${id}-${parts[0]}`)) return `${id}-${parts[0]}`;
  const el = document.getElementById(id);
  // A button, where the only thing to do is try it again (unlocking with a passkey).
  if (el && /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(el.tagName)) return id;
  const group = document.querySelector(`[data-field="${CSS.escape(id)}"]`);
  return group?.querySelector("input, textarea, select")?.id || null;
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

/** Replaces the error summary of the current page (or clears it): first in the main content. */
export function showErrors(errors) {
  main().querySelector(".error-summary")?.remove();
  // What the page before said ("You are signed in") is not news beside a problem.
  if (errors.length) announce("");
  const summary = errorSummary(errors);
  if (summary) {
    main().prepend(summary);
    summary.focus();
  }
  retitle();
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
      h("div", { class: "summary-list__row" }, h("dt", {}, key), h("dd", { dir: "auto" }, value)),
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

/** Text with a label and hint; `multiline` for a textarea. A `maxlength` shows the GOV.UK
 * character count: what is left, said in a polite live region once typing pauses. */
export function textField({ id, label, hint, value = "", multiline, type = "text", autocomplete, width, maxlength }) {
  const counted = multiline && maxlength;
  const describedBy = [hint && `${id}-hint`, counted && `${id}-info`].filter(Boolean).join(" ") || undefined;
  const control = multiline
    ? h("textarea", { class: "textarea", id, name: id, rows: 5, dir: "auto", "aria-describedby": describedBy }, value)
    : h("input", {
        class: width ? `input input--width-${width}` : "input",
        id,
        name: id,
        type,
        value,
        autocomplete,
        dir: type === "text" ? "auto" : undefined,
        "aria-describedby": describedBy,
        spellcheck: type === "text" ? undefined : "false",
      });
  const group = h(
    "div",
    { class: "form-group", "data-field": id },
    h("label", { class: "label", for: id }, label),
    hint && h("div", { class: "hint", id: `${id}-hint` }, hint),
    control,
  );
  if (counted) characterCount(group, control, id, maxlength);
  return group;
}

const number = (n) => n.toLocaleString("en-GB");

function characterCount(group, control, id, max) {
  const info = h("div", { class: "visually-hidden", id: `${id}-info` }, `You can enter up to ${number(max)} characters`);
  const shown = h("div", { class: "hint character-count__status", "aria-hidden": "true" });
  const said = h("div", { class: "visually-hidden", "aria-live": "polite" });
  const text = () => {
    const left = max - [...control.value].length;
    return left >= 0
      ? `You have ${number(left)} character${left === 1 ? "" : "s"} remaining`
      : `You have ${number(-left)} character${left === -1 ? "" : "s"} too many`;
  };
  let timer;
  const update = () => {
    shown.textContent = text();
    shown.classList.toggle("character-count__status--error", [...control.value].length > max);
    control.classList.toggle("textarea--error", [...control.value].length > max);
    clearTimeout(timer);
    timer = setTimeout(() => (said.textContent = text()), 1000);
  };
  control.addEventListener("input", update);
  shown.textContent = text();
  group.classList.add("character-count");
  group.append(info, shown, said);
}

/** A GOV.UK date input: day, month and year in a fieldset whose legend asks the question.
 * `value` is "YYYY-MM-DD" or empty. */
export function dateField({ id, legend, hint, value = "" }) {
  const [year = "", month = "", day = ""] = value ? value.split("-") : [];
  const part = (name, text, v, width) => h("div", { class: "date-input__item" },
    h("label", { class: "label date-input__label", for: `${id}-${name}` }, text),
    h("input", { class: `input input--width-${width}`, id: `${id}-${name}`, name: `${id}-${name}`, type: "text", inputmode: "numeric", spellcheck: "false", value: v }));
  return h(
    "div",
    { class: "form-group", "data-field": id },
    h(
      "fieldset",
      { class: "fieldset", role: "group", "aria-describedby": hint ? `${id}-hint` : undefined },
      h("legend", { class: "fieldset__legend" }, legend),
      hint && h("div", { class: "hint", id: `${id}-hint` }, hint),
      h("div", { class: "date-input", id }, part("day", "Day", day && String(Number(day)), 2), part("month", "Month", month && String(Number(month)), 2), part("year", "Year", year, 4)),
    ),
  );
}

/** Marks a field in error: the message under its label or legend (and hint), named in the
 * description of its control or fieldset; `parts` names the parts of a date in error. */
export function markError(id, text, parts) {
  const group = document.querySelector(`[data-field="${CSS.escape(id)}"]`);
  if (!group || group.classList.contains("form-group--error")) return !!group;
  group.classList.add("form-group--error");
  const message = h("p", { class: "error-message", id: `${id}-error` }, h("span", { class: "visually-hidden" }, "Error: "), text);
  // Under the question's own hint, legend or label: never among the options (whose hints
  // are the options' own).
  const anchor = group.querySelector(":scope > .hint, fieldset > .hint") || group.querySelector("legend") || group.querySelector("label");
  anchor.after(message);
  const fieldset = group.querySelector("fieldset");
  const described = fieldset || document.getElementById(id);
  if (described) {
    const ids = [described.getAttribute("aria-describedby"), `${id}-error`].filter(Boolean).join(" ");
    described.setAttribute("aria-describedby", ids);
  }
  const inputs = group.querySelectorAll(".date-input input");
  inputs.forEach((input) => {
    if (!parts?.length || parts.some((p) => input.id === `${id}-${p}`)) input.classList.add("input--error");
  });
  return true;
}

export function clearErrors(form) {
  form.querySelectorAll(".error-message").forEach((m) => m.remove());
  form.querySelectorAll(".form-group--error").forEach((g) => g.classList.remove("form-group--error"));
  form.querySelectorAll(".input--error").forEach((i) => i.classList.remove("input--error"));
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
              "aria-describedby": itemHint ? `${itemId}-item-hint` : undefined,
            }),
            h("label", { class: "label choice__label", for: itemId }, text),
            itemHint && h("div", { class: "hint choice__hint", id: `${itemId}-item-hint` }, itemHint),
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

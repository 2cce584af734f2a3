// Forms made from a section's JSON Schema (served at /web/schemas/<section>.json): one field
// per property, labelled with its name and hinted in words for whoever fills it in (HINTS, not
// the schema's descriptions, which are written for programmers), in an order that reads well;
// dates as GOV.UK date inputs, long text with a character count. The values read back into a
// body checked here first (every message says how to put it right), then by the server again.

import { h, textField, choices, date, dateField, markError } from "./ui.js";
import { label } from "./words.js";

export { label };

const ORDER = {
  summary: ["about_me", "what_helps", "communication_preferences"],
  impacts: ["area", "description", "good_day", "bad_day", "fluctuates", "triggers"],
  adjustments: ["title", "category", "addresses", "status", "declined_reason", "start_date", "review_date", "funding", "agreed_by", "notes"],
  conditions: ["categories", "description", "diagnosed"],
  fit_notes: ["fitness", "condition", "assessed_on", "period_from", "period_to", "advice", "functional_effects", "reassessment_needed", "issuer_name", "issuer_profession"],
  plans: ["kind", "title", "steps", "review_date", "if_unwell", "keep_in_touch"],
};

const schemas = new Map();

export async function schema(section) {
  if (!schemas.has(section)) {
    schemas.set(section, fetch(`/web/schemas/${section}.json`).then((r) => r.json()));
  }
  return schemas.get(section);
}

const fieldId = (name) => `field-${name}`;

// Hints for the person filling in the form: the owner on their own passport ("you"), or a
// professional writing in someone else's ("the employee"). {you}, {your}, {You}, {s} and {are}
// are filled in for the one or the other.
const HINTS = {
  summary: {
    about_me: "A short \u201cabout me and what helps\u201d, in {your} own words, for line managers.",
    what_helps: "Things that help {you} work well. One per line.",
    communication_preferences: "For example: email first, or no phone calls without warning.",
  },
  impacts: {
    area: "The part of work affected, for example concentration, mobility or stamina.",
    description: "How work is affected in this area.",
    good_day: "What it is like on a good day.",
    bad_day: "What it is like on a bad day.",
    fluctuates: "Whether it changes from day to day.",
    triggers: "Things that make it worse. One per line.",
  },
  conditions: {
    categories: "Tick all that apply. \u201cPrefer not to say\u201d cannot be ticked with any other.",
    description: "In {your} own words.",
    diagnosed: "Whether it has been formally diagnosed.",
  },
  adjustments: {
    title: "A short name, for example \u201cNoise-cancelling headphones\u201d.",
    category: "The kind of adjustment.",
    addresses: "What the adjustment helps with.",
    status: "Where the adjustment is now.",
    declined_reason: "Only if it was declined: why.",
    start_date: "When it starts or started.",
    review_date: "When it should be looked at again: not before it starts.",
    funding: "Who pays for it.",
    agreed_by: "The name and role of whoever agreed it.",
    notes: "Anything else.",
  },
  fit_notes: {
    fitness: "What the fit note says.",
    condition: "The condition written on the fit note.",
    assessed_on: "The day of the assessment.",
    period_from: "The first day the fit note covers.",
    period_to: "The last day it covers: not before the first day.",
    advice: "Only when the fit note says \u201cmay be fit\u201d: tick the advice it gives.",
    functional_effects: "How the condition affects {your} work, as the fit note says.",
    reassessment_needed: "Whether {you} need{s} to be assessed again at the end.",
    issuer_name: "The doctor or healthcare professional who issued it.",
    issuer_profession: "For example: GP, nurse, occupational therapist or pharmacist.",
  },
  plans: {
    kind: "The kind of plan.",
    title: "A short name for the plan.",
    steps: "The steps, in order. One per line.",
    review_date: "When it should be looked at again.",
    if_unwell: "What should happen if {you} become{s} unwell at work.",
    keep_in_touch: "How to keep in touch while {you} {are} away.",
  },
};

function hintFor(section, name, own) {
  const words = own
    ? { you: "you", your: "your", You: "You", s: "", are: "are" }
    : { you: "the employee", your: "the employee's", You: "The employee", s: "s", are: "is" };
  const text = HINTS[section]?.[name] || "";
  return text.replace(/\{(you|your|You|s|are)\}/g, (_, w) => words[w]);
}

// How a date is named in a sentence: "Enter the start date".
const DATES = {
  start_date: "the start date",
  review_date: "the review date",
  assessed_on: "the day of the assessment",
  period_from: "the first day the fit note covers",
  period_to: "the last day the fit note covers",
};

const dateName = (name) => DATES[name] || label(name).toLowerCase();
const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/** What a property is, for choosing its control. */
function kind(root, prop) {
  const resolve = (p) => (p && p.$ref ? root.$defs[p.$ref.split("/").pop()] : p);
  const nonNull = (p) => (p.anyOf ? resolve(p.anyOf.find((a) => a.type !== "null")) : resolve(p));
  const p = nonNull(prop);
  const types = [].concat(p.type || []);
  if (p.enum) return { kind: "enum", options: p.enum };
  if (types.includes("boolean")) return { kind: "boolean" };
  if (types.includes("array")) {
    const items = resolve(p.items);
    return items.enum
      ? { kind: "set", options: items.enum }
      : { kind: "lines", max: items.maxLength, maxItems: p.maxItems };
  }
  if (p.format === "date") return { kind: "date" };
  return { kind: (p.maxLength || 0) > 200 ? "long" : "short", max: p.maxLength };
}

function hintOf(section, name, required, own) {
  const text = hintFor(section, name, own);
  return required ? text : text ? `${text} (optional)` : "Optional.";
}

/** The fields of `section`'s form, filled from `body` (when editing); `own` when the person
 * writes in their own passport. */
export async function fields(section, body = {}, own = true) {
  const root = await schema(section);
  const names = ORDER[section] || Object.keys(root.properties);
  return names.map((name) => {
    const prop = root.properties[name];
    const required = (root.required || []).includes(name);
    const id = fieldId(name);
    const hint = hintOf(section, name, required, own);
    const value = body[name];
    const k = kind(root, prop);
    switch (k.kind) {
      case "enum":
        return choices({ id, legend: label(name), hint, options: k.options.map((o) => [o, label(o)]), checked: value ? [value] : [] });
      case "set":
        return choices({ id, legend: label(name), hint, type: "checkbox", options: k.options.map((o) => [o, label(o)]), checked: value || [] });
      case "boolean":
        return choices({
          id, legend: label(name), hint,
          options: [["true", "Yes"], ["false", "No"]],
          checked: value === true ? ["true"] : value === false ? ["false"] : [],
        });
      case "lines":
        return textField({ id, label: label(name), hint, value: (value || []).join("\n"), multiline: true });
      case "date": {
        const example = `${hintFor(section, name, own)} For example, 27 3 2027.`;
        return dateField({ id, legend: label(name), hint: required ? example : `${example} (optional)`, value: value || "" });
      }
      case "long":
        return textField({ id, label: label(name), hint, value: value || "", multiline: true, maxlength: k.max });
      default:
        return textField({ id, label: label(name), hint, value: value || "" });
    }
  });
}

/** A date from its day, month and year fields: `{value}` ("YYYY-MM-DD"), nothing when all are
 * empty, or `{error, parts}` saying what to put right (GOV.UK's date input messages). */
export function readDate(form, id, name) {
  const get = (part) => (form.elements[`${id}-${part}`]?.value || "").trim();
  const [day, month, year] = ["day", "month", "year"].map(get);
  if (!day && !month && !year) return {};
  const what = capital(dateName(name));
  const missing = [["day", day], ["month", month], ["year", year]].filter(([, v]) => !v).map(([p]) => p);
  if (missing.length) {
    return { error: `${what} must include a ${missing.join(" and ")}`, parts: missing };
  }
  const wrong = [["day", day], ["month", month], ["year", year]].filter(([, v]) => !/^\d+$/.test(v)).map(([p]) => p);
  if (wrong.length) return { error: `${what} must be a real date, in numbers`, parts: wrong };
  if (year.length !== 4) return { error: `The year of ${dateName(name)} must have 4 numbers, like 2027`, parts: ["year"] };
  const [d, m, y] = [Number(day), Number(month), Number(year)];
  const real = new Date(Date.UTC(y, m - 1, d));
  if (m < 1 || m > 12) return { error: `${what} must be a real date: the month is 1 to 12`, parts: ["month"] };
  if (real.getUTCDate() !== d || real.getUTCMonth() !== m - 1) return { error: `${what} must be a real date`, parts: ["day"] };
  return { value: `${year}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}` };
}

// The rules across fields the server also checks (schemas/src/sections.rs), said as how to
// put them right.
function crossChecks(section, body) {
  const errors = [];
  if (section === "adjustments") {
    if (body.status === "declined" && !body.declined_reason) {
      errors.push({ id: fieldId("declined_reason"), text: "Enter why the adjustment was declined" });
    }
    if (body.status !== "declined" && body.declined_reason) {
      errors.push({ id: fieldId("declined_reason"), text: "Remove the reason for declining, or choose Declined as the status" });
    }
    if (body.start_date && body.review_date && body.review_date < body.start_date) {
      errors.push({ id: fieldId("review_date"), parts: ["day"], text: "The review date must be the same as or after the start date" });
    }
  }
  if (section === "fit_notes") {
    if (body.period_from && body.period_to && body.period_to < body.period_from) {
      errors.push({ id: fieldId("period_to"), parts: ["day"], text: "The last day the fit note covers must be the same as or after the first day" });
    }
    if (body.fitness === "not_fit" && body.advice?.length) {
      errors.push({ id: fieldId("advice"), text: "Untick the advice, or choose May be fit: advice is only for someone who may be fit for work" });
    }
  }
  if (section === "conditions" && body.categories?.includes("prefer_not_to_say") && body.categories.length > 1) {
    errors.push({ id: fieldId("categories"), text: "Untick \u201cPrefer not to say\u201d, or untick the others" });
  }
  return errors;
}

const count = (text) => [...text].length;

/** Reads the form into a body; `errors` lists what is missing or malformed, by field. */
export async function read(section, form) {
  const root = await schema(section);
  const body = {};
  const errors = [];
  for (const name of ORDER[section] || Object.keys(root.properties)) {
    const prop = root.properties[name];
    const required = (root.required || []).includes(name);
    const id = fieldId(name);
    const k = kind(root, prop);
    let value;
    if (k.kind === "enum" || k.kind === "boolean") {
      const picked = form.querySelector(`input[name="${id}"]:checked`)?.value;
      value = picked === undefined ? undefined : k.kind === "boolean" ? picked === "true" : picked;
    } else if (k.kind === "set") {
      const picked = [...form.querySelectorAll(`input[name="${id}"]:checked`)].map((i) => i.value);
      value = picked.length ? picked : undefined;
    } else if (k.kind === "date") {
      const date = readDate(form, id, name);
      if (date.error) {
        errors.push({ id, parts: date.parts, text: date.error });
        continue;
      }
      value = date.value;
      if (value === undefined && required) {
        errors.push({ id, parts: ["day"], text: `Enter ${dateName(name)}` });
        continue;
      }
    } else {
      const text = form.elements[id].value.trim();
      if (k.kind === "lines") {
        const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
        value = lines.length ? lines : undefined;
        if (lines.some((l) => count(l) > (k.max || Infinity))) {
          errors.push({ id, text: `Each line of ${label(name).toLowerCase()} must be ${k.max} characters or fewer` });
          continue;
        }
        if (lines.length > (k.maxItems || Infinity)) {
          errors.push({ id, text: `${label(name)} must have ${k.maxItems} lines or fewer` });
          continue;
        }
      } else {
        value = text || undefined;
        if (value && count(value) > (k.max || Infinity)) {
          errors.push({ id, text: `${label(name)} must be ${k.max.toLocaleString("en-GB")} characters or fewer` });
          continue;
        }
      }
    }
    if (value === undefined) {
      if (required) {
        const how = k.kind === "enum" || k.kind === "boolean" ? "Choose" : k.kind === "set" ? "Choose at least one" : "Enter";
        errors.push({ id, text: `${how} ${label(name).toLowerCase()}` });
      }
      continue;
    }
    body[name] = value;
  }
  const ids = new Set(errors.map((e) => e.id));
  errors.push(...crossChecks(section, body).filter((e) => !ids.has(e.id)));
  return { body, errors };
}

/** A refusal's reason (`reason`, said by the server about a field) as a message that says how
 * to put it right; `name` is the field's label as the form shows it. Never the raw text. */
export function plain(name, reason = "") {
  const lower = name.toLowerCase();
  const n = (re) => Number(reason.match(re)?.[1] || 0).toLocaleString("en-GB");
  if (/at most \d+ characters/.test(reason)) return `${name} must be ${n(/at most (\d+)/)} characters or fewer`;
  if (/at most \d+ items/.test(reason)) return `${name} must have ${n(/at most (\d+)/)} lines or fewer`;
  if (/at least \d+ item/.test(reason)) return `Enter at least one line in ${lower}`;
  if (/must not be empty|missing field|is required/.test(reason)) return `Enter ${lower}`;
  if (/control character/.test(reason)) return `${name} must only have letters, numbers, spaces and punctuation: type it again rather than paste it`;
  if (/day of the calendar|must be a date/.test(reason)) return `${name} must be a real date`;
  if (/before/.test(reason)) return `${name} must be the same as or after the date before it`;
  if (/only allowed when `status` is `declined`/.test(reason)) return "Remove the reason for declining, or choose Declined as the status";
  if (/must be empty when `fitness`/.test(reason)) return "Untick the advice, or choose May be fit";
  if (/no such party/.test(reason)) return `There is nobody with this ${lower}: check it and enter it again`;
  if (/unknown variant|expected one of/.test(reason)) return `Choose one of the options for ${lower}`;
  return `Check ${lower} and try again`;
}

/** Marks each error on its field (those the form has). */
export function mark(errors) {
  for (const e of errors) if (e.id) markError(e.id, e.text, e.parts);
}

/** A record's body as rows for a summary list, in the form's order; codes in plain words. */
export async function rows(section, body) {
  const root = await schema(section);
  const names = ORDER[section] || Object.keys(root.properties);
  return names
    .filter((name) => body && body[name] !== undefined && body[name] !== null)
    .map((name) => {
      const value = body[name];
      const k = kind(root, root.properties[name]);
      const show = (v) => (k.kind === "enum" || k.kind === "set" ? label(v) : k.kind === "date" ? date(v) : String(v));
      if (Array.isArray(value)) return [label(name), h("ul", { class: "list" }, value.map((v) => h("li", {}, show(v))))];
      if (typeof value === "boolean") return [label(name), value ? "Yes" : "No"];
      if (typeof value === "object") return [label(name), JSON.stringify(value)];
      return [label(name), show(value)];
    });
}

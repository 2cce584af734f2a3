// Forms made from a section's JSON Schema (served at /web/schemas/<section>.json): one field
// per property, labelled with its name and hinted with its description, in an order that
// reads well; the values read back into a body the server will check again.

import { h, textField, choices, markError } from "./ui.js";
import { label } from "./words.js";

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
    return items.enum ? { kind: "set", options: items.enum } : { kind: "lines" };
  }
  if (p.format === "date") return { kind: "date" };
  return { kind: (p.maxLength || 0) > 200 ? "long" : "short" };
}

function hintOf(prop, required) {
  const text = (prop.description || "").replace(/`/g, "");
  return required ? text : text ? `${text} (optional)` : "Optional.";
}

/** The fields of `section`'s form, filled from `body` (when editing). */
export async function fields(section, body = {}) {
  const root = await schema(section);
  const names = ORDER[section] || Object.keys(root.properties);
  return names.map((name) => {
    const prop = root.properties[name];
    const required = (root.required || []).includes(name);
    const id = fieldId(name);
    const hint = hintOf(prop, required);
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
        return textField({ id, label: label(name), hint: `${hint} One per line.`, value: (value || []).join("\n"), multiline: true });
      case "date":
        return textField({ id, label: label(name), hint: `${hint} As year-month-day, for example 2027-03-31.`, value: value || "", width: 10 });
      case "long":
        return textField({ id, label: label(name), hint, value: value || "", multiline: true });
      default:
        return textField({ id, label: label(name), hint, value: value || "" });
    }
  });
}

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
    } else {
      const text = form.elements[id].value.trim();
      if (k.kind === "lines") {
        const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
        value = lines.length ? lines : undefined;
      } else {
        value = text || undefined;
      }
      if (value && k.kind === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
        errors.push({ id, text: `${label(name)} must be a date as year-month-day, like 2027-03-31` });
        continue;
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
  return { body, errors };
}

/** The server's field errors (`body.status`) as the form's (`field-status`). */
export function serverErrors(problem) {
  return (problem.errors || []).map((e) => {
    const name = e.field.replace(/^body\./, "").split(/[.[]/)[0];
    return { id: fieldId(name), text: `${label(name)}: ${e.reason}` };
  });
}

/** Marks each error on its field (those the form has). */
export function mark(errors) {
  for (const e of errors) if (e.id) markError(e.id, e.text);
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
      const show = (v) => (k.kind === "enum" || k.kind === "set" ? label(v) : String(v));
      if (Array.isArray(value)) return [label(name), h("ul", { class: "list" }, value.map((v) => h("li", {}, show(v))))];
      if (typeof value === "boolean") return [label(name), value ? "Yes" : "No"];
      if (typeof value === "object") return [label(name), JSON.stringify(value)];
      return [label(name), show(value)];
    });
}

// Helpers for run.mjs: the browser, axe-core, keyboard focus, measurements, failures.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axe = require('axe-core');

export const CHROMIUM = process.env.WP_CHROMIUM || '/usr/bin/chromium';

// Without the background-networking flags, Chromium on a machine with no internet keeps trying
// to reach Google's services and misbehaves; every run gets a fresh, throw-away profile.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Set by tests/tests/browser.rs for the run over HTTPS at a host name: the test's host names
  // mapped to 127.0.0.1 (WP_HOST_RULES, e.g. "MAP passport.test 127.0.0.1") and the test
  // certificate trusted by its public key (WP_TRUST_SPKI, the base64 SHA-256 of its
  // SubjectPublicKeyInfo), as a certificate from a real authority would be.
  ...(process.env.WP_HOST_RULES ? [`--host-resolver-rules=${process.env.WP_HOST_RULES}`] : []),
  ...(process.env.WP_TRUST_SPKI ? [`--ignore-certificate-errors-spki-list=${process.env.WP_TRUST_SPKI}`] : []),
];

export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
export const AXE_VERSION = axe.version;

// ---------------------------------------------------------------------------------------------
// Failures: collected, printed as they happen, summed up at the end (the exit code says it).

export const failures = [];

export function fail(message) {
  failures.push(message);
  console.log(`FAIL: ${message}`);
}

export function log(message) {
  console.log(message);
}

// ---------------------------------------------------------------------------------------------
// The browser: one persistent context on a fresh profile directory per call.

export async function launch(name, baseUrl, watch) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `wp-web-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    // No bypassCSP: the pages run under their real Content-Security-Policy, and axe-core is
    // injected with page.evaluate (see runAxe), which CSP does not govern.
  });
  // Generous: a failing wait costs this once, a passing one nothing, and both backends' runs
  // share two cores with the rest of the suite.
  context.setDefaultTimeout(20_000);
  const origin = new URL(baseUrl).origin;
  context.on('request', (request) => {
    const url = request.url();
    watch.urls.push(url);
    if (/^https?:/.test(url) && new URL(url).origin !== origin) {
      fail(`[${name}] a request went to another origin: ${request.method()} ${url}`);
    }
  });
  context.on('page', (page) => watchPage(name, page, watch));
  for (const page of context.pages()) watchPage(name, page, watch);
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

function watchPage(name, page, watch) {
  page.on('pageerror', (error) => fail(`[${name}] uncaught error in the page: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (/Content.Security.Policy/i.test(text)) {
      fail(`[${name}] Content-Security-Policy violation: ${text}`);
    } else if (message.type() === 'error') {
      // Refused API calls in error states log here; they are reported, not failed.
      log(`  [${name}] console error: ${text}`);
    }
  });
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) watch.urls.push(frame.url());
  });
}

// ---------------------------------------------------------------------------------------------
// axe-core. The pages' CSP (`script-src 'self'`) blocks page.addScriptTag({content}) (an inline
// script), so axe's source is run with page.evaluate: Playwright evaluates it over the DevTools
// protocol, which the page's CSP does not govern, in the page's main world where axe needs to
// see the document. This keeps the real CSP on during the audit (no bypassCSP), so a page that
// only works with CSP off cannot pass.

export async function runAxe(page) {
  const loaded = await page.evaluate(() => typeof window.axe === 'object');
  if (!loaded) await page.evaluate(axe.source);
  return page.evaluate(async (tags) => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    });
    return {
      violations: result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({
          target: n.target.join(' '),
          html: n.html,
          summary: n.failureSummary,
        })),
      })),
      incomplete: result.incomplete.length,
    };
  }, AXE_TAGS);
}

// ---------------------------------------------------------------------------------------------
// Where the keyboard focus is: the focused element's accessible name, as a screen reader would
// announce it (aria-labelledby, aria-label, <label for>, a button's value, the text).

export async function focused(page) {
  return page.evaluate(() => {
    const squash = (s) => (s || '').replace(/\s+/g, ' ').trim();
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) {
      return { tag: 'body', name: '', text: '' };
    }
    let name = '';
    const labelledby = el.getAttribute('aria-labelledby');
    if (labelledby) {
      name = labelledby
        .split(/\s+/)
        .map((id) => squash(document.getElementById(id)?.textContent))
        .join(' ');
    } else if (el.getAttribute('aria-label')) {
      name = el.getAttribute('aria-label');
    } else if (el.labels && el.labels.length) {
      name = [...el.labels].map((l) => squash(l.textContent)).join(' ');
    } else if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) {
      name = el.value;
    } else {
      name = el.innerText || el.textContent;
    }
    return {
      tag: el.tagName.toLowerCase(),
      type: el.getAttribute('type') || '',
      role: el.getAttribute('role') || '',
      name: squash(name),
      id: el.id || '',
      href: el.getAttribute('href') || '',
      group: squash(el.closest('fieldset')?.querySelector('legend')?.textContent),
      checked: 'checked' in el ? !!el.checked : null,
      value: 'value' in el ? String(el.value) : null,
    };
  });
}

export function describe(f) {
  const kind = f.tag === 'input' ? `input[${f.type || 'text'}]` : f.tag;
  return `${kind} "${f.name}"${f.id ? ` #${f.id}` : ''}`;
}

// Whether a focused element is the wanted one: `want` is a string (the accessible name, whole,
// ignoring case and a trailing "(optional)"), a RegExp on the name, or a function of the info;
// `kind` optionally narrows to 'link', 'button', 'field' (input, select, textarea) or a tag.
export function matches(f, want, kind) {
  if (kind) {
    const isButton = f.tag === 'button' || (f.tag === 'input' && ['submit', 'button'].includes(f.type)) || f.role === 'button';
    const isField = ['input', 'select', 'textarea'].includes(f.tag) && !isButton;
    if (kind === 'link' && !(f.tag === 'a' || f.role === 'link')) return false;
    if (kind === 'button' && !isButton) return false;
    if (kind === 'field' && !isField) return false;
    if (!['link', 'button', 'field'].includes(kind) && f.tag !== kind) return false;
  }
  if (typeof want === 'function') return want(f);
  if (want instanceof RegExp) return want.test(f.name);
  const norm = (s) => s.toLowerCase().replace(/\s*\(optional\)\s*$/, '').trim();
  return norm(f.name) === norm(want);
}

// Presses Tab (or Shift+Tab) until the wanted control has focus, at most `cap` times; fails
// with the path it took. Returns the focused element's info.
export async function tabTo(page, want, { kind, back = false, cap = 80, what } = {}) {
  const seen = [];
  let f = await focused(page);
  if (matches(f, want, kind)) return f;
  for (let i = 0; i < cap; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    f = await focused(page);
    seen.push(describe(f));
    if (matches(f, want, kind)) return f;
  }
  const label = what || (want instanceof RegExp ? String(want) : typeof want === 'string' ? `"${want}"` : 'the control');
  throw new Error(
    `keyboard: ${cap} presses of ${back ? 'Shift+Tab' : 'Tab'} did not reach ${kind ? `${kind} ` : ''}${label} ` +
      `on ${page.url()}; focus went through:\n      ${seen.slice(-30).join('\n      ')}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Measuring one full load of a view: from navigation to `load`, then to the first <h1> visible,
// and the bytes transferred (body as sent plus headers) by same-origin requests, split into
// API calls (/v1/, /.well-known/) and assets (everything else: the page, scripts, styles, the
// section schemas the forms are made from).

export async function measureLoad(page, url) {
  const requests = [];
  const onFinished = (request) => requests.push(request);
  page.on('requestfinished', onFinished);
  await page.goto('about:blank');
  const started = performance.now();
  await page.goto(url, { waitUntil: 'load' });
  const loaded = performance.now() - started;
  await page.locator('h1').first().waitFor({ state: 'visible' });
  const h1 = performance.now() - started;
  await page.waitForLoadState('networkidle').catch(() => {});
  page.off('requestfinished', onFinished);
  let assets = 0;
  let api = 0;
  const files = [];
  for (const request of requests) {
    const sizes = await request.sizes().catch(() => null);
    if (!sizes) continue;
    const bytes = sizes.responseBodySize + sizes.responseHeadersSize;
    if (/^\/(v1|\.well-known)\//.test(new URL(request.url()).pathname)) {
      api += bytes;
    } else {
      assets += bytes;
      const response = await request.response().catch(() => null);
      const headers = response ? await response.allHeaders().catch(() => ({})) : {};
      files.push({
        url: request.url(),
        bytes,
        body: sizes.responseBodySize,
        status: response?.status(),
        encoding: headers['content-encoding'] || '',
      });
    }
  }
  return { loaded, h1, assets, api, files, requests: requests.length };
}

// ---------------------------------------------------------------------------------------------
// Hooks into the Rust test that started this run (WP_HOOKS=1): a line `WP-HOOK name json` on
// stdout, answered by one line on stdin, `ok ...` or `fail ...`. Used for what only another
// party can do (the employer reading through a grant the browser made).

let stdinLines = null;

export async function hook(name, argument) {
  if (process.env.WP_HOOKS !== '1') return null;
  if (!stdinLines) stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log(`WP-HOOK ${name} ${JSON.stringify(argument)}`);
  const { value, done } = await stdinLines.next();
  if (done) throw new Error(`hook ${name}: the test driver closed stdin`);
  const [status, ...rest] = value.split(' ');
  if (status !== 'ok') throw new Error(`hook ${name}: ${rest.join(' ') || value}`);
  return rest.join(' ');
}

// ---------------------------------------------------------------------------------------------
// What the browser keeps: localStorage, sessionStorage, every IndexedDB database and store
// (CryptoKey objects shown as such), Cache Storage names and cookies, as text to search.

export async function browserStorage(page) {
  return page.evaluate(async () => {
    const out = { localStorage: {}, sessionStorage: {}, indexedDB: {}, caches: [], cookies: document.cookie };
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      out.localStorage[k] = localStorage.getItem(k);
    }
    for (let i = 0; i < sessionStorage.length; i++) {
      const k = sessionStorage.key(i);
      out.sessionStorage[k] = sessionStorage.getItem(k);
    }
    const plain = (v) => {
      if (v instanceof CryptoKey) {
        return `[CryptoKey ${v.type} ${v.algorithm.name} extractable=${v.extractable}]`;
      }
      if (Array.isArray(v)) return v.map(plain);
      if (v && typeof v === 'object') {
        if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return `[${v.byteLength} bytes]`;
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
      }
      return v;
    };
    const request = (r) => new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    for (const { name } of await indexedDB.databases()) {
      const db = await request(indexedDB.open(name));
      out.indexedDB[name] = {};
      for (const store of db.objectStoreNames) {
        const tx = db.transaction(store, 'readonly');
        const [keys, values] = await Promise.all([
          request(tx.objectStore(store).getAllKeys()),
          request(tx.objectStore(store).getAll()),
        ]);
        out.indexedDB[name][store] = keys.map((k, i) => ({ key: plain(k), value: plain(values[i]) }));
      }
      db.close();
    }
    if (window.caches) out.caches = await caches.keys();
    return out;
  });
}

// Chooses `option` in the radio group whose legend is `legend`, as a keyboard does: Tab into
// the group (focus lands on its checked or first radio), then the arrow keys, which move and
// check; Space checks the radio focused first.
export async function chooseRadio(page, legend, option) {
  const inGroup = (f) => f.type === 'radio' && matches({ name: f.group }, legend);
  let f = await tabTo(page, inGroup, { kind: 'input', what: `the radios "${legend}"` });
  if (matches(f, option)) {
    if (!f.checked) await page.keyboard.press('Space');
    return;
  }
  const seen = [f.name];
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('ArrowDown');
    f = await focused(page);
    if (matches(f, option)) return;
    if (seen.includes(f.name)) break;
    seen.push(f.name);
  }
  throw new Error(`keyboard: no radio "${option}" in "${legend}"; it has: ${seen.join(', ')}`);
}

// Ticks the checkbox labelled `label` (Tab to it, Space).
export async function tick(page, label) {
  const f = await tabTo(page, (x) => x.type === 'checkbox' && matches(x, label), { kind: 'input', what: `the checkbox "${label}"` });
  if (!f.checked) await page.keyboard.press('Space');
}

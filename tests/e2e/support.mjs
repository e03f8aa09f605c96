// Shared helpers for the end-to-end tests: a real server on 127.0.0.1 with its own data
// dir, and headless Chromium with isolated contexts.
//
// Environment (set by `cargo xtask test`):
//   CAIRN_SERVER_BIN  the cairn-server binary
//   CAIRN_DIST        the built app
//   CHROMIUM          the Chromium binary
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the end-to-end tests with \`cargo xtask test\``);
  return value;
}

/**
 * Starts the server on a free port (or `port`, to restart a stopped server at the same
 * origin); resolves once it prints the URL it listens on. Serves the built app
 * (CAIRN_DIST) unless given another `staticDir`.
 */
export async function startServer({ dataDir, staticDir, port = 0, args = [] } = {}) {
  const ownDataDir = !dataDir;
  dataDir ??= mkdtempSync(join(tmpdir(), 'cairn-e2e-'));
  const child = spawn(
    required('CAIRN_SERVER_BIN'),
    ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--static-dir', staticDir ?? required('CAIRN_DIST'), ...args],
    // Request logs only when asked for (CAIRN_E2E_SERVER_LOG=info): warnings and errors otherwise.
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: process.env.CAIRN_E2E_SERVER_LOG ?? 'warn' } },
  );
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = line.match(/running at (http:\/\/\S+?)\/?$/);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    child.once('error', reject);
  });
  return {
    url,
    dataDir,
    port: Number(new URL(url).port),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The flags every browser of these tests starts with. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Launches headless Chromium. Each `browser.newContext()` is an isolated profile, whose
 * pages are watched for content security policy violations ([watchCsp]); closing the
 * browser throws if any context it still had saw one.
 */
export async function launchBrowser() {
  const browser = await chromium.launch({ executablePath: required('CHROMIUM'), args: CHROMIUM_ARGS });
  const watched = [];
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => {
    const context = await newContext(...args);
    watched.push(await watchCsp(context));
    return context;
  };
  const close = browser.close.bind(browser);
  browser.close = async (...args) => {
    await close(...args);
    for (const violations of watched) assertNoCspViolations(violations);
  };
  return browser;
}

/**
 * Watches every page of `context` for content security policy violations: an init
 * script listens for `securitypolicyviolation` (before any of the page's own scripts
 * run) and hands each to the test through a binding; `context.close()` then throws if
 * there was any, so the test that caused it fails. Returns the list it fills. Only
 * pages are watched: a worker's violations do not reach a document.
 */
export async function watchCsp(context) {
  const violations = [];
  violations.reported = false;
  await context.exposeBinding('__cairnCspViolation', ({ page }, violation) => {
    violations.push({ page: page?.url(), ...violation });
  });
  await context.addInitScript(() => {
    window.__cairnCspViolations = [];
    document.addEventListener(
      'securitypolicyviolation',
      (e) => {
        const violation = {
          directive: e.effectiveDirective,
          blocked: e.blockedURI,
          source: `${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`,
          sample: e.sample,
          disposition: e.disposition,
        };
        window.__cairnCspViolations.push(violation);
        window.__cairnCspViolation(violation);
      },
      true,
    );
  });
  const close = context.close.bind(context);
  context.close = async (...args) => {
    // Let each page run a task first, so a violation just reported reaches us.
    await Promise.all(
      context.pages().map((page) =>
        page
          .evaluate(
            () =>
              new Promise((resolve) => {
                const channel = new MessageChannel();
                channel.port1.onmessage = resolve;
                channel.port2.postMessage(null);
              }),
          )
          .catch(() => {}),
      ),
    );
    await close(...args);
    assertNoCspViolations(violations);
  };
  return violations;
}

/** Throws (once) if `violations` (from [watchCsp]) holds any. */
export function assertNoCspViolations(violations) {
  if (violations.length === 0 || violations.reported) return;
  violations.reported = true;
  throw new Error(`content security policy violations:\n${JSON.stringify(violations, null, 2)}`);
}

/** Why a small disk cannot be had here (a test's `skip`), or false: mounting a tmpfs needs root. */
export const smallDiskUnavailable = process.getuid?.() === 0 ? false : 'mounting a small tmpfs needs root';

/**
 * Headless Chromium with a real (not incognito) profile in a new temporary directory, as
 * an installed app would have. `close()` removes the profile.
 */
export async function launchPersistent({ megabytes } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-profile-'));
  if (megabytes) execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir]);
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: required('CHROMIUM'),
    args: CHROMIUM_ARGS,
  });
  await watchCsp(context);
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        if (megabytes) execFileSync('umount', [dir]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * [launchPersistent] with the profile on a tmpfs of `megabytes`: Chromium gives an origin
 * a quota proportional to the profile's disk, so large writes really run out.
 */
export const launchOnSmallDisk = (megabytes) => launchPersistent({ megabytes });

/**
 * For a test file: one server (own data dir) and one browser, started before its tests
 * and stopped after. The returned object's `server` and `browser` are set once started.
 */
export function serverAndBrowserPerFile() {
  const shared = { server: undefined, browser: undefined };
  before(async () => {
    shared.server = await startServer();
    shared.browser = await launchBrowser();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.server?.stop();
  });
  return shared;
}

/** Waits until the note field shows its stored value (it is disabled while loading). */
export const noteLoaded = (page) => page.locator('#scratchpad:not([disabled])').waitFor();

/** The password the tests' accounts use. */
export const PASSWORD = 'correct horse battery';

/**
 * Signs in to (or, with `newAccount`, creates) the account `email` with the app's form on
 * Settings, and waits until the sync panel names it.
 */
export async function signIn(page, email, { newAccount = false } = {}) {
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: newAccount ? 'Create account' : 'Sign in' }).click();
  await page.locator('#sync-account').getByText(email).waitFor();
}

/** Records console errors and uncaught page errors, so a test can assert there were none. */
export function collectErrors(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
  return errors;
}

/** Resolves once the page's service worker is `activated`; returns its state. */
export function serviceWorkerActivated(page) {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const worker = registration.active;
    if (worker.state !== 'activated') {
      await new Promise((resolve) => {
        worker.addEventListener('statechange', () => worker.state === 'activated' && resolve());
      });
    }
    return worker.state;
  });
}

/** The stored value of record `collection`/`id`, read straight from IndexedDB. */
export async function storedValue(page, collection, id) {
  return (await storedRow(page, 'records', collection, id))?.value;
}

/** The row at [`collection`, `id`] of the app database's object store `store`. */
export function storedRow(page, store, collection, id) {
  return page.evaluate(
    ([store, collection, id]) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('cairn');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const get = db.transaction(store).objectStore(store).get([collection, id]);
          get.onsuccess = () => {
            db.close();
            resolve(get.result);
          };
          get.onerror = () => reject(get.error);
        };
      }),
    [store, collection, id],
  );
}

/** Waits until `predicate(stored value)` holds for record `collection`/`id`. */
export async function waitForStored(page, collection, id, predicate) {
  for (;;) {
    const value = await storedValue(page, collection, id);
    if (predicate(value)) return value;
    // Let the page run a task before looking again (a message, not a frame or a timer:
    // both stop while a test holds the page's clock).
    await page.evaluate(
      () =>
        new Promise((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = resolve;
          channel.port2.postMessage(null);
        }),
    );
  }
}

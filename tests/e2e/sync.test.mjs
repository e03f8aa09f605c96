// Two devices, one account: two isolated browser contexts signed in to the same account
// sync through the real server (SQLite in a temporary data dir).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { collectErrors, launchBrowser, noteLoaded, startServer } from './support.mjs';

const PASSWORD = 'correct horse battery';
let browser;
let accounts = 0;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * A new device (isolated context) with the app open on its Settings page. Notifications
 * the app shows are recorded in `window.__notified`.
 */
async function device(url) {
  const context = await browser.newContext({ permissions: ['notifications'] });
  await context.addInitScript(() => {
    window.__notified = [];
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notified.push(title);
      }
    };
  });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${url}/settings`);
  await page.getByRole('heading', { name: 'Sync' }).waitFor();
  return { context, page, errors };
}

async function signIn(page, email, { newAccount = false } = {}) {
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: newAccount ? 'Create account' : 'Sign in' }).click();
  await page.locator('#sync-account').getByText(email).waitFor();
}

/** Opens Settings, presses "Sync now" and waits until a round has succeeded after the press. */
async function syncNow(page) {
  await openSettings(page);
  await syncedAfter(page, () => page.locator('#sync-now:not([disabled])').click());
}

/** Goes to Home (in-app navigation), types `text` as the note and waits until saved. */
async function writeNote(page, text) {
  await page.getByRole('link', { name: 'Home' }).first().click();
  await noteLoaded(page);
  await page.getByLabel('Note', { exact: true }).fill(text);
  await page.getByText(/^Saved at/).waitFor();
}

async function noteOf(page) {
  await page.getByRole('link', { name: 'Home' }).first().click();
  await noteLoaded(page);
  return page.getByLabel('Note', { exact: true }).inputValue();
}

async function openSettings(page) {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Sync' }).waitFor();
}

function newEmail() {
  accounts += 1;
  return `device-owner-${process.pid}-${accounts}@example.org`;
}

test('an edit on device A appears on device B after sync', { timeout: 90_000 }, async () => {
  const server = await startServer();
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);

    await writeNote(a.page, 'typed on the phone');
    await openSettings(a.page);
    await syncNow(a.page);
    await a.page.locator('#sync-pending').getByText('All changes synced').waitFor();

    await syncNow(b.page);
    assert.equal(await noteOf(b.page), 'typed on the phone');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

test('edits made while the server is down sync when it is back; nothing is lost', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-sync-'));
  let server = await startServer({ dataDir });
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);

    await server.stop();
    // A writes the note; B hides its getting-started panel. Both are only local now.
    await writeNote(a.page, 'written in a tunnel');
    await openSettings(a.page);
    await a.page.locator('#sync-pending').getByText(/waiting to sync/).waitFor();
    await b.page.getByRole('link', { name: 'Home' }).first().click();
    await b.page.getByRole('button', { name: 'Customize' }).click();
    await b.page.locator('#show-getting-started').uncheck();
    await b.page.getByRole('button', { name: 'Done' }).click();
    await b.page.locator('#getting-started').waitFor({ state: 'detached' });
    await openSettings(b.page);
    await b.page.locator('#sync-pending').getByText(/waiting to sync/).waitFor();

    server = await startServer({ dataDir, port: server.port });
    await syncNow(a.page);
    await syncNow(b.page);
    await syncNow(a.page);

    for (const { page } of [a, b]) {
      assert.equal(await noteOf(page), 'written in a tunnel');
      assert.equal(await page.locator('#getting-started').count(), 0, 'the panel is hidden on both');
      await openSettings(page);
      await page.locator('#sync-pending').getByText('All changes synced').waitFor();
    }
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the same record edited on both devices while apart: both end on one winner, the loser is restorable', { timeout: 120_000 }, async () => {
  const server = await startServer();
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);
    await a.page.getByLabel(/Tell me when a change of mine was overwritten/).check();
    await a.page.waitForFunction(() => document.querySelector('#notifications')?.checked);
    await a.context.setOffline(true);
    await b.context.setOffline(true);

    // A writes first, B later: B's change has the higher clock and wins.
    await writeNote(a.page, "A's version");
    await writeNote(b.page, "B's version");
    await openSettings(a.page);
    await openSettings(b.page);

    // B comes back first and syncs (going online starts a round); then A, whose push
    // of the older change is superseded.
    await syncedAfter(b.page, () => b.context.setOffline(false));
    await syncedAfter(a.page, () => a.context.setOffline(false));

    assert.equal(await noteOf(a.page), "B's version");
    assert.equal(await noteOf(b.page), "B's version");

    // A's version is in A's conflict log, and can be restored.
    await openSettings(a.page);
    const conflict = a.page.locator('#conflict-log .conflict');
    await conflict.waitFor();
    assert.equal(await conflict.count(), 1);
    assert.equal(await conflict.locator('.lost-value').textContent(), "A's version");
    assert.equal(await conflict.locator('.current-value').textContent(), "B's version");
    assert.deepEqual(await a.page.evaluate(() => window.__notified), ['A change was overwritten']);
    await conflict.getByRole('button', { name: 'Restore this version' }).click();
    await a.page.locator('#conflict-log').waitFor({ state: 'detached' });
    await syncNow(a.page);
    await syncNow(b.page);
    assert.equal(await noteOf(a.page), "A's version");
    assert.equal(await noteOf(b.page), "A's version");
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

test('a collection kept off sync stays on its device until it is included again', { timeout: 90_000 }, async () => {
  const server = await startServer();
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);
    await a.page.getByLabel('Notes', { exact: true }).uncheck();
    await writeNote(a.page, 'only on this device');
    await syncNow(a.page);
    await a.page.locator('#sync-pending').getByText('All changes synced').waitFor();
    await syncNow(b.page);
    assert.equal(await noteOf(b.page), '', 'the note did not leave device A');

    await openSettings(a.page);
    await a.page.getByLabel('Notes', { exact: true }).check();
    await syncNow(a.page);
    await syncNow(b.page);
    assert.equal(await noteOf(b.page), 'only on this device');
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

/** Runs `action` and waits until a sync round has succeeded after it. */
async function syncedAfter(page, action) {
  const before = Number((await page.locator('#sync-last').getAttribute('data-last-success')) ?? 0);
  await action();
  await page.waitForFunction(
    (before) => Number(document.querySelector('#sync-last')?.dataset.lastSuccess ?? 0) > before,
    before,
  );
}

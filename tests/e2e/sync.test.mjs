// Two devices, one account: two isolated browser contexts signed in to the same account
// sync through the real server (SQLite in a temporary data dir).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  collectErrors,
  launchBrowser,
  noteLoaded,
  PASSWORD,
  signIn,
  startServer,
  storedValue,
  waitForStored,
} from './support.mjs';

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
async function device(url, { clockAheadMs = 0, periodicMs } = {}) {
  const context = await browser.newContext({ permissions: ['notifications'] });
  if (periodicMs) {
    // The app's test setting for its periodic round (see `sync_provider.rs`).
    await context.addInitScript((ms) => localStorage.setItem('cairn.sync_every_ms', String(ms)), periodicMs);
  }
  if (clockAheadMs) {
    // This device's clock is wrong by `clockAheadMs` (pages only; the worker's is right).
    await context.addInitScript((ahead) => {
      const realNow = Date.now;
      Date.now = () => realNow() + ahead;
    }, clockAheadMs);
  }
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
  await page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
  return { context, page, errors };
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

/** Goes to Home and hides its getting-started panel (a change in the `ui` collection). */
async function hideGettingStarted(page) {
  await page.getByRole('link', { name: 'Home' }).first().click();
  await page.getByRole('button', { name: 'Customize' }).click();
  await page.locator('#show-getting-started').uncheck();
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('#getting-started').waitFor({ state: 'detached' });
}

async function openSettings(page) {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
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
    await hideGettingStarted(b.page);
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

const DAY_MS = 24 * 60 * 60 * 1000;

test('a device whose clock runs two days ahead: its refused change is set aside, the rest syncs, and it goes through when retried', { timeout: 120_000 }, async () => {
  const server = await startServer();
  const email = newEmail();
  const a = await device(server.url, { clockAheadMs: 2 * DAY_MS });
  const b = await device(server.url);
  try {
    // Written before A ever talked to the server, so stamped two days ahead: the server
    // refuses it. (Once signed in, A stamps changes by the server's clock.)
    await writeNote(a.page, 'written on a wrong clock');
    await openSettings(a.page);
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);
    // B hides the getting-started panel, and syncs.
    await hideGettingStarted(b.page);
    await syncNow(b.page);

    await syncNow(a.page);
    const item = a.page.locator('#set-aside-list .set-aside');
    await item.waitFor();
    assert.match(await item.locator('.set-aside-reason').textContent(), /in the future/);
    await a.page.locator('#sync-pending').getByText(/^1 change refused by the server/).waitFor();
    // The pull ran all the same: B's change is here.
    await a.page.getByRole('link', { name: 'Home' }).first().click();
    await a.page.locator('#getting-started').waitFor({ state: 'detached' });
    assert.equal(await noteOf(a.page), 'written on a wrong clock', 'still on device A');

    // A now stamps changes by the server's clock: retrying sends the note through.
    await openSettings(a.page);
    await a.page.locator('#set-aside-list').getByRole('button', { name: 'Try again' }).click();
    await a.page.locator('#set-aside-list').waitFor({ state: 'detached' });
    await syncNow(a.page);
    await a.page.locator('#sync-pending').getByText('All changes synced').waitFor();
    await syncNow(b.page);
    assert.equal(await noteOf(b.page), 'written on a wrong clock');
    assert.deepEqual(b.errors, []);
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

test('a server restored from an older copy gets back the changes it had acknowledged', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-restore-'));
  const copyDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-restore-copy-'));
  let server = await startServer({ dataDir });
  const email = newEmail();
  const a = await device(server.url);
  let b;
  const copyFiles = (from, to) => {
    for (const name of readdirSync(to)) rmSync(join(to, name), { recursive: true, force: true });
    cpSync(from, to, { recursive: true });
  };
  try {
    await signIn(a.page, email, { newAccount: true });
    await syncNow(a.page);
    // The operator's backup: the account exists, without the note.
    await server.stop();
    copyFiles(dataDir, copyDir);
    server = await startServer({ dataDir, port: server.port });

    await writeNote(a.page, 'acknowledged, then lost by the server');
    await syncNow(a.page);
    await a.page.locator('#sync-pending').getByText('All changes synced').waitFor();

    // The server's database is restored from the older copy.
    await server.stop();
    copyFiles(copyDir, dataDir);
    server = await startServer({ dataDir, port: server.port });

    // A notices its cursor is beyond what the server holds, and pushes everything again.
    await syncNow(a.page);
    b = await device(server.url);
    await signIn(b.page, email);
    await syncNow(b.page);
    assert.equal(await noteOf(b.page), 'acknowledged, then lost by the server');
  } finally {
    await a.context.close();
    await b?.context.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(copyDir, { recursive: true, force: true });
  }
});

test('signing in to another account asks first, and "start empty" keeps the old data out of it', { timeout: 120_000 }, async () => {
  const server = await startServer();
  const [first, second] = [newEmail(), newEmail()];
  const other = await device(server.url);
  const a = await device(server.url);
  try {
    await signIn(other.page, second, { newAccount: true });
    await signIn(a.page, first, { newAccount: true });
    await writeNote(a.page, "the first account's note");
    await syncNow(a.page);
    await openSettings(a.page);
    await a.page.locator('#sign-out').click();

    await a.page.getByLabel('E-mail').fill(second);
    await a.page.getByLabel('Password').fill(PASSWORD);
    await a.page.getByRole('button', { name: 'Sign in' }).click();
    const question = a.page.locator('#account-switch');
    await question.waitFor();
    assert.match(await question.textContent(), new RegExp(`belongs to ${first}`));
    // Nothing happened yet: still signed out, the note still here.
    assert.equal(await a.page.locator('#sync-account').count(), 0);

    await a.page.locator('#switch-start-empty').click();
    await a.page.locator('#sync-account').getByText(second).waitFor();
    assert.equal(await noteOf(a.page), '', 'the second account starts empty here');
    await a.page.goto(`${server.url}/storage`);
    await a.page.locator('#snapshot-list li').first().waitFor();

    await syncNow(other.page);
    assert.equal(await noteOf(other.page), '', "the first account's note never reached the second account");
    assert.deepEqual([...a.errors, ...other.errors], []);
  } finally {
    await a.context.close();
    await other.context.close();
    await server.stop();
  }
});

test('a change that arrives while an edit waits to be saved is kept in the conflict log', { timeout: 120_000 }, async () => {
  const server = await startServer();
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);
    // A is offline before B's text exists, so only the round below can bring it.
    await a.page.getByRole('link', { name: 'Home' }).first().click();
    await noteLoaded(a.page);
    await a.context.setOffline(true);
    await writeNote(b.page, "B's text");
    await syncNow(b.page);

    // A's pulls wait for the test's word, so the network is surely up when one goes out.
    let releasePulls;
    const pullsMayGo = new Promise((resolve) => (releasePulls = resolve));
    let pullWaiting;
    const aPullWaits = new Promise((resolve) => (pullWaiting = resolve));
    await a.context.route('**/api/v1/sync/pull*', async (route) => {
      pullWaiting();
      await pullsMayGo;
      await route.continue();
    });
    // Coming online starts a round; its pull waits.
    await a.context.setOffline(false);
    await aPullWaits;
    // A types; its save waits in the debounce (A's timers are held).
    await a.page.clock.install();
    await a.page.clock.pauseAt(Date.now() + 1_000);
    await a.page.getByLabel('Note', { exact: true }).fill("A's text");
    // The pull brings B's text while A's edit is unsaved.
    releasePulls();
    await waitForStored(a.page, 'notes', 'scratchpad', (v) => v === "B's text");
    await a.page.clock.resume();
    await a.page.getByText(/^Saved at/).waitFor();
    assert.equal(await storedValue(a.page, 'notes', 'scratchpad'), "A's text");

    await openSettings(a.page);
    const conflict = a.page.locator('#conflict-log .conflict');
    await conflict.waitFor();
    assert.equal(await conflict.locator('.lost-value').textContent(), "B's text");
    assert.equal(await conflict.locator('.current-value').textContent(), "A's text");
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

test('"sign out everywhere else" ends the other devices\' sessions, and only those', { timeout: 90_000 }, async () => {
  const server = await startServer();
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);
    await a.page.reload();
    await a.page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
    const sessions = a.page.locator('#session-list .session');
    await sessions.nth(1).waitFor();
    assert.equal(await sessions.count(), 2);
    assert.equal(await a.page.locator('#session-list .session.current').count(), 1);

    await a.page.locator('#end-other-sessions').click();
    await a.page.locator('#session-list .session').nth(1).waitFor({ state: 'detached' });
    assert.equal(await a.page.locator('#session-list .session.current').count(), 1);

    // B's next round is refused: B shows the signed-out state, its data still there.
    await b.page.locator('#sync-now').click();
    await b.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await syncNow(a.page);
    assert.deepEqual([...a.errors], []);
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

// --- concurrent edits of one note -----------------------------------------------------

/** Opens Notes (in-app navigation) and presses "New note"; types `title` and `body`. */
async function newNote(page, title, body) {
  await page.getByRole('navigation').getByRole('link', { name: 'Notes', exact: true }).click();
  await page.getByRole('button', { name: 'New note' }).click();
  await page.waitForURL(/\/notes\/[0-9a-f]{16}$/);
  const id = new URL(page.url()).pathname.split('/').pop();
  await page.locator('#note-title:not([disabled])').waitFor();
  await page.getByLabel('Title', { exact: true }).fill(title);
  await page.getByLabel('Text', { exact: true }).fill(body);
  await waitForStored(page, 'notes', id, (v) => v?.title === title && v?.body === body);
  return id;
}

/** Opens the note `id` from the notes list (in-app navigation, so it works offline). */
async function openNote(page, id) {
  await page.getByRole('navigation').getByRole('link', { name: 'Notes', exact: true }).click();
  await page.locator(`[data-note-id="${id}"] a`).click();
  await page.locator('#note-title:not([disabled])').waitFor();
}

/** The note `id` as the editor shows it. */
async function shownNote(page, id) {
  await openNote(page, id);
  return {
    title: await page.getByLabel('Title', { exact: true }).inputValue(),
    body: await page.getByLabel('Text', { exact: true }).inputValue(),
  };
}

/** Opens the note `id` and replaces its `label` field ("Title" or "Text") with `text`. */
async function editNote(page, id, label, text) {
  await openNote(page, id);
  await page.getByLabel(label, { exact: true }).fill(text);
  const field = label === 'Title' ? 'title' : 'body';
  await waitForStored(page, 'notes', id, (v) => v?.[field] === text);
}

/** Two devices signed in to one new account, both holding the note `title`/`body`. */
async function twoDevicesWithNote(server, title, body) {
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  await signIn(a.page, email, { newAccount: true });
  await signIn(b.page, email);
  const id = await newNote(a.page, title, body);
  await syncNow(a.page);
  await syncNow(b.page);
  assert.deepEqual(await shownNote(b.page, id), { title, body });
  return { a, b, id };
}

/** Errors other than the failed requests of a device that is offline. */
const unexpected = (errors) => errors.filter((e) => !/Failed to load resource: net::ERR_/.test(e));

const conflictEntries = (page, kind) => page.locator(`#conflict-log .conflict.${kind}`);

test('a rename synced from A and a text edit made offline on B both survive', { timeout: 120_000 }, async () => {
  const server = await startServer();
  const { a, b, id } = await twoDevicesWithNote(server, 'Shopping', 'milk');
  try {
    await b.context.setOffline(true);
    await editNote(a.page, id, 'Title', 'Shopping for Saturday');
    await syncNow(a.page);
    await a.page.locator('#sync-pending').getByText('All changes synced').waitFor();

    // B never saw the rename; its edit has the newer clock.
    await editNote(b.page, id, 'Text', 'milk\neggs');
    await openSettings(b.page);
    await syncedAfter(b.page, () => b.context.setOffline(false));
    await b.page.locator('#sync-pending').getByText('All changes synced').waitFor();
    await syncNow(a.page);

    const both = { title: 'Shopping for Saturday', body: 'milk\neggs' };
    assert.deepEqual(await shownNote(a.page, id), both);
    assert.deepEqual(await shownNote(b.page, id), both);
    // B, which merged, says so; nothing needs anyone's attention.
    await openSettings(b.page);
    await conflictEntries(b.page, 'merged').getByText('Merged automatically').waitFor();
    for (const { page } of [a, b]) {
      assert.equal(await conflictEntries(page, 'overwritten').count(), 0);
    }
    assert.deepEqual(unexpected([...a.errors, ...b.errors]), []);
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

test('edits of different paragraphs made apart both survive; of the same paragraph, one wins and the other is restorable', { timeout: 150_000 }, async () => {
  const server = await startServer();
  const { a, b, id } = await twoDevicesWithNote(server, 'Plan', 'one\n\ntwo\n\nthree');
  try {
    await a.context.setOffline(true);
    await b.context.setOffline(true);
    await editNote(a.page, id, 'Text', 'ONE\n\ntwo\n\nthree');
    await editNote(b.page, id, 'Text', 'one\n\ntwo\n\nTHREE');
    for (const { page, context } of [a, b]) {
      await openSettings(page);
      await syncedAfter(page, () => context.setOffline(false));
    }
    await syncNow(a.page);
    for (const { page } of [a, b]) {
      assert.deepEqual(await shownNote(page, id), { title: 'Plan', body: 'ONE\n\ntwo\n\nTHREE' });
    }

    // Now both change the first paragraph: B's change is the newer one and wins.
    await a.context.setOffline(true);
    await b.context.setOffline(true);
    await editNote(a.page, id, 'Text', 'first, by A\n\ntwo\n\nTHREE');
    await editNote(b.page, id, 'Text', 'first, by B\n\ntwo\n\nTHREE');
    // B comes back first; A, coming back second, merges.
    for (const { page, context } of [b, a]) {
      await openSettings(page);
      await syncedAfter(page, () => context.setOffline(false));
    }
    await syncNow(b.page);
    for (const { page } of [a, b]) {
      assert.equal((await shownNote(page, id)).body, 'first, by B\n\ntwo\n\nTHREE');
    }
    // A kept its version in its log, for the user.
    await openSettings(a.page);
    const entry = conflictEntries(a.page, 'overwritten');
    await entry.getByText('Needs your attention').waitFor();
    assert.match(await entry.locator('.lost-value').textContent(), /first, by A/);
    await entry.getByRole('button', { name: 'Restore this version' }).click();
    await conflictEntries(a.page, 'overwritten').waitFor({ state: 'detached' });
    await syncNow(a.page);
    await syncNow(b.page);
    for (const { page } of [a, b]) {
      assert.equal((await shownNote(page, id)).body, 'first, by A\n\ntwo\n\nTHREE');
    }
    assert.deepEqual(unexpected([...a.errors, ...b.errors]), []);
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

test('a delete synced from A against an edit made offline on B: the edit is kept, the delete is in the log', { timeout: 120_000 }, async () => {
  const server = await startServer();
  const { a, b, id } = await twoDevicesWithNote(server, 'Keys', 'under the mat');
  try {
    await b.context.setOffline(true);
    await openNote(a.page, id);
    await a.page.getByRole('button', { name: 'Delete note' }).click();
    await a.page.waitForURL(/\/notes$/);
    await waitForStored(a.page, 'notes', id, (v) => v === null);
    await syncNow(a.page);

    await editNote(b.page, id, 'Text', 'in the drawer');
    await openSettings(b.page);
    await syncedAfter(b.page, () => b.context.setOffline(false));
    await syncNow(a.page);

    for (const { page } of [a, b]) {
      assert.deepEqual(await shownNote(page, id), { title: 'Keys', body: 'in the drawer' });
    }
    await openSettings(b.page);
    const entry = conflictEntries(b.page, 'overwritten');
    await entry.getByText('Needs your attention').waitFor();
    assert.equal(await entry.locator('.lost-value').textContent(), '(deleted)');
    assert.deepEqual(unexpected([...a.errors, ...b.errors]), []);
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

// --- live sync ----------------------------------------------------------------------------

test('an edit on A shows on B live, without a reload, focus change or timer; after a server restart B catches up', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-live-'));
  let server = await startServer({ dataDir });
  const email = newEmail();
  // The periodic round is an hour away: only the change stream can bring the edit.
  const a = await device(server.url, { periodicMs: 3_600_000 });
  const b = await device(server.url, { periodicMs: 3_600_000 });
  const scratchpadOf = (page, text) =>
    page.waitForFunction((text) => document.querySelector('#scratchpad')?.value === text, text);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);
    for (const { page } of [a, b]) await page.locator('#sync-live').waitFor();
    await b.page.getByRole('link', { name: 'Home' }).first().click();
    await noteLoaded(b.page);

    await writeNote(a.page, 'seen live');
    await scratchpadOf(b.page, 'seen live');

    // The server goes away and comes back: both streams reconnect by themselves, and
    // what A wrote meanwhile reaches B.
    await server.stop();
    await writeNote(a.page, 'written while the server was down');
    server = await startServer({ dataDir, port: server.port });
    await scratchpadOf(b.page, 'written while the server was down');
    await openSettings(b.page);
    await b.page.locator('#sync-live').waitFor();
    assert.deepEqual(
      [...a.errors, ...b.errors].filter((e) => !/Failed to load resource|net::ERR_/.test(e)),
      [],
    );
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/**
 * The PostgreSQL database the two-instance test shares: `cargo xtask test` always starts
 * one and passes its URL, so a missing URL is a broken setup and fails the test (as
 * `CAIRN_REQUIRE_POSTGRES=1` makes the server's PostgreSQL tests fail), never a skip.
 */
function e2ePostgresUrl() {
  const url = process.env.CAIRN_E2E_POSTGRES_URL;
  assert.ok(
    url,
    'CAIRN_E2E_POSTGRES_URL is not set: this test needs a PostgreSQL database shared by two server ' +
      'instances; run it with `cargo xtask test`, which starts one, or set the URL yourself',
  );
  return url;
}

test('an edit on A shows live on B when A and B use two server instances sharing one PostgreSQL', { timeout: 120_000 }, async () => {
  const databaseUrl = e2ePostgresUrl();
  // One after the other: the first applies the migrations, the second finds them applied.
  const one = await startServer({ args: ['--database-url', databaseUrl] });
  const two = await startServer({ args: ['--database-url', databaseUrl] });
  const email = newEmail().replace('@', `-two-instances-${Date.now()}@`);
  // The periodic round is an hour away: only the change stream can bring the edit.
  const a = await device(one.url, { periodicMs: 3_600_000 });
  const b = await device(two.url, { periodicMs: 3_600_000 });
  const scratchpadOf = (page, text) =>
    page.waitForFunction((text) => document.querySelector('#scratchpad')?.value === text, text);
  try {
    assert.notEqual(one.url, two.url);
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);
    for (const { page } of [a, b]) await page.locator('#sync-live').waitFor();
    await b.page.getByRole('link', { name: 'Home' }).first().click();
    await noteLoaded(b.page);

    // Pushed through instance 1; instance 2 hears it from PostgreSQL and tells B.
    await writeNote(a.page, 'pushed to instance 1, shown by instance 2');
    await scratchpadOf(b.page, 'pushed to instance 1, shown by instance 2');
    // And the other way.
    await a.page.getByRole('link', { name: 'Home' }).first().click();
    await noteLoaded(a.page);
    await writeNote(b.page, 'and back from instance 2');
    await scratchpadOf(a.page, 'and back from instance 2');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await a.context.close();
    await b.context.close();
    await one.stop();
    await two.stop();
  }
});

// Images that sync: a note's image added on one device reaches the server and every other
// device, shows there offline once seen, and an account over its image quota loses
// nothing. Real server (SQLite), release build, two isolated contexts per test.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  collectErrors,
  launchBrowser,
  serviceWorkerActivated,
  signIn,
  startServer,
  storedRow,
  waitForStored,
} from './support.mjs';
import { attach, imageShown, localBlobs, newNote } from './notes-ui.mjs';
import { noisePng, png } from './png.mjs';

const TIMEOUT = { timeout: 120_000 };
let browser;
let accounts = 0;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const newEmail = () => `images-${process.pid}-${++accounts}@example.org`;

/** A device (isolated context) with the app open on Settings. */
async function device(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${url}/settings`);
  await page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
  return { context, page, errors };
}

const nav = (page, name) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click();

async function openSettings(page) {
  await nav(page, 'Settings');
  await page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
}

/** Presses "Sync now" on Settings and waits until the round has ended (success or not). */
async function syncNow(page) {
  await openSettings(page);
  const before = await page.evaluate(() => ({
    last: Number(document.querySelector('#sync-last')?.dataset.lastSuccess ?? 0),
  }));
  await page.locator('#sync-now:not([disabled])').click();
  await page.waitForFunction(
    (before) =>
      Number(document.querySelector('#sync-last')?.dataset.lastSuccess ?? 0) > before.last ||
      document.querySelector('#sync-error') !== null,
    before,
  );
  await page.locator('#sync-now:not([disabled])').waitFor();
}

/** Opens the note titled `title` from the Notes list. */
async function openNote(page, title) {
  await nav(page, 'Notes');
  await page.getByRole('link', { name: new RegExp(title) }).click();
  await page.locator('#note-title:not([disabled])').waitFor();
}

test('an image added on A offline shows on B after both sync, and on B offline afterwards', TIMEOUT, async () => {
  const server = await startServer();
  const email = newEmail();
  const a = await device(server.url);
  const b = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await signIn(b.page, email);

    // A, offline, writes a note with a picture.
    await a.context.setOffline(true);
    await nav(a.page, 'Notes');
    await a.page.locator('#notes-empty').waitFor();
    const id = await newNote(a.page, 'Trip photos', 'from the phone');
    await attach(a.page, { name: 'blue.png', mimeType: 'image/png', buffer: png(4, 4, [20, 40, 220]) });
    await imageShown(a.page, 'blue.png', 4);
    const stored = await waitForStored(a.page, 'notes', id, (v) => v?.images?.length === 1);
    assert.match(stored.images[0].id, /^[0-9a-f]{64}$/, 'the image is named by its hash');
    assert.deepEqual(stored.blobs, [stored.images[0].id], 'the note names the blob it uses');

    // Back online, A's round uploads the image before the note.
    await a.context.setOffline(false);
    await syncNow(a.page);
    await a.page.locator('#sync-pending').getByText('All changes synced').waitFor();

    // B gets the note, and the image the first time it is shown.
    await syncNow(b.page);
    await openNote(b.page, 'Trip photos');
    await imageShown(b.page, 'blue.png', 4);
    assert.deepEqual(await localBlobs(b.page), [{ id: stored.images[0].id, size: stored.images[0].size }], 'B keeps it');

    // Offline, and after a reload served by the service worker, B still shows it.
    await serviceWorkerActivated(b.page);
    await b.context.setOffline(true);
    await b.page.reload();
    await b.page.locator('#note-title:not([disabled])').waitFor();
    await imageShown(b.page, 'blue.png', 4);

    // The Storage page counts it here and on the server.
    await b.context.setOffline(false);
    await nav(a.page, 'Storage');
    await a.page.locator('#images-server').getByText(/On the server: .* in 1 image, of 1\.1 GB allowed/).waitFor();
    await a.page.locator('#images-local').getByText(/On this device: \d+ bytes/).waitFor();
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await a.context.close();
    await b.context.close();
    await server.stop();
  }
});

test('over the account image quota: a clear message, nothing lost, and it all syncs once there is room', TIMEOUT, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-images-'));
  let server = await startServer({ dataDir, args: ['--blob-quota-mb', '1'] });
  const email = newEmail();
  const a = await device(server.url);
  try {
    await signIn(a.page, email, { newAccount: true });
    await nav(a.page, 'Notes');
    await a.page.locator('#notes-empty').waitFor();
    const id = await newNote(a.page, 'Big picture', 'too big for the quota');
    // About 1.2 MB of noise: over a 1 MB quota.
    const big = noisePng(640, 640, 7);
    await attach(a.page, { name: 'noise.png', mimeType: 'image/png', buffer: big });
    await imageShown(a.page, 'noise.png', 640);
    await waitForStored(a.page, 'notes', id, (v) => v?.images?.length === 1);

    await syncNow(a.page);
    await a.page.locator('#sync-error').getByText(/images wait to be uploaded: this file \(1\.2 MB\) does not fit: the account's files take 0 MB of its 1 MB on the server/).waitFor();
    // The note waits on the device with its image: it is not pushed without it.
    await a.page.locator('#sync-pending').getByText(/waiting to sync/).waitFor();
    const [blob] = await localBlobs(a.page);
    assert.equal(blob.size, big.length);
    const row = await storedRow(a.page, 'records', 'notes', id);
    assert.ok(row, 'the note is still stored');

    // With room on the server (restarted without the small quota), everything syncs.
    await server.stop();
    server = await startServer({ dataDir, port: server.port });
    await syncNow(a.page);
    await a.page.locator('#sync-pending').getByText('All changes synced').waitFor();
    const b = await device(server.url);
    try {
      await signIn(b.page, email);
      await syncNow(b.page);
      await openNote(b.page, 'Big picture');
      await imageShown(b.page, 'noise.png', 640);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.context.close();
    }
    // The refused uploads (507), and the requests the server's restart cut, are all
    // the browser reports.
    const expected = (e) => /status of 507 \(Insufficient Storage\)|Failed to load resource: net::ERR_/.test(e);
    assert.deepEqual(a.errors.filter((e) => !expected(e)), []);
  } finally {
    await a.context.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

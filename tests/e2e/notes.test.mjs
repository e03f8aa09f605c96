// The Notes pages: /notes (list, search, new, undo after delete) and /notes/:id (editor
// with autosave, images kept as local blobs), against the real server and release build.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  collectErrors,
  noteLoaded,
  serverAndBrowserPerFile,
  serviceWorkerActivated,
  startServer,
  storedRow,
  waitForStored,
} from './support.mjs';
import { attach, imageShown, localBlobs, newNote, SAVED } from './notes-ui.mjs';
import { png } from './png.mjs';

const env = serverAndBrowserPerFile();
const TIMEOUT = { timeout: 90_000 };
const PASSWORD = 'correct horse battery';

// --- helpers ------------------------------------------------------------------------------

const titles = (page) => page.locator('#note-list .note-title').allTextContents();

async function backToList(page) {
  await page.getByRole('link', { name: '← All notes' }).click();
  await page.locator('#note-list, #notes-empty').first().waitFor();
}

/** The number of rows in the app database's `blobs` store. */
const blobCount = async (page) => (await localBlobs(page)).length;

async function waitFor(page, condition) {
  while (!(await condition())) {
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
  }
}

// --- tests --------------------------------------------------------------------------------

test('create, autosave, reload, newest first, instant search; Home\'s scratchpad is not a note', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);
  try {
    // Home keeps a plain string in the same collection: the list must not trip on it.
    await page.goto(env.server.url);
    await noteLoaded(page);
    await page.getByLabel('Note', { exact: true }).fill('a scratchpad line');
    await page.getByText(/^Saved at/).waitFor();

    await page.getByRole('navigation').getByRole('link', { name: 'Notes', exact: true }).click();
    await page.locator('#notes-empty').waitFor();

    const groceries = await newNote(page, 'Groceries', 'Eggs and milk');
    assert.match(await page.locator('.note-save-status').textContent(), SAVED);
    await backToList(page);
    assert.deepEqual(await titles(page), ['Groceries']);
    await newNote(page, 'Packing list', 'Passport, charger');

    // The editor reloads with what was typed.
    await page.reload();
    await page.locator('#note-title:not([disabled])').waitFor();
    assert.equal(await page.getByLabel('Title', { exact: true }).inputValue(), 'Packing list');
    assert.equal(await page.getByLabel('Text', { exact: true }).inputValue(), 'Passport, charger');

    // The list loads directly, newest first.
    await page.goto(`${env.server.url}/notes`);
    await page.locator('#note-list').waitFor();
    assert.deepEqual(await titles(page), ['Packing list', 'Groceries']);

    // Search: instant, case-insensitive, over title and text.
    const search = page.getByLabel('Search notes');
    await search.fill('MILK');
    await waitFor(page, async () => (await titles(page)).join() === 'Groceries');
    await search.fill('pack');
    await waitFor(page, async () => (await titles(page)).join() === 'Packing list');
    await search.fill('nothing like this');
    await page.locator('#notes-no-match').waitFor();
    await search.fill('');
    await waitFor(page, async () => (await titles(page)).length === 2);

    // Editing moves a note to the top.
    await page.locator(`[data-note-id="${groceries}"] a`).click();
    await page.locator('#note-title:not([disabled])').waitFor();
    await page.getByLabel('Text', { exact: true }).fill('Eggs, milk and bread');
    await page.getByRole('status').getByText(SAVED).waitFor();
    await backToList(page);
    assert.deepEqual(await titles(page), ['Groceries', 'Packing list']);

    // Another tab's new note appears in this list without a reload.
    const other = await context.newPage();
    await other.goto(`${env.server.url}/notes`);
    await other.locator('#note-list').waitFor();
    await newNote(other, 'From the other tab', 'hello');
    await waitFor(page, async () => (await titles(page))[0] === 'From the other tab');
    await other.close();

    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('delete offers Undo, which restores the note; without Undo it stays deleted', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);
  try {
    await page.goto(`${env.server.url}/notes`);
    await page.locator('#notes-empty').waitFor();
    const id = await newNote(page, 'Keep me', 'important');
    // Typed, then deleted at once: the text is saved before the tombstone, and Undo has it.
    await page.getByLabel('Text', { exact: true }).fill('important, edited');
    await page.getByRole('button', { name: 'Delete note' }).click();

    await page.waitForURL(/\/notes$/);
    const toast = page.locator('#note-undo');
    await toast.getByText('Note deleted').waitFor();
    await page.locator('#notes-empty').waitFor();
    assert.equal((await storedRow(page, 'records', 'notes', id)).deleted, true, 'a tombstone');
    assert.ok(await storedRow(page, 'outbox', 'notes', id), 'the delete is queued for sync');

    await toast.getByRole('button', { name: 'Undo' }).click();
    await toast.waitFor({ state: 'detached' });
    await waitFor(page, async () => (await titles(page)).join() === 'Keep me');
    const restored = await storedRow(page, 'records', 'notes', id);
    assert.equal(restored.deleted, false);
    assert.equal(restored.value.body, 'important, edited');

    await page.reload();
    await page.locator('#note-list').waitFor();
    assert.deepEqual(await titles(page), ['Keep me']);

    // Delete again; dismiss nothing, just reload: it is gone.
    await page.locator(`[data-note-id="${id}"] a`).click();
    await page.locator('#note-title:not([disabled])').waitFor();
    await page.getByRole('button', { name: 'Delete note' }).click();
    await page.locator('#note-undo').waitFor();
    await page.reload();
    await page.locator('#notes-empty').waitFor();
    assert.equal(await page.locator('#note-undo').count(), 0, 'no Undo after a reload');

    // Its address now says so, with a way back.
    await page.goto(`${env.server.url}/notes/${id}`);
    await page.locator('#note-not-found').getByText('This note was deleted.').waitFor();
    await page.goto(`${env.server.url}/notes/0123456789abcdef`);
    await page.getByRole('heading', { name: 'Note not found' }).waitFor();
    await page.getByRole('link', { name: 'Back to all notes' }).click();
    await page.locator('#notes-empty').waitFor();

    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('an attached image shows, survives a reload and an offline reload; too large is refused; removing deletes the blob', TIMEOUT, async () => {
  const server = await startServer();
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);
  try {
    await page.goto(`${server.url}/notes`);
    await page.locator('#notes-empty').waitFor();
    await serviceWorkerActivated(page);
    const id = await newNote(page, 'With a picture', 'see below');

    await attach(page, { name: 'red.png', mimeType: 'image/png', buffer: png(8, 6, [200, 30, 30]) });
    await imageShown(page, 'red.png', 8);
    const stored = await waitForStored(page, 'notes', id, (v) => v?.images?.length === 1);
    assert.equal(stored.images[0].name, 'red.png');
    assert.equal(stored.images[0].type, 'image/png');
    assert.equal(await blobCount(page), 1);

    // Too large: refused with a clear message, nothing stored.
    const huge = Buffer.alloc(11 * 1024 * 1024);
    png(1, 1, [0, 0, 0]).copy(huge);
    await attach(page, { name: 'huge.png', mimeType: 'image/png', buffer: huge });
    await page.getByRole('alert').getByText(/“huge\.png” is too large \(11\.0 MB\); images can be up to 10 MB\./).waitFor();
    assert.equal(await blobCount(page), 1);

    await page.reload();
    await imageShown(page, 'red.png', 8);

    // Offline: the server is gone, the service worker serves the app, the blob is local.
    await server.stop();
    await assert.rejects(page.request.get(`${server.url}/api/health`), 'the server is gone');
    await page.reload();
    await imageShown(page, 'red.png', 8);
    assert.equal(await page.getByLabel('Title', { exact: true }).inputValue(), 'With a picture');
    await page.goto(`${server.url}/notes`);
    await waitFor(page, async () => (await titles(page)).join() === 'With a picture');
    assert.match(await page.locator('.note-meta').textContent(), /1 image/);

    // Removing the image from the note deletes its blob.
    await page.locator(`[data-note-id="${id}"] a`).click();
    await imageShown(page, 'red.png', 8);
    await page.getByRole('button', { name: 'Remove image red.png' }).click();
    await page.locator('.note-image').waitFor({ state: 'detached' });
    await waitForStored(page, 'notes', id, (v) => v?.images?.length === 0);
    await waitFor(page, async () => (await blobCount(page)) === 0);

    assert.deepEqual(errors.filter((e) => !/Failed to load resource|net::ERR/.test(e)), []);
  } finally {
    await context.close();
    await server.stop();
  }
});

for (const [name, width, height] of [
  ['phone', 360, 640],
  ['desktop', 1280, 800],
]) {
  test(`the notes pages fit a ${name} (${width}×${height})`, TIMEOUT, async () => {
    const context = await env.browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    try {
      await page.goto(`${env.server.url}/notes`);
      await page.locator('#notes-empty').waitFor();
      await newNote(page, 'Weekend plans', 'Hike up the ridge on Saturday, market on Sunday morning.');
      await attach(page, { name: 'green.png', mimeType: 'image/png', buffer: png(64, 48, [40, 160, 90]) });
      await imageShown(page, 'green.png', 64);
      await backToList(page);
      await newNote(page, 'Books to read', 'A long list of books that goes on and on, longer than the line is wide on a phone.');
      await backToList(page);

      const artifacts = process.env.CAIRN_E2E_ARTIFACTS;
      const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
      assert.ok(await fits(), 'the list is no wider than the screen');
      if (artifacts) {
        mkdirSync(artifacts, { recursive: true });
        await page.screenshot({ path: join(artifacts, `notes-${width}x${height}.png`), fullPage: true });
      }
      await page.getByRole('link', { name: /Weekend plans/ }).click();
      await imageShown(page, 'green.png', 64);
      assert.ok(await fits(), 'the editor is no wider than the screen');
      const title = await page.getByLabel('Title', { exact: true }).boundingBox();
      assert.ok(title.x >= 0 && title.x + title.width <= width, 'the title field fits');
      if (artifacts) {
        await page.screenshot({ path: join(artifacts, `note-${width}x${height}.png`), fullPage: true });
      }
    } finally {
      await context.close();
    }
  });
}

// The persistence hooks, end to end: reloads, tabs, closing the page, debounce, Ctrl+S
// the validator and a full disk.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  launchOnSmallDisk,
  noteLoaded,
  serverAndBrowserPerFile,
  smallDiskUnavailable,
  storedRow,
  storedValue,
  waitForStored,
} from './support.mjs';

const env = serverAndBrowserPerFile();

const TIMEOUT = { timeout: 90_000 };

test("every hook's state survives a reload, and the first render already shows it", TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(env.server.url);
  await noteLoaded(page);

  // Expandable card and hideable panel on the home page.
  await page.locator('#how-it-works button[aria-expanded]').click();
  await page.locator('#how-it-works-body').waitFor();
  // Customize: the getting-started card is hidden.
  await page.getByRole('button', { name: 'Customize' }).click();
  await page.getByLabel('Show on Home').nth(1).waitFor();
  await page.locator('#show-getting-started').uncheck();
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('#getting-started').waitFor({ state: 'detached' });

  // Onboarding: past the first step, with an answer.
  await page.getByRole('link', { name: 'Continue setup' }).click();
  await page.getByRole('button', { name: 'Get started' }).click();
  await page.getByLabel('Your name').fill('Ada');
  await waitForStored(page, 'progress', 'onboarding', (v) => v?.answers?.name === 'Ada');

  // Assessment: one question answered.
  await page.getByRole('link', { name: 'Safety check' }).click();
  await page.getByLabel('Two or more').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('Question 2 of 6').waitFor();

  // Waiver: signed.
  await page.goto(`${env.server.url}/waiver`);
  await page.getByLabel('Your full name').fill('Ada Lovelace');
  await page.getByLabel('I have read the text above and I agree to it').check();
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.getByText(/^Signed by Ada Lovelace on/).waitFor();

  for (const [collection, id] of [
    ['ui', 'card:how-cairn-keeps-data'],
    ['ui', 'visible:getting-started'],
    ['progress', 'onboarding'],
    ['progress', 'assessment'],
    ['waivers', 'data-processing'],
  ]) {
    assert.notEqual(await storedValue(page, collection, id), undefined, `${collection}/${id} stored`);
  }

  // Record what the home page shows the moment it first renders after a reload.
  await page.addInitScript(() => {
    const observer = new MutationObserver(() => {
      const cardButton = document.querySelector('#how-it-works button[aria-expanded]');
      if (cardButton && !window.__firstRender) {
        window.__firstRender = {
          cardExpanded: cardButton.getAttribute('aria-expanded'),
          panelShown: document.querySelector('#getting-started') !== null,
        };
      }
    });
    observer.observe(document, { childList: true, subtree: true });
  });
  await page.goto(env.server.url);
  await page.locator('#how-it-works-body').waitFor();
  assert.deepEqual(await page.evaluate(() => window.__firstRender), { cardExpanded: 'true', panelShown: false });

  // The onboarding's old address redirects; it resumes at the same step and answer.
  await page.goto(`${env.server.url}/welcome`);
  await page.getByText('Step 2 of 4').waitFor();
  assert.equal(new URL(page.url()).pathname, '/onboarding');
  assert.equal(await page.getByLabel('Your name').inputValue(), 'Ada');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Make it comfortable' }).waitFor();

  await page.goto(`${env.server.url}/assessment`);
  await page.getByText('Question 2 of 6').waitFor();

  await page.goto(`${env.server.url}/waiver`);
  await page.getByText(/^Signed by Ada Lovelace on/).waitFor();
  await page.getByRole('button', { name: 'Withdraw consent' }).click();
  await page.getByText('Not signed yet.').waitFor();
  await page.reload();
  await page.getByText('Not signed yet.').waitFor();
  await context.close();
});

test('a change in one tab appears in another tab without a reload', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const [first, second] = [await context.newPage(), await context.newPage()];
  for (const page of [first, second]) {
    await page.goto(env.server.url);
    await noteLoaded(page);
  }
  await first.locator('#how-it-works button[aria-expanded]').click();
  await second.locator('#how-it-works-body').waitFor();

  await first.getByLabel('Note', { exact: true }).fill('written in the first tab');
  await first.getByText(/^Saved at/).waitFor();
  await second.waitForFunction(() => document.querySelector('#scratchpad').value === 'written in the first tab');
  await context.close();
});

test('text typed just before the tab closes is kept', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(env.server.url);
  await noteLoaded(page);
  await page.getByLabel('Note', { exact: true }).fill('typed, then the tab closed');
  // Closed within the debounce delay: only the pagehide flush can save it.
  await page.getByText('Unsaved changes').waitFor();
  await page.close({ runBeforeUnload: true });

  const reopened = await context.newPage();
  await reopened.goto(env.server.url);
  await noteLoaded(reopened);
  assert.equal(await reopened.getByLabel('Note', { exact: true }).inputValue(), 'typed, then the tab closed');
  await context.close();
});

/** Records IndexedDB puts into the records store, and the save statuses shown, in order. */
function instrument() {
  window.__events = [];
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (...args) {
    if (this.name === 'records') window.__events.push('put records');
    return put.apply(this, args);
  };
  // A local write begins by reading the device clock in its own transaction (the one
  // that also holds the outbox); its puts follow in that read's callback.
  const get = IDBObjectStore.prototype.get;
  IDBObjectStore.prototype.get = function (...args) {
    if (this.name === 'meta' && args[0] === 'clock' && this.transaction.objectStoreNames.contains('outbox')) {
      window.__events.push('write begins');
    }
    return get.apply(this, args);
  };
  window.__statuses = [];
  new MutationObserver(() => {
    const text = document.querySelector('.save-status')?.textContent;
    if (text !== undefined && text !== window.__statuses.at(-1)) window.__statuses.push(text);
  }).observe(document, { childList: true, subtree: true, characterData: true });
}

test('many edits are written once, with the status going Unsaved → Saving → Saved', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(instrument);
  await page.goto(env.server.url);
  await noteLoaded(page);

  await page.getByLabel('Note', { exact: true }).pressSequentially('twenty keystrokes...');
  await page.getByText(/^Saved at/).waitFor();

  assert.deepEqual(await page.evaluate(() => window.__events), ['write begins', 'put records']);
  const statuses = (await page.evaluate(() => window.__statuses)).filter(Boolean).map((s) => s.replace(/ at .*/, ''));
  assert.deepEqual(statuses, ['Unsaved changes', 'Saving…', 'Saved']);
  assert.equal(await storedValue(page, 'notes', 'scratchpad'), 'twenty keystrokes...');
  await context.close();
});

test('Ctrl+S saves at once instead of opening the save dialog', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(instrument);
  await page.goto(env.server.url);
  await noteLoaded(page);
  await page.getByLabel('Note', { exact: true }).fill('save me now');
  // Mark the key events among the IndexedDB puts. These listeners come after the app's,
  // and the browser runs the app's listener and its microtasks before calling them.
  await page.evaluate(() => {
    window.addEventListener('keydown', (e) => {
      if (e.key === 's' && e.ctrlKey) {
        window.__events.push('save key down');
        window.__saveKeyDown = e;
      }
    });
    window.addEventListener('keyup', (e) => {
      if (e.key === 's') window.__events.push(`save key up, default prevented: ${window.__saveKeyDown?.defaultPrevented}`);
    });
  });

  await page.keyboard.press('Control+s');
  await page.getByText(/^Saved at/).waitFor();

  // The write begins while the key press itself is being handled (before the next
  // listener of the same event), not a debounce delay later; its records follow in the
  // same transaction.
  const events = await page.evaluate(() => window.__events);
  assert.deepEqual(events.slice(0, 2), ['write begins', 'save key down']);
  assert.deepEqual(
    events.filter((e) => e !== 'write begins' && e !== 'save key down').sort(),
    ['put records', 'save key up, default prevented: true'],
  );
  await context.close();
});

test('a waiver without a name is refused and not stored', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.server.url}/waiver`);
  await page.getByLabel('I have read the text above and I agree to it').check();
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.getByRole('alert').getByText('Not saved: Type your full name to sign.').waitFor();
  assert.equal(await storedValue(page, 'waivers', 'data-processing'), undefined);
  await page.reload();
  await page.getByText('Not signed yet.').waitFor();
  await context.close();
});

test(
  'a full disk shows the quota error and keeps what was saved before',
  { timeout: 240_000, skip: smallDiskUnavailable },
  async () => {
    // On a 48 MB disk this origin's quota is about 30 MB.
    const small = await launchOnSmallDisk(48);
    try {
      const page = await small.context.newPage();
      await page.goto(env.server.url);
      await noteLoaded(page);
      const note = page.getByLabel('Note', { exact: true });
      await note.fill('saved before the disk filled up');
      await page.getByText(/^Saved at/).waitFor();
      const saved = await storedRow(page, 'records', 'notes', 'scratchpad');

      // 40 MB of text that does not compress.
      // Typing 40 MB into the field is slow on a busy machine: allow for it.
      await note.fill(randomBytes(30 * 1024 * 1024).toString('base64'), { timeout: 180_000 });
      await page.keyboard.press('Control+s');
      // Writing 40 MB until the disk refuses takes a while on a busy machine.
      await page
        .getByRole('alert')
        .getByText(/^Not saved: this device's storage for Cairn is full/)
        .waitFor({ timeout: 180_000 });
      // Neither the record nor its outbox entry of the refused write was stored.
      assert.deepEqual(await storedRow(page, 'records', 'notes', 'scratchpad'), saved);
      assert.equal((await storedRow(page, 'outbox', 'notes', 'scratchpad')).hlc, saved.hlc);

      await page.reload();
      await noteLoaded(page);
      assert.equal(await note.inputValue(), 'saved before the disk filled up');
    } finally {
      await small.close();
    }
  },
);

// The app's pages: what a user sets on each survives a reload; every page has no serious
// or critical accessibility violations (axe-core) in the light and the dark theme; and
// screenshots of every page at phone and desktop size are saved as test artefacts.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { serverAndBrowserPerFile, storedValue, waitForStored } from './support.mjs';

const env = serverAndBrowserPerFile();
const TIMEOUT = { timeout: 120_000 };
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Every page: its path, and an element that shows it has rendered. */
export const PAGES = [
  ['home', '/', '#quick-note'],
  ['onboarding', '/onboarding', '#onboarding-progress'],
  ['waiver', '/waiver', '#waiver-text'],
  ['assessment', '/assessment', '#assessment-progress'],
  ['settings', '/settings', '#device-id'],
  ['notes', '/notes', '#note-search'],
  ['storage', '/storage', 'h1'],
  ['not-found', '/no/such/page', 'text=Page not found'],
];

async function open(page, path, ready) {
  await page.goto(`${env.server.url}${path}`);
  await page.locator(ready).first().waitFor();
}

test('the home dashboard: customized cards, expanded cards and the onboarding prompt survive a reload', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await open(page, '/', '#quick-note');
  await page.locator('#onboarding-prompt').waitFor();
  assert.match(await page.locator('#sync-badge').textContent(), /Sync is off/);

  await page.getByRole('button', { name: 'Customize' }).click();
  await page.locator('#show-safety-check').uncheck();
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('#safety-check').waitFor({ state: 'detached' });
  await page.locator('#quick-note button[aria-expanded]').click();
  await page.locator('#quick-note-body').waitFor({ state: 'detached' });
  await waitForStored(page, 'ui', 'card:quick-note', (v) => v === false);

  await page.reload();
  await page.locator('#quick-note').waitFor();
  assert.equal(await page.locator('#safety-check').count(), 0, 'the hidden card stays hidden');
  assert.equal(await page.locator('#quick-note button[aria-expanded]').getAttribute('aria-expanded'), 'false');
  // In Customize mode hidden cards are listed, to show them again.
  await page.getByRole('button', { name: 'Customize' }).click();
  await page.locator('#show-safety-check').check();
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('#safety-check').waitFor();
  await context.close();
});

test('onboarding: every step, resumed with its answers after leaving; done removes the prompt', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await open(page, '/onboarding', '#onboarding-progress');
  await page.getByText('Step 1 of 4').waitFor();
  await page.getByRole('button', { name: 'Get started' }).click();
  await page.getByLabel('Your name').fill('Grace');
  await waitForStored(page, 'progress', 'onboarding', (v) => v?.answers?.name === 'Grace');

  // Leave and come back: same step, same answer.
  await open(page, '/', '#quick-note');
  await open(page, '/onboarding', '#onboarding-progress');
  await page.getByText('Step 2 of 4').waitFor();
  assert.equal(await page.getByLabel('Your name').inputValue(), 'Grace');
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.getByRole('heading', { name: 'Make it comfortable' }).waitFor();
  await page.getByLabel('Dark').check();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.getByRole('heading', { name: 'Your consent' }).waitFor();
  await page.getByLabel('Your full name').fill('Grace Hopper');
  await page.getByLabel('I have read the text above and I agree to it').check();
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.getByRole('button', { name: 'Finish' }).click();
  await page.getByRole('heading', { name: "You're all set, Grace." }).waitFor();

  await page.reload();
  await page.getByRole('heading', { name: "You're all set, Grace." }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'the chosen theme is kept');
  await open(page, '/', '#quick-note');
  assert.equal(await page.locator('#onboarding-prompt').count(), 0);
  await context.close();
});

test('the waiver: signing needs a name and the ticked box; signature, expiry and revoking survive reloads', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await open(page, '/waiver', '#waiver-text');
  assert.match(await page.locator('#waiver-version').textContent(), /Text version 1/);
  await page.getByLabel('Your full name').fill('Ada Lovelace');
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.getByRole('alert').getByText('Tick the box to agree to the text above.').waitFor();
  assert.equal(await storedValue(page, 'waivers', 'data-processing'), undefined, 'not signed without consent');

  await page.getByLabel('I have read the text above and I agree to it').check();
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.getByText(/^Signed by Ada Lovelace on .*valid until/).waitFor();
  await page.reload();
  await page.getByText(/^Signed by Ada Lovelace on .*valid until/).waitFor();
  await open(page, '/settings', '#device-id');
  await page.locator('#consent-summary').getByText(/Signed by Ada Lovelace/).waitFor();

  // A new text version asks for consent again.
  await page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('cairn');
    open.onsuccess = () => {
      const tx = open.result.transaction('records', 'readwrite');
      const store = tx.objectStore('records');
      const get = store.get(['waivers', 'data-processing']);
      get.onsuccess = () => {
        const row = get.result;
        row.value.text_version = 0;
        store.put(row);
      };
      tx.oncomplete = () => { open.result.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  }));
  await open(page, '/waiver', '#waiver-text');
  await page.getByText('The text has changed since you signed. Please read it and sign again.').waitFor();
  await page.getByLabel('Your full name').fill('Ada Lovelace');
  await page.getByLabel('I have read the text above and I agree to it').check();
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.getByRole('button', { name: 'Withdraw consent' }).click();
  await page.getByText('Not signed yet.').waitFor();
  await page.reload();
  await page.getByText('Not signed yet.').waitFor();
  await context.close();
});

test('the assessment: mixed questions saved one by one, resumed, with a progress bar and results', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await open(page, '/assessment', '#assessment-progress');
  const progress = () => page.locator('#assessment-progress').getAttribute('value');
  assert.equal(await progress(), '0');

  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('alert').getByText('Choose an answer to continue.').waitFor();
  await page.getByLabel('Two or more').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('Question 2 of 6').waitFor();
  await page.getByLabel('Yes').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Monthly').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('5', { exact: true }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('Question 5 of 6').waitFor();
  assert.equal(await progress(), '4');

  // A number, saved as typed: leave before pressing Next and it is still there.
  await page.getByRole('spinbutton').fill('250');
  await waitForStored(page, 'progress', 'assessment', (v) => v?.answers?.notes_count === 250);
  await page.reload();
  await page.getByText('Question 5 of 6').waitFor();
  assert.equal(await page.getByRole('spinbutton').inputValue(), '250');
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByRole('textbox').fill('My recipes');
  await page.getByRole('button', { name: 'See my results' }).click();
  await page.getByRole('heading', { name: 'Your data-safety check' }).waitFor();
  const advice = await page.locator('#advice li').allTextContents();
  assert.equal(advice.length, 4);
  assert.match(advice.join(' '), /shared/);
  await page.getByText('My recipes').waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Your data-safety check' }).waitFor();
  await context.close();
});

test('settings: theme, text size, motion, contrast and the sync choice apply at once and survive a reload', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await open(page, '/settings', '#device-id');
  const root = (name) => page.evaluate((name) => document.documentElement.getAttribute(name), name);
  await page.getByLabel('Dark').check();
  await page.getByLabel('Text size').selectOption('Larger');
  await page.getByLabel('Reduce motion').check();
  await page.getByLabel('High contrast').check();
  await page.getByLabel('Notes', { exact: true }).uncheck();
  await page.waitForFunction(() => document.documentElement.dataset.contrast === 'high');
  await waitForStored(page, 'prefs', 'appearance', (v) => v?.high_contrast === true && v?.text_size === 'larger');

  await page.reload();
  await page.locator('#device-id').waitFor();
  assert.equal(await root('data-theme'), 'dark');
  assert.equal(await root('data-motion'), 'reduce');
  assert.equal(await root('data-contrast'), 'high');
  assert.equal(await root('style'), 'font-size: 140%');
  assert.equal(await page.getByLabel('Dark').isChecked(), true);
  assert.equal(await page.getByLabel('Text size').inputValue(), 'Larger');
  assert.equal(await page.getByLabel('Notes', { exact: true }).isChecked(), false, 'notes stay on this device');
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(0, 0, 0)', 'dark, high-contrast background');
  await context.close();
});

test('the API key is kept encrypted on the device, survives a reload, and never enters sync', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await open(page, '/settings', '#device-id');
  await page.locator('#api-key-state').getByText('No key saved.').waitFor();
  await page.getByRole('textbox', { name: 'API key' }).fill('sk-live-0123456789abcd');
  await page.getByRole('button', { name: 'Save key' }).click();
  await page.locator('#api-key-state').getByText('A key ending in “abcd” is saved.').waitFor();

  const stored = await page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('cairn');
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['secrets', 'records', 'outbox']);
      const all = {};
      for (const name of ['secrets', 'records', 'outbox']) {
        const get = tx.objectStore(name).getAll();
        get.onsuccess = () => { all[name] = get.result; };
      }
      tx.oncomplete = () => { db.close(); resolve(JSON.stringify(all)); };
      tx.onerror = () => reject(tx.error);
    };
  }));
  assert.ok(stored.includes('api_key'), 'a secrets row exists');
  assert.ok(!stored.includes('0123456789abcd'), 'the plaintext is stored nowhere');

  await page.reload();
  await page.locator('#api-key-state').getByText('A key ending in “abcd” is saved.').waitFor();
  await page.getByRole('button', { name: 'Remove key' }).click();
  await page.locator('#api-key-state').getByText('No key saved.').waitFor();
  await context.close();
});

for (const colorScheme of ['light', 'dark']) {
  test(`no serious or critical accessibility violations on any page (${colorScheme} theme)`, TIMEOUT, async () => {
    const context = await env.browser.newContext({ colorScheme });
    const page = await context.newPage();
    const found = [];
    // A note's own page too: its address comes from creating one.
    await open(page, '/notes', '#note-search');
    await page.getByRole('button', { name: 'New note' }).click();
    await page.waitForURL(/\/notes\/[0-9a-f]{16}$/);
    const notePage = ['note', new URL(page.url()).pathname, '#note-title:not([disabled])'];
    for (const [name, path, ready] of [...PAGES, notePage]) {
      await open(page, path, ready);
      // Evaluated by the test, not added as a <script>: the app's CSP allows no inline script.
      await page.evaluate(AXE_SOURCE);
      const violations = await page.evaluate(async () => {
        const result = await axe.run(document, { resultTypes: ['violations'] });
        return result.violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      });
      found.push(...violations.map((v) => `${name}: ${v}`));
    }
    assert.deepEqual(found, []);
    await context.close();
  });
}

test('screenshots of every page at 360×640 and 1280×800', TIMEOUT, async (t) => {
  const artifacts = process.env.CAIRN_E2E_ARTIFACTS;
  if (!artifacts) return t.skip('CAIRN_E2E_ARTIFACTS is not set');
  mkdirSync(artifacts, { recursive: true });
  for (const [width, height] of [[360, 640], [1280, 800]]) {
    const context = await env.browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    for (const [name, path, ready] of PAGES) {
      await open(page, path, ready);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${name} fits ${width}px`);
      await page.screenshot({ path: join(artifacts, `page-${name}-${width}x${height}.png`), fullPage: true });
    }
    await context.close();
  }
});

// The app in a real browser against the real server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectErrors, noteLoaded, serverAndBrowserPerFile, serviceWorkerActivated } from './support.mjs';

const env = serverAndBrowserPerFile();

const TIMEOUT = { timeout: 60_000 };

test('the app loads with no console errors and its service worker activates', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);

  const response = await page.goto(env.server.url);
  assert.equal(response.status(), 200);
  await page.getByRole('heading', { name: 'Home', exact: true }).waitFor();
  assert.equal(await serviceWorkerActivated(page), 'activated');
  // The worker's fetch handler (Rust) serves this navigation.
  await page.reload();
  await page.getByRole('heading', { name: 'Home', exact: true }).waitFor();
  assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null));

  assert.deepEqual(errors, []);
  await context.close();
});

test('typed text survives a reload', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(env.server.url);
  const note = page.getByLabel('Note', { exact: true });
  await noteLoaded(page);

  const text = `Remember the milk — ${Date.now()}`;
  await note.fill(text);
  await page.getByText(/^Saved at/).waitFor();

  await page.reload();
  await noteLoaded(page);
  assert.equal(await note.inputValue(), text);

  // A different profile (another device) has its own, empty note.
  const other = await env.browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto(env.server.url);
  await noteLoaded(otherPage);
  assert.equal(await otherPage.getByLabel('Note', { exact: true }).inputValue(), '');

  await other.close();
  await context.close();
});

test('a deep link to /settings serves the app, also on reload', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);

  const response = await page.goto(`${env.server.url}/settings`);
  assert.equal(response.status(), 200);
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  const deviceId = (await page.locator('#device-id').textContent()).trim();
  assert.match(deviceId, /^[0-9a-f]{16}$/);

  await page.reload();
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  assert.equal((await page.locator('#device-id').textContent()).trim(), deviceId, 'device id is stable');

  // Client-side navigation back home works too.
  await page.getByRole('link', { name: 'Home', exact: true }).click();
  await page.getByRole('heading', { name: 'Home', exact: true }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/');

  assert.deepEqual(errors, []);
  await context.close();
});

test('an unknown route shows a not-found page, not an error', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const response = await page.goto(`${env.server.url}/no/such/page`);
  assert.equal(response.status(), 200);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await context.close();
});

test('a content security policy violation fails the test that caused it', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(env.server.url);
  await page.getByRole('heading', { name: 'Home', exact: true }).waitFor();
  // An injected inline script, which the app's policy refuses.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.injected = true';
    document.body.append(script);
  });
  await page.waitForFunction(() => window.__cairnCspViolations.length > 0);
  assert.equal(await page.evaluate(() => window.injected), undefined, 'the script did not run');
  await assert.rejects(context.close(), /content security policy violations[\s\S]*"directive": "script-src-elem"/);
});

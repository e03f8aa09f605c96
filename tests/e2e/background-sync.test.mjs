// Background Sync: changes made while the server is down reach it through the service
// worker's `sync` handler, with the app's page closed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, noteLoaded, serviceWorkerActivated, startServer } from './support.mjs';

const EMAIL = `background-${process.pid}@example.org`;
const PASSWORD = 'correct horse battery';
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Signs in to the account from node; returns the bearer token. */
async function signIn(url) {
  const response = await fetch(`${url}/api/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).token;
}

/** The record `collection`/`id` as the server holds it for the account, if it does. */
async function serverRecord(url, token, collection, id) {
  let since = 0;
  for (;;) {
    const page = await fetch(`${url}/api/v1/sync/pull?since=${since}`, {
      headers: { authorization: `Bearer ${token}` },
    }).then((r) => r.json());
    const found = page.records.find((r) => r.collection === collection && r.id === id);
    if (found) return found;
    if (!page.more) return undefined;
    since = page.cursor;
  }
}

test('edits made while the server was down are pushed by the worker with the page closed', { timeout: 90_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-bgsync-'));
  let server = await startServer({ dataDir });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/settings`);
    await page.getByLabel('E-mail').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#sync-account').getByText(EMAIL).waitFor();
    await serviceWorkerActivated(page);

    await server.stop();
    await page.getByRole('link', { name: 'Home' }).first().click();
    await noteLoaded(page);
    await page.getByLabel('Note', { exact: true }).fill('typed with the server down');
    await page.getByText(/^Saved at/).waitFor();

    // The app's page goes away; a blank page of the same profile drives the worker.
    const driver = await context.newPage();
    const cdp = await context.newCDPSession(driver);
    const registration = new Promise((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const ours = registrations.find((r) => r.scopeURL === `${server.url}/` && !r.isDeleted);
        if (ours) resolve(ours.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    const registrationId = await registration;
    await page.close();

    server = await startServer({ dataDir, port: server.port });
    const token = await signIn(server.url);
    assert.equal(await serverRecord(server.url, token, 'notes', 'scratchpad'), undefined, 'nothing was pushed before');
    await cdp.send('ServiceWorker.dispatchSyncEvent', {
      origin: server.url,
      registrationId,
      tag: 'cairn-sync',
      lastChance: false,
    });
    // The worker's round runs asynchronously: ask the server until the note is there.
    let record;
    while (!(record = await serverRecord(server.url, token, 'notes', 'scratchpad'))) {
      await driver.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)));
    }
    assert.equal(record.value, 'typed with the server down');
  } finally {
    await context.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

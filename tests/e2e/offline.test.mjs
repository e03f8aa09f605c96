// The offline app shell: with the server gone, the service worker serves the app.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, noteLoaded, serviceWorkerActivated, startServer } from './support.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('with the server stopped, the app reloads from the cache with its state, client routes too', { timeout: 90_000 }, async () => {
  const server = await startServer();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await noteLoaded(page);
    await page.getByLabel('Note', { exact: true }).fill('written before the network went away');
    await page.getByText(/^Saved at/).waitFor();
    // Installed (everything cached) and activated.
    await serviceWorkerActivated(page);

    await server.stop();
    await assert.rejects(page.request.get(`${server.url}/api/health`), 'the server is gone');

    await page.reload();
    await noteLoaded(page);
    assert.equal(await page.getByLabel('Note', { exact: true }).inputValue(), 'written before the network went away');

    // A client-side route, opened offline as a fresh navigation.
    await page.goto(`${server.url}/settings`);
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByRole('link', { name: 'Safety check' }).click();
    await page.getByRole('heading', { name: 'Data-safety check' }).waitFor();
  } finally {
    await context.close();
    await server.stop();
  }
});

// The update flow: a new version installs and waits, the open page offers it, applying it
// reloads the page into it, and the old version's cache is gone.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, noteLoaded, serviceWorkerActivated, startServer } from './support.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Turns the build in `dir` into "version 2": a changed page and a new precache version. */
function makeVersion2(dir) {
  const index = join(dir, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replace('<title>Cairn</title>', '<title>Cairn</title><meta name="cairn-test-build" content="2">'));
  const sw = join(dir, 'sw.js');
  const script = readFileSync(sw, 'utf8');
  // The manifest as the build minified it (`version:"…"`) or not (`"version":"…"`).
  const updated = script.replace(/("?version"?):"[0-9a-f]+"/, '$1:"0000000000000002"');
  assert.notEqual(updated, script, 'sw.js has a precache version');
  writeFileSync(sw, updated);
  // The build's compressed copies are of version 1: without them the server sends these.
  for (const file of [index, sw]) {
    for (const suffix of ['br', 'gz']) rmSync(`${file}.${suffix}`, { force: true });
  }
}

test('a new version is offered, applied with one reload, and the old cache is removed', { timeout: 90_000 }, async () => {
  const www = mkdtempSync(join(tmpdir(), 'cairn-www-'));
  cpSync(process.env.CAIRN_DIST, www, { recursive: true });
  const server = await startServer({ staticDir: www });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await noteLoaded(page);
    await serviceWorkerActivated(page);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    const [oldCache] = await page.evaluate(() => caches.keys());
    assert.match(oldCache, /^cairn-[0-9a-f]{16}$/);
    assert.equal(await page.getByText('A new version of Cairn is available.').count(), 0);

    makeVersion2(www);
    await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r.update()));
    await page.getByText('A new version of Cairn is available.').waitFor();
    // Still the old page until the user applies the update.
    assert.equal(await page.locator('meta[name="cairn-test-build"]').count(), 0);

    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Update' }).click()]);
    await page.locator('meta[name="cairn-test-build"]').waitFor({ state: 'attached' });
    await noteLoaded(page);
    assert.deepEqual(await page.evaluate(() => caches.keys()), ['cairn-0000000000000002']);
    assert.equal(await page.getByText('A new version of Cairn is available.').count(), 0, 'no banner after the update');
  } finally {
    await context.close();
    await server.stop();
    rmSync(www, { recursive: true, force: true });
  }
});

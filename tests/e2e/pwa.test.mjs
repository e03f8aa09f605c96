// Installable, and usable on a phone and on a desktop.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchPersistent, noteLoaded, serverAndBrowserPerFile, serviceWorkerActivated } from './support.mjs';

const env = serverAndBrowserPerFile();
const TIMEOUT = { timeout: 60_000 };

test("Chromium's installability check finds nothing missing", TIMEOUT, async () => {
  // Installing needs a real profile, not an incognito context.
  const profile = await launchPersistent();
  const context = profile.context;
  const page = await context.newPage();
  await page.goto(env.server.url);
  await noteLoaded(page);
  await serviceWorkerActivated(page);

  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);

  const manifest = await page.request.get(`${env.server.url}/manifest.webmanifest`);
  assert.equal(manifest.headers()['content-type'], 'application/manifest+json');
  const { icons, display, start_url: startUrl } = await manifest.json();
  assert.equal(display, 'standalone');
  assert.equal(startUrl, '/');
  assert.ok(icons.some((i) => i.purpose === 'maskable'), 'a maskable icon');
  const appleIcon = await page.locator('link[rel="apple-touch-icon"]').getAttribute('href');
  for (const src of [...icons.map((i) => i.src), appleIcon]) {
    const icon = await page.request.get(`${env.server.url}${src}`);
    assert.equal(icon.status(), 200, src);
    assert.equal(icon.headers()['content-type'], 'image/png', src);
  }
  await profile.close();
});

for (const [name, width, height] of [
  ['phone', 360, 640],
  ['desktop', 1280, 800],
]) {
  test(`usable on a ${name} (${width}×${height})`, TIMEOUT, async () => {
    const context = await env.browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    await page.goto(env.server.url);
    await noteLoaded(page);

    // Nothing wider than the screen, and every section reachable from the top bar.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    for (const link of ['Home', 'Safety check', 'Settings']) {
      const box = await page.getByRole('navigation').getByRole('link', { name: link, exact: true }).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= width, `${link} is on screen`);
    }
    const note = await page.getByLabel('Note', { exact: true }).boundingBox();
    assert.ok(note.x >= 0 && note.x + note.width <= width, 'the note fits');

    const artifacts = process.env.CAIRN_E2E_ARTIFACTS;
    if (artifacts) {
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, `home-${width}x${height}.png`), fullPage: true });
    }
    await context.close();
  });
}

// The static shell of index.html: painted before the app's wasm has loaded, and replaced
// by the app, element for element, when it mounts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectErrors, serverAndBrowserPerFile } from './support.mjs';

const env = serverAndBrowserPerFile();

const TIMEOUT = { timeout: 60_000 };
const LINKS = ['Cairn', 'Home', 'Notes', 'Safety check', 'Settings', 'Storage'];

/** Where the nav bar's links are, where they lead and what colour the bar is. */
const layout = (page) =>
  page.evaluate(() => {
    const nav = document.querySelector('nav');
    return {
      nav: { ...nav.getBoundingClientRect().toJSON(), background: getComputedStyle(nav).backgroundColor },
      links: [...nav.querySelectorAll('a')].map((a) => ({
        text: a.textContent,
        href: a.getAttribute('href'),
        color: getComputedStyle(a).color,
        ...a.getBoundingClientRect().toJSON(),
      })),
      main: document.querySelector('main').getBoundingClientRect().toJSON(),
      loading: document.querySelector('main p[aria-busy]')?.getBoundingClientRect().toJSON(),
    };
  });

for (const colorScheme of ['light', 'dark']) {
  test(`the shell paints before the wasm runs and the app replaces it in place (${colorScheme})`, TIMEOUT, async () => {
    const context = await env.browser.newContext({ colorScheme });
    const page = await context.newPage();
    const errors = collectErrors(page);
    // Hold the app's wasm (the preload and the glue's fetch alike) until the shell is checked.
    let release;
    const released = new Promise((resolve) => (release = resolve));
    let held = 0;
    await context.route(/\/cairn-[0-9a-f]+_bg\.wasm$/, async (route) => {
      held += 1;
      await released;
      await route.continue();
    });

    // The app's own "Opening your data…" shows only while IndexedDB opens (a task or two
    // after it mounts): measure it from the mutation that put it there.
    await context.addInitScript(() => {
      new MutationObserver((_, observer) => {
        const loading = document.querySelector('main p[aria-busy]');
        if (loading && !document.querySelector('[data-shell]')) {
          window.__cairnAppLoading = { text: loading.textContent, ...loading.getBoundingClientRect().toJSON() };
          observer.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    });

    await page.goto(env.server.url, { waitUntil: 'commit' });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.waitFor();
    for (const name of LINKS) {
      assert.ok(await nav.getByRole('link', { name, exact: true }).isVisible(), `the shell's ${name} link`);
    }
    await page.getByText('Opening your data…').waitFor();
    // What is on screen is the shell: the wasm is still held, and the app has not started.
    await page.waitForFunction(() => document.querySelector('link[rel=preload][as=fetch]') !== null);
    assert.ok(held >= 1, 'the wasm was requested and held');
    assert.equal(await page.locator('[data-shell]').count(), 2);
    assert.equal(await page.evaluate(() => 'wasmBindings' in window), false);
    const shell = await layout(page);

    release();
    await page.getByRole('heading', { name: 'Home', exact: true }).waitFor();
    // Nothing of the shell is left beside the app: one nav bar, one of each link.
    assert.equal(await page.locator('[data-shell]').count(), 0);
    assert.equal(await page.getByRole('navigation').count(), 1);
    for (const name of LINKS) {
      assert.equal(await page.getByRole('link', { name, exact: true }).count(), 1, `one ${name} link`);
    }
    assert.equal(await page.getByText('Opening your data…').count(), 0);
    assert.equal(await page.locator('main').count(), 1);

    // The app's nav bar sits exactly where the shell's was, with the same links and colours.
    const app = await layout(page);
    assert.deepEqual(app.nav, shell.nav);
    assert.deepEqual(app.links, shell.links);
    const place = ({ x, y, width }) => ({ x, y, width });
    assert.deepEqual(place(app.main), place(shell.main));
    // So does its loading state, in the app's first render.
    assert.deepEqual(await page.evaluate(() => window.__cairnAppLoading), { text: 'Opening your data…', ...shell.loading });

    assert.deepEqual(errors, []);
    await context.close();
  });
}

// Lighthouse on the release app served by the real server, run by `cargo xtask bench`
// (and `cargo xtask bench lighthouse`). Lighthouse 12's default configuration is the
// mobile preset: a phone's screen, simulated slow 4G and a 4× slower CPU. Each page is
// audited LIGHTHOUSE_RUNS times (default 3) from a cleared origin (no service worker, no
// cache), and the median of each number is appended to $CAIRN_BENCH_OUT, one JSON line
// per page and number:
//   {"bench":"lighthouse","case":"/notes","impl":"cairn","metric":"performance","value":97,"runs":3}
// Metrics: the category scores (0–100) `performance`, `accessibility`, `best-practices`,
// and `lcp_ms`, `fcp_ms`, `tbt_ms`, `si_ms`, `tti_ms`, `cls` (simulated, as scored), and
// `observed_fcp_ms`, `observed_lcp_ms` (the unthrottled trace). The last run's full report
// of each page is written beside the results (`lighthouse/<page>.json`), for what
// stands in the way of a score: the LCP element, the longest tasks, the bytes.
//
// Lighthouse lives in its own package dir (bench/lighthouse/, installed by the bench
// with `npm ci`), so the tests' packages stay small.
//
// Environment: CAIRN_SERVER_BIN, CAIRN_DIST, CHROMIUM, CAIRN_BENCH_OUT; optional
// LIGHTHOUSE_RUNS, LIGHTHOUSE_PAGES (comma-separated paths, default `/,/notes`).
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM_ARGS, launchBrowser, startServer } from '../support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const packages = createRequire(join(here, 'lighthouse', 'package.json'));
const load = async (name) => import(pathToFileURL(packages.resolve(name)).href);
const { default: lighthouse } = await load('lighthouse');
const chromeLauncher = await load('chrome-launcher');

const out = process.env.CAIRN_BENCH_OUT;
if (!out) throw new Error('CAIRN_BENCH_OUT is not set: run this with `cargo xtask bench lighthouse`');
const RUNS = Number(process.env.LIGHTHOUSE_RUNS ?? 3);
const PAGES = (process.env.LIGHTHOUSE_PAGES ?? '/,/notes').split(',');
const CATEGORIES = ['performance', 'accessibility', 'best-practices'];
const METRICS = {
  lcp_ms: 'largest-contentful-paint',
  fcp_ms: 'first-contentful-paint',
  tbt_ms: 'total-blocking-time',
  si_ms: 'speed-index',
  tti_ms: 'interactive',
  cls: 'cumulative-layout-shift',
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function record(kase, metric, value) {
  const line = { bench: 'lighthouse', case: kase, impl: 'cairn', metric, value: Math.round(value * 1000) / 1000, runs: RUNS };
  appendFileSync(out, JSON.stringify(line) + '\n');
}

/**
 * The largest contentful paint's element as the page's own PerformanceObserver sees it,
 * in a phone-sized Playwright page without throttling: Lighthouse 12's
 * `largest-contentful-paint-element` audit fails on this Chromium (its trace gatherer
 * throws on `frame_sequence`). Waits until the app shows the page's heading.
 */
async function largestContentfulPaint(url) {
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 412, height: 823 }, deviceScaleFactor: 1.75, isMobile: true });
    await context.addInitScript(() => {
      window.__lcp = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const element = e.element ? e.element.outerHTML.replace(/\s+/g, ' ').slice(0, 100) : '?';
          window.__lcp.push(`${element} (${e.size} px² at ${Math.round(e.startTime)} ms)`);
        }
      }).observe({ type: 'largest-contentful-paint', buffered: true });
    });
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('main h1').waitFor();
    const entries = await page.evaluate(
      () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(window.__lcp)))),
    );
    await context.close();
    return entries.join(' → ') || 'none';
  } finally {
    await browser.close();
  }
}

/**
 * One Lighthouse run on `url`. A run whose trace came out broken (Lighthouse's own
 * `runtimeError`, e.g. `NO_NAVSTART`, seen now and then on a loaded machine) is repeated,
 * up to three attempts.
 */
async function audit(url) {
  for (let attempt = 1; ; attempt++) {
    const result = await lighthouse(url, { port: chrome.port, output: 'json', logLevel: 'error', onlyCategories: CATEGORIES });
    const error = result.lhr.runtimeError;
    if (!error) return result;
    if (attempt === 3) throw new Error(`Lighthouse failed on ${url} ${attempt} times: ${error.message}`);
    console.error(`  Lighthouse failed on ${url} (${error.code}); again`);
  }
}

const reports = join(dirname(out), 'lighthouse');
mkdirSync(reports, { recursive: true });
const server = await startServer();
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  chromeFlags: ['--headless=new', ...CHROMIUM_ARGS],
  logLevel: 'silent',
});
try {
  for (const path of PAGES) {
    const url = `${server.url}${path}`;
    const numbers = {};
    let last;
    for (let run = 0; run < RUNS; run++) {
      const result = await audit(url);
      const lhr = result.lhr;
      for (const category of CATEGORIES) {
        (numbers[category] ??= []).push(Math.round(lhr.categories[category].score * 100));
      }
      for (const [metric, audit] of Object.entries(METRICS)) {
        (numbers[metric] ??= []).push(lhr.audits[audit].numericValue);
      }
      // What the unthrottled page did, before Lighthouse's simulation.
      const observed = lhr.audits.metrics.details.items[0];
      (numbers.observed_fcp_ms ??= []).push(observed.observedFirstContentfulPaint);
      (numbers.observed_lcp_ms ??= []).push(observed.observedLargestContentfulPaint);
      last = result;
    }
    for (const [metric, values] of Object.entries(numbers)) record(path, metric, median(values));
    const name = path === '/' ? 'home' : path.replace(/^\//, '').replaceAll('/', '_');
    writeFileSync(join(reports, `${name}.json`), last.report);
    const lcp = await largestContentfulPaint(url);
    const failing = Object.values(last.lhr.audits)
      .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== 'informative' && a.scoreDisplayMode !== 'manual')
      .map((a) => a.id);
    console.error(
      `  ${path}: ${CATEGORIES.map((c) => `${c} ${median(numbers[c])}`).join(', ')}; ` +
        `LCP ${Math.round(median(numbers.lcp_ms))} ms, FCP ${Math.round(median(numbers.fcp_ms))} ms, ` +
        `TBT ${Math.round(median(numbers.tbt_ms))} ms (medians of ${RUNS})`,
    );
    console.error(`    LCP element (unthrottled, phone-sized): ${lcp}`);
    console.error(`    audits below 90: ${failing.join(', ') || 'none'}`);
  }
  console.error(`  reports in ${reports}`);
} finally {
  chrome.kill();
  await server.stop();
}

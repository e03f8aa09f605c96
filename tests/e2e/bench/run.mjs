// Cairn's browser benchmarks, run by `cargo xtask bench`. Every case runs Cairn and its
// baseline alternately in the same headless Chromium, several times, and appends one JSON
// line per number to $CAIRN_BENCH_OUT:
//   {"bench","case","impl","metric","value","runs"}
//
// Environment: CAIRN_SERVER_BIN, CAIRN_DIST (the app), CAIRN_BENCH_PAGE (the store
// benchmark page, with the JS peers: Dexie, and PouchDB bundled), CHROMIUM,
// CAIRN_BENCH_OUT, CAIRN_BENCH_POSTGRES_URL (a database for the PostgreSQL cases);
// CAIRN_BENCH_ONLY=live (or store, sync, … comma-separated: see `groups`) runs only those
// groups; live needs no benchmark page.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, startServer } from '../support.mjs';

const require = createRequire(import.meta.url);

const RUNS = 5;
const N = 10_000;
const SEQUENTIAL = 1_000;
const out = process.env.CAIRN_BENCH_OUT;
const lines = [];

function record(bench, kase, impl, metric, value, runs) {
  const line = { bench, case: kase, impl, metric, value: Math.round(value * 100) / 100, runs };
  lines.push(line);
  appendFileSync(out, JSON.stringify(line) + '\n');
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p95 = (xs) => sorted(xs)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

async function storeBenchmarks(browser) {
  const server = await startServer({ staticDir: process.env.CAIRN_BENCH_PAGE });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');

    // Cairn, raw IndexedDB and Dexie (a JS peer), each on its own database.
    const impls = ['cairn', 'raw', 'dexie'];
    const bulk = { cairn: [], raw: [], rawOutbox: [], dexie: [] };
    const read = { cairn: [], raw: [], dexie: [] };
    for (let run = 0; run < RUNS; run++) {
      // Rotate which goes first, so none always runs on a warmer browser.
      const order = impls.map((_, i) => impls[(i + run) % impls.length]);
      for (const impl of order) {
        bulk[impl].push(
          await page.evaluate(
            ([impl, n]) =>
              impl === 'cairn'
                ? bench.cairn.bulk_write('bench-cairn', n)
                : bench[impl].bulkWrite(`bench-${impl}`, n),
            [impl, N],
          ),
        );
        if (impl === 'raw') {
          bulk.rawOutbox.push(await page.evaluate((n) => bench.raw.bulkWriteWithOutbox('bench-raw-outbox', n), N));
        }
        read[impl].push(
          await page.evaluate(
            ([impl, n]) =>
              impl === 'cairn' ? bench.cairn.read_all('bench-cairn', n) : bench[impl].readAll(`bench-${impl}`, n),
            [impl, N],
          ),
        );
      }
    }
    for (const [impl, key] of [['cairn', 'cairn'], ['raw-idb', 'raw'], ['dexie', 'dexie']]) {
      record('store', 'bulk_write_10k', impl, 'median_ms', median(bulk[key]), RUNS);
      record('store', 'read_all_10k', impl, 'median_ms', median(read[key]), RUNS);
    }
    record('store', 'bulk_write_10k', 'raw-idb-with-outbox', 'median_ms', median(bulk.rawOutbox), RUNS);

    const cairnTimes = await page.evaluate((n) => bench.cairn.sequential_writes('bench-cairn-seq', n), SEQUENTIAL);
    const rawTimes = await page.evaluate((n) => bench.raw.sequentialWrites('bench-raw-seq', n), SEQUENTIAL);
    const dexieTimes = await page.evaluate((n) => bench.dexie.sequentialWrites('bench-dexie-seq', n), SEQUENTIAL);
    for (const [impl, times] of [['cairn', Array.from(cairnTimes)], ['raw-idb', rawTimes], ['dexie', dexieTimes]]) {
      record('store', 'single_write_1k', impl, 'median_ms', median(times), times.length);
      record('store', 'single_write_1k', impl, 'p95_ms', p95(times), times.length);
    }
  } finally {
    await server.stop();
  }
}

/**
 * Makes `page` record when the home page first shows persisted UI state (an expanded
 * card) on every load, and stores that state: the card is expanded once.
 */
async function preparePersistedRender(page, url) {
  await page.addInitScript(() => {
    new MutationObserver(() => {
      const button = document.querySelector('#how-it-works button[aria-expanded="true"]');
      if (button && window.__persistedRenderAt === undefined) window.__persistedRenderAt = performance.now();
    }).observe(document, { childList: true, subtree: true, attributes: true });
  });
  await page.goto(url);
  await page.locator('#how-it-works button[aria-expanded]').click();
  await page.locator('#how-it-works-body').waitFor();
}

/**
 * Milliseconds from navigation start until the home page first shows persisted UI state,
 * and of that, the app's own `cairn:hydrate` measure (open the store, load the small
 * collections).
 */
async function timeToPersistedRender(page, url) {
  await page.goto(url);
  await page.locator('#how-it-works-body').waitFor();
  return page.evaluate(() => [window.__persistedRenderAt, performance.getEntriesByName('cairn:hydrate')[0].duration]);
}

async function hydrationBenchmark(browser) {
  const server = await startServer();
  try {
    const results = {};
    for (const [impl, extra] of [['cairn-empty-db', 0], ['cairn', N]]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await preparePersistedRender(page, server.url);
      // Fill the large collection straight into the app's database.
      await page.evaluate(async (n) => {
        const db = await new Promise((resolve, reject) => {
          const open = indexedDB.open('cairn');
          open.onsuccess = () => resolve(open.result);
          open.onerror = () => reject(open.error);
        });
        const tx = db.transaction('records', 'readwrite');
        for (let i = 0; i < n; i++) {
          tx.objectStore('records').put({
            collection: 'notes', id: `n${i}`, deleted: false,
            hlc: `${(1_700_000_000_000 + i).toString(16).padStart(12, '0')}-00000000-seed`,
            value: { title: `Note ${i}`, body: 'x'.repeat(250), n: i },
          });
        }
        await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
        db.close();
      }, extra);
      const times = [];
      for (let run = 0; run < RUNS; run++) times.push(await timeToPersistedRender(page, server.url));
      results[impl] = times;
      await context.close();
    }
    for (const [impl, times] of Object.entries(results)) {
      record('app', 'first_persisted_render_10k_notes', impl, 'median_ms', median(times.map((t) => t[0])), times.length);
      record('app', 'hydrate_small_collections_10k_notes', impl, 'median_ms', median(times.map((t) => t[1])), times.length);
    }
  } finally {
    await server.stop();
  }
}

/** Milliseconds from navigation start to the first byte of the page. */
async function timeToFirstByte(page, url) {
  await page.goto(url);
  await page.locator('#scratchpad').waitFor();
  return page.evaluate(() => performance.getEntriesByType('navigation')[0].responseStart);
}

/**
 * A copy of the build whose worker instantiates its sync module too before it answers a
 * request: what a worker with all its code in one module does at start-up. The baseline
 * for the split into a start-up module and a sync module.
 */
function buildLoadingSyncAtStartUp(dist) {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-dist-'));
  cpSync(dist, dir, { recursive: true });
  const loader = join(dir, 'sw.js');
  const script = readFileSync(loader, 'utf8');
  // The fetch handler's `shell().then(() => wasm_bindgen.on_fetch(`, minified or not.
  const answer = /shell\(\)(\s*\.then\(\s*\(\)\s*=>\s*wasm_bindgen\.on_fetch\()/;
  if (!answer.test(script)) throw new Error('sw.js changed: update the bench baseline');
  writeFileSync(loader, script.replace(answer, 'Promise.all([shell(),syncModule()])$1'));
  // Its compressed copies are of the original: without them the server sends this one.
  for (const suffix of ['br', 'gz']) rmSync(`${loader}.${suffix}`, { force: true });
  return dir;
}

/** A context whose page is controlled by the worker of `url`, and its CDP session. */
async function controlledPage(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await page.goto(url);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  return { context, page, cdp };
}

async function workerBenchmarks(browser) {
  const server = await startServer();
  const allAtStartUpDir = buildLoadingSyncAtStartUp(process.env.CAIRN_DIST);
  const allAtStartUp = await startServer({ staticDir: allAtStartUpDir });
  try {
    // Navigations answered by a worker woken from stopped, by a running one, and with no
    // worker at all; and by a stopped worker that instantiates all its code to answer.
    const navigation = {
      'cairn-cold-worker': [],
      'cairn-warm-worker': [],
      'no-worker': [],
      'cold-worker-instantiating-sync-too': [],
    };
    const { context, page, cdp } = await controlledPage(browser, server.url);
    const baseline = await controlledPage(browser, allAtStartUp.url);
    // Cold starts vary the most: more runs, the two kinds alternating.
    for (let run = 0; run < 3 * RUNS; run++) {
      await cdp.send('ServiceWorker.stopAllWorkers');
      navigation['cairn-cold-worker'].push(await timeToFirstByte(page, server.url));
      navigation['cairn-warm-worker'].push(await timeToFirstByte(page, server.url));
      await baseline.cdp.send('ServiceWorker.stopAllWorkers');
      navigation['cold-worker-instantiating-sync-too'].push(await timeToFirstByte(baseline.page, allAtStartUp.url));
    }
    await baseline.context.close();
    const plain = await browser.newContext({ serviceWorkers: 'block' });
    const plainPage = await plain.newPage();
    for (let run = 0; run < RUNS; run++) navigation['no-worker'].push(await timeToFirstByte(plainPage, server.url));
    await plain.close();
    for (const [impl, times] of Object.entries(navigation)) {
      record('sw', 'navigation_first_byte', impl, 'median_ms', median(times), times.length);
    }

    // Offline against online: navigation start to the first render of persisted state.
    await preparePersistedRender(page, server.url);
    const render = { online: [], offline: [] };
    for (let run = 0; run < RUNS; run++) {
      for (const mode of ['online', 'offline']) {
        await context.setOffline(mode === 'offline');
        render[mode].push((await timeToPersistedRender(page, server.url))[0]);
      }
    }
    await context.setOffline(false);
    record('sw', 'first_persisted_render', 'cairn-offline', 'median_ms', median(render.offline), RUNS);
    record('sw', 'first_persisted_render', 'cairn-online', 'median_ms', median(render.online), RUNS);
    await context.close();
  } finally {
    await server.stop();
    await allAtStartUp.stop();
    rmSync(allAtStartUpDir, { recursive: true, force: true });
  }
}

const SYNC_N = 10_000;
const SYNC_RUNS = 3;
const PASSWORD = 'correct horse battery';

/** A page of the store benchmark, served (with the API) by `url`. */
async function benchPage(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}/index.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  return { context, page };
}

/**
 * End to end: SYNC_N changes made on device A reach device B through the server on
 * `database`. Cairn: A's sync round (push, then pull of its own echo) and B's round
 * (pull, applied to IndexedDB). Baseline in the same run: the same pushes and pulls as
 * bare `fetch` calls from the page, without storage.
 */
async function syncBenchmark(browser, database, serverArgs) {
  const server = await startServer({
    staticDir: process.env.CAIRN_BENCH_PAGE,
    args: ['--auth-rate-per-minute', '0', '--user-rate-per-minute', '0', ...serverArgs],
  });
  try {
    const a = await benchPage(browser, server.url);
    const b = await benchPage(browser, server.url);
    const times = { total: [], a: [], b: [], raw: [], rawPush: [], rawPull: [] };
    for (let run = 0; run < SYNC_RUNS; run++) {
      const email = `bench-${database}-${run}-${Date.now()}@example.org`;
      const [dbA, dbB] = [`sync-a-${database}-${run}`, `sync-b-${database}-${run}`];
      await a.page.evaluate((args) => bench.cairn.sync_sign_in(...args, true), [dbA, email, PASSWORD]);
      await b.page.evaluate((args) => bench.cairn.sync_sign_in(...args, false), [dbB, email, PASSWORD]);
      await a.page.evaluate((args) => bench.cairn.fill(...args), [dbA, SYNC_N]);
      const [aMs, pushed] = await a.page.evaluate((db) => bench.cairn.sync_round(db), dbA);
      const [bMs, , pulled] = await b.page.evaluate((db) => bench.cairn.sync_round(db), dbB);
      if (pushed !== SYNC_N || pulled !== SYNC_N) throw new Error(`pushed ${pushed}, pulled ${pulled}; expected ${SYNC_N}`);
      times.a.push(aMs);
      times.b.push(bMs);
      times.total.push(aMs + bMs);

      // Baseline: the same records as bare HTTP, another fresh account.
      const rawEmail = `raw-${email}`;
      const [rawPushMs, rawPullMs] = await a.page.evaluate(
        async ([email, password, n]) => {
          const json = (r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); };
          const { token } = await fetch('/api/v1/accounts', {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
          }).then(json);
          const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
          const bodies = bench.cairn.push_payloads(n, 500);
          let start = performance.now();
          for (const body of bodies) await fetch('/api/v1/sync/push', { method: 'POST', headers, body }).then(json);
          const pushMs = performance.now() - start;
          start = performance.now();
          let since = 0;
          let count = 0;
          for (;;) {
            const page = await fetch(`/api/v1/sync/pull?since=${since}&limit=1000`, { headers }).then(json);
            count += page.records.length;
            since = page.cursor;
            if (!page.more) break;
          }
          if (count !== n) throw new Error(`pulled ${count}`);
          return [pushMs, performance.now() - start];
        },
        [rawEmail, PASSWORD, SYNC_N],
      );
      times.rawPush.push(rawPushMs);
      times.rawPull.push(rawPullMs);
      times.raw.push(rawPushMs + rawPullMs);
    }
    const kase = `sync_10k_a_to_b_${database}`;
    record('sync', kase, 'cairn', 'median_ms', median(times.total), SYNC_RUNS);
    record('sync', kase, 'cairn-device-a-round', 'median_ms', median(times.a), SYNC_RUNS);
    record('sync', kase, 'cairn-device-b-round', 'median_ms', median(times.b), SYNC_RUNS);
    record('sync', kase, 'raw-http', 'median_ms', median(times.raw), SYNC_RUNS);
    record('sync', kase, 'raw-http-push', 'median_ms', median(times.rawPush), SYNC_RUNS);
    record('sync', kase, 'raw-http-pull', 'median_ms', median(times.rawPull), SYNC_RUNS);
    await a.context.close();
    await b.context.close();
  } finally {
    await server.stop();
  }
}

const LIVE_EDITS = 50;

/**
 * A device for the live benchmark: the app (CAIRN_DIST, served by `url`) in a fresh
 * context with the periodic round an hour away (so only the change stream brings edits),
 * instrumented in both directions with one clock for every page of the browser
 * (`performance.timeOrigin + performance.now()`, in ms since the Unix epoch):
 * - `window.__commits`: the moments this page's store committed a change of the note
 *   (the store's cross-tab notice on BroadcastChannel `cairn-store:cairn`, which it posts
 *   right after the transaction completed, heard by another channel of the same page);
 * - `window.__rendered(text)`: resolves with the moment the note's field was given
 *   `text` (the value setter of `<textarea>`, which the app's render calls).
 */
async function liveDevice(browser, url) {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    localStorage.setItem('cairn.sync_every_ms', '3600000');
    const now = () => performance.timeOrigin + performance.now();
    window.__commits = [];
    new BroadcastChannel('cairn-store:cairn').onmessage = (event) => {
      const at = now();
      if (event.data?.changes?.some((c) => c.collection === 'notes' && c.id === 'scratchpad')) window.__commits.push(at);
    };
    const waiting = new Map();
    window.__rendered = (text) => new Promise((resolve) => waiting.set(text, resolve));
    const value = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value');
    Object.defineProperty(HTMLTextAreaElement.prototype, 'value', {
      ...value,
      set(text) {
        value.set.call(this, text);
        const resolve = this.id === 'scratchpad' && waiting.get(text);
        if (resolve) {
          waiting.delete(text);
          resolve(now());
        }
      },
    });
  });
  const page = await context.newPage();
  await page.goto(`${url}/settings`);
  await page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
  return { context, page };
}

/** Waits until `page`'s sync badge says no round runs and nothing waits to be pushed. */
const settled = (page) =>
  page.waitForFunction(() => {
    const text = document.querySelector('#sync-badge')?.textContent ?? '';
    return text.startsWith('Synced') && !text.includes('waiting');
  });

/**
 * Live sync: the time from A's local commit of an edit of the note to B showing it,
 * over LIVE_EDITS edits one after another (each once both devices settled), with A on
 * `urlA` and B on `urlB` (two server instances on one database, or the same server).
 * The edit is saved at once (Ctrl+S flushes the field's debounce), so the input debounce
 * is not in the numbers. Baseline in the same run, on another account: the protocol's
 * floor, a bare `fetch` push from A's page, then the event arriving on a change stream
 * read by B's page, then B's bare pull of the change (the least a device can do to have
 * it), from the push's start.
 */
async function liveBenchmark(browser, kase, urlA, urlB) {
  const a = await liveDevice(browser, urlA);
  const b = await liveDevice(browser, urlB);
  try {
    const email = `live-${kase}-${Date.now()}@example.org`;
    const signIn = async (page, create) => {
      await page.getByLabel('E-mail').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: create ? 'Create account' : 'Sign in' }).click();
      await page.locator('#sync-account').getByText(email).waitFor();
      await page.locator('#sync-live').waitFor();
    };
    await signIn(a.page, true);
    await signIn(b.page, false);
    for (const { page } of [a, b]) {
      await page.getByRole('link', { name: 'Home' }).first().click();
      await page.locator('#scratchpad:not([disabled])').waitFor();
    }
    const field = a.page.getByLabel('Note', { exact: true });
    const latencies = [];
    for (let i = 0; i <= LIVE_EDITS; i++) {
      await settled(a.page);
      await settled(b.page);
      const text = `live edit ${i} of ${kase}`;
      // B listens before A types (a promise kept in B's page).
      await b.page.evaluate((text) => {
        window.__shown = window.__rendered(text);
      }, text);
      await a.page.evaluate(() => (window.__commits = []));
      await field.fill(text);
      await field.press('Control+s');
      const renderedAt = await b.page.evaluate(() => window.__shown);
      const committedAt = await a.page.evaluate(() => window.__commits[0]);
      if (committedAt === undefined) throw new Error(`edit ${i}: no commit notice on A`);
      // The first edit warms up both pages (the sync module, connections): not counted.
      if (i > 0) latencies.push(renderedAt - committedAt);
    }

    // Baseline: bare HTTP and a bare stream, on another account.
    const rawEmail = `raw-${email}`;
    const token = await a.page.evaluate(async ([email, password]) => {
      const r = await fetch('/api/v1/accounts', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
      });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return (await r.json()).token;
    }, [rawEmail, PASSWORD]);
    await b.page.evaluate(async (token) => {
      const now = () => performance.timeOrigin + performance.now();
      const headers = { authorization: `Bearer ${token}` };
      const response = await fetch('/api/v1/sync/events', { headers });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let first = true;
      let since = 0;
      let next;
      window.__rawNext = () => new Promise((resolve) => (next = resolve));
      const opened = window.__rawNext();
      (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = event.split('\n').find((l) => l.startsWith('data:'));
            if (!data) continue;
            const { cursor } = JSON.parse(data.slice(5));
            if (first) {
              first = false;
              since = cursor;
              next([0, 0]);
              continue;
            }
            const eventAt = now();
            const page = await fetch(`/api/v1/sync/pull?since=${since}&limit=1000`, { headers }).then((r) => r.json());
            since = page.cursor;
            next(page.records.length ? [eventAt, now()] : 'an event, but nothing to pull');
          }
        }
      })();
      await opened;
    }, token);
    const raw = { event: [], pull: [] };
    for (let i = 0; i <= LIVE_EDITS; i++) {
      await b.page.evaluate(() => {
        window.__rawHeard = window.__rawNext();
      });
      const startedAt = await a.page.evaluate(async ([token, i]) => {
        const startedAt = performance.timeOrigin + performance.now();
        const hlc = `${Date.now().toString(16).padStart(12, '0')}-00000000-raw`;
        const body = JSON.stringify({
          protocol: 2, device_id: 'raw',
          changes: [{ collection: 'notes', id: `raw-${i}`, value: `raw edit ${i}`, hlc, deleted: false, base: null }],
        });
        const r = await fetch('/api/v1/sync/push', {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body,
        });
        const reply = await r.json();
        if (!r.ok || reply.superseded?.length || reply.refused?.length) throw new Error(`push ${i}: ${JSON.stringify(reply)}`);
        return startedAt;
      }, [token, i]);
      const heard = await b.page.evaluate(() => window.__rawHeard);
      if (typeof heard === 'string') throw new Error(`raw edit ${i}: ${heard}`);
      const [eventAt, pulledAt] = heard;
      if (i > 0) {
        raw.event.push(eventAt - startedAt);
        raw.pull.push(pulledAt - startedAt);
      }
    }
    const stats = (xs) => [median(xs), p95(xs)];
    for (const [impl, xs] of [['cairn', latencies], ['raw-push-event-pull', raw.pull], ['raw-push-to-event', raw.event]]) {
      const [p50, p95ms] = stats(xs);
      record('live', kase, impl, 'p50_ms', p50, xs.length);
      record('live', kase, impl, 'p95_ms', p95ms, xs.length);
    }
  } finally {
    await a.context.close();
    await b.context.close();
  }
}

/**
 * express-pouchdb (PouchDB's CouchDB-style HTTP server, on LevelDB files in a temp dir)
 * at `/db` on 127.0.0.1, in this process, with the benchmark page beside it (same origin).
 */
async function startPouchServer(pageDir) {
  const express = require('express');
  const expressPouchDB = require('express-pouchdb');
  const PouchDB = require('pouchdb-node');
  const data = mkdtempSync(join(tmpdir(), 'cairn-bench-pouchdb-'));
  const Pouch = PouchDB.defaults({ prefix: `${data}/` });
  const app = express();
  app.use(
    '/db',
    expressPouchDB(Pouch, {
      mode: 'minimumForPouchDB',
      inMemoryConfig: true,
      logPath: join(data, 'log.txt'),
    }),
  );
  app.use(express.static(pageDir));
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/**
 * The JS peer of the sync case: device A (a fresh context) holds SYNC_N documents in
 * PouchDB and replicates them to express-pouchdb; then device B (another fresh context,
 * empty) replicates them from it. Batches as Cairn's: 500 up, 1,000 down.
 */
async function pouchSyncBenchmark(browser) {
  const server = await startPouchServer(process.env.CAIRN_BENCH_PAGE);
  try {
    const times = { total: [], push: [], pull: [] };
    for (let run = 0; run < SYNC_RUNS; run++) {
      const remote = `bench-${run}-${Date.now()}`;
      const [a, b] = [await pouchPage(browser, server.url), await pouchPage(browser, server.url)];
      await a.page.evaluate((args) => bench.pouch.fill(...args), ['pouch-a', SYNC_N]);
      const [pushMs, pushed] = await a.page.evaluate((args) => bench.pouch.replicate(...args), ['pouch-a', remote, 'to', 500]);
      const [pullMs, pulled, held] = await b.page.evaluate((args) => bench.pouch.replicate(...args), ['pouch-b', remote, 'from', 1000]);
      if (pushed !== SYNC_N || pulled !== SYNC_N || held !== SYNC_N) {
        throw new Error(`PouchDB pushed ${pushed}, pulled ${pulled}, B holds ${held}; expected ${SYNC_N}`);
      }
      times.push.push(pushMs);
      times.pull.push(pullMs);
      times.total.push(pushMs + pullMs);
      await a.context.close();
      await b.context.close();
    }
    const kase = 'sync_10k_a_to_b_sqlite';
    record('sync', kase, 'pouchdb', 'median_ms', median(times.total), SYNC_RUNS);
    record('sync', kase, 'pouchdb-push', 'median_ms', median(times.push), SYNC_RUNS);
    record('sync', kase, 'pouchdb-pull', 'median_ms', median(times.pull), SYNC_RUNS);
  } finally {
    await server.stop();
  }
}

async function pouchPage(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}/pouch.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  return { context, page };
}

/** The body bytes the server sends for `path` with `Accept-Encoding: encoding`, undecoded. */
function transferred(url, path, encoding) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { headers: { 'accept-encoding': encoding } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => resolve([res.headers['content-encoding'] ?? '', bytes]));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The app's wasm as it travels: what a fresh browser context receives (Resource Timing's
 * encoded body size) must be the brotli copy's size, and a gzip-only client's the gzip
 * copy's: the server sends the precompressed files, not the raw wasm.
 */
async function transferSizeCheck(browser) {
  const dist = process.env.CAIRN_DIST;
  const wasm = readdirSync(dist).find((f) => /^cairn-[0-9a-f]{16}_bg\.wasm$/.test(f));
  if (!wasm) throw new Error(`no app wasm in ${dist}`);
  const size = (f) => statSync(join(dist, f)).size;
  const server = await startServer();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('#scratchpad').waitFor();
    const timing = await page.evaluate(
      (name) => performance.getEntriesByType('resource').find((e) => e.name.endsWith(`/${name}`))?.toJSON(),
      wasm,
    );
    await context.close();
    if (!timing) throw new Error(`the page did not load ${wasm}`);
    const [gzipEncoding, gzipBytes] = await transferred(server.url, `/${wasm}`, 'gzip');
    const checks = [
      ['browser (brotli)', timing.encodedBodySize, size(`${wasm}.br`)],
      ['decoded', timing.decodedBodySize, size(wasm)],
      [`gzip-only client (${gzipEncoding})`, gzipBytes, size(`${wasm}.gz`)],
    ];
    for (const [what, got, expected] of checks) {
      if (got !== expected) throw new Error(`app wasm, ${what}: ${got} bytes transferred, expected ${expected}`);
    }
    record('size', 'app_wasm_transfer', 'cairn-br', 'bytes', timing.encodedBodySize, 1);
    record('size', 'app_wasm_transfer', 'cairn-gzip', 'bytes', gzipBytes, 1);
    record('size', 'app_wasm_transfer', 'uncompressed', 'bytes', timing.decodedBodySize, 1);
  } finally {
    await server.stop();
  }
}

/**
 * The live cases: on SQLite (one server), on PostgreSQL (one server), and across two
 * server instances sharing the PostgreSQL database (A on one, B on the other).
 */
async function liveBenchmarks(browser) {
  const quiet = ['--auth-rate-per-minute', '0', '--user-rate-per-minute', '0'];
  const sqlite = await startServer({ args: quiet });
  try {
    await liveBenchmark(browser, 'commit_to_render_sqlite', sqlite.url, sqlite.url);
  } finally {
    await sqlite.stop();
  }
  const pgUrl = process.env.CAIRN_BENCH_POSTGRES_URL;
  if (!pgUrl) {
    console.error('CAIRN_BENCH_POSTGRES_URL is not set: the PostgreSQL live cases are skipped');
    return;
  }
  const one = await startServer({ args: [...quiet, '--database-url', pgUrl] });
  const two = await startServer({ args: [...quiet, '--database-url', pgUrl] });
  try {
    await liveBenchmark(browser, 'commit_to_render_postgres', one.url, one.url);
    await liveBenchmark(browser, 'commit_to_render_postgres_two_instances', one.url, two.url);
  } finally {
    await one.stop();
    await two.stop();
  }
}

const IMAGES = 20;
const IMAGE_BYTES = 1_000_000;

/**
 * Images end to end: device A adds IMAGES notes with one IMAGE_BYTES image each (noise,
 * like photos), its round uploads them and pushes the notes; device B pulls the notes
 * and fetches every image, as it does when they are first shown. Baseline in the same
 * run: the same bytes as bare `PUT`/`GET /api/v1/blobs/{hash}` calls from the page; peer:
 * PouchDB replicating the same notes with the images as attachments (push, then pull
 * into a fresh database).
 */
async function imagesBenchmark(browser) {
  const server = await startServer({
    staticDir: process.env.CAIRN_BENCH_PAGE,
    args: ['--auth-rate-per-minute', '0', '--user-rate-per-minute', '0'],
  });
  const times = { upload: [], download: [], rawUpload: [], rawDownload: [], pouchPush: [], pouchPull: [] };
  try {
    for (let run = 0; run < SYNC_RUNS; run++) {
      const a = await benchPage(browser, server.url);
      const b = await benchPage(browser, server.url);
      const email = `bench-images-${run}-${Date.now()}@example.org`;
      const [dbA, dbB] = [`images-a-${run}`, `images-b-${run}`];
      await a.page.evaluate((args) => bench.cairn.sync_sign_in(...args, true), [dbA, email, PASSWORD]);
      await b.page.evaluate((args) => bench.cairn.sync_sign_in(...args, false), [dbB, email, PASSWORD]);
      const hashes = await a.page.evaluate((args) => bench.cairn.images_add(...args), [dbA, IMAGES, IMAGE_BYTES]);
      const [upMs, pushed, , uploaded] = await a.page.evaluate((db) => bench.cairn.sync_round(db), dbA);
      if (pushed !== IMAGES || uploaded !== IMAGES) throw new Error(`pushed ${pushed} notes, uploaded ${uploaded} images; expected ${IMAGES}`);
      const [, , pulled] = await b.page.evaluate((db) => bench.cairn.sync_round(db), dbB);
      if (pulled !== IMAGES) throw new Error(`B pulled ${pulled} notes; expected ${IMAGES}`);
      const [downMs, bytes] = await b.page.evaluate((args) => bench.cairn.images_fetch(...args), [dbB, hashes]);
      if (bytes !== IMAGES * IMAGE_BYTES) throw new Error(`B fetched ${bytes} bytes`);
      times.upload.push(upMs);
      times.download.push(downMs);

      // Baseline: the same bytes as bare HTTP, another fresh account.
      const [rawUp, rawDown] = await a.page.evaluate(
        async ([email, password, n, size]) => {
          const json = (r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); };
          const { token } = await fetch('/api/v1/accounts', {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
          }).then(json);
          const auth = { authorization: `Bearer ${token}` };
          const files = [];
          for (let i = 0; i < n; i++) {
            const bytes = new Uint8Array(size);
            let a = i + 1;
            for (let j = 0; j < size; j += 4) {
              a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
              bytes[j] = a; bytes[j + 1] = a >>> 8; bytes[j + 2] = a >>> 16; bytes[j + 3] = a >>> 24;
            }
            const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((x) => x.toString(16).padStart(2, '0')).join('');
            // A Blob body, as the app uploads a stored image.
            files.push({ hash, bytes: new Blob([bytes], { type: 'image/jpeg' }) });
          }
          let start = performance.now();
          for (const { hash, bytes } of files) {
            await fetch(`/api/v1/blobs/${hash}`, { method: 'PUT', headers: { ...auth, 'content-type': 'image/jpeg' }, body: bytes }).then(json);
          }
          const up = performance.now() - start;
          start = performance.now();
          let total = 0;
          for (const { hash } of files) {
            const r = await fetch(`/api/v1/blobs/${hash}`, { headers: auth, cache: 'no-store' });
            if (!r.ok) throw new Error(`HTTP ${r.status}`);
            total += (await r.arrayBuffer()).byteLength;
          }
          if (total !== n * size) throw new Error(`downloaded ${total} bytes`);
          return [up, performance.now() - start];
        },
        [`raw-${email}`, PASSWORD, IMAGES, IMAGE_BYTES],
      );
      times.rawUpload.push(rawUp);
      times.rawDownload.push(rawDown);
      await a.context.close();
      await b.context.close();
    }
  } finally {
    await server.stop();
  }
  const pouch = await startPouchServer(process.env.CAIRN_BENCH_PAGE);
  try {
    for (let run = 0; run < SYNC_RUNS; run++) {
      const remote = `images-${run}-${Date.now()}`;
      const [a, b] = [await pouchPage(browser, pouch.url), await pouchPage(browser, pouch.url)];
      await a.page.evaluate((args) => bench.pouch.fillImages(...args), ['pouch-images-a', IMAGES, IMAGE_BYTES]);
      const [pushMs, pushed] = await a.page.evaluate((args) => bench.pouch.replicate(...args), ['pouch-images-a', remote, 'to', 5]);
      const [pullMs, pulled] = await b.page.evaluate((args) => bench.pouch.replicate(...args), ['pouch-images-b', remote, 'from', 5]);
      const held = await b.page.evaluate((name) => bench.pouch.attachmentBytes(name), 'pouch-images-b');
      if (pushed !== IMAGES || pulled !== IMAGES || held !== IMAGES * IMAGE_BYTES) {
        throw new Error(`PouchDB pushed ${pushed}, pulled ${pulled}, B holds ${held} bytes of attachments`);
      }
      times.pouchPush.push(pushMs);
      times.pouchPull.push(pullMs);
      await a.context.close();
      await b.context.close();
    }
  } finally {
    await pouch.stop();
  }
  const kase = `images_${IMAGES}x1mb_sqlite`;
  record('images', kase, 'cairn-upload', 'median_ms', median(times.upload), SYNC_RUNS);
  record('images', kase, 'cairn-download', 'median_ms', median(times.download), SYNC_RUNS);
  record('images', kase, 'raw-http-upload', 'median_ms', median(times.rawUpload), SYNC_RUNS);
  record('images', kase, 'raw-http-download', 'median_ms', median(times.rawDownload), SYNC_RUNS);
  record('images', kase, 'pouchdb-push', 'median_ms', median(times.pouchPush), SYNC_RUNS);
  record('images', kase, 'pouchdb-pull', 'median_ms', median(times.pouchPull), SYNC_RUNS);
}

/** Every group of cases, in the order `cargo xtask bench` runs them. */
const groups = {
  transfer: (browser) => transferSizeCheck(browser),
  sync: async (browser) => {
    await syncBenchmark(browser, 'sqlite', []);
    await pouchSyncBenchmark(browser);
    if (process.env.CAIRN_BENCH_POSTGRES_URL) {
      await syncBenchmark(browser, 'postgres', ['--database-url', process.env.CAIRN_BENCH_POSTGRES_URL]);
    } else {
      console.error('CAIRN_BENCH_POSTGRES_URL is not set: the PostgreSQL sync case is skipped');
    }
  },
  store: (browser) => storeBenchmarks(browser),
  app: (browser) => hydrationBenchmark(browser),
  sw: (browser) => workerBenchmarks(browser),
  live: (browser) => liveBenchmarks(browser),
  images: (browser) => imagesBenchmark(browser),
};

async function runGroups(browser, names = Object.keys(groups)) {
  for (const name of names) {
    if (!groups[name]) throw new Error(`no benchmark group ${name}; the groups: ${Object.keys(groups).join(', ')}`);
  }
  for (const name of names) await groups[name](browser);
}

// CAIRN_BENCH_ONLY=<group>[,<group>…] runs only those groups (names as in `groups`).
const only = process.env.CAIRN_BENCH_ONLY?.split(',').filter(Boolean);
const browser = await launchBrowser();
try {
  await runGroups(browser, only);
} finally {
  await browser.close();
}
for (const l of lines) console.log(`${l.bench.padEnd(6)} ${l.case.padEnd(34)} ${l.impl.padEnd(12)} ${l.metric.padEnd(10)} ${l.value}`);

// The Storage page: export and import (JSON and YAML), refusal of broken files, a large
// import with a moving progress bar, state kept across reloads, snapshots and clearing.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectErrors, noteLoaded, serverAndBrowserPerFile, serviceWorkerActivated, waitForStored } from './support.mjs';
import { imageShown } from './notes-ui.mjs';
import { png } from './png.mjs';

const env = serverAndBrowserPerFile();
const TIMEOUT = { timeout: 120_000 };
const FIXTURES = new URL('./fixtures/', import.meta.url);

/** A fresh browser profile with a page open on `path`. */
async function freshPage(path = '/storage', options = {}) {
  const context = await env.browser.newContext(options);
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${env.server.url}${path}`);
  return { context, page, errors };
}

/** Waits until the Storage page has counted what is stored. */
async function storageLoaded(page) {
  await page.getByRole('heading', { name: 'Storage', level: 1 }).waitFor();
  await page.locator('#usage-table, #usage-empty').first().waitFor();
}

async function openStorage(page) {
  await page.getByRole('navigation').getByRole('link', { name: 'Storage' }).click();
  await storageLoaded(page);
}

async function writeNote(page, text) {
  await page.getByRole('navigation').getByRole('link', { name: 'Home' }).first().click();
  await noteLoaded(page);
  await page.getByLabel('Note', { exact: true }).fill(text);
  await page.getByText(/^Saved at/).waitFor();
}

async function noteOf(page) {
  await page.getByRole('navigation').getByRole('link', { name: 'Home' }).first().click();
  await noteLoaded(page);
  return page.getByLabel('Note', { exact: true }).inputValue();
}

/** Every row of object store `store` of the app database, in key order. */
function allRows(page, store) {
  return page.evaluate(
    (store) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('cairn');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const get = db.transaction(store).objectStore(store).getAll();
          get.onsuccess = () => {
            db.close();
            resolve(get.result);
          };
          get.onerror = () => reject(get.error);
        };
      }),
    store,
  );
}

/** Puts records as they are into the app database (as if they came from sync), then reloads. */
async function seed(page, records) {
  await page.evaluate(
    (records) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('cairn');
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction('records', 'readwrite');
          for (const r of records) tx.objectStore('records').put(r);
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
        open.onerror = () => reject(open.error);
      }),
    records,
  );
  await page.reload();
}

/** Rows as sorted JSON with sorted object keys: key order in a stored object means nothing. */
function canonical(rows) {
  const sortKeys = (v) =>
    Array.isArray(v) ? v.map(sortKeys)
      : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]))
        : v;
  return rows.map((r) => JSON.stringify(sortKeys(r))).sort();
}

const hlc = (wall, counter = 0, device = 'e2e') =>
  `${wall.toString(16).padStart(12, '0')}-${counter.toString(16).padStart(8, '0')}-${device}`;

const SEEDED = [
  { collection: 'notes', id: 'n-1', value: { title: 'Grüße 👋', body: 'line 1\nline 2', tags: ['a', 'yes', 'null'] }, hlc: hlc(Date.now() - 60_000), deleted: false },
  { collection: 'notes', id: 'n-2', value: { n: 1.5, big: 12345678901234, nested: { deep: [true, false, null] } }, hlc: hlc(Date.now() - 50_000, 3), deleted: false },
  { collection: 'notes', id: 'gone', value: null, hlc: hlc(Date.now() - 40_000), deleted: true },
  { collection: 'conversations', id: 'c-1', value: { title: 'Chat', starred: true, messages: [{ role: 'user', text: 'hi: there' }] }, hlc: hlc(Date.now() - 30_000), deleted: false },
];

/** Clicks Export and returns the downloaded file's name and text. */
async function exportFile(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-button').click()]);
  const text = readFileSync(await download.path(), 'utf8');
  await page.locator('#export-result').getByText(/^Saved /).waitFor();
  return { name: download.suggestedFilename(), text };
}

/** Chooses a file for import: a path, or `{name, text}`. */
async function chooseFile(page, file) {
  const input = page.locator('#import-file');
  await input.setInputFiles(
    typeof file === 'string' ? file : { name: file.name, mimeType: 'application/octet-stream', buffer: Buffer.from(file.text) },
  );
}

/** Whether the page has fetched the on-demand YAML module (crates/yaml-module). */
function yamlModuleLoaded(page) {
  return page.evaluate(() =>
    performance.getEntriesByType('resource').some((e) => new URL(e.name).pathname === '/cairn_yaml_bg.wasm'),
  );
}

for (const format of ['JSON', 'YAML']) {
  test(`export to ${format}, then import into a fresh browser: the same data, exactly`, TIMEOUT, async () => {
    const a = await freshPage('/');
    const b = await freshPage('/storage');
    try {
      await writeNote(a.page, `exported note (${format})`);
      await openStorage(a.page);
      await seed(a.page, SEEDED);
      await storageLoaded(a.page);
      await a.page.locator('#usage-table tr[data-collection="conversations"]').waitFor();
      await a.page.getByLabel(format, { exact: true }).check();
      if (format === 'YAML') await waitForStored(a.page, 'ui', 'storage-export', (v) => v?.yaml === true);
      // What is stored when exporting (the export then records its time in `ui`).
      const exportedRows = await allRows(a.page, 'records');
      assert.equal(await yamlModuleLoaded(a.page), false, 'the first load has no YAML code');
      const file = await exportFile(a.page);
      assert.equal(await yamlModuleLoaded(a.page), format === 'YAML', 'only a YAML file loads the YAML module');
      assert.match(file.name, new RegExp(`^cairn-backup-.*\\.${format.toLowerCase()}$`));
      if (format === 'JSON') {
        const parsed = JSON.parse(file.text);
        assert.equal(parsed.format, 'cairn-backup');
        assert.equal(parsed.version, 3);
        assert.ok(parsed.app_version && parsed.exported_at_ms > 0);
      } else {
        assert.match(file.text, /^format: cairn-backup$/m);
      }

      await storageLoaded(b.page);
      await chooseFile(b.page, file);
      // Notes (3 live, 1 deleted), a conversation, and with YAML the export choice (ui).
      const [live, all] = format === 'JSON' ? [4, 5] : [5, 6];
      await b.page.locator('#plan-merge').getByText(`add ${live}, update 0, delete 0`).waitFor();
      await b.page.locator('#import-merge').click();
      await b.page.locator('#import-summary').getByText(`Merged: ${all} record(s) written`).waitFor();

      assert.equal(await yamlModuleLoaded(b.page), format === 'YAML');
      assert.deepEqual(canonical(await allRows(b.page, 'records')), canonical(exportedRows));
      // Imported changes are queued for sync.
      assert.equal((await allRows(b.page, 'outbox')).length, all);
      assert.equal(await noteOf(b.page), `exported note (${format})`);
      assert.deepEqual([...a.errors, ...b.errors], []);
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
}

test(
  "a note's image goes into the backup and comes back, the same bytes, in a fresh browser",
  TIMEOUT,
  async () => {
    const a = await freshPage('/notes');
    const b = await freshPage('/storage');
    try {
      const red = png(8, 6, [200, 30, 30]);
      await a.page.locator('#notes-empty').waitFor();
      await a.page.getByRole('button', { name: 'New note' }).click();
      await a.page.waitForURL(/\/notes\/[0-9a-f]{16}$/);
      const id = new URL(a.page.url()).pathname.split('/').pop();
      await a.page.locator('#note-title:not([disabled])').waitFor();
      await a.page.getByLabel('Title', { exact: true }).fill('With a picture');
      await a.page.locator('#note-images-input').setInputFiles([{ name: 'red.png', mimeType: 'image/png', buffer: red }]);
      const stored = await waitForStored(a.page, 'notes', id, (v) => v?.title === 'With a picture' && v?.blobs?.length === 1);
      await openStorage(a.page);
      const file = await exportFile(a.page);
      await a.page.locator('#export-result').getByText(/1 image\(s\)/).waitFor();
      assert.equal(await a.page.locator('#export-left-out').count(), 0);
      const parsed = JSON.parse(file.text);
      assert.equal(parsed.version, 3);
      assert.equal(parsed.blobs.length, 1);
      assert.equal(parsed.blobs[0].hash, stored.blobs[0]);
      assert.equal(parsed.blobs[0].type, 'image/png');
      assert.equal(parsed.blobs[0].size, red.length);
      assert.deepEqual(Buffer.from(parsed.blobs[0].data, 'base64'), red);

      await storageLoaded(b.page);
      await chooseFile(b.page, file);
      await b.page.locator('#import-images-info').getByText(/It brings 1 image\(s\)/).waitFor();
      await b.page.locator('#import-merge').click();
      await b.page.locator('#import-images').getByText('1 image(s) stored (0 were on this device already).').waitFor();
      await b.page.goto(`${env.server.url}/notes/${id}`);
      await imageShown(b.page, 'red.png', 8);
      assert.deepEqual([...a.errors, ...b.errors], []);
    } finally {
      await a.context.close();
      await b.context.close();
    }
  },
);

test('secrets go into a backup only encrypted with a passphrase, and come back with it', TIMEOUT, async () => {
  const a = await freshPage('/settings');
  const b = await freshPage('/storage');
  try {
    await a.page.getByRole('textbox', { name: 'API key' }).fill('sk-live-secret-9876wxyz');
    await a.page.getByRole('button', { name: 'Save key' }).click();
    await a.page.locator('#api-key-state').getByText('A key ending in “wxyz” is saved.').waitFor();
    await openStorage(a.page);
    await storageLoaded(a.page);

    // Without "include secrets" the key is not in the file at all.
    const plain = await exportFile(a.page);
    assert.ok(!plain.text.includes('api_key') && !plain.text.includes('9876wxyz'));

    await a.page.getByLabel('Include secrets (encrypted)').check();
    await a.page.getByLabel('Passphrase', { exact: true }).fill('a long passphrase');
    await a.page.getByLabel('Passphrase again').fill('a long passphrase');
    const sealed = await exportFile(a.page);
    assert.ok(!sealed.text.includes('9876wxyz'), 'the key is encrypted in the file');

    await storageLoaded(b.page);
    await chooseFile(b.page, sealed);
    await b.page.getByLabel(/^Passphrase for the 1 secret/).fill('a long passphrase');
    await b.page.locator('#import-merge').click();
    await b.page.locator('#import-summary').waitFor();
    await b.page.goto(b.page.url().replace('/storage', '/settings'));
    await b.page.locator('#api-key-state').getByText('A key ending in “wxyz” is saved.').waitFor();
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a truncated file, another format and a file with one invalid record are refused and change nothing', TIMEOUT, async () => {
  const { context, page, errors } = await freshPage('/');
  try {
    await writeNote(page, 'keep me');
    await openStorage(page);
    const exported = await exportFile(page);
    const before = { records: await allRows(page, 'records'), outbox: await allRows(page, 'outbox') };

    const invalid = JSON.parse(exported.text);
    invalid.records.push({ collection: 'Not A Name', id: 'x', value: 1, hlc: hlc(1000), deleted: false });
    invalid.record_count += 1;
    const cases = [
      { file: { name: 'cut.json', text: exported.text.slice(0, Math.floor(exported.text.length / 2)) }, message: /cut off/ },
      { file: join(FIXTURES.pathname, 'not-a-backup.json'), message: /not a Cairn backup/ },
      // Read by the on-demand YAML module: its error is the same as a built-in reader's.
      { file: { name: 'broken.yaml', text: 'format: cairn-backup\nrecords: [unclosed\n' }, message: /not valid YAML \(or JSON\)/ },
      // Last: its list of rejected records is checked below.
      { file: { name: 'one-bad.json', text: JSON.stringify(invalid) }, message: /1 record\(s\) are invalid/ },
    ];
    for (const { file, message } of cases) {
      await chooseFile(page, file);
      const status = page.locator('#import-status[role="alert"]');
      await status.getByText(message).waitFor();
      await status.getByText('Nothing was changed.').waitFor();
      assert.equal(await page.locator('#import-merge').count(), 0, 'no way to import it');
    }
    await page.locator('#import-rejects').getByText(/Not A Name/).waitFor();
    assert.deepEqual({ records: await allRows(page, 'records'), outbox: await allRows(page, 'outbox') }, before);
    assert.equal(await noteOf(page), 'keep me');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a YAML file imports offline: the YAML module comes from the worker\'s cache', TIMEOUT, async () => {
  const { context, page, errors } = await freshPage('/');
  try {
    await serviceWorkerActivated(page);
    await page.reload();
    await writeNote(page, 'written before going offline');
    await openStorage(page);
    const exported = await exportFile(page);
    await context.setOffline(true);
    await writeNote(page, 'changed offline');
    await openStorage(page);
    assert.equal(await yamlModuleLoaded(page), false);
    // A JSON document after a YAML document marker is YAML: the module must read it.
    await chooseFile(page, { name: 'offline.yaml', text: `---\n${exported.text}` });
    await page.locator('#plan-replace').getByText(/update [1-9]/).waitFor();
    assert.equal(await yamlModuleLoaded(page), true);
    await page.locator('#import-replace').click();
    await page.locator('#import-replace-confirm').click();
    await page.locator('#import-summary').getByText(/^Replaced/).waitFor();
    assert.equal(await noteOf(page), 'written before going offline');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a backup of format version 1 is converted and imported', TIMEOUT, async () => {
  const { context, page, errors } = await freshPage('/storage');
  try {
    await storageLoaded(page);
    await chooseFile(page, join(FIXTURES.pathname, 'backup-v1.json'));
    await page.locator('#import-file-info').getByText(/format version 1, converted/).waitFor();
    await page.locator('#plan-merge').getByText('add 2, update 0, delete 0').waitFor();
    await page.locator('#import-merge').click();
    await page.locator('#import-summary').getByText('Merged: 3 record(s) written').waitFor();
    assert.equal(await noteOf(page), 'written with Cairn 0.0.9');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

/** A value in the app database's `meta` store. */
function metaValue(page, key) {
  return page.evaluate(
    (key) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('cairn');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const get = db.transaction('meta').objectStore('meta').get(key);
          get.onsuccess = () => {
            db.close();
            resolve(get.result);
          };
          get.onerror = () => reject(get.error);
        };
      }),
    key,
  );
}

test('an automatic snapshot is taken after N minutes of visible use', TIMEOUT, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);
  // Fake timers (and Date) that still flow with real time; runFor jumps ahead.
  await page.clock.install();
  try {
    await page.goto(`${env.server.url}/`);
    await writeNote(page, 'kept automatically');
    await openStorage(page);
    await page.getByLabel('Take one every (minutes of use)').fill('1');
    await page.getByLabel('Take one every (minutes of use)').press('Tab');
    await waitForStored(page, 'prefs', 'snapshots', (v) => v?.every_minutes === 1);
    const automatic = page.locator('#snapshot-list li.snapshot', { hasText: 'automatic' });
    for (let tick = 0; tick < 8 && (await automatic.count()) === 0; tick += 1) {
      const used = (await metaValue(page, 'snapshot_use_ms')) ?? 0;
      await page.clock.runFor(15_000);
      // Wait for the tick's own work: the use count moves on (or restarts after a snapshot).
      await page.waitForFunction(
        async ([used]) => {
          const value = await new Promise((resolve) => {
            const open = indexedDB.open('cairn');
            open.onsuccess = () => {
              const get = open.result.transaction('meta').objectStore('meta').get('snapshot_use_ms');
              get.onsuccess = () => {
                open.result.close();
                resolve(get.result ?? 0);
              };
            };
          });
          return value !== used;
        },
        [used],
        { polling: 50 },
      );
    }
    await automatic.first().waitFor();
    // The note and the snapshot settings (prefs).
    assert.match(await automatic.first().textContent(), /2 record\(s\)/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a 5 MB backup imports in batches with the progress bar moving', TIMEOUT, async () => {
  const { context, page, errors } = await freshPage('/storage');
  try {
    await storageLoaded(page);
    const now = Date.now() - 3_600_000;
    const records = Array.from({ length: 5000 }, (_, i) => ({
      collection: 'notes',
      id: `bulk-${String(i).padStart(5, '0')}`,
      value: { title: `Note ${i}`, body: 'x'.repeat(900) },
      hlc: hlc(now + i),
      deleted: false,
    }));
    const text = JSON.stringify({
      format: 'cairn-backup', version: 2, app_version: 'e2e', exported_at_ms: now, device_id: 'e2e',
      collections: ['notes'], record_count: records.length, records, end_of_backup: true,
    });
    assert.ok(text.length > 5_000_000, `${text.length} bytes`);

    // Every value the progress bar shows, as the DOM changes.
    await page.evaluate(() => {
      window.progressValues = [];
      new MutationObserver(() => {
        const bar = document.querySelector('#import-progress');
        if (bar) window.progressValues.push([Number(bar.getAttribute('value')), Number(bar.getAttribute('max'))]);
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value', 'max'] });
    });
    await chooseFile(page, { name: 'big.json', text });
    await page.locator('#plan-merge').getByText(/add 5000/).waitFor({ timeout: 60_000 });
    await page.locator('#import-merge').click();
    await page.locator('#import-summary').getByText(/Merged: 5000 record\(s\) written/).waitFor({ timeout: 90_000 });

    const seen = await page.evaluate(() => window.progressValues);
    const intermediate = new Set(seen.filter(([v, max]) => max === 5000 && v > 0 && v < 5000).map(([v]) => v));
    assert.ok(intermediate.size >= 2, `intermediate values: ${[...intermediate]}`);
    assert.equal((await allRows(page, 'records')).length, 5000);
    await page.locator('#usage-table tr[data-collection="notes"] td.records').getByText('5000').waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('the Storage page loads directly and keeps its settings across a reload', TIMEOUT, async () => {
  const { context, page, errors } = await freshPage('/');
  try {
    await writeNote(page, 'something');
    await page.goto(`${env.server.url}/storage`);
    await storageLoaded(page);
    await page.getByLabel('YAML', { exact: true }).check();
    await page.getByLabel('All data').uncheck();
    await page.locator('#export-collection-notes').check();
    await page.getByLabel('Take one every (minutes of use)').fill('7');
    await page.getByLabel('Take one every (minutes of use)').press('Tab');
    await page.getByLabel('Keep the newest').fill('3');
    await page.getByLabel('Keep the newest').press('Tab');
    await waitForStored(page, 'prefs', 'snapshots', (v) => v?.every_minutes === 7 && v?.keep === 3);
    await waitForStored(page, 'ui', 'storage-export', (v) => v?.yaml === true && v?.all === false && v?.chosen?.includes('notes'));

    await page.reload();
    await storageLoaded(page);
    assert.equal(await page.getByLabel('YAML', { exact: true }).isChecked(), true);
    assert.equal(await page.getByLabel('All data').isChecked(), false);
    assert.equal(await page.locator('#export-collection-notes').isChecked(), true);
    assert.equal(await page.getByLabel('Take one every (minutes of use)').inputValue(), '7');
    assert.equal(await page.getByLabel('Keep the newest').inputValue(), '3');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a snapshot is listed, restores the data as it was, and can be deleted', TIMEOUT, async () => {
  const { context, page, errors } = await freshPage('/');
  try {
    await writeNote(page, 'before the snapshot');
    await openStorage(page);
    await page.getByRole('button', { name: 'Take a snapshot now' }).click();
    const item = page.locator('#snapshot-list li.snapshot');
    await item.first().waitFor();
    assert.equal(await item.count(), 1);
    assert.match(await item.textContent(), /1 record\(s\)/);

    await writeNote(page, 'after the snapshot');
    await openStorage(page);
    await item.getByRole('button', { name: /^Restore/ }).click();
    await item.getByRole('button', { name: 'Yes, restore' }).click();
    await page.locator('#snapshot-restored').waitFor();
    assert.equal(await noteOf(page), 'before the snapshot');

    await openStorage(page);
    await item.getByRole('button', { name: /^Delete/ }).click();
    await item.getByRole('button', { name: 'Yes, delete' }).click();
    await page.locator('#snapshot-empty').waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('clearing a collection deletes its records as queued tombstones; the outbox stays consistent', TIMEOUT, async () => {
  const { context, page, errors } = await freshPage('/');
  try {
    await writeNote(page, 'to be cleared');
    await openStorage(page);
    await seed(page, SEEDED);
    await storageLoaded(page);
    await page.locator('#usage-table tr[data-collection="conversations"]').waitFor();
    await page.locator('#clear-notes').check();
    await page.getByRole('button', { name: 'Clear selected…' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.locator('#clear-message').getByText('Cleared 3 records from notes.').waitFor();

    const records = await allRows(page, 'records');
    const notes = records.filter((r) => r.collection === 'notes');
    assert.ok(notes.length === 4 && notes.every((r) => r.deleted && r.value === null));
    assert.ok(records.some((r) => r.collection === 'conversations' && !r.deleted), 'other collections stay');
    const byKey = new Map(records.map((r) => [`${r.collection}/${r.id}`, r]));
    for (const entry of await allRows(page, 'outbox')) {
      assert.equal(byKey.get(`${entry.collection}/${entry.id}`)?.hlc, entry.hlc, 'each outbox entry names a stored record');
    }
    assert.equal(await noteOf(page), '');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

for (const [name, width, height] of [
  ['phone', 360, 640],
  ['desktop', 1280, 800],
]) {
  test(`the Storage page on a ${name} (${width}×${height})`, TIMEOUT, async () => {
    const { context, page, errors } = await freshPage('/', { viewport: { width, height } });
    try {
      await writeNote(page, 'a note');
      await page.goto(`${env.server.url}/storage`);
      await storageLoaded(page);
      await page.locator('#quota-text').waitFor();
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing wider than the screen');
      const artifacts = process.env.CAIRN_E2E_ARTIFACTS;
      if (artifacts) {
        mkdirSync(artifacts, { recursive: true });
        await page.screenshot({ path: join(artifacts, `storage-${width}x${height}.png`), fullPage: true });
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
}

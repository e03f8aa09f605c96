// The baseline: the same benchmark cases as crates/client/examples/store_bench.rs, written
// directly against IndexedDB, storing the same rows (record with its clock) with the same
// key path. Each returns the milliseconds spent in IndexedDB calls only.

const BODY =
  'Cairn keeps every note on the device first and syncs it later. This body ' +
  'stands in for a short paragraph a person would type: a few sentences, ' +
  'some punctuation, nothing that compresses unusually well or badly.';

const row = (i) => ({
  collection: 'notes',
  id: `n${String(i).padStart(5, '0')}`,
  value: { title: `Note ${i}`, body: BODY, tags: ['bench', 'cairn'], n: i },
  hlc: `${(1_700_000_000_000 + i).toString(16).padStart(12, '0')}-00000000-bench`,
  deleted: false,
});

const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

const done = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });

async function fresh(name) {
  await request(indexedDB.deleteDatabase(name));
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => {
    open.result.createObjectStore('records', { keyPath: ['collection', 'id'] });
    open.result.createObjectStore('outbox', { keyPath: ['collection', 'id'] });
  };
  return request(open);
}

export async function bulkWrite(name, n) {
  const db = await fresh(name);
  const rows = Array.from({ length: n }, (_, i) => row(i));
  const start = performance.now();
  const tx = db.transaction('records', 'readwrite');
  const store = tx.objectStore('records');
  for (const r of rows) store.put(r);
  await done(tx);
  const ms = performance.now() - start;
  db.close();
  return ms;
}

/** The same work as Cairn's `write_many`: each record plus its outbox entry, one transaction. */
export async function bulkWriteWithOutbox(name, n) {
  const db = await fresh(name);
  const rows = Array.from({ length: n }, (_, i) => row(i));
  const start = performance.now();
  const tx = db.transaction(['records', 'outbox'], 'readwrite');
  const [records, outbox] = [tx.objectStore('records'), tx.objectStore('outbox')];
  for (const r of rows) {
    records.put(r);
    outbox.put({ collection: r.collection, id: r.id, hlc: r.hlc, queued_at_ms: Date.now() });
  }
  await done(tx);
  const ms = performance.now() - start;
  db.close();
  return ms;
}

export async function readAll(name, n) {
  const db = await request(indexedDB.open(name));
  const start = performance.now();
  const range = IDBKeyRange.bound(['notes', ''], ['notes', []], false, true);
  const rows = await request(db.transaction('records').objectStore('records').getAll(range));
  const ms = performance.now() - start;
  db.close();
  if (rows.length !== n) throw new Error(`read ${rows.length} records, expected ${n}`);
  return ms;
}

export async function sequentialWrites(name, n) {
  const db = await fresh(name);
  const times = [];
  for (let i = 0; i < n; i++) {
    const r = row(i);
    const start = performance.now();
    const tx = db.transaction('records', 'readwrite');
    tx.objectStore('records').put(r);
    await done(tx);
    times.push(performance.now() - start);
  }
  db.close();
  return times;
}

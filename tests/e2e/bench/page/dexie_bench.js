// A JS peer: the same store benchmark cases as raw_idb.js, through Dexie (the npm package
// pinned in tests/e2e/package.json, copied beside this file by `cargo xtask bench`).
// Same rows, same compound primary key; each returns the milliseconds spent in Dexie
// calls only.
import Dexie from './dexie.mjs';

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

function open(name) {
  const db = new Dexie(name);
  db.version(1).stores({ records: '[collection+id]' });
  return db;
}

async function fresh(name) {
  await Dexie.delete(name);
  const db = open(name);
  await db.open();
  return db;
}

/** `bulkPut` of n rows: one transaction, as Dexie does it. */
export async function bulkWrite(name, n) {
  const db = await fresh(name);
  const rows = Array.from({ length: n }, (_, i) => row(i));
  const start = performance.now();
  await db.records.bulkPut(rows);
  const ms = performance.now() - start;
  db.close();
  return ms;
}

/** Every row of the collection, by a compound-key range. */
export async function readAll(name, n) {
  const db = open(name);
  await db.open();
  const start = performance.now();
  const rows = await db.records
    .where('[collection+id]')
    .between(['notes', Dexie.minKey], ['notes', Dexie.maxKey])
    .toArray();
  const ms = performance.now() - start;
  db.close();
  if (rows.length !== n) throw new Error(`read ${rows.length} records, expected ${n}`);
  return ms;
}

/** n `put`s one after the other, each awaited (each its own transaction). */
export async function sequentialWrites(name, n) {
  const db = await fresh(name);
  const times = [];
  for (let i = 0; i < n; i++) {
    const r = row(i);
    const start = performance.now();
    await db.records.put(r);
    times.push(performance.now() - start);
  }
  db.close();
  return times;
}

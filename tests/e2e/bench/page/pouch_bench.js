// A JS peer for the end-to-end sync case: PouchDB in the page (pouchdb-browser, bundled
// into pouchdb.mjs by `cargo xtask bench`) replicating through express-pouchdb on
// 127.0.0.1, which also serves this page (same origin). The same documents as Cairn's
// case: 10,000 notes of the same value, ~300 bytes of JSON each.
import PouchDB from './pouchdb.mjs';

const BODY =
  'Cairn keeps every note on the device first and syncs it later. This body ' +
  'stands in for a short paragraph a person would type: a few sentences, ' +
  'some punctuation, nothing that compresses unusually well or badly.';

const doc = (i) => ({
  _id: `notes:n${String(i).padStart(5, '0')}`,
  title: `Note ${i}`,
  body: BODY,
  tags: ['bench', 'cairn'],
  n: i,
});

const remote = (name) => `${location.origin}/db/${name}`;

/** A fresh local database holding n documents (not timed: the changes device A made). */
export async function fill(name, n) {
  await new PouchDB(name).destroy();
  const db = new PouchDB(name);
  await db.bulkDocs(Array.from({ length: n }, (_, i) => doc(i)));
  await db.close();
}

/**
 * One replication of the local database `name` to (`to`) or from the server's
 * `remoteName`, in batches of `batchSize`; the milliseconds and the documents written.
 */
export async function replicate(name, remoteName, direction, batchSize) {
  if (direction === 'from') await new PouchDB(name).destroy();
  const db = new PouchDB(name);
  const start = performance.now();
  const result =
    direction === 'to'
      ? await db.replicate.to(remote(remoteName), { batch_size: batchSize })
      : await db.replicate.from(remote(remoteName), { batch_size: batchSize });
  const ms = performance.now() - start;
  const { doc_count: docs } = await db.info();
  await db.close();
  if (!result.ok) throw new Error(`replication ${direction} failed: ${JSON.stringify(result.errors)}`);
  return [ms, result.docs_written, docs];
}

/** `bytes` seeded pseudo-random bytes (noise does not compress: like a photo). */
function noise(bytes, seed) {
  const out = new Uint8Array(bytes);
  let a = seed >>> 0;
  for (let i = 0; i < bytes; i += 4) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a;
    out[i + 1] = a >>> 8;
    out[i + 2] = a >>> 16;
    out[i + 3] = a >>> 24;
  }
  return out;
}

/**
 * A fresh local database holding `n` notes, each with one `bytes`-byte image as an
 * attachment (not timed: the pictures device A took).
 */
export async function fillImages(name, n, bytes) {
  await new PouchDB(name).destroy();
  const db = new PouchDB(name);
  await db.bulkDocs(
    Array.from({ length: n }, (_, i) => ({
      ...doc(i),
      _attachments: { 'photo.jpg': { content_type: 'image/jpeg', data: new Blob([noise(bytes, i + 1)], { type: 'image/jpeg' }) } },
    })),
  );
  await db.close();
}

/** The bytes of every attachment the local database `name` holds (each read back as a Blob). */
export async function attachmentBytes(name) {
  const db = new PouchDB(name);
  const { rows } = await db.allDocs({ include_docs: true, attachments: true, binary: true });
  await db.close();
  return rows.reduce((sum, r) => sum + Object.values(r.doc._attachments ?? {}).reduce((s, a) => s + a.data.size, 0), 0);
}

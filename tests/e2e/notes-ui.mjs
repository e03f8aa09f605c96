// The note editor as the tests drive it: creating a note, attaching images, waiting for
// an image to show, and the images the device keeps.
import { waitForStored } from './support.mjs';

/** The save status once a note is stored. */
export const SAVED = /^Saved \d{2}:\d{2}$/;

/** Presses "New note" on /notes, types a title and text, waits until saved; returns the id. */
export async function newNote(page, title, body) {
  await page.getByRole('button', { name: 'New note' }).click();
  await page.waitForURL(/\/notes\/[0-9a-f]{16}$/);
  const id = new URL(page.url()).pathname.split('/').pop();
  await page.locator('#note-title:not([disabled])').waitFor();
  await page.getByLabel('Title', { exact: true }).fill(title);
  await page.getByLabel('Text', { exact: true }).fill(body);
  await waitForStored(page, 'notes', id, (v) => v?.title === title && v?.body === body);
  await page.getByRole('status').getByText(SAVED).waitFor();
  return id;
}

/** Attaches `files` ({name, mimeType, buffer}) with the note's file picker. */
export const attach = (page, ...files) => page.locator('#note-images-input').setInputFiles(files);

/** Waits until the image `alt` shows, decoded, `width` pixels wide. */
export function imageShown(page, alt, width) {
  return page.waitForFunction(
    ([alt, width]) => {
      const img = [...document.querySelectorAll('.note-image img')].find((i) => i.alt === alt);
      return img && img.complete && img.naturalWidth === width && img.src.startsWith('blob:');
    },
    [alt, width],
  );
}

/** The rows of the app database's `blobs` store: `[{id, size}]`. */
export const localBlobs = (page) =>
  page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('cairn');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const all = db.transaction('blobs').objectStore('blobs').getAll();
          all.onsuccess = () => {
            db.close();
            resolve(all.result.map((r) => ({ id: r.id, size: r.size })));
          };
        };
      }),
  );

// Cairn service worker loader (a classic script).
//
// Browsers deliver events only to listeners added while the worker script first runs, so
// every listener is registered here, synchronously, at top level, and calls waitUntil /
// respondWith synchronously with a promise that hands the event to Rust.
//
// The Rust is two wasm modules, each with its wasm-bindgen glue:
// - sw_wasm (built from sw/): install, activate and fetch. It is all a worker needs to
//   start and answer requests, so a worker woken by a navigation compiles only this.
// - sw_sync (built from sw/sync/): one round of the app's sync engine (the store and the
//   sync loop, most of the worker's code). Instantiated only when a sync runs.
// A service worker may import scripts only while it first runs, so both glues are
// imported here. Both declare the global `wasm_bindgen`; `cargo xtask build` renames the
// sync glue's to `cairn_sync` (with a bare `trunk build` the second import fails and the
// worker runs without sync: the page syncs by itself).
importScripts('./sw_wasm.js');
try {
  importScripts('./sw_sync.js');
} catch (err) {
  console.warn('Cairn: the sync module is unavailable; the page syncs without the worker', err);
}

// The precache manifest: every file of this build with its content hash, and a version
// derived from them. `cargo xtask build` writes it in place of `null`, so every build of
// the app changes this script's bytes and browsers see the update. (A bare `trunk build`
// leaves it null: the worker then only passes requests to the network.)
const PRECACHE = /* precache manifest */ null;
const CACHE = PRECACHE ? `cairn-${PRECACHE.version}` : '';

// One initialisation of a module per worker start, shared by all events; forgotten on
// failure so the next event tries again. The wasm comes from this version's cache when it
// is there: a worker woken offline cannot fetch it (its own fetches skip its fetch
// handler), and the file names are not hashed, so no other version's cache may be used.
function loader(init, wasm) {
  let ready = null;
  return () => {
    if (!ready) {
      const source = CACHE
        ? caches.open(CACHE).then((cache) => cache.match(wasm)).then((hit) => hit || fetch(wasm))
        : fetch(wasm);
      ready = init({ module_or_path: source }).catch((err) => {
        ready = null;
        throw err;
      });
    }
    return ready;
  };
}
const shell = loader(wasm_bindgen, './sw_wasm_bg.wasm');
const HAS_SYNC_MODULE = typeof cairn_sync === 'function';
const syncModule = HAS_SYNC_MODULE
  ? loader(cairn_sync, './sw_sync_bg.wasm')
  : () => Promise.reject(new Error('the sync module is unavailable'));

// One sync round in the sync module; rejects when the round failed.
function syncRound() {
  return syncModule().then(() => cairn_sync.on_sync());
}

// Install: cache every file of this build, then check that the sync module loads from
// that cache. A worker whose code cannot load must not install.
self.addEventListener('install', (event) => {
  const urls = PRECACHE ? PRECACHE.files.map((file) => file.url) : [];
  event.waitUntil(
    shell()
      .then(() => wasm_bindgen.on_install(CACHE, urls))
      .then(() => (HAS_SYNC_MODULE ? syncModule() : null)),
  );
});

// Activate: drop the caches of other versions, take control of open pages.
self.addEventListener('activate', (event) => {
  event.waitUntil(shell().then(() => wasm_bindgen.on_activate(CACHE)));
});

// The page applies an update: the waiting worker takes over; its activate cleans up.
self.addEventListener('message', (event) => {
  if (event.data === 'SKIP_WAITING') self.skipWaiting();
});

// Background Sync: the page registered the tag after a local change. A rejected promise
// makes the browser retry later.
self.addEventListener('sync', (event) => {
  if (event.tag === 'cairn-sync') {
    event.waitUntil(syncRound());
  }
});

// Without Background Sync (Firefox, Safari), the worker syncs whenever it starts, which
// the browser does for the app's navigations and fetches; the page covers the rest.
if (!('sync' in self.registration)) {
  syncRound().catch(() => {});
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  // Only same-origin GETs are the worker's business; the rest go to the network untouched.
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) {
    return;
  }
  event.respondWith(
    shell().then(
      () => wasm_bindgen.on_fetch(request, CACHE),
      () => fetch(request),
    ),
  );
});

// Cairn service worker loader (a classic script).
//
// Browsers deliver events only to listeners added while the worker script first runs, so
// every listener is registered here, synchronously, at top level. Each one hands its
// event to the Rust handlers (sw_wasm.js + sw_wasm_bg.wasm, built from sw/) once the wasm
// module is initialised, and calls waitUntil / respondWith synchronously with the promise.
importScripts('./sw_wasm.js');

// The precache manifest: every file of this build with its content hash, and a version
// derived from them. `cargo xtask build` writes it in place of `null`, so every build of
// the app changes this script's bytes and browsers see the update. (A bare `trunk build`
// leaves it null: the worker then only passes requests to the network.)
const PRECACHE = /* precache manifest */ null;
const CACHE = PRECACHE ? `cairn-${PRECACHE.version}` : '';
const WASM = './sw_wasm_bg.wasm';

// One initialisation per worker start, shared by all events; forgotten on failure so the
// next event tries again. The worker's own wasm comes from this version's cache when it is
// there: a worker woken offline cannot fetch it (its own fetches skip its fetch handler),
// and the file name is not hashed, so no other version's cache may be used.
let wasmReady = null;
function ready() {
  if (!wasmReady) {
    const cached = CACHE
      ? caches.open(CACHE).then((cache) => cache.match(WASM)).then((hit) => hit || fetch(WASM))
      : fetch(WASM);
    wasmReady = wasm_bindgen({ module_or_path: cached }).catch((err) => {
      wasmReady = null;
      throw err;
    });
  }
  return wasmReady;
}

// Install: cache every file of this build. A worker whose code cannot load must not install.
self.addEventListener('install', (event) => {
  const urls = PRECACHE ? PRECACHE.files.map((file) => file.url) : [];
  event.waitUntil(ready().then(() => wasm_bindgen.on_install(CACHE, urls)));
});

// Activate: drop the caches of other versions, take control of open pages.
self.addEventListener('activate', (event) => {
  event.waitUntil(ready().then(() => wasm_bindgen.on_activate(CACHE)));
});

// The page applies an update: the waiting worker takes over; its activate cleans up.
self.addEventListener('message', (event) => {
  if (event.data === 'SKIP_WAITING') self.skipWaiting();
});

// Background Sync: the page registered the tag after a local change. A rejected promise
// makes the browser retry later.
self.addEventListener('sync', (event) => {
  if (event.tag === 'cairn-sync') {
    event.waitUntil(ready().then(() => wasm_bindgen.on_sync()));
  }
});

// Without Background Sync (Firefox, Safari), the worker syncs whenever it starts, which
// the browser does for the app's navigations and fetches; the page covers the rest.
if (!('sync' in self.registration)) {
  ready()
    .then(() => wasm_bindgen.on_sync())
    .catch(() => {});
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  // Only same-origin GETs are the worker's business; the rest go to the network untouched.
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) {
    return;
  }
  event.respondWith(
    ready().then(
      () => wasm_bindgen.on_fetch(request, CACHE),
      () => fetch(request),
    ),
  );
});

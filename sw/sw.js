// Cairn service worker loader (a classic script).
//
// Browsers deliver events only to listeners added while the worker script first runs, so
// every listener is registered here, synchronously, at top level. Each one hands its
// event to the Rust handlers (sw_wasm.js + sw_wasm_bg.wasm, built from sw/) once the wasm
// module is initialised, and calls waitUntil / respondWith synchronously with the promise.
importScripts('./sw_wasm.js');

// One initialisation per worker start, shared by all events; forgotten on failure so the
// next event tries again.
let wasmReady = null;
function ready() {
  if (!wasmReady) {
    wasmReady = wasm_bindgen({ module_or_path: './sw_wasm_bg.wasm' }).catch((err) => {
      wasmReady = null;
      throw err;
    });
  }
  return wasmReady;
}

// A worker whose code cannot load must not install.
self.addEventListener('install', (event) => {
  event.waitUntil(ready());
});

self.addEventListener('activate', (event) => {
  event.waitUntil(ready().then(() => wasm_bindgen.on_activate()));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  // Only same-origin GETs are the worker's business; the rest go to the network untouched.
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) {
    return;
  }
  event.respondWith(
    ready().then(
      () => wasm_bindgen.on_fetch(request),
      () => fetch(request),
    ),
  );
});

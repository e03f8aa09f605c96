// A dedicated worker of the randomized checker: the same wasm as the tabs (checker.js),
// opening its own store on the device's database, as the service worker's sync module
// does. Its clock is skewed by `?skew=<ms>` and by `__skew` messages.
const realNow = Date.now.bind(Date);
let skew = Number(new URL(self.location.href).searchParams.get('skew') || 0);
Date.now = () => realNow() + skew;

const ready = import('./checker.js').then(async (checker) => {
  await checker.default();
  return checker;
});
ready.then(
  () => self.postMessage({ ready: true }),
  (e) => self.postMessage({ ready: String(e?.message ?? e) }),
);

self.onmessage = async ({ data: { id, method, args } }) => {
  try {
    if (method === '__skew') {
      skew = args[0];
      self.postMessage({ id, result: 'null' });
      return;
    }
    const checker = await ready;
    self.postMessage({ id, result: await checker[method](...args) });
  } catch (e) {
    self.postMessage({ id, error: String(e?.message ?? e) });
  }
};

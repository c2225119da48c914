// Keeps the page itself openable offline: a phone that reloads, or whose browser discards the
// tab, in a dead zone still gets the scanner, which finds its bundle in IndexedDB. Network
// first, so a fixed page reaches every phone at once; /api/ is never touched nor cached.
const CACHE = "tikiti-gate-v1";
const SHELL = [
  "/admin/gate",
  "/admin/static/gate/gate.css",
  "/admin/static/gate/app.js",
  "/admin/static/gate/camera.js",
  "/admin/static/gate/codes.js",
  "/admin/static/gate/offline.js",
  "/admin/static/gate/store.js",
  "/admin/static/gate/vendor/jsQR.min.js",
];
const TIMEOUT = 4000; // a hanging network must not keep the gate from opening

self.addEventListener("install", (event) => {
  const filled = caches.open(CACHE).then((cache) => cache.addAll(SHELL));
  event.waitUntil(filled.then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  const old = caches.keys().then((keys) => keys.filter((key) => key !== CACHE));
  const dropped = old.then((keys) => Promise.all(keys.map((key) => caches.delete(key))));
  event.waitUntil(dropped.then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const mine = url.origin === location.origin && SHELL.includes(url.pathname);
  if (event.request.method === "GET" && mine) event.respondWith(fresh(event.request, url.pathname));
});

async function fresh(request, path) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), TIMEOUT)),
    ]);
    if (response.ok) await cache.put(path, response.clone());
    return response;
  } catch {
    return (await cache.match(path)) || Response.error();
  }
}

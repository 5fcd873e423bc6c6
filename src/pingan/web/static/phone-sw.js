// The phone page's service worker: keeps the page and its scripts so that it opens with no
// network (a checkpoint's code opens /m/?t=…, and the check-in waits on the phone). The API is
// never cached.
"use strict";
const CACHE = "pingan-phone-v1";
const SHELL = "/m/";
const FILES = [
  SHELL,
  "/m/manifest.webmanifest",
  "/static/phone.js",
  "/static/phone.css",
  "/static/phone-icon.svg",
  "/static/vendor/jsqr/jsQR.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()));
});

// Fresh from the network whenever there is one (the page and its scripts change together on an
// upgrade); what was kept when there is none.
async function fresh(request, key) {
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) (await caches.open(CACHE)).put(key, response.clone());
    return response;
  } catch (_e) {
    const kept = await caches.match(key, { ignoreSearch: true });
    return kept || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (event.request.mode === "navigate" && url.pathname === SHELL) event.respondWith(fresh(event.request, SHELL));
  else if (FILES.includes(url.pathname)) event.respondWith(fresh(event.request, url.pathname));
});

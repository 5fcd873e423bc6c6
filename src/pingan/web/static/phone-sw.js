// The phone pages' service worker: keeps the pages and their scripts so that they open with no
// network (a checkpoint's code opens /m/?t=…, and the check-in waits on the phone; a report made
// with no network waits on the phone too). The API is never cached.
"use strict";
const CACHE = "pingan-phone-v2";
const SHELL = "/m/";
const PAGES = [SHELL, "/m/report"];
const FILES = [
  SHELL,
  "/m/manifest.webmanifest",
  "/static/phone.js",
  "/static/phone.css",
  "/static/phone-icon.svg",
  "/static/vendor/jsqr/jsQR.js",
  "/m/report",
  "/static/report.js",
  "/static/pingan.js",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
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
  if (event.request.mode === "navigate" && PAGES.includes(url.pathname)) event.respondWith(fresh(event.request, url.pathname));
  else if (FILES.includes(url.pathname)) event.respondWith(fresh(event.request, url.pathname));
});

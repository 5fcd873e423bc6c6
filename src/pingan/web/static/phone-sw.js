// The phone pages' service worker: keeps the pages and their scripts so that they open with no
// network (a checkpoint's code opens /m/?t=…, and the check-in waits on the phone; a report made
// with no network waits on the phone too, and so does an inspection). The API is never cached.
"use strict";
const CACHE = "pingan-phone-v3";
const SHELL = "/m/";
// The pages: each kept when it can be opened by whoever installs (a patrol member opens /m/, an
// inspector /m/inspect, anyone /m/report), and whenever it is shown.
const PAGES = [SHELL, "/m/report", "/m/inspect"];
// What the pages need, kept at install: the worker is not installed without them.
const FILES = [
  "/m/manifest.webmanifest",
  "/static/phone.js",
  "/static/phone.css",
  "/static/phone-icon.svg",
  "/static/vendor/jsqr/jsQR.js",
  "/static/report.js",
  "/static/phone-kept.js",
  "/static/inspect.js",
  "/static/pingan.js",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
];

// A page kept only as itself: not a log-in page it was sent to, not a refusal.
async function keepPage(cache, path) {
  const response = await fetch(path, { credentials: "same-origin" }).catch(() => null);
  if (response && response.ok && !response.redirected) await cache.put(path, response);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(FILES).then(() => Promise.all(PAGES.map((p) => keepPage(cache, p)))))
      .then(() => self.skipWaiting()));
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

// A page shown to someone who signed in after the worker was installed (an inspector on a phone a
// patrol member used) asks to be kept as it is now.
self.addEventListener("message", (event) => {
  const path = event.data && event.data.keep;
  if (PAGES.includes(path)) event.waitUntil(caches.open(CACHE).then((cache) => keepPage(cache, path)));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (event.request.mode === "navigate" && PAGES.includes(url.pathname)) event.respondWith(fresh(event.request, url.pathname));
  else if (FILES.includes(url.pathname)) event.respondWith(fresh(event.request, url.pathname));
});

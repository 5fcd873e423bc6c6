// The phone page's service worker: keeps the page and its scripts so that it opens with no
// network (a checkpoint's code opens /m/?t=…, and the check-in waits on the phone). The page is
// fetched fresh whenever there is a network; the API is never cached.
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

async function page(request) {
  try {
    const fresh = await fetch(request);
    if (fresh.ok && !fresh.redirected) (await caches.open(CACHE)).put(SHELL, fresh.clone());
    return fresh;
  } catch (_e) {
    const kept = await caches.match(SHELL, { ignoreSearch: true });
    return kept || Response.error();
  }
}

async function file(request) {
  const kept = await caches.match(request);
  const fresh = fetch(request).then(async (response) => {
    if (response.ok) (await caches.open(CACHE)).put(request, response.clone());
    return response;
  });
  if (kept) { fresh.catch(() => {}); return kept; }
  return fresh;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (event.request.mode === "navigate" && url.pathname === SHELL) event.respondWith(page(event.request));
  else if (FILES.includes(url.pathname)) event.respondWith(file(event.request));
});

/* Service worker: keeps the app's shell (pages, styles, scripts) available offline so the
   app installs and opens like a native one. API calls always go to the network: balances
   and payments must never come from a cache. */
"use strict";
const SHELL = "takasago-shell-v3";
const ASSETS = ["/static/app.css", "/static/common.js", "/static/resident.js", "/static/help.js", "/static/resident_help.js", "/static/watch.js", "/static/resident_account.js", "/static/proxy.js", "/static/till.js", "/static/vendor/jsQR.js", "/static/icon-192.png"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k)))).then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/v1/")) return;
  // network first (updates show at once), the cached shell when offline
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request)),
  );
});

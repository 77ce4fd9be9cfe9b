/* The phone's service worker (served at /sw.js so that it covers /c/ and /s/). It keeps the
   collaborator's page, the forms of their open questionnaires and the static files, so that
   they open with no signal after one visit; and it sends the answers kept on the phone when
   the signal returns (Background Sync), even with every page closed. The server's client_uuid
   check makes an answer sent twice, here and by a page, count once. */
"use strict";
var PAGES = "survey-pages-v1", STATIC = "survey-static-v1", OUTBOX = "survey-outbox";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

/* The phone pages worth keeping: a collaborator's page, their forms, the open-link forms. */
function keepable(url) {
  return url.origin === location.origin && /^\/[cs]\/[^/]+(\/[^/]+)?$/.test(url.pathname) &&
    !/\/thanks$/.test(url.pathname);
}

function putPage(cache, path, response) {
  return response.ok ? cache.put(path, response) : response.status === 404 || response.status === 410 ||
    response.status === 403 ? cache.delete(path) : Promise.resolve();
}

/* A static file's address carries its content hash: keep the newest copy of each file only. */
function putStatic(cache, request, response) {
  var path = new URL(request.url).pathname;
  return cache.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return new URL(k.url).pathname === path && k.url !== request.url;
    }).map(function (k) { return cache.delete(k); }));
  }).then(function () { return cache.put(request, response); });
}

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.open(STATIC).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || fetch(request).then(function (r) {
          if (r.ok) event.waitUntil(putStatic(cache, request, r.clone()));
          return r;
        });
      });
    }));
  } else if (request.mode === "navigate" && keepable(url)) {
    // Network first, so a page with signal is always current; the kept copy without it.
    event.respondWith(fetch(request).then(function (r) {
      var copy = r.clone();
      event.waitUntil(caches.open(PAGES).then(function (c) { return putPage(c, url.pathname, copy); }));
      return r;
    }, function () {
      return caches.open(PAGES).then(function (c) { return c.match(url.pathname); }).then(function (hit) {
        return hit || Response.error();
      });
    }));
  }
});

/* Tell whether a kept page was fetched in the last few minutes (no need to fetch it again). */
function recent(hit) {
  return hit && Date.now() - Date.parse(hit.headers.get("Date")) < 600000;
}

/* A page asks to keep itself, its static files and the forms it links to. A collaborator's
   page just brought up to date also drops the kept forms it no longer offers. */
function keep(data) {
  var urls = (data.urls || []).map(function (u) { return new URL(u, location.href); });
  return Promise.all([caches.open(PAGES), caches.open(STATIC)]).then(function (opened) {
    var pages = opened[0], statics = opened[1];
    return Promise.all(urls.map(function (url) {
      var isStatic = url.pathname.indexOf("/static/") === 0;
      if (!isStatic && !keepable(url)) return null;
      var request = new Request(url.href, { credentials: "same-origin" });
      return (isStatic ? statics.match(request) : pages.match(url.pathname)).then(function (hit) {
        if (isStatic ? hit : recent(hit)) return null;
        return fetch(request).then(function (r) {
          return isStatic ? (r.ok ? putStatic(statics, request, r) : null) : putPage(pages, url.pathname, r);
        }, function () { return null; });
      });
    })).then(function () {
      if (!data.prefix) return null;
      var wanted = urls.map(function (u) { return u.pathname; });
      return pages.keys().then(function (keys) {
        return Promise.all(keys.map(function (k) {
          var path = new URL(k.url).pathname;
          return path.indexOf(data.prefix + "/") === 0 && wanted.indexOf(path) < 0 ? pages.delete(k) : null;
        }));
      });
    });
  });
}

self.addEventListener("message", function (event) {
  if (event.data && event.data.keep) event.waitUntil(keep(event.data));
});

/* ---- Background Sync: send what the pages left in the outbox cache ---- */

function token() {
  return fetch("/csrf", { cache: "no-store", credentials: "same-origin" }).then(function (r) {
    if (!r.ok) throw new Error("no token");
    return r.json();
  }).then(function (data) { return data.csrf_token; });
}

function post(item, csrf) {
  return fetch(item.url, {
    method: "POST", credentials: "same-origin", redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: item.body + "&csrf_token=" + encodeURIComponent(csrf)
  });
}

function isSent(r) { return r.type === "opaqueredirect" || (r.status >= 300 && r.status < 400); }
function isTransient(r) { return r.status === 0 || r.status === 408 || r.status === 429 || r.status >= 500; }

function tell(message) {
  return self.clients.matchAll({ type: "window" }).then(function (clients) {
    clients.forEach(function (client) { client.postMessage(message); });
  });
}

/* Send each kept answer once; a refused one is left to the pages, which show it as refused.
   A failure rejects, so the browser tries the sync again later. */
function sendAll() {
  return caches.open(OUTBOX).then(function (box) {
    return box.keys().then(function (keys) {
      if (!keys.length) return null;
      var sent = [];
      return token().then(function (csrf) {
        return keys.reduce(function (chain, key) {
          return chain.then(function () {
            return box.match(key).then(function (hit) { return hit && hit.json(); }).then(function (item) {
              if (!item) return null;
              return post(item, csrf).then(function (r) {
                if (isTransient(r)) throw new Error("try later");
                if (isSent(r)) sent.push(item.id);
                return box.delete(key);
              });
            });
          });
        }, Promise.resolve());
      }).finally(function () { if (sent.length) return tell({ sent: sent }); });
    });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === "survey-outbox") event.waitUntil(sendAll());
});

/* Tally page: fetch the figures every ~15 s and update only the numbers that changed (no framework, no flicker). */
(function () {
  "use strict";
  var box = document.getElementById("tally-live");
  if (!box || !window.fetch || !window.DOMParser) { return; }
  var every = parseInt(box.getAttribute("data-interval"), 10) || 15000;
  var busy = false;

  function figures(root) {
    var found = {};
    root.querySelectorAll("[data-k]").forEach(function (el) { found[el.getAttribute("data-k")] = el; });
    return found;
  }

  function sameKeys(a, b) {
    var ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && kb.every(function (k) { return Object.prototype.hasOwnProperty.call(a, k); });
  }

  function apply(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("tally-body");
    var old = document.getElementById("tally-body");
    if (!fresh || !old) { return; }
    var now = figures(old), next = figures(fresh);
    if (!sameKeys(now, next)) {  // new wards, choices or questions: swap the whole block once
      old.replaceWith(document.importNode(fresh, true));
    } else {
      Object.keys(next).forEach(function (k) {
        if (now[k].innerHTML !== next[k].innerHTML) { now[k].innerHTML = next[k].innerHTML; }
      });
    }
    box.setAttribute("data-updated", String(Date.now()));
  }

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(box.getAttribute("data-url"), { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok || r.redirected) { throw new Error("status " + r.status); }
        return r.text();
      })
      .then(apply)
      .catch(function () { /* offline or logged out: keep the figures shown, try again later */ })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
}());

/* The phone pages: live show_if, progress, drafts, and an outbox that keeps answers on the
   phone while there is no connection and sends them when it returns. The form also works
   without this script; the server's client_uuid check makes a re-sent answer count once. */
(function () {
  "use strict";
  var OUTBOX = "survey-outbox";
  var DRAFT = "survey-draft:";
  var SENT = "survey-sent";
  var flushing = false;
  var sentPlainly = false;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function load(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); return true; } catch (e) { return false; }
  }
  function forget(key) { try { localStorage.removeItem(key); } catch (e) { /* private mode */ } }

  function newUuid() {
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;   // version 4
    b[8] = (b[8] & 63) | 128;  // RFC 4122 variant
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  /* ---- show_if and progress ---- */

  function checkedValues(container) {
    return all("input:checked", container).map(function (i) { return i.value; });
  }

  function applyShowIf(form) {
    var shown = {}, chosen = {};
    all("[data-key]", form).forEach(function (el) {
      var parent = el.getAttribute("data-show-if-question");
      var visible = !parent || (shown[parent] &&
        (chosen[parent] || []).indexOf(el.getAttribute("data-show-if-choice")) >= 0);
      el.hidden = !visible;
      if (visible) {
        shown[el.dataset.key] = true;
        chosen[el.dataset.key] = checkedValues(el);
      }
      // A “Khác (ghi rõ)” text box shows only while its choice is picked.
      all(".other-text", el).forEach(function (box) {
        box.hidden = checkedValues(el).indexOf(box.getAttribute("data-other-of")) < 0;
      });
    });
  }

  function isAnswered(q) {
    return all("input, textarea", q).some(function (i) {
      return (i.type === "radio" || i.type === "checkbox") ? i.checked : i.value.trim() !== "";
    });
  }

  function updateProgress(form) {
    var questions = all(".q[data-kind]", form).filter(function (q) {
      return !q.hidden && q.dataset.kind !== "section";
    });
    var done = questions.filter(isAnswered).length;
    questions.forEach(function (q, i) {
      var n = $(".qn", q);
      if (n) n.textContent = (i + 1) + "/" + questions.length;
    });
    var box = $("#progress");
    if (!box || !questions.length) return;
    var bar = $("progress", box), text = $(".progress-text", box);
    bar.max = questions.length;
    bar.value = done;
    text.textContent = text.dataset.text.replace("{done}", done).replace("{total}", questions.length);
    box.hidden = false;
  }

  /* ---- drafts ---- */

  function fieldsOf(form) {
    var params = new URLSearchParams(new FormData(form));
    params.delete("csrf_token");
    return params;
  }

  function draftKey(form) { return DRAFT + new URL(form.action).pathname; }

  function saveDraft(form) {
    var params = fieldsOf(form);
    params.delete("client_uuid");
    save(draftKey(form), { at: Date.now(), fields: params.toString() });
  }

  function restoreDraft(form) {
    var draft = load(draftKey(form), null);
    if (!draft || $("#error-summary")) return false;
    var params = new URLSearchParams(draft.fields);
    all("input, textarea, select", form).forEach(function (field) {
      if (!field.name || field.type === "hidden") return;
      var values = params.getAll(field.name);
      if (field.type === "radio" || field.type === "checkbox") field.checked = values.indexOf(field.value) >= 0;
      else if (values.length) field.value = values[0];
    });
    return true;
  }

  /* ---- sending and the outbox ---- */

  function csrfUrl() { var box = $("#outbox"); return box && box.dataset.csrfUrl; }

  function freshToken() {
    return fetch(csrfUrl(), { cache: "no-store", credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("no token");
      return r.json();
    }).then(function (data) { return data.csrf_token; });
  }

  function post(item, token) {
    return fetch(item.url, {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: item.body + "&csrf_token=" + encodeURIComponent(token)
    });
  }

  /* Send one answer; a 400 may be an expired form token, so try once more with a fresh one.
     Rejects when the phone is offline. */
  function deliver(item, token) {
    return post(item, token).then(function (r) {
      if (r.status !== 400) return r;
      return freshToken().then(function (fresh) { return post(item, fresh); });
    });
  }

  function isSent(r) { return r.type === "opaqueredirect" || (r.status >= 300 && r.status < 400); }
  function isTransient(r) { return r.status === 0 || r.status === 408 || r.status === 429 || r.status >= 500; }

  function outbox() { return load(OUTBOX, []); }
  function pending() { return outbox().filter(function (i) { return !i.refused; }); }
  function keep(item) {
    var items = outbox().filter(function (i) { return i.id !== item.id; });
    items.push(item);
    return save(OUTBOX, items);
  }
  function drop(id) { save(OUTBOX, outbox().filter(function (i) { return i.id !== id; })); unmirror(id); }
  function refuse(item, status) {
    item.refused = status;
    keep(item);
    unmirror(item.id);
  }

  /* A copy for the service worker, which cannot read localStorage: it sends the copy when the
     signal returns, even with the page closed. */
  function mirror(item) {
    if (!window.caches) return Promise.resolve(false);
    return caches.open(OUTBOX).then(function (box) {
      return box.put("/outbox/" + item.id, new Response(JSON.stringify(item)));
    }).then(function () { return true; }, function () { return false; });
  }
  function unmirror(id) {
    if (window.caches) caches.open(OUTBOX).then(function (box) { return box.delete("/outbox/" + id); }).catch(function () {});
  }

  /* Ask the browser to wake the service worker when the signal returns; tell whether it will. */
  function askSync() {
    if (!("serviceWorker" in navigator) || !window.SyncManager) return Promise.resolve(false);
    var ready = navigator.serviceWorker.ready.then(function (reg) {
      return reg.sync.register("survey-outbox").then(function () { return true; });
    });
    var late = new Promise(function (resolve) { setTimeout(resolve, 3000, false); });
    return Promise.race([ready, late]).catch(function () { return false; });
  }

  /* A kept answer's time as the page's language writes it: "18:43 01/12" in Vietnamese (as the
     server writes times, day before month), "Dec 1, 6:43 PM" in English. */
  function when(at) {
    try {
      var d = new Date(at), two = function (n) { return (n < 10 ? "0" : "") + n; };
      if (isNaN(d.getTime())) return "";
      if (document.documentElement.lang === "en") {
        return d.toLocaleString("en-US",
          { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
      }
      return two(d.getHours()) + ":" + two(d.getMinutes()) + " " +
        two(d.getDate()) + "/" + two(d.getMonth() + 1);
    } catch (e) { return ""; }
  }

  function showOutbox(state) {
    var box = $("#outbox");
    if (!box) return;
    var items = outbox(), waiting = pending().length, refused = items.length - waiting;
    all("[data-state]", box).forEach(function (p) {
      p.hidden = p.dataset.state !== state && !(p.dataset.state === "waiting" && waiting) &&
        !(p.dataset.state === "rejected" && refused);
    });
    $(".outbox-count", box).textContent = waiting;
    var list = $(".outbox-items", box);
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li"), reason = item.refused &&
        ($('[data-reason="' + item.refused + '"]', box) || $('[data-reason="400"]', box));
      li.textContent = item.title + (item.at ? " · " + when(item.at) : "") +
        (reason ? " — " + reason.textContent : "");
      if (reason) li.className = "refused";
      list.appendChild(li);
    });
    $("#send-now", box).hidden = !waiting;
    $("#drop-refused", box).hidden = !refused;
    box.hidden = !state && !items.length;
  }

  function showQueued(bySync) {
    showOutbox("queued");
    $("#outbox .when-sync").hidden = !bySync;
    $("#outbox .when-open").hidden = bySync;
  }

  /* Tell whether this page was just made by the server, not opened from the phone's copy. */
  function isFresh() {
    var fresh = $("#fresh");
    return navigator.onLine && !!fresh && Math.abs(Date.now() - Number(fresh.dataset.at)) < 120000;
  }

  function isHome() { var box = $("#outbox"); return box && box.dataset.home === location.pathname; }

  /* Answers left the phone: the collaborator's page is brought up to date to show them answered. */
  function afterSent() {
    if (isHome()) {
      try { sessionStorage.setItem(SENT, "1"); } catch (e) { /* shown without reload below */ }
      location.reload();
    } else showOutbox("sent");
  }

  /* Send everything the phone keeps, one by one; stop at the first network failure. */
  function flush() {
    var items = pending();
    if (flushing || !items.length) return Promise.resolve({});
    flushing = true;
    var sent = 0, rejected = 0, offline = false;
    return freshToken().then(function (token) {
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          return deliver(item, token).then(function (r) {
            if (isSent(r)) { drop(item.id); sent++; }
            else if (!isTransient(r)) {
              // The server gave its verdict (closed, already answered, needs correcting): the
              // answer stays on the phone, shown as refused, and as the form's draft.
              refuse(item, r.status);
              save(DRAFT + new URL(item.url, location.href).pathname, { at: Date.now(), fields: item.body });
              rejected++;
            } else throw new Error("try later");
          });
        });
      }, Promise.resolve());
    }).catch(function () { offline = true; /* try again on the next occasion */ }).then(function () {
      flushing = false;
      if (sent && !rejected && !pending().length) afterSent();
      else showOutbox(rejected ? "rejected" : null);
      return { offline: offline };
    });
  }

  function sendNow() {
    var button = $("#send-now");
    if (!navigator.onLine) { showOutbox("offline"); return; }
    button.disabled = true;
    flush().then(function (result) {
      button.disabled = false;
      if (result.offline) showOutbox("offline");
    });
  }

  function dropRefused() {
    var button = $("#drop-refused");
    if (!window.confirm(button.dataset.confirm)) return;
    outbox().filter(function (i) { return i.refused; }).forEach(function (i) { drop(i.id); });
    showOutbox(null);
  }

  /* Show a page the server answered (its messages) in place of this one. */
  function showPage(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    window.scrollTo(0, 0);
    setUp();
    var summary = $("#error-summary");
    if (summary) summary.focus();
  }

  function queued(form, item) {
    forget(draftKey(form));
    showQueued(false);
    mirror(item).then(function (kept) { return kept && askSync(); }).then(showQueued);
    if (form.dataset.per === "one") {
      form.hidden = true;
    } else {
      form.reset();
      form.elements.client_uuid.value = newUuid();
      applyShowIf(form);
      updateProgress(form);
    }
    $("#outbox").scrollIntoView();
  }

  /* A form sent the plain way: its address now names its id, so Back returns to an id already
     used (thanked again, nothing stored), as a page without script does. */
  function pin(form) {
    sentPlainly = true;
    try {
      var url = new URL(location.href);
      url.searchParams.set("n", form.elements.client_uuid.value);
      history.replaceState(history.state, "", url.href);
    } catch (e) { /* an old browser: the server's own id check still holds for a re-send */ }
  }

  function submit(form, event) {
    var button = $("button[type=submit]", form);
    var item = { id: form.elements.client_uuid.value, url: form.action, title: form.dataset.title,
                 at: Date.now(), body: fieldsOf(form).toString() };
    // Kept first, so even a page closed mid-send loses nothing; a phone that cannot keep it
    // sends the form the plain way instead.
    if (!window.fetch || !keep(item)) { pin(form); return; }
    event.preventDefault();
    button.disabled = true;
    deliver(item, form.elements.csrf_token.value).then(function (r) {
      if (isSent(r)) {
        drop(item.id);
        forget(draftKey(form));
        location.replace(form.dataset.thanks);
      } else if (isTransient(r)) {
        queued(form, item);
      } else {
        drop(item.id);
        return r.text().then(showPage);
      }
    }, function () { queued(form, item); }).then(function () { button.disabled = false; });
  }

  function setUpForm(form) {
    // A new id for each opening: the same page kept on the phone may be opened many times.
    if (!$("#error-summary")) form.elements.client_uuid.value = newUuid();
    // Questions now show only when they apply: the notes saying when are for pages without script.
    all(".cond", form).forEach(function (p) { p.remove(); });
    var restored = restoreDraft(form);
    applyShowIf(form);
    updateProgress(form);
    var note = $("#draft-note");
    if (restored && note) note.hidden = false;
    function changed() { applyShowIf(form); updateProgress(form); saveDraft(form); }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function (event) { submit(form, event); });
    var discard = $("#discard-draft");
    if (discard) discard.addEventListener("click", function () {
      forget(draftKey(form));
      form.reset();
      applyShowIf(form);
      updateProgress(form);
      note.hidden = true;
    });
  }

  function setUp() {
    var form = $("#answer-form");
    if (form) setUpForm(form);
    var now = $("#send-now");
    if (now) now.addEventListener("click", sendNow);
    var refused = $("#drop-refused");
    if (refused) refused.addEventListener("click", dropRefused);
    var fresh = $("#fresh");
    if (fresh && !isFresh()) fresh.hidden = false;
    // "Share" on the collaborator's page gives the open link, where the phone can share.
    if (navigator.share) all("button[data-share-url]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        navigator.share({ title: b.dataset.shareTitle, url: b.dataset.shareUrl }).catch(function () {});
      });
    });
    var justSent = false;
    try { justSent = sessionStorage.getItem(SENT); sessionStorage.removeItem(SENT); } catch (e) { /* none */ }
    showOutbox(justSent ? "sent" : null);
    flush();
  }

  /* Register the service worker and have it keep this page, its files and the forms it links to. */
  function keepOffline() {
    var box = $("#outbox"), workers = navigator.serviceWorker;
    if (!box || !workers) return;
    workers.register(box.dataset.swUrl).catch(function () { /* the page works without it */ });
    workers.addEventListener("message", function (event) {
      var sent = event.data && event.data.sent;
      if (!sent) return;
      var had = outbox().length;
      sent.forEach(drop);
      if (outbox().length < had) afterSent();
    });
    var urls = all("link[rel=stylesheet], script[src]").map(function (el) { return el.href || el.src; })
      .concat(all("a.tile[href]").map(function (a) { return a.href; }));
    if (!workers.controller) urls.push(location.href);  // otherwise the worker kept it on the way
    workers.ready.then(function (reg) {
      if (reg.active) reg.active.postMessage({ keep: true, urls: urls, prefix: isHome() && isFresh() ? location.pathname : "" });
    });
  }

  window.addEventListener("online", flush);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") flush();
  });
  // Back to a page kept in memory: a new answer needs a new id, unless this very form left the
  // plain way (the same answer sent again must count once).
  window.addEventListener("pageshow", function (event) {
    var form = $("#answer-form");
    if (event.persisted && form && !sentPlainly) form.elements.client_uuid.value = newUuid();
  });
  setInterval(function () { if (pending().length) flush(); }, 30000);
  setUp();
  keepOffline();
}());

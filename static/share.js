/* Coordinators' sheets: "copy link" buttons beside personal and poster links, and a print
   button. Both stay hidden without JS, where the link is shown as selectable text. */
(function () {
  "use strict";
  function done(button) {
    button.textContent = button.getAttribute("data-copied");
  }
  function fallback(button) {
    var box = document.createElement("textarea");
    box.value = button.getAttribute("data-copy-link");
    box.setAttribute("readonly", "");
    box.style.position = "fixed";
    box.style.opacity = "0";
    document.body.appendChild(box);
    box.select();
    try { if (document.execCommand("copy")) { done(button); } } catch (e) { /* leave the text */ }
    document.body.removeChild(box);
  }
  function copy(button) {
    var link = button.getAttribute("data-copy-link");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link).then(function () { done(button); },
        function () { fallback(button); });
    } else {
      fallback(button);
    }
  }
  document.querySelectorAll("button[data-copy-link]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
}());

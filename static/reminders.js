/* Reminder page: "copy message" buttons (hidden without JS, where the message box is selectable). */
(function () {
  "use strict";
  function copy(button) {
    var box = document.getElementById(button.getAttribute("data-copy"));
    if (!box) { return; }
    var done = function () { button.textContent = button.getAttribute("data-copied"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(box.value).then(done, function () { box.select(); });
    } else {
      box.select();
      if (document.execCommand("copy")) { done(); }
    }
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
}());

/* Questionnaire builder, progressive enhancement only: every form works without it. */
(function () {
  "use strict";

  /* Ask before a delete form is sent. */
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  /* Show bounds only for scale/number questions and the choice list only for choice questions. */
  function fitKind(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) { return; }
    var update = function () {
      form.querySelectorAll("[data-for-kinds]").forEach(function (part) {
        part.hidden = part.getAttribute("data-for-kinds").split(" ").indexOf(kind.value) < 0;
      });
      var choices = form.querySelector(".choices-text");
      if (choices) { choices.hidden = kind.value !== "single" && kind.value !== "multi"; }
    };
    kind.addEventListener("change", update);
    update();
  }
  document.querySelectorAll(".question-form").forEach(fitKind);

  /* The default of "hide counts below" follows the anonymous box: 5 if anonymous, else 0. */
  var anonymous = document.querySelector("input[name=anonymous]");
  var suppress = document.querySelector("input[name=suppress_below]");
  if (anonymous && suppress) {
    var hint = function () { suppress.placeholder = anonymous.checked ? "5" : "0"; };
    anonymous.addEventListener("change", hint);
    hint();
  }

  /* In the preview, show a question only after its trigger is picked, as form.js does on the phone. */
  var preview = document.getElementById("preview");
  if (preview) {
    var follow = function () {
      var picked = {}, n = 0;
      preview.querySelectorAll("[data-key]").forEach(function (el) {
        var parent = el.getAttribute("data-show-if-question");
        el.hidden = !!parent && !(picked[parent] || []).includes(el.getAttribute("data-show-if-choice"));
        picked[el.getAttribute("data-key")] = el.hidden ? [] : Array.prototype.map.call(
          el.querySelectorAll("input:checked"), function (i) { return i.value; });
      });
      var shown = preview.querySelectorAll(".q:not([hidden]) .qn");
      shown.forEach(function (qn) { qn.textContent = (n += 1) + "/" + shown.length; });
    };
    preview.addEventListener("change", follow);
    follow();
  }
})();

// Tierflow dashboard: confirmation prompts and one click, one transaction. Every page works without this file.
// Dates are written by the server in the page's language (one format per language), never rewritten here.
"use strict";
(function () {
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    // One click, one transaction: a double click must not fund or repay twice. Disabled after the
    // submission has started so that the browser still sends the form.
    if ((form.method || "").toLowerCase() === "post") {
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (button) { button.disabled = true; });
        form.setAttribute("aria-busy", "true");
      }, 0);
    }
  });
  // Coming back with the browser's Back button shows the page from its cache: enable the buttons again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) document.querySelectorAll("form[aria-busy] button").forEach(function (b) { b.disabled = false; });
  });
})();

// Tierflow dashboard: locale dates and confirmation prompts. Every page works without this file.
"use strict";
(function () {
  const dateFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "2-digit", day: "2-digit", timeZone: "UTC" });
  const timeFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  function localise(root) {
    // Maturities are calendar dates (UTC midnight): show them as dates in the reader's locale, never shifted a day.
    root.querySelectorAll("time[datetime]:not([data-done])").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.textContent = el.dataset.kind === "datetime" ? timeFmt.format(when) : dateFmt.format(when);
      el.title = el.getAttribute("datetime");
      el.dataset.done = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localise(event.target); });
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

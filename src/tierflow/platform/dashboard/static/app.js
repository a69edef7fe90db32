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
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
})();

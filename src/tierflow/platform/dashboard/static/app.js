// Tierflow dashboard: a write's progress. Every page works without this file. Money and legal actions are
// confirmed on a page of their own that says what will happen (never a browser dialog).
// Dates are written by the server in the page's language (one format per language), never rewritten here.
"use strict";
(function () {
  document.addEventListener("submit", function (event) {
    const form = event.target;
    // One click, one transaction: a double click must not fund or repay twice. Disabled after the
    // submission has started so that the browser still sends the form.
    if ((form.method || "").toLowerCase() === "post") {
      if (form.closest("main") && !form.closest(".no-progress")) showProgress(form);
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (button) { button.disabled = true; });
        form.setAttribute("aria-busy", "true");
      }, 0);
    }
  });
  // Waiting is visible: a posted form gets a random write id; while the post is under way the page asks
  // the platform every second how far the write has got (sent, in block n, indexed) and for how long.
  function showProgress(form) {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    const id = Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    const field = document.createElement("input");
    field.type = "hidden"; field.name = "write_id"; field.value = id;
    form.appendChild(field);
    let box = document.getElementById("write-progress");
    if (!box) {
      box = document.createElement("div");
      box.id = "write-progress"; box.className = "progress"; box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      box.setAttribute("data-testid", "write-progress");
      document.body.appendChild(box);
    }
    const started = Date.now();
    function seconds() { return Math.floor((Date.now() - started) / 1000); }
    box.textContent = box.dataset.sending || "…";
    box.hidden = false;
    function poll() {
      fetch("/dashboard/writes/" + id, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (state) {
          if (!state) return;
          box.dataset.stage = state.stage;
          box.textContent = state.text + " (" + seconds() + " s)";
        })
        .catch(function () { box.textContent = box.textContent.replace(/\(\d+ s\)$/, "(" + seconds() + " s)"); });
    }
    poll();
    window.setInterval(poll, 1000);
  }
  // Coming back with the browser's Back button shows the page from its cache: enable the buttons again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) document.querySelectorAll("form[aria-busy] button").forEach(function (b) { b.disabled = false; });
  });
})();

// gatehouse web interface: the one script of the interface besides htmx.
// Static and served by hash, since the Content-Security-Policy allows no
// inline script. Everything works without it; it adds the CSRF header to
// htmx requests, copy buttons, and the expiry field toggle.
(function () {
  "use strict";

  // htmx requests carry the session's anti-forgery token as a header,
  // taken from the page's meta tag (forms also carry it as a field).
  function setCSRFHeader() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && document.body) {
      document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRF-Token": meta.getAttribute("content") }));
    }
  }

  // Copy buttons: <button data-copy="ID"> copies the text of element ID.
  function select(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function copied(btn, ok) {
    var status = document.getElementById(btn.getAttribute("data-copy") + "-status");
    var text = ok ? "Copied to the clipboard." : "Selected: press Ctrl+C (or Cmd+C) to copy.";
    if (status) {
      status.textContent = text;
    }
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!btn) {
      return;
    }
    var el = document.getElementById(btn.getAttribute("data-copy"));
    if (!el) {
      return;
    }
    var text = el.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { copied(btn, true); },
        function () { select(el); copied(btn, false); }
      );
    } else {
      select(el);
      copied(btn, false);
    }
  });

  // Fields shown only for one choice: data-show-when="selectID=value"
  // for a select, data-show-when="inputID=checked" for a radio button or
  // a checkbox.
  function syncToggles() {
    var nodes = document.querySelectorAll("[data-show-when]");
    for (var i = 0; i < nodes.length; i++) {
      var rule = nodes[i].getAttribute("data-show-when").split("=");
      var sel = document.getElementById(rule[0]);
      if (!sel) {
        continue;
      }
      if (sel.tagName === "INPUT" && rule[1] === "checked") {
        nodes[i].hidden = !sel.checked;
      } else {
        nodes[i].hidden = sel.value !== rule[1];
      }
    }
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    // A radio button unchecks the others of its group without an event
    // of theirs: every change of one re-syncs them all.
    if (t && (t.tagName === "SELECT" || (t.tagName === "INPUT" && (t.type === "radio" || t.type === "checkbox")))) {
      syncToggles();
    }
  });

  function init() {
    setCSRFHeader();
    syncToggles();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
  // After htmx swaps new content in, fields of the new part need syncing.
  document.addEventListener("htmx:afterSettle", syncToggles);
})();

// The operator console's behaviour: keyboard shortcuts, the help overlay, drafts that
// survive failures and reloads. A static file, so the pages' CSP allows no inline script.
(function () {
  "use strict";
  var QUEUE_IDS = "desk-queue-ids";
  var QUEUE_URL = "desk-queue-url";

  function store(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }
  var session = store("sessionStorage");
  var local = store("localStorage");

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // Help overlay
  function help() { return document.getElementById("help"); }
  function openHelp() {
    var dialog = help();
    if (dialog && !dialog.open) { dialog.showModal(); }
  }

  // Queue: remember the order, move a selection with j/k
  function queueRows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-queue] tr[data-request-id]"));
  }
  function rememberQueue() {
    var rows = queueRows();
    if (!rows.length || !session) { return; }
    session.setItem(QUEUE_IDS, JSON.stringify(rows.map(function (row) { return row.getAttribute("data-request-id"); })));
    session.setItem(QUEUE_URL, window.location.pathname + window.location.search);
  }
  function moveSelection(step) {
    var rows = queueRows();
    if (!rows.length) { return; }
    var current = rows.findIndex(function (row) { return row.classList.contains("selected"); });
    var next = current < 0 ? 0 : Math.min(Math.max(current + step, 0), rows.length - 1);
    rows.forEach(function (row) { row.classList.remove("selected"); row.removeAttribute("aria-selected"); });
    rows[next].classList.add("selected");
    rows[next].setAttribute("aria-selected", "true");
    var link = rows[next].querySelector("a");
    if (link) { link.focus(); }
  }
  function openSelection() {
    var row = document.querySelector("[data-queue] tr.selected a");
    if (row) { row.click(); }
  }

  // Conversation: next/previous request in the remembered queue order
  function conversation() { return document.getElementById("conversation"); }
  function goToNeighbour(step) {
    var here = conversation();
    var ids = [];
    try { ids = JSON.parse((session && session.getItem(QUEUE_IDS)) || "[]"); } catch (e) { ids = []; }
    var index = ids.indexOf(here.getAttribute("data-request-id"));
    var target = ids[index + step];
    if (index >= 0 && target) { window.location.assign("/desk/requests/" + target + "/"); }
  }
  function backToQueue() {
    window.location.assign((session && session.getItem(QUEUE_URL)) || "/desk/");
  }
  function clickAction(name) {
    var button = document.querySelector('[data-action="' + name + '"]');
    if (button) { button.click(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.form) {
      event.preventDefault();
      event.target.form.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (help() && help().open) { return; }
    var inQueue = queueRows().length > 0;
    var inConversation = !!conversation();
    switch (event.key) {
      case "?": openHelp(); break;
      case "/":
        var search = document.getElementById("search");
        if (search) { search.focus(); search.select(); } else { return; }
        break;
      case "j": if (inQueue) { moveSelection(1); } else if (inConversation) { goToNeighbour(1); } else { return; } break;
      case "k": if (inQueue) { moveSelection(-1); } else if (inConversation) { goToNeighbour(-1); } else { return; } break;
      case "o": case "Enter": if (inQueue && document.querySelector("[data-queue] tr.selected")) { openSelection(); } else { return; } break;
      case "r":
        var body = document.getElementById("reply-body");
        if (body) { body.focus(); } else { return; }
        break;
      case "t": if (inConversation) { clickAction("take"); } else { return; } break;
      case "c": if (inConversation) { clickAction("close"); } else { return; } break;
      case "u": if (inConversation) { backToQueue(); } else { return; } break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help-open]")) { openHelp(); }
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("select[data-autosubmit]")) { target.form.submit(); }
    if (target.matches("select[data-canned-url]") && target.value) {
      // The canned reply comes back filled in for this request; it joins what is typed.
      var url = target.getAttribute("data-canned-url").replace(/0\/$/, target.value + "/");
      fetch(url, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      }).then(function (text) {
        var area = document.getElementById("reply-body");
        area.value = area.value ? area.value.replace(/\s*$/, "") + "\n\n" + text : text;
        area.dispatchEvent(new Event("input", { bubbles: true }));
        area.focus();
        target.value = "";
      }).catch(function () { target.value = ""; });
    }
  });

  // Drafts: what a person types is kept in localStorage until it has been sent.
  function draftKey(form) { return "desk-draft-" + form.getAttribute("data-draft"); }
  function restoreDrafts(root) {
    if (!local) { return; }
    (root || document).querySelectorAll("form[data-draft] textarea").forEach(function (area) {
      var saved = local.getItem(draftKey(area.form));
      if (saved && !area.value) { area.value = saved; }
    });
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (local && form && form.hasAttribute("data-draft") && event.target.tagName === "TEXTAREA") {
      if (event.target.value) { local.setItem(draftKey(form), event.target.value); }
      else { local.removeItem(draftKey(form)); }
    }
  });
  document.addEventListener("desk-sent", function (event) {
    var form = document.getElementById(event.detail && event.detail.form);
    if (!form) { return; }
    if (local) { local.removeItem(draftKey(form)); }
    form.querySelectorAll("textarea, input[type=file]").forEach(function (field) { field.value = ""; });
  });

  function ready() { rememberQueue(); restoreDrafts(document); }
  document.addEventListener("htmx:afterSettle", ready);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
})();

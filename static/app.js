// userpanel: the little behaviour htmx does not give us.
//
// When an htmx request for a table (the users or the audit log) fails, htmx
// leaves the old table in place and says nothing; this shows a message next
// to it instead, so that a failed search never looks like an empty or stale
// result.
(function () {
  "use strict";

  // The page's one table that htmx swaps.
  var tableIDs = ["users-table", "audit-table"];

  function errorBox() {
    return document.querySelector('[data-testid="table-error"]');
  }

  function eachTable(fn) {
    tableIDs.forEach(function (id) {
      var table = document.getElementById(id);
      if (table) {
        fn(table);
      }
    });
  }

  function isCount(elt) {
    return elt && elt.id === "users-total";
  }

  function show(message) {
    var box = errorBox();
    if (!box) {
      return;
    }
    box.textContent = message;
    box.hidden = false;
    eachTable(function (table) {
      table.classList.add("stale");
    });
  }

  function clear() {
    var box = errorBox();
    if (box) {
      box.hidden = true;
      box.textContent = "";
    }
    eachTable(function (table) {
      table.classList.remove("stale");
    });
  }

  document.addEventListener("htmx:beforeRequest", function (e) {
    if (!isCount(e.detail.elt)) {
      clear();
    }
  });

  document.addEventListener("htmx:responseError", function (e) {
    if (isCount(e.detail.elt)) {
      e.detail.elt.textContent = "an unknown number";
      return;
    }
    var status = e.detail.xhr ? e.detail.xhr.status : 0;
    show(
      "The list could not be loaded (error " + status + "). " +
        "The rows below may be out of date. Try again, or reload the page."
    );
  });

  document.addEventListener("htmx:sendError", function (e) {
    if (isCount(e.detail.elt)) {
      e.detail.elt.textContent = "an unknown number";
      return;
    }
    show(
      "The panel could not be reached. Check your connection and try again; " +
        "the rows below may be out of date."
    );
  });

  // An aborted request (a newer search replaced it) is not an error.
  document.addEventListener("htmx:timeout", function () {
    show("The list took too long to load. Try again.");
  });

  // "Select all on this page" ticks the rows too, so that what will be sent
  // is what the page shows; the box alone sends the page's ids (page_ids)
  // without JavaScript.
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches) {
      return;
    }
    if (box.matches('input[name="ids"][form="bulk-form"]') && !box.checked) {
      // One row left out: the page is no longer selected as a whole.
      var all = document.querySelector("[data-select-all]");
      if (all) {
        all.checked = false;
      }
      return;
    }
    if (!box.matches("[data-select-all]")) {
      return;
    }
    document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (row) {
      row.checked = box.checked;
    });
  });

  // A refused form answers its POST with the form again; the address bar
  // then shows the page's own address (the canonical link), so that reload,
  // back and bookmarks work.
  var canonical = document.querySelector('link[rel="canonical"]');
  if (canonical && window.history && history.replaceState) {
    var to = new URL(canonical.getAttribute("href"), location.href);
    if (to.origin === location.origin && to.pathname !== location.pathname) {
      history.replaceState(null, "", to.pathname + to.search);
    }
  }

  // Copy buttons: shown only where this script runs, they put their value
  // on the clipboard and say so for a moment.
  function showCopyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (b) {
      b.hidden = !(navigator.clipboard && navigator.clipboard.writeText);
    });
  }
  showCopyButtons(document);
  document.addEventListener("htmx:afterSwap", function (e) {
    showCopyButtons(e.target);
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-copy]");
    if (!b) {
      return;
    }
    navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
      b.textContent = "Copied";
      setTimeout(function () {
        b.textContent = "Copy";
      }, 1500);
    });
  });
})();

// Contrail Web UI behaviour. Loaded as a file (the Content-Security-Policy forbids inline script):
// CSRF header for htmx, theme toggle, keyboard navigation (j/k, enter, esc, /), the observation tree
// (expand/collapse, select), copy buttons, confirmations and auto-submitting selects.
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');

  document.body.addEventListener("htmx:configRequest", function (event) {
    if (csrfMeta) {
      event.detail.headers["X-CSRF-Token"] = csrfMeta.getAttribute("content");
    }
  });

  // --- theme -------------------------------------------------------------------------------------
  var themeToggle = document.getElementById("theme-toggle");
  if (themeToggle) {
    themeToggle.addEventListener("click", function () {
      var root = document.documentElement;
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { window.localStorage.setItem("contrail-theme", next); } catch (e) { /* private mode */ }
    });
  }

  // --- forms -------------------------------------------------------------------------------------
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.requestSubmit();
    }
  });

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  }, true);

  // --- copy buttons ------------------------------------------------------------------------------
  function flash(button, text) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = text;
    window.setTimeout(function () { button.textContent = original; }, 1500);
  }

  function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand("copy");
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-url], [data-copy-text]");
    if (!button) { return; }
    var text;
    if (button.hasAttribute("data-copy-url")) {
      text = fetch(button.getAttribute("data-copy-url"), { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (value) { return JSON.stringify(value, null, 2); });
    } else {
      var source = document.getElementById(button.getAttribute("data-copy-text"));
      text = Promise.resolve(source ? source.textContent : "");
    }
    text.then(writeClipboard).then(
      function () { flash(button, "Copied"); },
      function () { flash(button, "Copy failed"); }
    );
  });

  // --- observation tree --------------------------------------------------------------------------
  var tree = document.getElementById("tree");

  function depthOf(row) { return parseInt(row.getAttribute("data-depth"), 10); }

  function setOpen(row, open) {
    row.setAttribute("aria-expanded", open ? "true" : "false");
    var depth = depthOf(row);
    var closedBelow = Infinity; // rows deeper than a still-closed descendant stay hidden
    for (var next = row.nextElementSibling; next && depthOf(next) > depth; next = next.nextElementSibling) {
      var nextDepth = depthOf(next);
      if (!open || nextDepth > closedBelow) {
        next.hidden = true;
        continue;
      }
      next.hidden = false;
      closedBelow = next.getAttribute("aria-expanded") === "false" ? nextDepth : Infinity;
    }
  }

  function selectRow(row) {
    var link = row.querySelector("[data-nav-link]");
    var current = tree.querySelector(".row.sel");
    if (current) { current.classList.remove("sel"); }
    row.classList.add("sel");
    var project = tree.getAttribute("data-project");
    var url = "/traces/" + tree.getAttribute("data-trace") + "/observations/" +
      row.getAttribute("data-span") + "?project=" + encodeURIComponent(project);
    window.htmx.ajax("GET", url, { target: "#panel", swap: "outerHTML" });
    if (link) { window.history.replaceState(null, "", link.getAttribute("href")); }
  }

  if (tree) {
    tree.addEventListener("click", function (event) {
      var toggle = event.target.closest("button.tw");
      var row = event.target.closest(".row");
      if (!row) { return; }
      if (toggle) {
        setOpen(row, row.getAttribute("aria-expanded") !== "true");
        return;
      }
      var link = event.target.closest("a[data-nav-link]");
      if (link && (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0)) { return; }
      event.preventDefault();
      selectRow(row);
    });
    document.querySelectorAll("[data-tree]").forEach(function (button) {
      button.addEventListener("click", function () {
        var expand = button.getAttribute("data-tree") === "expand";
        tree.querySelectorAll(".row").forEach(function (row) {
          if (row.hasAttribute("aria-expanded")) { row.setAttribute("aria-expanded", expand ? "true" : "false"); }
          row.hidden = !expand && depthOf(row) > 0;
        });
      });
    });
    var selected = tree.querySelector(".row.sel");
    if (selected) { selected.scrollIntoView({ block: "nearest" }); }
  }

  // --- keyboard ----------------------------------------------------------------------------------
  function visibleItems(list) {
    return Array.prototype.filter.call(list.querySelectorAll("[data-nav-item]"), function (item) {
      return !item.hidden;
    });
  }

  function move(list, step) {
    var items = visibleItems(list);
    if (!items.length) { return; }
    var marker = list === tree ? "sel" : "kbd";
    var index = items.findIndex(function (item) { return item.classList.contains(marker); });
    var next = items[Math.max(0, Math.min(items.length - 1, index < 0 ? 0 : index + step))];
    if (list === tree) {
      selectRow(next);
    } else {
      items.forEach(function (item) { item.classList.remove("kbd"); });
      next.classList.add("kbd");
    }
    next.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      if (event.key === "Escape") { target.blur(); }
      return;
    }
    var list = document.querySelector("[data-nav-list]");
    if ((event.key === "j" || event.key === "k") && list) {
      event.preventDefault();
      move(list, event.key === "j" ? 1 : -1);
    } else if (event.key === "Enter" && list) {
      var current = list.querySelector(list === tree ? ".row.sel" : "[data-nav-item].kbd");
      if (!current) { return; }
      event.preventDefault();
      if (list === tree && current.hasAttribute("aria-expanded")) {
        setOpen(current, current.getAttribute("aria-expanded") !== "true");
      } else {
        var link = current.querySelector("[data-nav-link]");
        if (link) { window.location.href = link.getAttribute("href"); }
      }
    } else if (event.key === "Escape") {
      var back = document.body.getAttribute("data-esc-href");
      if (back) { window.location.href = back; }
    } else if (event.key === "/") {
      var search = document.getElementById("search");
      if (search) { event.preventDefault(); search.focus(); }
    }
  });
})();

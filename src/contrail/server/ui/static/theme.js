// Runs before the page paints: apply the saved theme, else the system's, so there is no flash.
(function () {
  "use strict";
  var theme = null;
  try { theme = window.localStorage.getItem("contrail-theme"); } catch (e) { theme = null; }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.documentElement.setAttribute("data-theme", theme);
})();

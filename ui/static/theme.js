// tape theme: runs before the page paints, so a stored choice of light or
// dark never flashes the other one. Without a stored choice the system's
// prefers-color-scheme decides (app.css).
"use strict";
(function () {
  try {
    const t = localStorage.getItem("tape.theme");
    if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
    if (localStorage.getItem("tape.tz") === "local") document.documentElement.dataset.tz = "local";
  } catch (e) { /* storage may be off: the system theme applies */ }
})();

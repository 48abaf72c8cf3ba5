// Applies the saved (or system) colour scheme before first paint.
(function () {
  try {
    var saved = localStorage.getItem("orchard-theme");
    var dark = saved ? saved === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
    if (dark) document.documentElement.classList.add("dark");
  } catch (e) {}
})();

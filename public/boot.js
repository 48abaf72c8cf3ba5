// Runs before first paint, on every page.
(function () {
  // The saved (or system) colour scheme.
  try {
    var saved = localStorage.getItem("orchard-theme");
    var dark = saved ? saved === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
    if (dark) document.documentElement.classList.add("dark");
  } catch (e) {}

  // A page names its build's files under /v/<build>/. When one of them is gone (a newer
  // build now answers, as during a rolling deploy), load the page afresh from the build
  // that answers rather than run half a client: the link just followed, if a click on one
  // is what needed the file, else this page. At most once per page every 30 s, so a fleet
  // of mixed versions cannot loop.
  var build = (document.currentScript && document.currentScript.src.match(/\/v\/[A-Za-z0-9]+\//)) || null;
  if (!build || !window.fetch) return;
  var prefix = build[0];
  var followed = null;
  var followedAt = 0;
  document.addEventListener(
    "click",
    function (e) {
      var a = e.target && e.target.closest ? e.target.closest("a[href]") : null;
      if (a && a.origin === location.origin) {
        followed = a.href;
        followedAt = Date.now();
      }
    },
    true
  );
  function loadAfresh() {
    var to = followed && Date.now() - followedAt < 15000 ? followed : location.href;
    try {
      var key = "orchard-reloaded:" + new URL(to).pathname;
      var last = Number(sessionStorage.getItem(key) || 0);
      if (Date.now() - last < 30000) return;
      sessionStorage.setItem(key, String(Date.now()));
    } catch (e) {
      return;
    }
    if (to === location.href) location.reload();
    else location.assign(to);
  }
  var fetch0 = window.fetch;
  window.fetch = function (input) {
    var url = String((input && input.url) || input);
    var ours = url.indexOf(prefix) !== -1;
    return fetch0.apply(this, arguments).then(function (r) {
      if (ours && r.status === 404) loadAfresh();
      return r;
    });
  };
  window.addEventListener("unhandledrejection", function (e) {
    var why = String((e.reason && e.reason.message) || e.reason || "");
    if (why.indexOf(prefix) !== -1) loadAfresh();
  });
})();

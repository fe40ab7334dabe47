(function () {
  "use strict";
  var table = document.getElementById("files");
  if (!table) { return; }
  var heads = table.querySelectorAll("thead th[data-sort]");
  var verdictRank = { dangerous: 0, malformed: 1, unsupported: 2, clean: 3 };
  function key(tb, by) {
    switch (by) {
      case "severity": return -Number(tb.getAttribute("data-severity"));
      case "verdict": return verdictRank[tb.getAttribute("data-verdict")];
      case "findings": return -Number(tb.getAttribute("data-findings"));
      case "size": return -Number(tb.getAttribute("data-size"));
    }
    return tb.getAttribute("data-path");
  }
  function sort(th) {
    var by = th.getAttribute("data-sort");
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody.file"));
    rows.sort(function (a, b) {
      var x = key(a, by), y = key(b, by);
      if (x < y) { return -dir; }
      if (x > y) { return dir; }
      var p = a.getAttribute("data-path"), q = b.getAttribute("data-path");
      return p < q ? -1 : p > q ? 1 : 0;
    });
    rows.forEach(function (r) { table.appendChild(r); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  heads.forEach(function (th) {
    var b = th.querySelector("button");
    if (b) { b.addEventListener("click", function () { sort(th); }); }
  });
}());

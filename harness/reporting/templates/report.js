/* Filters for report.html: by verdict, profile, level and tag; state kept in the URL hash
   (#verdict=FAIL,WARN&profile=ws-progress&level=MUST&tag=auth). Reads only data-* attributes. */
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var rows = Array.prototype.slice.call(document.querySelectorAll("article.scenario"));
  var shown = document.getElementById("shown");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=verdict]"));
  var selects = ["profile", "level", "tag"];

  function fromHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (params.has("verdict")) {
      var wanted = params.get("verdict").split(",");
      boxes.forEach(function (b) { b.checked = wanted.indexOf(b.value) >= 0; });
    }
    selects.forEach(function (name) {
      var value = params.get(name);
      if (value !== null && Array.prototype.some.call(form.elements[name].options,
          function (o) { return o.value === value; })) {
        form.elements[name].value = value;
      }
    });
  }

  function apply() {
    var verdicts = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var want = {};
    selects.forEach(function (name) { want[name] = form.elements[name].value; });
    var count = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var ok = verdicts.indexOf(d.verdict) >= 0 &&
        (!want.profile || d.profile === want.profile) &&
        (!want.level || d.level === want.level) &&
        (!want.tag || d.tags.split("|").indexOf(want.tag) >= 0);
      row.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }

  function toHash() {
    var params = new URLSearchParams();
    if (boxes.some(function (b) { return !b.checked; })) {
      params.set("verdict", boxes.filter(function (b) { return b.checked; })
        .map(function (b) { return b.value; }).join(","));
    }
    selects.forEach(function (name) {
      if (form.elements[name].value) { params.set(name, form.elements[name].value); }
    });
    try {
      history.replaceState(null, "", "#" + params.toString());
    } catch (e) { /* a page opened from a file may refuse: the filters still work */ }
  }

  form.hidden = false;
  fromHash();
  apply();
  form.addEventListener("change", function () { apply(); toHash(); });
  window.addEventListener("hashchange", function () { fromHash(); apply(); });
})();

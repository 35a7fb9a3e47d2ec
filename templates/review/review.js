
(function () {
  "use strict";
  var report = JSON.parse(document.getElementById("report-data").textContent);
  var view = JSON.parse(document.getElementById("view-data").textContent);
  var findings = report.findings;
  // once, not per key; between slashes, so that "/p2/" means the folder P2 itself or anything in it, never XP2 or
  // P20: "show its findings" on a patient or case card filters that way
  var lowerPaths = findings.map(function (f) { return "/" + String(f.path).toLowerCase() + "/"; });
  var body = document.querySelector("#findings-table tbody");
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.study"));
  var code = document.getElementById("f-code");
  var path = document.getElementById("f-path");
  var flagged = document.getElementById("f-flagged");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=severity]"));
  var more = document.getElementById("more");
  var matching = [];   // indices into findings that pass the filters
  var rendered = 0;    // how many of them are rows in the table

  function number(n) { return n.toLocaleString("en-US"); }
  // JSON.parse makes plain objects: a path such as "constructor" must not find Object.prototype's
  function own(map, key) { return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : ""; }

  function cell(row, name, text) {
    var td = document.createElement("td");
    td.className = name;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  // the markup of _row in review.py; data only ever goes into textContent and attribute values
  function row(finding) {
    var tr = document.createElement("tr");
    tr.className = "sev-" + finding.severity;
    tr.setAttribute("data-code", finding.code);
    tr.setAttribute("data-severity", finding.severity);
    tr.setAttribute("data-path", finding.path);
    cell(tr, "severity", finding.severity);
    var codeCell = cell(tr, "code", finding.code), title = own(view.titles, finding.code);
    if (title) { codeCell.title = title; }
    cell(tr, "path", finding.path || "(root)");
    cell(tr, "message", finding.message);
    var link = cell(tr, "link", "");
    var anchor = own(view.paths, finding.path) ||
                 (finding.study_id === null ? "" : own(view.ids, String(finding.study_id)));
    if (anchor) {
      var a = document.createElement("a");
      a.href = "#" + anchor;
      a.textContent = "view";
      link.appendChild(a);
    }
    return tr;
  }

  function showMore() {
    var end = Math.min(matching.length, rendered + view.page), part = document.createDocumentFragment();
    for (; rendered < end; rendered += 1) { part.appendChild(row(findings[matching[rendered]])); }
    body.appendChild(part);
    document.getElementById("rendered").textContent = number(rendered);
    document.getElementById("matched").textContent = number(matching.length);
    more.hidden = rendered >= matching.length;
    more.textContent = "show " + number(Math.min(view.page, matching.length - rendered)) + " more";
  }

  // the filters run over every finding of the report; only the first page of matches becomes rows
  function apply() {
    var wanted = {}, text = path.value.trim().toLowerCase();
    boxes.forEach(function (box) { wanted[box.value] = box.checked; });
    matching = [];
    findings.forEach(function (finding, i) {
      if ((!code.value || finding.code === code.value) && wanted[finding.severity] === true &&
          (!text || lowerPaths[i].indexOf(text) !== -1)) {
        matching.push(i);
      }
    });
    body.textContent = "";
    rendered = 0;
    showMore();
    document.getElementById("matching").textContent =
      number(matching.length) + " of " + number(findings.length) + " match";
    cards.forEach(function (card) { card.hidden = flagged.checked && !card.classList.contains("flagged"); });
  }

  // filters from the address: ?severity=error,warning&code=X&path=text&flagged=1 (or the same after '#')
  function fromAddress(scroll) {
    var query = new URLSearchParams(window.location.search);
    var hash = window.location.hash.replace(/^#/, "");
    if (hash.indexOf("=") !== -1) {
      new URLSearchParams(hash).forEach(function (value, key) { query.set(key, value); });
    }
    var touched = false;
    if (query.has("severity")) {
      var levels = query.get("severity").toLowerCase().split(",");
      boxes.forEach(function (box) { box.checked = levels.indexOf(box.value) !== -1; });
      touched = true;
    }
    if (query.has("code")) {
      var value = query.get("code");
      code.value = Array.prototype.some.call(code.options, function (o) { return o.value === value; }) ? value : "";
      touched = true;
    }
    if (query.has("path")) { path.value = query.get("path"); touched = true; }
    if (query.has("flagged")) { flagged.checked = query.get("flagged") === "1"; touched = true; }
    apply();
    if (touched && scroll) { document.getElementById("findings").scrollIntoView(); }
  }

  function encode(value) { return encodeURIComponent(value).replace(/%2C/g, ",").replace(/%2F/g, "/"); }

  // the filters back into the hash, so a copied link or a reload opens this view. Filters at their default
  // are left out, unless the query names them (the hash must then override the query). replaceState adds no
  // history entry and fires no hashchange; a browser may refuse it (file://, too many calls): the filters
  // still work, only the address does not follow.
  function toAddress() {
    var query = new URLSearchParams(window.location.search);
    var levels = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var filters = [["code", code.value, !code.value],
                   ["severity", levels.join(",") || "none", levels.length === boxes.length],
                   ["path", path.value.trim(), !path.value.trim()],
                   ["flagged", flagged.checked ? "1" : "0", !flagged.checked]];
    var hash = filters.filter(function (f) { return !f[2] || query.has(f[0]); })
                      .map(function (f) { return f[0] + "=" + encode(f[1]); }).join("&");
    var current = window.location.hash.replace(/^#/, "");
    if (!hash && current.indexOf("=") === -1) { return; }   // no filters: leave a study's anchor alone
    var address = window.location.href.split("#")[0] + (hash ? "#" + hash : "");
    if (address === window.location.href) { return; }
    try {
      window.history.replaceState(window.history.state, "", address);
    } catch (refused) {
      // the view is right; only the address does not follow
    }
  }

  function changed() { apply(); toAddress(); }

  path.addEventListener("input", changed);
  [code, flagged].concat(boxes).forEach(function (input) { input.addEventListener("change", changed); });
  more.addEventListener("click", showMore);
  document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); });
  // a link to filters ("show its findings"); a study's own anchor changes no filter
  window.addEventListener("hashchange", function () {
    if (window.location.hash.indexOf("=") !== -1) { fromAddress(true); toAddress(); }
  });
  fromAddress(false);
  document.body.setAttribute("data-ready", "1");
})();

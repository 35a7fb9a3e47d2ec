
(function () {
  "use strict";
  var report = JSON.parse(document.getElementById("report-data").textContent);
  var view = JSON.parse(document.getElementById("view-data").textContent);
  var filters = window.curatorFilters;   // filters.js: the pure filter logic, tested under node (tests/js/)
  var findings = report.findings;
  var slashed = filters.slashedPaths(findings);
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

  function cell(row, name, text) {
    var td = document.createElement("td");
    td.className = name;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  // the markup of _row in curator/review/page.py; data only ever goes into textContent and attribute values
  function row(finding) {
    var tr = document.createElement("tr");
    tr.className = "sev-" + finding.severity;
    tr.setAttribute("data-code", finding.code);
    tr.setAttribute("data-severity", finding.severity);
    tr.setAttribute("data-path", finding.path);
    cell(tr, "severity", finding.severity);
    var codeCell = cell(tr, "code", finding.code), title = filters.own(view.titles, finding.code);
    if (title) { codeCell.title = title; }
    cell(tr, "path", finding.path || "(root)");
    cell(tr, "message", finding.message);
    var link = cell(tr, "link", "");
    var anchor = filters.anchor(finding, view);
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
    var wanted = {};
    boxes.forEach(function (box) { wanted[box.value] = box.checked; });
    matching = filters.matching(findings, slashed, {code: code.value, severities: wanted, path: path.value});
    body.textContent = "";
    rendered = 0;
    showMore();
    document.getElementById("matching").textContent =
      number(matching.length) + " of " + number(findings.length) + " match";
    cards.forEach(function (card) { card.hidden = flagged.checked && !card.classList.contains("flagged"); });
  }

  // filters from the address: ?severity=error,warning&code=X&path=text&flagged=1 (or the same after '#')
  function fromAddress(scroll) {
    var codes = Array.prototype.map.call(code.options, function (o) { return o.value; });
    var named = filters.fromAddress(window.location.search, window.location.hash, codes);
    if (named.severity) {
      boxes.forEach(function (box) { box.checked = named.severity.indexOf(box.value) !== -1; });
    }
    if (named.code !== undefined) { code.value = named.code; }
    if (named.path !== undefined) { path.value = named.path; }
    if (named.flagged !== undefined) { flagged.checked = named.flagged; }
    apply();
    if (Object.keys(named).length && scroll) { document.getElementById("findings").scrollIntoView(); }
  }

  // the filters back into the hash, so a copied link or a reload opens this view. replaceState adds no history
  // entry and fires no hashchange; a browser may refuse it (file://, too many calls): the filters still work,
  // only the address does not follow.
  function toAddress() {
    var levels = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var hash = filters.toHash({code: code.value, levels: levels, path: path.value, flagged: flagged.checked},
                              boxes.length, window.location.search);
    var address = filters.nextAddress(window.location.href, hash);
    if (address === null) { return; }
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

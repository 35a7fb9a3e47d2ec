// The review page's filter logic, pure functions of plain data: which findings match the filters, the filters an
// address names, and the hash that names the current filters. No DOM: review.js wires them to the page, and
// tests/js/ runs them under node (`node --test tests/js/`). In a browser this file defines window.curatorFilters;
// under node it is a CommonJS module.
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module && module.exports) {
    module.exports = api;
  } else {
    root.curatorFilters = api;
  }
}(this, function () {
  "use strict";

  // JSON.parse makes plain objects: a path such as "constructor" must not find Object.prototype's
  function own(map, key) { return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : ""; }

  // each finding's path, lower case, between slashes: "/p2/" then means the folder P2 itself or anything in it,
  // never XP2 or P20 ("show its findings" on a patient or case card filters that way). Made once, not per key.
  function slashedPaths(findings) {
    return findings.map(function (f) { return "/" + String(f.path).toLowerCase() + "/"; });
  }

  // indices of the findings that pass the filters: filters.code ("" any), filters.severities (severity -> true
  // when shown), filters.path (text the slashed lower-case path must contain, "" any; trimmed, case-insensitive)
  function matching(findings, slashed, filters) {
    var text = String(filters.path || "").trim().toLowerCase(), code = filters.code || "", out = [];
    findings.forEach(function (finding, i) {
      if ((!code || finding.code === code) && own(filters.severities, finding.severity) === true &&
          (!text || slashed[i].indexOf(text) !== -1)) {
        out.push(i);
      }
    });
    return out;
  }

  // the card a finding's row links to: its file's card, else its study id's ("" none)
  function anchor(finding, view) {
    return own(view.paths, finding.path) ||
           (finding.study_id === null || finding.study_id === undefined ? "" : own(view.ids, String(finding.study_id)));
  }

  // the filters an address names: ?severity=error,warning&code=X&path=text&flagged=1, or the same after '#' (a
  // hash with an '=' in it; its keys override the query's). Only the named ones are returned: severity (the
  // levels, lower case), code (one of `codes`, else ""), path (as given), flagged (true for "1").
  function fromAddress(search, hash, codes) {
    var query = new URLSearchParams(search);
    var tail = String(hash).replace(/^#/, "");
    if (tail.indexOf("=") !== -1) {
      new URLSearchParams(tail).forEach(function (value, key) { query.set(key, value); });
    }
    var named = {};
    if (query.has("severity")) { named.severity = query.get("severity").toLowerCase().split(","); }
    if (query.has("code")) {
      var value = query.get("code");
      named.code = codes.indexOf(value) !== -1 ? value : "";
    }
    if (query.has("path")) { named.path = query.get("path"); }
    if (query.has("flagged")) { named.flagged = query.get("flagged") === "1"; }
    return named;
  }

  function encode(value) { return encodeURIComponent(value).replace(/%2C/g, ",").replace(/%2F/g, "/"); }

  // the hash that names the filters (without '#'): state.code, state.levels (the checked severities),
  // state.path, state.flagged; `all` the number of severities. A filter at its default is left out, unless the
  // query (`search`) names it: the hash must then override the query.
  function toHash(state, all, search) {
    var query = new URLSearchParams(search);
    var path = String(state.path || "").trim();
    var filters = [["code", state.code || "", !state.code],
                   ["severity", state.levels.join(",") || "none", state.levels.length === all],
                   ["path", path, !path],
                   ["flagged", state.flagged ? "1" : "0", !state.flagged]];
    return filters.filter(function (f) { return !f[2] || query.has(f[0]); })
                  .map(function (f) { return f[0] + "=" + encode(f[1]); }).join("&");
  }

  // the address to show for `hash`, or null when it should stay as it is: no filters and a hash without '='
  // (a study's own anchor), or no change
  function nextAddress(href, hash) {
    var current = href.indexOf("#") === -1 ? "" : href.slice(href.indexOf("#") + 1);
    if (!hash && current.indexOf("=") === -1) { return null; }
    var address = href.split("#")[0] + (hash ? "#" + hash : "");
    return address === href ? null : address;
  }

  return { own: own, slashedPaths: slashedPaths, matching: matching, anchor: anchor, fromAddress: fromAddress,
           encode: encode, toHash: toHash, nextAddress: nextAddress };
}));

// The review page's filter logic (templates/review/filters.js) under node's own test runner:
// `node --test tests/js/` (tests/test_review_js.py runs it from pytest).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const filters = require(path.join(__dirname, "..", "..", "templates", "review", "filters.js"));

const ALL = { error: true, warning: true, info: true };
const findings = [
  { code: "FILE_MISSING", severity: "error", path: "studies/CT-1/study_0001.nii.gz", study_id: 1 },
  { code: "FILE_JUNK", severity: "warning", path: "P2/.DS_Store", study_id: null },
  { code: "FILE_MISSING", severity: "error", path: "P20/IM0001", study_id: null },
  { code: "MANIFEST_MISSING", severity: "warning", path: "", study_id: null },
  { code: "PHI_DOCUMENT_METADATA", severity: "info", path: "XP2/report.pdf", study_id: null },
  { code: "FILE_UNLISTED", severity: "error", path: "constructor", study_id: null },
];
const slashed = filters.slashedPaths(findings);

function pick(options) {
  return filters.matching(findings, slashed, Object.assign({ code: "", severities: ALL, path: "" }, options));
}

test("slashed paths are lower case between slashes, the root a single pair", () => {
  assert.deepEqual(slashed.slice(0, 4), ["/studies/ct-1/study_0001.nii.gz/", "/p2/.ds_store/", "/p20/im0001/", "//"]);
});

test("no filter matches every finding, in report order", () => {
  assert.deepEqual(pick({}), [0, 1, 2, 3, 4, 5]);
});

test("a code matches that code only", () => {
  assert.deepEqual(pick({ code: "FILE_MISSING" }), [0, 2]);
  assert.deepEqual(pick({ code: "NO_SUCH_CODE" }), []);
});

test("severities: only the checked ones; an unknown or inherited severity never matches", () => {
  assert.deepEqual(pick({ severities: { error: true, warning: false, info: false } }), [0, 2, 5]);
  assert.deepEqual(pick({ severities: { warning: true } }), [1, 3]);
  assert.deepEqual(pick({ severities: {} }), []);
  const odd = [{ code: "X", severity: "toString", path: "a" }];
  assert.deepEqual(filters.matching(odd, filters.slashedPaths(odd), { code: "", severities: {}, path: "" }), []);
});

test("path text is trimmed and case-insensitive", () => {
  assert.deepEqual(pick({ path: "  STUDY_0001 " }), [0]);
  assert.deepEqual(pick({ path: "   " }), [0, 1, 2, 3, 4, 5]);
});

test("a folder between slashes is that folder only: /P2/ is never P20 or XP2", () => {
  assert.deepEqual(pick({ path: "/P2/" }), [1]);
  assert.deepEqual(pick({ path: "p2" }), [1, 2, 4]);
});

test("the filters combine", () => {
  assert.deepEqual(pick({ code: "FILE_MISSING", path: "p20" }), [2]);
  assert.deepEqual(pick({ code: "FILE_MISSING", severities: { warning: true } }), []);
});

test("a row links to its file's card, else to its study id's, and never to Object.prototype", () => {
  const view = { paths: { "P2/.DS_Store": "patient-P2" }, ids: { 1: "study-0001" } };
  assert.equal(filters.anchor(findings[1], view), "patient-P2");
  assert.equal(filters.anchor(findings[0], view), "study-0001");
  assert.equal(filters.anchor(findings[3], view), "");
  assert.equal(filters.anchor(findings[5], view), "");   // the path "constructor"
  assert.equal(filters.anchor({ path: "__proto__", study_id: null }, view), "");
});

test("the address names filters in the query or the hash; the hash wins", () => {
  const codes = ["", "FILE_MISSING", "FILE_JUNK"];
  assert.deepEqual(filters.fromAddress("", "", codes), {});
  assert.deepEqual(filters.fromAddress("?severity=Error,WARNING", "", codes), { severity: ["error", "warning"] });
  assert.deepEqual(filters.fromAddress("?code=FILE_JUNK&path=x", "#code=FILE_MISSING&flagged=1", codes),
    { code: "FILE_MISSING", path: "x", flagged: true });
  assert.deepEqual(filters.fromAddress("?flagged=0", "", codes), { flagged: false });
});

test("a hash without '=' is a study's anchor, not filters", () => {
  assert.deepEqual(filters.fromAddress("?path=a", "#study-0001", ["", "X"]), { path: "a" });
});

test("an unknown code in the address selects all codes; hostile values stay text", () => {
  assert.deepEqual(filters.fromAddress("", "#code=%3Cscript%3E", ["", "FILE_MISSING"]), { code: "" });
  assert.deepEqual(filters.fromAddress("", "#path=%3Cimg%20src%3Dx%3E", [""]), { path: "<img src=x>" });
});

test("the hash names the filters away from their defaults", () => {
  const defaults = { code: "", levels: ["error", "warning", "info"], path: "", flagged: false };
  assert.equal(filters.toHash(defaults, 3, ""), "");
  assert.equal(filters.toHash(Object.assign({}, defaults, { levels: ["error", "warning"] }), 3, ""),
    "severity=error,warning");
  assert.equal(filters.toHash(Object.assign({}, defaults, { levels: [] }), 3, ""), "severity=none");
  assert.equal(filters.toHash({ code: "FILE_MISSING", levels: ["error"], path: " P2/a b ", flagged: true }, 3, ""),
    "code=FILE_MISSING&severity=error&path=P2/a%20b&flagged=1");
});

test("a filter the query names is written even at its default, so the hash overrides the query", () => {
  const defaults = { code: "", levels: ["error", "warning", "info"], path: "", flagged: false };
  assert.equal(filters.toHash(defaults, 3, "?severity=error&flagged=1"), "severity=error,warning,info&flagged=0");
});

test("the hash round-trips through the address", () => {
  const state = { code: "FILE_JUNK", levels: ["warning", "info"], path: "a&b=c,d/é", flagged: true };
  const named = filters.fromAddress("", "#" + filters.toHash(state, 3, ""), ["", "FILE_JUNK"]);
  assert.deepEqual(named, { code: "FILE_JUNK", severity: ["warning", "info"], path: "a&b=c,d/é", flagged: true });
});

test("the address changes only when the filters say something new", () => {
  const base = "file:///tmp/review/index.html";
  assert.equal(filters.nextAddress(base, ""), null);                      // no filters, no hash
  assert.equal(filters.nextAddress(base + "#study-0001", ""), null);      // a study's anchor stays
  assert.equal(filters.nextAddress(base + "#code=X", ""), base);          // filters cleared: the hash goes
  assert.equal(filters.nextAddress(base, "code=X"), base + "#code=X");
  assert.equal(filters.nextAddress(base + "#code=X", "code=X"), null);    // unchanged
  assert.equal(filters.nextAddress(base + "?severity=error", "severity=error"), base + "?severity=error#severity=error");
});

"""JUnit XML for CI test tabs: a test case per active check and file; checks with no finding pass."""

from __future__ import annotations

from collections import defaultdict
from xml.etree import ElementTree as ET

from curator.catalogue import catalogue
from curator.escaping import display
from curator.models.findings import Finding, Report, Severity


def to_junit(report: Report, command: str = "validate") -> str:
    by_code: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_code[finding.code].append(finding)
    rules = catalogue()
    suite = ET.Element("testsuite", name=f"curator {command} {display(report.root)}")
    tests = failures = skipped = 0
    for code in sorted(set(by_code) | {c for c, r in rules.items() if r.status == "active"}):
        findings = by_code.get(code, [])
        if not findings:
            ET.SubElement(suite, "testcase", classname=code, name="all files")
            tests += 1
            continue
        by_path: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            by_path[display(finding.path or ".")].append(finding)   # XML 1.0 cannot carry controls
        for path, items in sorted(by_path.items()):
            case = ET.SubElement(suite, "testcase", classname=code, name=path)
            tests += 1
            text = "\n".join(display(f.message) for f in items)
            if any(f.severity == Severity.error for f in items):
                ET.SubElement(case, "failure", message=display(items[0].message), type=code).text = text
                failures += 1
            else:
                ET.SubElement(case, "skipped", message=display(items[0].message)).text = text
                skipped += 1
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", f"{report.stats.seconds:.3f}")
    root = ET.Element("testsuites", tests=str(tests), failures=str(failures), errors="0",
                      time=f"{report.stats.seconds:.3f}")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

"""SARIF 2.1.0 for code-scanning dashboards: one run, rules from the catalogue, one result per finding."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from curator import __version__
from curator.catalogue import catalogue
from curator.escaping import display, json_bytes, path_bytes, plain
from curator.gc_pauses import fewer_collections
from curator.models.findings import Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}


def to_sarif(report: Report, command: str = "validate") -> str:
    return sarif_report(report, command).decode()


def sarif_report(report: Report, command: str = "validate") -> bytes:
    """:func:`to_sarif` as UTF-8 bytes, what a report file or a pipe is given: :func:`sarif_document` written by
    :func:`curator.escaping.json_bytes` (the findings' contexts are its only values of any type: checked once)."""
    with fewer_collections():   # its ~220,000 new dicts (74,000 findings) hold no cycle (issue 15)
        document = sarif_document(report, command)
    return json_bytes(document, checked=plain([f.context for f in report.findings]), newline=True)


def sarif_document(report: Report, command: str = "validate") -> dict[str, object]:
    rules = catalogue()
    used = sorted({f.code for f in report.findings})
    index = {code: i for i, code in enumerate(used)}
    driver_rules = []
    for code in used:
        rule = rules[code]
        driver_rules.append({
            "id": code,
            "name": "".join(part.capitalize() for part in code.lower().split("_")),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": " ".join(rule.rationale.split())},
            "defaultConfiguration": {"level": _LEVEL[rule.level]},
            "properties": {"tags": list(rule.tags)},
        })
    results = []
    places: dict[str, list[object]] = {}   # a file's findings share its "locations" (a DICOM file has ~25)
    for finding in report.findings:
        properties: dict[str, object] = {"context": finding.context}
        if finding.study_id is not None:
            properties["studyId"] = finding.study_id
        result: dict[str, object] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": _LEVEL[finding.severity],
            "message": {"text": display(finding.message)},
            "properties": properties,
        }
        if finding.path:
            place = places.get(finding.path)
            if place is None:
                place = places[finding.path] = [{"physicalLocation": {"artifactLocation": {
                    "uri": quote(path_bytes(finding.path)), "uriBaseId": "RELEASEROOT"}}}]
            result["locations"] = place
        results.append(result)
    root_uri = Path(report.root).absolute().as_uri() + "/"
    document: dict[str, object] = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "curator", "version": __version__, "semanticVersion": __version__,
                                "informationUri": "https://pypi.org/project/ct-curator/", "rules": driver_rules}},
            "automationDetails": {"id": f"curator/{command}/"},
            "originalUriBaseIds": {"RELEASEROOT": {"uri": root_uri}},
            "invocations": [{"executionSuccessful": True}],
            "results": results,
        }],
    }
    return document

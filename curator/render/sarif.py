"""SARIF 2.1.0 for code-scanning dashboards: one run, rules from the catalogue, one result per finding."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from curator import __version__
from curator.catalogue import catalogue
from curator.escaping import display, json_text, path_bytes
from curator.models.findings import Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}


def to_sarif(report: Report, command: str = "validate") -> str:
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
    for finding in report.findings:
        result: dict[str, object] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": _LEVEL[finding.severity],
            "message": {"text": display(finding.message)},
            "properties": {"context": finding.context, **({"studyId": finding.study_id}
                                                            if finding.study_id is not None else {})},
        }
        if finding.path:
            result["locations"] = [{"physicalLocation": {"artifactLocation": {
                "uri": quote(path_bytes(finding.path)), "uriBaseId": "RELEASEROOT"}}}]
        results.append(result)
    root_uri = Path(report.root).absolute().as_uri() + "/"
    document = {
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
    return json_text(document) + "\n"

"""curator.escaping.json_text writes the report JSON without the standard library's pure-Python indenting encoder
(issue 15): its text must stay byte for byte what ``json.dumps(..., indent=N, ensure_ascii=False)`` writes."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pytest

from curator.escaping import _SURROGATE, _escape, _json_escape, json_text
from curator.models.findings import Counts, Finding, Report, Severity, Stats


class _Int(int):
    pass


class _Float(float):
    pass


class _Text(StrEnum):
    a = "a"


DOCUMENTS: list[Any] = [
    {}, [], (), 0, -5, 2**70, 1.5, -0.0, 1e16, 1e-7, 1e300, float("nan"), float("inf"), -float("inf"), None, True,
    False, "", "é\"\\ я ü/", [[]], [{}, [], [{}]], {"a": {}}, {"a": []}, (1, (2, 3)),
    {True: 4}, {1: 2, 1.5: 3, False: 5, None: 6, "x": [1, {"y": [None, True, 1e300, 10**30]}, "z"]},
    {"я": "ü", "nested": {"deeper": {"deepest": [1, "two", 3.0, {"k": None}]}}},
    _Int(3), _Float(2.5), _Text.a, {_Text.a: [_Text.a, _Int(1), _Float(0.1)]}, {"k": (1, "t")},
]


@pytest.mark.parametrize("indent", [0, 2, 4])
@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_json_text_is_json_dumps_byte_for_byte(document: Any, indent: int) -> None:
    """(Text a terminal would interpret is escaped further: test_names_in_outputs.py.)"""
    assert json_text(document, indent=indent) == json.dumps(document, indent=indent, ensure_ascii=False)


def test_a_report_is_written_as_json_dumps_writes_it() -> None:
    """A report of many findings (the shape of a DICOM release's): the same text as before, faster."""
    findings = [Finding(code="PHI_DICOM_ELEMENT", severity=Severity.error, path=f"P{i:03d}/IM{i}.dcm",
                        message=f"PatientName keeps a value in file {i} «é»",
                        context={"keyword": "PatientName", "tag": "(0010,0010)", "direct_identifier": True,
                                 "looks_like": ["name"], "count": i, "ratio": i / 7})
                for i in range(200)]
    report = Report(version="0", root="r", profile="dicom", valid=False, counts=Counts(error=200),
                    stats=Stats(files=200, bytes=1 << 40, seconds=1.25), findings=findings)
    document = report.model_dump(mode="json")
    assert json_text(document) == json.dumps(document, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("document", [{(1, 2): 3}, {"a": object()}, {1, 2}, [object()], {"a": [{1}]}],
                         ids=["tuple key", "object value", "set", "object item", "nested set"])
def test_json_text_refuses_what_json_refuses(document: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(document, indent=2)
    with pytest.raises(TypeError):
        json_text(document)


def _before(document: Any, indent: int | None) -> str:
    """json_text as it was before issue 15: every string of the document copied with its surrogates escaped, then
    json.dumps, then characters a terminal would interpret escaped."""
    def valid(value: Any) -> Any:
        if isinstance(value, str):
            return _SURROGATE.sub(lambda m: _escape(m.group()), value)
        if isinstance(value, dict):
            return {valid(k): valid(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [valid(v) for v in value]
        return value

    text = json.dumps(valid(document), indent=indent, ensure_ascii=False)
    if all(line.isprintable() for line in text.split("\n")):
        return text
    return "".join(c if c.isprintable() or c == "\n" else _json_escape(c) for c in text)


HOSTILE: list[Any] = [
    "bad\udcff\udcfename.txt", {"p\udcff": ["a\udcff\x1b[31m", {"k": "\ud800\"\\\n"}]}, "\x9b\u202e\u2028\x7f\x00",
    {"nested": [("tuple\udc80", 1.5), {"\udcff": None}], "ok": "é"}, ["\u200b", "\ufeff", "\U000e0001"],
]


@pytest.mark.parametrize("indent", [None, 0, 2])
@pytest.mark.parametrize("document", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_escaped_as_before(document: Any, indent: int | None) -> None:
    """Undecodable bytes (surrogates), controls, format and separator characters: escaped as they were before
    the surrogates were escaped in the finished text instead of in a copy of the document."""
    text = json_text(document, indent=indent)
    assert text == _before(document, indent)
    text.encode("utf-8")   # valid UTF-8: no surrogate left

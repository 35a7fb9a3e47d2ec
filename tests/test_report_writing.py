"""The JSON and SARIF reports are written by orjson (curator.escaping.json_bytes) where it writes what the standard
library's encoder writes, and by json_text otherwise (issue 15: a 49 MB report took 2.9 s): the bytes must stay
exactly what ``json_text`` (``json.dumps(indent=2, ensure_ascii=False)`` plus the escaping rule) wrote before."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import math
import random
import re
import struct
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import orjson
import pytest

from curator.catalogue import catalogue
from curator.escaping import json_bytes, json_text, plain
from curator.models.findings import Counts, Finding, Report, Severity, Stats
from curator.render.report import json_report, to_json
from curator.render.sarif import sarif_document, sarif_report, to_sarif
from curator.validate import ValidateOptions, validate
from tests.dicom_factories import write_dicom_release
from tests.reports import assert_sarif_valid, validate_output
from tests.test_json_text import DOCUMENTS, HOSTILE


class _Code(IntEnum):
    one = 1


class _Word(StrEnum):
    word = "wörd"


@dataclasses.dataclass
class _Pair:
    a: int


def _before(report: Report) -> bytes:
    """The JSON report as it was written before issue 15 (render.report.to_json, then the CLI's encoding)."""
    return (json_text(report.model_dump(mode="json")) + "\n").encode("utf-8", "backslashreplace")


# ---- json_bytes: json_text's bytes on every document, fast or not ----------------------------------------------

FLOATS = [0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e-05, 1.5e-07, 5e-324, 0.1, 1.0, 123.456, 1e15, 1e16,
          9999999999999998.0, 1e22, 1.7976931348623157e308, math.nan, math.inf, -math.inf]
EDGES: list[Any] = [
    *FLOATS, [FLOATS], {"f": FLOATS}, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, {"big": [2**70]},
    {1: "int key"}, {None: "none key"}, {True: 1}, {1.5: 2}, {math.nan: 1}, {_Word.word: "str-enum key"},
    _Word.word, [_Word.word], _Code.one, {"i": _Code.one}, "\x00\x1f\x7f\x80\x9f\u00a0\u00ad\u2028\u2029\u202e\ufeff",
    "é я 😀 \"\\/<>&'", "\ud83d\ude00", {"k": "tail\x7f"}, {"deep": [[[[[[[[[[{"x": [1e-5]}]]]]]]]]]]},
]
REFUSED: list[Any] = [{"p": Path("a")}, {"s": {1}}, [object()], {"d": dt.date(2020, 1, 1)}, [_Pair(1)], {(1, 2): 3}]


@pytest.mark.parametrize("document", DOCUMENTS + HOSTILE + EDGES, ids=range(len(DOCUMENTS + HOSTILE + EDGES)))
def test_json_bytes_is_json_text_byte_for_byte(document: Any) -> None:
    assert json_bytes(document) == json_text(document).encode()
    assert json_bytes(document, newline=True) == (json_text(document) + "\n").encode()


def test_json_bytes_on_floats_of_every_magnitude() -> None:
    """Random bit patterns (every exponent) and random decimals near every power of ten, in one document."""
    rnd = random.Random(15)
    floats = [struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0] for _ in range(20_000)]
    floats += [round(rnd.random() * 10.0**e, rnd.randrange(1, 17)) for e in range(-8, 20) for _ in range(300)]
    document = {"floats": floats, "ours": [f for f in floats if plain(f)]}
    assert len(document["ours"]) > 5_000   # the fast path's share is real, not a corner
    assert json_bytes(document) == json_text(document).encode()
    # what plain() lets through orjson writes exactly as json_text does
    assert orjson.dumps(document["ours"], option=orjson.OPT_INDENT_2) == json_text(document["ours"]).encode()


@pytest.mark.parametrize("document", REFUSED, ids=["path", "set", "object", "date", "dataclass", "tuple key"])
def test_json_bytes_refuses_what_json_text_refuses(document: Any) -> None:
    with pytest.raises(TypeError):
        json_text(document)
    with pytest.raises(TypeError):
        json_bytes(document)


@pytest.mark.parametrize(("document", "expected"), [
    ({"a": [1, "x", None, True, 0.5, {"b": ()}]}, True), ({"w": _Word.word}, True), (1e-5, False),
    ([math.nan], False), ({"x": {"y": math.inf}}, False), (1e16, False), ({"p": Path("a")}, False),
    ([_Code.one], False), ({"s": {1}}, False),
], ids=["json types", "str enum", "small float", "nan", "inf", "1e16", "path", "int enum", "set"])
def test_plain_says_which_documents_orjson_writes(document: Any, expected: bool) -> None:
    assert plain(document) is expected


def test_json_bytes_keeps_other_indents_as_json_text_writes_them() -> None:
    document = {"a": [1, {"b": "é\x9b"}], "c": {}}
    for indent in (0, 1, 4):
        assert json_bytes(document, indent=indent) == json_text(document, indent=indent).encode()


# ---- whole reports: every finding shape, every code ---------------------------------------------------------------

CONTEXTS: list[dict[str, Any]] = [
    {}, {"other": "P1/IM1.dcm", "count": 3, "ratio": 0.25, "flag": False, "none": None},
    {"values": [2, 3], "allowed": [0, 1], "nested": {"deeper": [{"k": "v"}, []]}},
    {"shift_mm": 1e-05, "degrees": 2.5e-07}, {"mean": math.nan, "max": math.inf}, {"big": 2**80},
    {"tuple": (1, "t"), "enum": _Word.word}, {"path": Path("studies/x.nii.gz"), "set": {3}},
    {"text": "ctrl\x1b[31m\x7f\x85\u202e\u2028 я é 😀"}, {"undecodable": "bad\udcff.dcm"}, {"int_enum": _Code.one},
]


def _findings() -> list[Finding]:
    """A finding of every code of the catalogue, at its level, cycling through every context shape, path and
    study id (None, 0, large), with messages holding quotes, backslashes, controls and non-ASCII."""
    findings = []
    for number, (code, rule) in enumerate(sorted(catalogue().items())):
        context = CONTEXTS[number % len(CONTEXTS)]
        path = ["", "masks/study_0001_mask.nii.gz", "P1/séries/IM\t1.dcm", "bad\udcfe/x"][number % 4]
        study_id = [None, 0, 255, 10**12][number % 4]
        findings.append(Finding(code=code, severity=Severity(rule.level), path=path, study_id=study_id,
                                message=f"{rule.title} «{code}» \"q\" \\ \x01 {number}", context=context))
    return findings


def _report(findings: list[Finding], **stats: Any) -> Report:
    return Report(version="0.1.0", root="/tmp/release é", profile=None, valid=False,
                  counts=Counts(error=len(findings)), stats=Stats(**{"files": 3, "bytes": 2**40, "seconds": 0.5,
                                                                     **stats}),
                  findings=findings)


def test_a_report_of_every_code_is_written_as_before() -> None:
    findings = _findings()
    assert {f.code for f in findings} == set(catalogue())
    report = _report(findings, categories={"CT-0": 2}, deid_edition="2024b")
    assert json_report(report) == _before(report)
    assert to_json(report) == _before(report).decode()


@pytest.mark.parametrize("context", CONTEXTS, ids=range(len(CONTEXTS)))
def test_each_finding_shape_is_written_as_before(context: dict[str, Any]) -> None:
    """One shape at a time: the plain ones through orjson, the others (small floats, NaN, a Path, a surrogate, an
    int beyond 64 bits) through the dump and json_text, each exactly as before."""
    findings = [Finding(code="PHI_DICOM_ELEMENT", severity=Severity.error, path="P1/IM1.dcm", message="m",
                        context=context),
                Finding(code="MASK_EMPTY", severity=Severity.warning, path="m.nii.gz", study_id=7, message="é")]
    report = _report(findings)
    assert json_report(report) == _before(report)


@pytest.mark.parametrize("stats", [{"seconds": 1e-05}, {"extra": math.nan}, {"extra": {"path": Path("x")}}],
                         ids=["small seconds", "nan extra", "path extra"])
def test_the_report_header_is_written_as_before(stats: dict[str, Any]) -> None:
    report = _report(_findings()[:3], **stats)
    assert json_report(report) == _before(report)


def test_findings_made_without_validation_are_written_as_before() -> None:
    """model_construct (fields given in another order) and model_copy(update=...)."""
    made = Finding.model_construct(message="m", path="p", severity=Severity.warning, code="FILE_JUNK")
    copied = Finding(code="FILE_JUNK", severity=Severity.warning, path="p", message="m").model_copy(
        update={"context": {"a": 1}, "study_id": 3})
    report = _report([made, copied])
    assert json_report(report) == _before(report)


def test_an_empty_report_is_written_as_before() -> None:
    report = _report([])
    assert json_report(report) == _before(report)


def test_sarif_of_every_code_is_written_as_before() -> None:
    """The SARIF document written by json_bytes is what json_text wrote of it, and still valid SARIF 2.1.0 (a
    context of a path or a set was refused by json_text before, and still is: left out)."""
    report = _report([f for f in _findings() if "path" not in f.context])
    for command in ("validate", "verify"):
        data = sarif_report(report, command)
        assert data == (json_text(sarif_document(report, command)) + "\n").encode()
        assert to_sarif(report, command) == data.decode()
    sarif = json.loads(sarif_report(report))
    assert_sarif_valid(sarif)
    assert len(sarif["runs"][0]["results"]) == len(report.findings)


@pytest.fixture(scope="module")
def dicom_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = write_dicom_release(tmp_path_factory.mktemp("dicom") / "release", size=64)
    return validate(root, ValidateOptions(profile="dicom", jobs=1))


def test_a_dicom_release_report_is_written_as_before(dicom_report: Report) -> None:
    assert {"PHI_DICOM_ELEMENT", "PHI_DICOM_NOT_DEIDENTIFIED"} <= dicom_report.codes()
    assert json_report(dicom_report) == _before(dicom_report)
    assert sarif_report(dicom_report) == (json_text(sarif_document(dicom_report)) + "\n").encode()
    assert_sarif_valid(json.loads(sarif_report(dicom_report)))


def test_the_command_writes_the_same_bytes_to_a_file_and_to_standard_output(tmp_path: Path) -> None:
    root = write_dicom_release(tmp_path / "release", size=64)
    for fmt in ("json", "sarif"):
        output = tmp_path / f"report.{fmt}"
        options = ("--profile", "dicom", "--jobs", "1", "--no-cache", "--format", fmt)
        validate_output(root, *options, "-o", str(output), exit_code=1)
        printed = validate_output(root, *options, exit_code=1)
        written = output.read_text(encoding="utf-8")
        assert _timeless(written) == _timeless(printed)   # the run time is the one difference between two runs
        assert json.loads(written)


def _timeless(text: str) -> str:
    return re.sub(r'"seconds": [0-9.e+-]+', '"seconds": 0', text)


def test_sarif_leaves_garbage_collection_as_it_found_it() -> None:
    """The SARIF writer pauses cyclic collection while it makes the document, and only then."""
    report = _report(_findings()[:5])
    sarif_report(report)
    assert gc.isenabled()
    gc.disable()
    try:
        sarif_report(report)
        assert not gc.isenabled()
    finally:
        gc.enable()

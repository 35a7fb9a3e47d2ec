"""Facts for the unit tests of ``curator/checks``: read from a tree on disk by validate's own gatherer.

The checks are called directly on what ``curator.validate.gather`` read, never on Facts filled in by hand, so these
tests follow the Facts record when its fields change (``facts.extra[...]`` keys becoming typed fields). This is the
one place the tests build Facts for a check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from curator import validate
from curator.io.facts import Facts
from curator.models.findings import Finding
from curator.profiles import get_profile
from curator.validate import ValidateOptions, gather

# the files of the release the session fixture ``built_release`` builds from factories.make_source: study n, and the
# masks of studies 3 and 4
STUDY = {n: f"studies/{c}/study_{n:04d}.nii.gz" for n, c in
         ((1, "CT-0"), (2, "CT-0"), (3, "CT-1"), (4, "CT-1"), (5, "CT-1"), (6, "CT-2"), (7, "CT-3"), (8, "CT-4"))}
MASK = {n: f"masks/study_{n:04d}_mask.nii.gz" for n in (3, 4)}


def gather_facts(root: Path, profile: str = "mosmed", *, deep: bool = False, identifiers: Path | None = None) -> Facts:
    """What ``curator validate ROOT --profile PROFILE [--deep]`` reads before it judges (serially, no cache)."""
    options = ValidateOptions(profile=profile, deep=deep, jobs=1, identifiers=identifiers)
    return gather(root, get_profile(profile), options)


def rows(findings: Iterable[Finding]) -> list[tuple[str, str, dict[str, Any]]]:
    """(code, path, context) of each finding, in the order the check yielded them."""
    return [(f.code, f.path, f.context) for f in findings]


def codes_and_paths(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


def observe_dicom_judging(monkeypatch: pytest.MonkeyPatch, seen: Callable[[Any], None]) -> None:
    """Call ``seen`` with each audited file just before validate's gather judges it (the judging itself unchanged):
    for tests of when and how the DICOM fast tier's files are judged."""
    entry = validate.AS_READ[validate.DICOM_GATHERER]

    def observed(facts: Facts, wanted: tuple[str, ...]) -> dict[str, object]:
        made = entry.given(facts, wanted)
        inner = made["judge"]
        assert callable(inner)

        def judging(audited: Any) -> None:
            seen(audited)
            inner(audited)

        return {**made, "judge": judging}

    monkeypatch.setitem(validate.AS_READ, validate.DICOM_GATHERER, entry._replace(given=observed))

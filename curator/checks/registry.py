"""The registry against its schema, the profile and the disk."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from curator.catalogue import make_finding
from curator.io.facts import Facts
from curator.models.findings import Finding
from curator.models.registry import RegistryRecord, RegistryRow

CODES = frozenset({
    "REGISTRY_UNREADABLE", "REGISTRY_ROW_INVALID", "REGISTRY_DUPLICATE_ID", "REGISTRY_CATEGORY_MISMATCH",
    "REGISTRY_COPIES_DISAGREE", "FILE_MISSING", "FILE_UNLISTED", "MASK_STUDY_MISSING", "MASK_CATEGORY_UNEXPECTED",
    "REGISTRY_FORMULA",
})


def parse_rows(facts: Facts) -> tuple[list[tuple[int, RegistryRecord]], list[Finding]]:
    """Rows that pass the record schema and the profile (kept as compact records); findings for the ones that do
    not."""
    good: list[tuple[int, RegistryRecord]] = []
    findings: list[Finding] = []
    for number, row, row_findings in _parsed(facts):
        findings += row_findings
        if row is not None:
            good.append((number, RegistryRecord.of(row)))
    return good, findings


def _parsed(facts: Facts) -> Iterator[tuple[int, RegistryRow | None, list[Finding]]]:
    """Each row, parsed (None when its schema rejects it), with its findings: one row at a time, so that a caller
    wanting only the findings never holds a million parsed rows."""
    table = facts.registry
    if table is None:
        return
    rel = facts.registry_name
    profile = facts.profile
    study_pattern = profile.pattern_for("study")
    mask_pattern = profile.pattern_for("mask")
    for number, raw in table.rows:
        values = {k: raw.get(k) for k in ("study_id", "category", "study_file", "mask_file")}
        findings: list[Finding] = []
        try:
            row = RegistryRow.model_validate(values)
        except ValidationError as error:
            for item in error.errors():
                field = str(item["loc"][0]) if item["loc"] else "row"
                findings.append(make_finding("REGISTRY_ROW_INVALID", rel, row=number, field=field,
                                             reason=f"{item['msg']} (found {raw.get(field)!r})"))
            yield number, None, findings
            continue
        problems = []
        if row.category not in profile.categories:
            problems.append(("category", f"{row.category!r} is not one of {', '.join(profile.categories)}"))
        study = study_pattern.regex.match(row.study_file[1:])
        if study is None:
            problems.append(("study_file", f"{row.study_file!r} is not named like /{study_pattern.template}"))
        elif int(study["study_id"]) != row.study_id:
            problems.append(("study_file", f"{row.study_file!r} names study {int(study['study_id'])}, "
                                           f"the row's study_id is {row.study_id}"))
        if row.mask_file is not None:
            mask = mask_pattern.regex.match(row.mask_file[1:])
            if mask is None:
                problems.append(("mask_file", f"{row.mask_file!r} is not named like /{mask_pattern.template}"))
            elif int(mask["study_id"]) != row.study_id:
                problems.append(("mask_file", f"{row.mask_file!r} belongs to study {int(mask['study_id'])}, "
                                              f"the row's study_id is {row.study_id}"))
        for field, reason in problems:
            findings.append(make_finding("REGISTRY_ROW_INVALID", rel, row=number, field=field, reason=reason,
                                         study_id=row.study_id))
        if study is not None and "category" in study.groupdict() and study["category"] != row.category:
            findings.append(make_finding("REGISTRY_CATEGORY_MISMATCH", rel, row=number, study_id=row.study_id,
                                         category=row.category, folder=study["category"]))
        yield number, row, findings


def check(facts: Facts) -> Iterator[Finding]:
    if facts.registry is None:
        if facts.registry_error:
            path = facts.profile.registry.path if facts.profile.registry else ""
            yield make_finding("REGISTRY_UNREADABLE", path, reason=facts.registry_error)
        return
    rel = facts.registry_name
    for cell, formula in facts.registry.formulas:
        yield make_finding("REGISTRY_FORMULA", rel, cell=cell, formula=formula)
    for _, _, row_findings in _parsed(facts):  # the findings only: facts.rows holds the parsed rows already
        yield from row_findings
    yield from _duplicates(facts, rel)
    no_lesions = set(facts.profile.plausibility.no_lesion_categories)
    for _, row in facts.rows:
        if row.mask_file and row.category in no_lesions:
            yield make_finding("MASK_CATEGORY_UNEXPECTED", row.mask_file.lstrip("/"), study_id=row.study_id,
                               category=row.category)
    yield from _against_disk(facts, rel)
    yield from _copies(facts)


def _duplicates(facts: Facts, rel: str) -> Iterator[Finding]:
    by_id: dict[Any, list[int]] = defaultdict(list)
    for number, raw in facts.registry.rows if facts.registry else []:
        value = raw.get("study_id")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)  # the CSV twin holds text
        if value is not None:
            by_id[value].append(number)
    for study_id, rows in by_id.items():
        if len(rows) > 1 and type(study_id) is int:  # a non-integer id is already REGISTRY_ROW_INVALID
            yield make_finding("REGISTRY_DUPLICATE_ID", rel, study_id=study_id, rows=rows)


def _against_disk(facts: Facts, rel: str) -> Iterator[Finding]:
    files = facts.files
    listed: set[str] = set()
    listed_ids: set[int] = set()
    for number, row in facts.rows:
        listed_ids.add(row.study_id)
        for listed_path in (row.study_file, row.mask_file):
            if listed_path is None:
                continue
            path = listed_path.lstrip("/")
            listed.add(path)
            if path not in files:
                yield make_finding("FILE_MISSING", path, study_id=row.study_id, listed_in=rel, row=number)
    for path in files:
        if path in listed:
            continue
        kind = facts.data_kind(path)
        if kind is None:
            continue
        study_id = int(kind.groups["study_id"]) if kind.groups.get("study_id") else None
        if kind.kind == "mask" and study_id not in listed_ids:
            yield make_finding("MASK_STUDY_MISSING", path, study_id=study_id,
                               study=f"study_id {study_id}")
        else:
            yield make_finding("FILE_UNLISTED", path, study_id=study_id, expected_in=rel)


def _copies(facts: Facts) -> Iterator[Finding]:
    """The CSV twin must say exactly what the xlsx says."""
    main, copy = facts.registry, facts.registry_copy
    if copy is None and facts.registry_copy_error and facts.profile.registry and facts.profile.registry.csv:
        yield make_finding("REGISTRY_UNREADABLE", facts.profile.registry.csv, reason=facts.registry_copy_error)
        return
    if main is None or copy is None:
        return
    csv_rel, xlsx_rel = copy.path.name, main.path.name
    columns = [c for c in main.header if c]
    left = [tuple(_cell(r.get(c)) for c in columns) for _, r in main.rows]
    right = [tuple(_cell(r.get(c)) for c in columns) for _, r in copy.rows]
    reported = 0
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b and reported < 20:
            reported += 1
            diff = [f"{c}: {x!r} vs {y!r}" for c, x, y in zip(columns, a, b, strict=True) if x != y]
            yield make_finding("REGISTRY_COPIES_DISAGREE", csv_rel, other=xlsx_rel, row=copy.rows[index][0],
                               reason="; ".join(diff))
    if len(left) != len(right):
        yield make_finding("REGISTRY_COPIES_DISAGREE", csv_rel, other=xlsx_rel, row=min(len(left), len(right)) + 2,
                           reason=f"{xlsx_rel} has {len(left)} rows, {csv_rel} has {len(right)}")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def category_counts(rows: list[tuple[int, RegistryRecord]]) -> dict[str, int]:
    return dict(sorted(Counter(row.category for _, row in rows).items()))

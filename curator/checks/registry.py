"""The registry against its schema, the profile and the disk."""

from __future__ import annotations

import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy
from pydantic import ValidationError

from curator.catalogue import make_finding
from curator.io.facts import Facts, Walk
from curator.io.registry import Records, Rows
from curator.models.findings import Finding
from curator.models.registry import REGISTRY_COLUMNS, RegistryRecord, RegistryRow

CODES = frozenset({
    "REGISTRY_UNREADABLE", "REGISTRY_ROW_INVALID", "REGISTRY_DUPLICATE_ID", "REGISTRY_CATEGORY_MISMATCH",
    "REGISTRY_COPIES_DISAGREE", "FILE_MISSING", "FILE_UNLISTED", "MASK_STUDY_MISSING", "MASK_CATEGORY_UNEXPECTED",
    "REGISTRY_FORMULA",
})


def parse_rows(facts: Facts) -> tuple[Records | list[tuple[int, RegistryRecord]], list[Finding]]:
    """Rows that pass the record schema and the profile (kept as a compact view on the table); findings for the
    ones that do not."""
    if facts.registry is None:
        return [], []
    good = Records(facts.registry.rows)
    findings: list[Finding] = []
    for index, _, record, row_findings in _parsed(facts):
        findings += row_findings
        if record is not None:
            good.append(index, record.study_id)
    return good, findings


_CATEGORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _plain_path(value: object) -> bool:
    """A path RegistryRow's pattern and length certainly accept (a leading ``/``, no NUL, at most 200 characters)."""
    return type(value) is str and 1 < len(value) <= 200 and value[0] == "/" and "\x00" not in value


def _plain(values: tuple[Any, Any, Any, Any]) -> RegistryRecord | None:
    """The record of a row RegistryRow's schema certainly accepts, made without building the model (a million rows
    cost a pydantic validation each otherwise); None for anything else, which the model then judges, so its
    messages stay the model's own. Only the common exact forms pass here: an int id or canonical digits."""
    study_id, category, study_file, mask_file = values
    if type(study_id) is str and study_id.isascii() and study_id.isdigit() and study_id[0] != "0" \
            and len(study_id) <= 6:
        study_id = int(study_id)
    if type(study_id) is not int or not 1 <= study_id <= 999_999:
        return None
    if type(category) is not str or len(category) > 32 or _CATEGORY.fullmatch(category) is None:
        return None
    if not _plain_path(study_file) or not (mask_file is None or _plain_path(mask_file)):
        return None
    return RegistryRecord(study_id, category, study_file, mask_file)


def _validated(values: tuple[Any, Any, Any, Any], number: int, rel: str) -> tuple[RegistryRecord | None,
                                                                                  list[Finding]]:
    record = _plain(values)
    if record is not None:
        return record, []
    try:
        return RegistryRecord.of(RegistryRow.model_validate(dict(zip(REGISTRY_COLUMNS, values, strict=True)))), []
    except ValidationError as error:
        raw = dict(zip(REGISTRY_COLUMNS, values, strict=True))
        findings = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "row"
            findings.append(make_finding("REGISTRY_ROW_INVALID", rel, row=number, field=field,
                                         reason=f"{item['msg']} (found {raw.get(field)!r})"))
        return None, findings


def _parsed(facts: Facts) -> Iterator[tuple[int, int, RegistryRecord | None, list[Finding]]]:
    """Each row's index in the table, row number, record (None when its schema rejects it) and findings: one row
    at a time, so that a caller wanting only the findings never holds a million parsed rows."""
    table = facts.registry
    if table is None:
        return
    rel = facts.registry_name
    profile = facts.profile
    study_pattern = profile.pattern_for("study")
    mask_pattern = profile.pattern_for("mask")
    rows = table.rows
    columns = [rows.column(name) for name in REGISTRY_COLUMNS]
    for index in range(len(rows)):
        number = rows.number(index)
        values = tuple(None if column is None else column[index] for column in columns)
        row, findings = _validated(values, number, rel)  # type: ignore[arg-type]
        if row is None:
            yield index, number, None, findings
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
        yield index, number, row, findings


def check(facts: Facts) -> Iterator[Finding]:
    if facts.registry is None:
        if facts.registry_error:
            path = facts.profile.registry.path if facts.profile.registry else ""
            yield make_finding("REGISTRY_UNREADABLE", path, reason=facts.registry_error)
        return
    rel = facts.registry_name
    for cell, formula in facts.registry.formulas:
        yield make_finding("REGISTRY_FORMULA", rel, cell=cell, formula=formula)
    for _, _, _, row_findings in _parsed(facts):  # the findings only: facts.rows holds the parsed rows already
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
    """REGISTRY_DUPLICATE_ID for each integer id on more than one row, in the order of their first rows. The ids
    are sorted in an array (8 bytes a row), not grouped in a dict of lists (~100 bytes a row); a registry with an
    id that is not a plain integer takes the general way."""
    if facts.registry is None:
        return
    rows = facts.registry.rows
    column = rows.column("study_id")
    if column is None:
        return
    ids = array("q")
    for index in range(len(rows)):
        value = column[index]
        if type(value) is str and value.strip().isdigit():
            value = int(value)  # the CSV twin holds text
        if type(value) is not int or not -(1 << 63) <= value < (1 << 63):
            yield from _duplicates_of_any(facts.registry.rows, rel)
            return
        ids.append(value)
    values = numpy.frombuffer(ids, dtype=numpy.int64)
    if bool((values[1:] > values[:-1]).all()):   # ids in increasing order (the usual registry): none repeated,
        return                                     # and no sort of a million ids
    unique, first, counts = numpy.unique(values, return_index=True, return_counts=True)
    repeated = counts > 1
    if not repeated.any():
        return
    where = numpy.flatnonzero(numpy.isin(values, unique[repeated]))
    numbers: dict[int, list[int]] = {int(i): [] for i in unique[repeated][numpy.argsort(first[repeated])]}
    for index in where.tolist():
        numbers[int(values[index])].append(rows.number(index))
    for study_id, found in numbers.items():
        yield make_finding("REGISTRY_DUPLICATE_ID", rel, study_id=study_id, rows=found)


def _duplicates_of_any(rows: Rows, rel: str) -> Iterator[Finding]:
    by_id: dict[Any, list[int]] = defaultdict(list)
    for number, raw in rows:
        value = raw.get("study_id")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)  # the CSV twin holds text
        if value is not None:
            by_id[value].append(number)
    for study_id, numbers in by_id.items():
        if len(numbers) > 1 and type(study_id) is int:  # a non-integer id is already REGISTRY_ROW_INVALID
            yield make_finding("REGISTRY_DUPLICATE_ID", rel, study_id=study_id, rows=numbers)


def _against_disk(facts: Facts, rel: str) -> Iterator[Finding]:
    """Listed files missing from the disk (in row order), then data files on disk no row lists (in path order).
    What is listed is marked in a byte per file, not kept as a set of a million path strings."""
    entries = facts.entries
    position: Callable[[str], int | None]
    files: Callable[[], Iterable[tuple[str, int]]]
    if isinstance(entries, Walk):   # validate's compact walk: files found by bisection, no dict of a million
        position, files = entries.position, entries.file_positions
    else:
        by_path = {entry.path: index for index, entry in enumerate(entries) if entry.kind == "file"}
        position, files = by_path.get, by_path.items
    listed = bytearray(len(entries))
    for number, row in facts.rows:
        for listed_path in (row.study_file, row.mask_file):
            if listed_path is None:
                continue
            path = listed_path.lstrip("/")
            index = position(path)
            if index is None:
                yield make_finding("FILE_MISSING", path, study_id=row.study_id, listed_in=rel, row=number)
            else:
                listed[index] = 1
    listed_ids: set[int] | None = None   # made when an unlisted mask needs it
    for path, index in files():
        if listed[index]:
            continue
        kind = facts.data_kind(path)
        if kind is None:
            continue
        study_id = int(kind.groups["study_id"]) if kind.groups.get("study_id") else None
        if kind.kind == "mask":
            if listed_ids is None:
                listed_ids = {row.study_id for _, row in facts.rows}
            if study_id not in listed_ids:
                yield make_finding("MASK_STUDY_MISSING", path, study_id=study_id, study=f"study_id {study_id}")
                continue
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


def category_counts(rows: Sequence[tuple[int, RegistryRecord]]) -> dict[str, int]:
    return dict(sorted(Counter(row.category for _, row in rows).items()))

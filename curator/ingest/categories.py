"""The category (and optional mask) of each ingested study, from a mapping file the curator keeps.

A CSV with a category column (``category`` unless told otherwise) and at least one key column: ``input`` (the
archive or folder name, without its suffix), ``patient_id``, ``study_uid`` or ``accession``. A row may name a
NIfTI ``mask`` made on the converted volume, relative to the CSV. The file holds identifiers: it stays with
the curator, beside the key file, never in the output.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from curator.errors import OptionsError
from curator.io.regular import open_regular

KEY_COLUMNS = ("input", "patient_id", "study_uid", "accession")


@dataclass(frozen=True)
class Assignment:
    category: str
    mask: Path | None
    line: int


@dataclass
class CategoryMap:
    path: Path | None = None
    default: str | None = None
    rows: dict[tuple[str, str], Assignment] = field(default_factory=dict)

    def lookup(self, label: str, identity: dict[str, str]) -> Assignment | None:
        """The row for a study: by input name first, then patient, study UID, accession; else the default."""
        keys = {"input": label, **identity}
        for column in KEY_COLUMNS:
            value = keys.get(column, "")
            if value and (column, value) in self.rows:
                return self.rows[(column, value)]
        return Assignment(self.default, None, 0) if self.default else None


def load_category_map(path: Path | None, column: str = "category", default: str | None = None) -> CategoryMap:
    mapping = CategoryMap(path=path, default=default)
    if path is None:
        return mapping
    try:
        with open_regular(path, "r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = [h.strip() for h in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise OptionsError(f"cannot read the category map {path}: {error}") from error
    if not rows:
        raise OptionsError(f"the category map {path} has no rows")
    keys = [c for c in KEY_COLUMNS if c in header]
    if column not in header or not keys:
        raise OptionsError(f"the category map {path} needs a {column!r} column and one of {', '.join(KEY_COLUMNS)}; "
                           f"found {', '.join(header)}")
    for number, row in enumerate(rows, start=2):
        # cells beyond the header (a trailing comma, as spreadsheets write) come under the key None: ignored
        cells = {k.strip(): v.strip() for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
        category = cells.get(column, "")
        if not category:
            raise OptionsError(f"{path}, line {number}: no {column}")
        mask = cells.get("mask") or ""
        assignment = Assignment(category, (path.parent / mask) if mask else None, number)
        for key in keys:
            if cells.get(key):
                earlier = mapping.rows.get((key, cells[key]))
                if earlier is not None and earlier.category != category:
                    raise OptionsError(f"{path}, line {number}: {key} on this line is also on line {earlier.line} "
                                       "with another category")
                mapping.rows[(key, cells[key])] = assignment
    return mapping

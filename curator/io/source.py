"""Read a build source's studies table (``studies.csv``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pydantic import ValidationError

from curator.io import ReadError
from curator.io.card import describe_validation_error
from curator.io.regular import read_regular_bytes
from curator.models.records import SourceStudy

STUDY_COLUMNS = ("study", "category", "sex", "age", "mask", "patient")
REQUIRED_COLUMNS = ("study", "category")


class SourceError(ReadError):
    """The table cannot be used. When bad rows are the reason, ``rows`` holds (line, what is wrong) for each and
    ``studies`` the rows that were good, so that a caller can tell every problem of the source in one run."""

    def __init__(self, message: str, rows: list[tuple[int, str]] | None = None,
                 studies: list[tuple[int, SourceStudy]] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []
        self.studies = studies or []


def read_studies(path: Path) -> list[SourceStudy]:
    """Every row of the studies table; any bad row makes the whole table an error (listing all bad rows)."""
    return [study for _, study in read_study_table(path)]


def read_study_table(path: Path) -> list[tuple[int, SourceStudy]]:
    """Like :func:`read_studies`, each study with its line number in the file."""
    try:
        text = read_regular_bytes(path).decode("utf-8-sig")
    except FileNotFoundError as error:
        raise SourceError(f"{path} does not exist; a source needs a studies table (studies.csv)") from error
    except OSError as error:
        raise SourceError(f"cannot read {path} ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise SourceError(f"{path} is not UTF-8 text (byte {error.start})") from error
    try:
        cells = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise SourceError(f"{path.name} is not valid CSV ({error})") from error
    if not cells:
        raise SourceError(f"{path.name} is empty")
    header = [h.strip() for h in cells[0]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise SourceError(f"{path.name}: column(s) {', '.join(repeated)} appear more than once")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in STUDY_COLUMNS]
    if missing or unknown:
        raise SourceError(
            f"{path.name}: columns must be {', '.join(STUDY_COLUMNS)} (study and category required); "
            f"found {header}"
            + (f", missing {missing}" if missing else "")
            + (f", unknown {unknown}" if unknown else "")
        )
    studies: list[tuple[int, SourceStudy]] = []
    problems: list[tuple[int, str]] = []
    for number, row in enumerate(cells[1:], start=2):
        if len(row) > len(header):
            problems.append((number, f"{len(row)} cells, the header has {len(header)}"))
            continue
        values = {name: cell.strip() for name, cell in zip(header, row, strict=False)}
        if not any(values.values()):
            continue
        clean = {k: v for k, v in values.items() if v}
        try:
            studies.append((number, SourceStudy.model_validate(clean)))
        except ValidationError as error:
            problems.append((number, describe_validation_error(error, limit=3)))
    if problems:
        shown = "; ".join(f"line {line}: {what}" for line, what in problems[:10])
        shown += f"; ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise SourceError(f"{path.name} has {len(problems)} invalid row(s): {shown}", problems, studies)
    if not studies:
        raise SourceError(f"{path.name} lists no studies")
    return studies

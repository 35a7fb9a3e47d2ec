"""Read a build source's studies table (``studies.csv``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pydantic import ValidationError

from curator.io import ReadError
from curator.io.card import describe_validation_error
from curator.models.records import SourceStudy

STUDY_COLUMNS = ("study", "category", "sex", "age", "mask", "patient")
REQUIRED_COLUMNS = ("study", "category")


class SourceError(ReadError):
    pass


def read_studies(path: Path) -> list[SourceStudy]:
    """Every row of the studies table; any bad row makes the whole table an error (listing all bad rows)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as error:
        raise SourceError(f"{path} does not exist; a source needs a studies table (studies.csv)") from error
    except OSError as error:
        raise SourceError(f"cannot read {path} ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise SourceError(f"{path} is not UTF-8 text (byte {error.start})") from error
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in STUDY_COLUMNS]
    if missing or unknown:
        raise SourceError(
            f"{path.name}: columns must be {', '.join(STUDY_COLUMNS)} (study and category required); "
            f"found {header}"
            + (f", missing {missing}" if missing else "")
            + (f", unknown {unknown}" if unknown else "")
        )
    studies, problems = [], []
    for number, raw in enumerate(reader, start=2):
        values = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k is not None}
        if not any(values.values()):
            continue
        clean = {k: v for k, v in values.items() if v not in ("", None)}
        try:
            studies.append(SourceStudy.model_validate(clean))
        except ValidationError as error:
            problems.append(f"line {number}: {describe_validation_error(error, limit=3)}")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise SourceError(f"{path.name} has {len(problems)} invalid row(s): {shown}")
    if not studies:
        raise SourceError(f"{path.name} lists no studies")
    return studies

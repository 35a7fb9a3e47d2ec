"""Export the records' JSON Schemas to ``schema/records/`` (a test fails when the files are stale).

Run ``python -m curator.models.schemas [DIR]`` after changing a model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from curator.models.card import DatasetCard
from curator.models.config import ValidationConfig
from curator.models.findings import Finding, Report
from curator.models.profile import Profile
from curator.models.records import MaskRecord, SourceStudy, StudyRecord
from curator.models.registry import RegistryRow
from curator.models.rules import Rule

EXPORTED: dict[str, type[BaseModel]] = {
    "dataset_card": DatasetCard,
    "registry_row": RegistryRow,
    "source_study": SourceStudy,
    "study_record": StudyRecord,
    "mask_record": MaskRecord,
    "finding": Finding,
    "report": Report,
    "rule": Rule,
    "profile": Profile,
    "validation_config": ValidationConfig,
}


def schema_documents() -> dict[str, str]:
    """File name -> JSON text of every exported schema."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False, sort_keys=True)
        + "\n"
        for name, model in EXPORTED.items()
    }


def export(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_documents().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - developer tool
    from curator.resources import schema_dir

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else schema_dir() / "records"
    for path in export(target):
        print(path)

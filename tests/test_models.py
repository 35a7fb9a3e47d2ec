"""Records: the exported JSON Schemas stay in step with the models; the card refuses what it must."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from curator.io.card import CardError, load_card
from curator.models.card import DatasetCard
from curator.models.findings import Finding, Report
from curator.models.registry import RegistryRow
from curator.models.schemas import schema_documents
from curator.resources import schema_dir
from tests.factories import card_data


def test_exported_schemas_are_up_to_date() -> None:
    folder = schema_dir() / "records"
    expected = schema_documents()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.schema.json")}
    stale = sorted(name for name in expected if on_disk.get(name) != expected[name])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale and not extra, (
        f"schema/records is stale ({stale}, extra {extra}); run `python -m curator.models.schemas`")


def test_card_requires_every_declared_language() -> None:
    data = card_data()
    data["description"] = {"en": "only English"}
    with pytest.raises(ValidationError, match="description has no 'ru'"):
        DatasetCard.model_validate(data)


def test_card_rejects_unknown_affiliation_and_fields() -> None:
    data = card_data()
    data["contributors"][0]["affiliations"] = [7]
    with pytest.raises(ValidationError, match="unknown affiliations"):
        DatasetCard.model_validate(data)
    with pytest.raises(ValidationError, match="Extra inputs"):
        DatasetCard.model_validate({**card_data(), "colour": "blue"})


def test_load_card_explains_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "dataset.yaml"
    path.write_text("title: [unclosed", encoding="utf-8")
    with pytest.raises(CardError, match="not valid YAML"):
        load_card(path)
    path.write_text(yaml.safe_dump({**card_data(), "version": "one"}), encoding="utf-8")
    with pytest.raises(CardError, match="version"):
        load_card(path)


def test_registry_row_matches_the_mosmed_shape() -> None:
    row = RegistryRow(study_id=255, category="CT-1", study_file="/studies/CT-1/study_0255.nii.gz",
                      mask_file="/masks/study_0255_mask.nii.gz")
    assert row.mask_file
    with pytest.raises(ValidationError):
        RegistryRow(study_id=0, category="CT-1", study_file="/x")
    with pytest.raises(ValidationError):
        RegistryRow(study_id=1, category="CT-1", study_file="studies/no-leading-slash")


def test_report_flatten() -> None:
    finding = Finding(code="FILE_MISSING", severity="error", path="a", message="m", context={"row": 3})
    report = Report(version="0", root=".", profile=None, valid=False, counts={"error": 1},
                    stats={}, findings=[finding])
    assert report.flatten(["code", "path", "row"]) == [["FILE_MISSING", "a", 3]]

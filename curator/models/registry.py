"""Rows of a MosMed-style registry (``dataset_registry.xlsx`` / ``.csv``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

REGISTRY_COLUMNS = ("study_id", "category", "study_file", "mask_file")


class RegistryRow(BaseModel):
    """One study of the registry, exactly as the real MosMed file stores it.

    Paths start with ``/`` and are relative to the release root, e.g. ``/studies/CT-1/study_0255.nii.gz``.
    ``mask_file`` is ``None`` when the study has no mask. Whether ``category`` is one of the profile's
    categories is the registry check's business, not the record's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    study_id: int = Field(ge=1, le=999_999)
    category: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=32)
    study_file: str = Field(pattern=r"^/[^\x00]+$", max_length=200)
    mask_file: str | None = Field(default=None, pattern=r"^/[^\x00]+$", max_length=200)

    @field_validator("study_id", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a study id is a number, not TRUE/FALSE")
        return value


class RegistryRecord(NamedTuple):
    """A row that passed RegistryRow's schema, kept compactly: a tuple is ~70 bytes, a validated model ~600 (its
    __dict__ and fields-set), which is 600 MB for a million-row registry. Same attribute names as RegistryRow."""

    study_id: int
    category: str
    study_file: str
    mask_file: str | None

    @classmethod
    def of(cls, row: RegistryRow) -> RegistryRecord:
        return cls(row.study_id, row.category, row.study_file, row.mask_file)

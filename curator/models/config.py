"""``curator.toml`` (or ``[tool.curator]`` in ``pyproject.toml``): a dataset repository's validation settings."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from curator.models.findings import Severity


class Waiver(BaseModel):
    """Accept findings of one code on matching paths until a date, for a stated reason."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$")
    path: str = Field(default="*", description="glob on the finding's path, e.g. masks/study_00*_mask.nii.gz")
    reason: str = Field(min_length=3)
    expires: dt.date


class ValidationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    profile: str | None = None
    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    fail_on: Severity | None = Field(default=None, alias="fail-on")
    severity: dict[str, Severity] = Field(default_factory=dict, description="code -> severity override")
    tolerance_voxels: float | None = Field(default=None, gt=0, alias="tolerance-voxels")
    tolerance_degrees: float | None = Field(default=None, gt=0, alias="tolerance-degrees")
    labels: list[int] | None = Field(default=None, description="mask label set, overriding the profile's")
    waivers: list[Waiver] = Field(default_factory=list)

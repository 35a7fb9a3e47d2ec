"""A dataset layout profile (``schema/profiles/*.yaml``): data, not code."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DataPattern(BaseModel):
    """Where one kind of data file lives. The regex names its groups ``study_id`` and ``category``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["study", "mask", "image", "series"]
    pattern: str
    template: str = Field(description="how a file of this kind is named, for humans and for the builder")

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


class RegistrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    csv: str | None = None
    columns: list[str]
    sheet: str | None = Field(default=None, description="sheet name; None = the first sheet")


class Detection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    all_of: list[str] = Field(default_factory=list, description="paths that must exist (folders end with /)")
    any_of: list[str] = Field(default_factory=list)
    any_glob: list[str] = Field(default_factory=list, description="glob patterns; one match is enough")


class GeometryTolerance(BaseModel):
    """How far a mask's affine may stray from its study's before it is MASK_GEOMETRY_MISMATCH."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voxel_fraction: float = Field(default=0.05, gt=0, description="largest corner shift, in voxels")
    degrees: float = Field(default=0.05, gt=0, description="largest rotation between the grids")


class Plausibility(BaseModel):
    """What lesion masks and CT values should look like (MosMed paper: lesions average -700..-130 HU)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lesion_hu: tuple[float, float] = (-700.0, -130.0)
    lesion_hu_margin: float = Field(default=150.0, ge=0, description="how far outside lesion_hu is 'far'")
    max_air_fraction: float = Field(default=0.5, ge=0, le=1, description="share of marked voxels below -950 HU")
    no_lesion_categories: list[str] = Field(default_factory=list, description="categories that have no lesions")


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    detect: Detection
    data_roots: list[str] = Field(description="top-level folders that hold only data files")
    data_files: list[DataPattern]
    required_files: list[str] = Field(description="may contain {lang} for each README language")
    release_files: list[str] = Field(description="regexes of the non-data files a release may carry")
    registry: RegistrySpec | None = None
    categories: list[str]
    labels: list[int]
    label_scheme: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9-]*$",
        description="what the mask values mean when the card names no scheme (schema/labels/<name>.yaml)")
    languages: list[str] = Field(default_factory=lambda: ["en", "ru"])
    manifests: list[str] = Field(default_factory=lambda: ["SHA256SUMS", "MD5SUMS"])
    geometry: GeometryTolerance = Field(default_factory=GeometryTolerance)
    plausibility: Plausibility = Field(default_factory=Plausibility)
    gatherer: str | None = Field(
        default=None, pattern=r"^[a-z_.]+:[a-z_]+$",
        description="'module:function' that reads this layout's own facts into its field of Facts (e.g. DICOM series)")

    def pattern_for(self, kind: str) -> DataPattern:
        for item in self.data_files:
            if item.kind == kind:
                return item
        raise KeyError(f"profile {self.name!r} has no data files of kind {kind!r}")

"""Records of a release's contents and of a build source."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Sex = Literal["M", "F", "O"]


class SourceStudy(BaseModel):
    """One row of a build source's studies table (``studies.csv``).

    ``study`` and ``mask`` are paths relative to the source folder. ``patient`` groups studies of one person
    (it never reaches the release: it only counts patients); it defaults to one patient per study.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    study: str = Field(min_length=1)
    category: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    sex: Sex | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    mask: str | None = None
    patient: str | None = None


class StudyRecord(BaseModel):
    """A study as it sits in a release."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study_id: int = Field(ge=1)
    category: str
    path: str = Field(description="relative POSIX path inside the release")
    shape: tuple[int, ...] | None = None
    spacing: tuple[float, ...] | None = None
    sex: Sex | None = None
    age: int | None = None


class MaskRecord(BaseModel):
    """A lesion mask as it sits in a release, tied to its study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study_id: int = Field(ge=1)
    path: str
    study_path: str
    shape: tuple[int, ...] | None = None

"""What ``curator ingest`` keeps of raw DICOM studies, and how it converts them: the rules a release records.

The defaults take every CT series of a study that is a volume (no localiser) and keep every image; the MosMed
preset is the pipeline of the MosMedData papers: the soft-tissue series (``SeriesDescription LIKE '%BODY%'``)
and every 10th image (``InstanceNumber % 10 = 0``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SeriesRules(BaseModel):
    """Which series of a study are converted. Patterns are shell globs, matched without regard to case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    modality: str = Field(default="CT", description="Modality (0008,0060) a series must have.")
    description: tuple[str, ...] = Field(
        default=(), description="SeriesDescription globs; a series must match one (none given: any).")
    exclude_description: tuple[str, ...] = Field(
        default=(), description="SeriesDescription globs that rule a series out.")
    kernel: tuple[str, ...] = Field(
        default=(), description="ConvolutionKernel globs; a series must match one (none given: any).")
    image_type_excluded: tuple[str, ...] = Field(
        default=("LOCALIZER", "SCOUT"),
        description="A series with any of these ImageType values is left out (localisers).")
    min_images: int = Field(default=10, ge=1, description="Images a series must have, before the instance rule.")
    pick: Literal["largest", "all"] = Field(
        default="largest",
        description="When several series of a study match: the one with most images, or every one of them.")


class InstanceRule(BaseModel):
    """Which images of a chosen series are kept: ``InstanceNumber % every == remainder`` (every 1: all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: int = Field(default=1, ge=1)
    remainder: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _remainder_below_every(self) -> InstanceRule:
        if self.every == 1 and self.remainder:
            raise ValueError("a remainder needs every (keep InstanceNumber % every == remainder)")
        if self.every > 1 and self.remainder >= self.every:
            raise ValueError(f"remainder must be below every ({self.every})")
        return self

    def keeps(self, instance: int | None) -> bool:
        if self.every == 1:
            return True
        return instance is not None and instance % self.every == self.remainder

    def describe(self) -> str:
        return "every image" if self.every == 1 else f"InstanceNumber % {self.every} = {self.remainder}"


class ConversionRules(BaseModel):
    """How a series becomes a volume: what to do with gantry tilt and uneven slice spacing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tilt: Literal["keep", "resample"] = Field(
        default="resample", description="Gantry tilt: shift each slice so the volume is not sheared (as dcm2niix "
                                        "does), or keep the sheared geometry in the sform.")
    uneven: Literal["refuse", "keep", "resample"] = Field(
        default="refuse", description="Slices unevenly spaced (without a missing slice): refuse the series, keep "
                                      "it with the mean step, or resample it to an even step.")


class AnonymisationRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retain_patient_characteristics: bool = Field(
        default=True, description="Read sex and age before the headers are dropped (ages of 90 and over become 90).")


class IngestRules(BaseModel):
    """Everything that decides what an ingest writes; recorded whole in the output's provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    series: SeriesRules = SeriesRules()
    instances: InstanceRule = InstanceRule()
    conversion: ConversionRules = ConversionRules()
    anonymisation: AnonymisationRules = AnonymisationRules()


PRESETS: dict[str, IngestRules] = {
    "default": IngestRules(),
    "mosmed": IngestRules(series=SeriesRules(description=("*BODY*",)), instances=InstanceRule(every=10)),
}

"""Label schemes: what each integer of a segmentation mask means (``schema/labels/<name>.yaml``).

The same integer means different tissue in different published sets (Inf-Net's 1 is ground-glass, CNCB's 1 is
the lung field), so a mask's values say nothing until a scheme names them. A label's ``key`` names the tissue
across schemes (two schemes agree on a label when their keys agree); ``part_of`` names the broader label it
belongs to (ground-glass and consolidation are both part of "lesion"), which is what a remap into a coarser
scheme (MosMed's binary lesion masks) uses.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: int = Field(ge=0, le=65535, description="the integer stored in the mask")
    key: Key = Field(description="the tissue, the same word in every scheme: background, lung, ground-glass, ...")
    part_of: Key | None = Field(default=None, description="the broader label this one belongs to (e.g. lesion)")
    lesion: bool = Field(description="counted as lesion in statistics (slices with lesions, lesion share)")
    colour: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="sRGB colour of figures and the review page")
    names: dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")], str] = Field(
        min_length=1, description="the label's name in each README language")

    @property
    def rgb(self) -> tuple[float, float, float]:
        """The colour as three floats in 0..1."""
        digits = self.colour.lstrip("#")
        red, green, blue = (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
        return red, green, blue

    def name(self, lang: str) -> str:
        """The name in ``lang``, else in English."""
        return self.names.get(lang) or self.names.get("en") or next(iter(self.names.values()))


class LabelScheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Key
    title: str
    source: str = Field(description="where the scheme's meanings are published")
    labels: list[Label] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> LabelScheme:
        values = [label.value for label in self.labels]
        keys = [label.key for label in self.labels]
        if len(set(values)) != len(values):
            raise ValueError(f"label scheme {self.name!r}: values repeat: {values}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"label scheme {self.name!r}: keys repeat: {keys}")
        return self

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(label.value for label in self.labels)

    @property
    def lesion_values(self) -> tuple[int, ...]:
        return tuple(label.value for label in self.labels if label.lesion)

    def label(self, value: int) -> Label | None:
        return next((label for label in self.labels if label.value == value), None)

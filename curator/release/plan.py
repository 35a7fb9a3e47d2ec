"""Decide what goes where in a release: study ids and file names. Pure: no reading, no writing."""

from __future__ import annotations

from dataclasses import dataclass

from curator.models.card import DatasetCard
from curator.models.profile import Profile
from curator.models.records import SourceStudy
from curator.models.registry import RegistryRow


@dataclass(frozen=True)
class PlannedStudy:
    study_id: int
    source: SourceStudy
    study_path: str          # relative path in the release
    mask_path: str | None

    def registry_row(self) -> RegistryRow:
        return RegistryRow(study_id=self.study_id, category=self.source.category, study_file="/" + self.study_path,
                           mask_file="/" + self.mask_path if self.mask_path else None)


def plan_release(card: DatasetCard, profile: Profile, studies: list[SourceStudy]) -> list[PlannedStudy]:
    """Number studies 1..N grouped by category in the card's order, keeping the table's order within a
    category: the MosMed numbering (CT-0 first, then CT-1, ...), so an id says nothing about the source."""
    order = {category.id: index for index, category in enumerate(card.categories)}
    ranked = sorted(enumerate(studies), key=lambda item: (order[item[1].category], item[0]))
    study_template = profile.pattern_for("study").template
    mask_template = profile.pattern_for("mask").template
    planned = []
    for study_id, (_, study) in enumerate(ranked, start=1):
        planned.append(PlannedStudy(
            study_id=study_id,
            source=study,
            study_path=study_template.format(category=study.category, study_id=study_id),
            mask_path=mask_template.format(study_id=study_id) if study.mask else None,
        ))
    return planned

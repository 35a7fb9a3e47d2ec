"""Records shared by every layer: pydantic v2 models, ``extra="forbid"``."""

from curator.models.card import Affiliation, Category, Contributor, DatasetCard, Localised, localise
from curator.models.findings import Counts, Finding, Report, Severity, Stats
from curator.models.profile import DataPattern, Profile, RegistrySpec
from curator.models.records import MaskRecord, SourceStudy, StudyRecord
from curator.models.registry import REGISTRY_COLUMNS, RegistryRow
from curator.models.rules import Rule

__all__ = [
    "REGISTRY_COLUMNS",
    "Affiliation",
    "Category",
    "Contributor",
    "Counts",
    "DataPattern",
    "DatasetCard",
    "Finding",
    "Localised",
    "MaskRecord",
    "Profile",
    "RegistryRow",
    "RegistrySpec",
    "Report",
    "Rule",
    "Severity",
    "SourceStudy",
    "Stats",
    "StudyRecord",
    "localise",
]

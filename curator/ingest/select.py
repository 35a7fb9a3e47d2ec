"""Which images of a study ``curator ingest`` keeps: the series rules, then the instance rule.

Judging only, on header facts read before anything is anonymised (SeriesDescription, which the rules match, is
one of the attributes the anonymiser removes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from pydicom.dataset import Dataset

from curator.io.dicom import element_value, whole_number
from curator.models.ingest import IngestRules

AGE_CEILING = 90  # HIPAA Safe Harbor: ages of 90 and over are reported as one category
_AGE = re.compile(r"^(\d{1,3})([DWMY])$")


@dataclass(frozen=True)
class ImageHeader:
    """What the rules need of one DICOM file, read from its original header."""

    name: str
    sop_uid: str
    study_uid: str
    series_uid: str
    series_number: int | None
    description: str
    kernel: tuple[str, ...]
    image_type: tuple[str, ...]
    modality: str
    instance: int | None
    patient_id: str
    accession: str
    sex: str | None
    age: int | None
    is_image: bool
    frames: int = 1             # an enhanced multi-frame image holds a whole series in one file
    photometric: str = "MONOCHROME2"


@dataclass
class Series:
    study_uid: str
    series_uid: str
    series_number: int | None
    images: list[ImageHeader] = field(default_factory=list)
    kept: list[ImageHeader] = field(default_factory=list)

    @property
    def first(self) -> ImageHeader:
        return self.images[0]

    @property
    def frames(self) -> int:
        return sum(h.frames for h in self.images)

    def label(self) -> str:
        number = "?" if self.series_number is None else str(self.series_number)
        return f"series {number} ({self.frames} image{'' if self.frames == 1 else 's'})"


@dataclass
class Choice:
    """The series chosen in one study, and why each other series was left out."""

    study_uid: str
    chosen: list[Series]
    left_out: list[tuple[Series, str]]
    patient_id: str = ""


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    return " ".join(str(value).split())


def _values(ds: Dataset, keyword: str) -> tuple[str, ...]:
    value = ds.get(keyword)
    if value is None:
        return ()
    items = [value] if isinstance(value, str | bytes) or not isinstance(value, Iterable) else list(value)
    return tuple(str(v).strip().upper() for v in items if str(v).strip())


def _integer(ds: Dataset, keyword: str) -> int | None:
    """A whole number by io.dicom's one rule ("10.5", "abc", "inf" are None here, never truncated)."""
    try:
        value = element_value(ds, keyword)
    except (TypeError, ValueError, OverflowError):
        return None
    if value is None:
        return None
    number = whole_number(value)
    return number if isinstance(number, int) else None


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


def age_years(ds: Dataset) -> int | None:
    """Age in whole years: PatientAge, else from the birth and study dates; 90 and over fold to 90."""
    years: int | None = None
    match = _AGE.match(_text(ds, "PatientAge").upper())
    if match:
        number, unit = int(match.group(1)), match.group(2)
        years = number if unit == "Y" else int(number / {"D": 365.25, "W": 52.18, "M": 12.0}[unit])
    else:
        born = _date(_text(ds, "PatientBirthDate"))
        seen = _date(_text(ds, "StudyDate")) or _date(_text(ds, "SeriesDate")) or _date(_text(ds, "AcquisitionDate"))
        if born and seen and seen >= born:
            years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    if years is None or years > 130:
        return None
    return min(years, AGE_CEILING)


def image_header(name: str, ds: Dataset) -> ImageHeader:
    sex = _text(ds, "PatientSex").upper()
    return ImageHeader(
        name=name,
        sop_uid=_text(ds, "SOPInstanceUID"),
        study_uid=_text(ds, "StudyInstanceUID"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_integer(ds, "SeriesNumber"),
        description=_text(ds, "SeriesDescription"),
        kernel=_values(ds, "ConvolutionKernel"),
        image_type=_values(ds, "ImageType"),
        modality=_text(ds, "Modality").upper(),
        instance=_integer(ds, "InstanceNumber"),
        patient_id=_text(ds, "PatientID"),
        accession=_text(ds, "AccessionNumber"),
        sex=sex if sex in ("M", "F", "O") else None,
        age=age_years(ds),
        # headers are read without the pixel data: an image is what has the Image Pixel module's size
        is_image=all(keyword in ds for keyword in ("Rows", "Columns", "BitsAllocated")),
        frames=max(_integer(ds, "NumberOfFrames") or 1, 1),
        photometric=_text(ds, "PhotometricInterpretation").upper() or "MONOCHROME2",
    )


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    folded = value.casefold()
    return any(fnmatchcase(folded, pattern.casefold()) for pattern in patterns)


def image_excluded(header: ImageHeader, rules: IngestRules) -> str | None:
    """Why one image is out whatever its series (the rules that judge single headers), or None."""
    series = rules.series
    if not header.is_image:
        return "not an image (no Rows/Columns/BitsAllocated)"
    if header.modality != series.modality.upper():
        return f"modality {header.modality or 'missing'}, not {series.modality}"
    if series.description and not _matches(header.description, series.description):
        return f"SeriesDescription matches none of {', '.join(series.description)}"
    if series.exclude_description and _matches(header.description, series.exclude_description):
        return f"SeriesDescription matches an excluded pattern ({', '.join(series.exclude_description)})"
    if series.kernel and not any(_matches(k, series.kernel) for k in header.kernel):
        return f"ConvolutionKernel matches none of {', '.join(series.kernel)}"
    if header.photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return f"PhotometricInterpretation {header.photometric}: not a greyscale CT image (its values are not HU)"
    excluded = sorted(set(header.image_type) & {t.upper() for t in series.image_type_excluded})
    if excluded:
        return f"ImageType {'/'.join(excluded)}"
    return None


def _series_key(header: ImageHeader) -> tuple[str, str, str, object]:
    # the patient first: exports that empty the UIDs would otherwise put two patients into one study
    if header.series_uid:
        return (header.patient_id, header.study_uid, header.series_uid, None)
    # anonymised exports sometimes empty the UIDs: the series number still tells series apart
    return (header.patient_id, header.study_uid, "", header.series_number)


def choose(headers: list[ImageHeader], rules: IngestRules) -> list[Choice]:
    """Per study (by patient, then StudyInstanceUID): the series kept, with their kept images, and the series left
    out."""
    series: dict[tuple[str, str, str, object], Series] = {}
    reasons: dict[tuple[str, str, str, object], str] = {}
    for header in sorted(headers, key=lambda h: h.name):
        key = _series_key(header)
        one = series.setdefault(key, Series(header.study_uid, header.series_uid, header.series_number))
        one.images.append(header)
        reason = image_excluded(header, rules)
        if reason is not None:
            reasons.setdefault(key, reason)
    studies: dict[tuple[str, str], Choice] = {}
    for key, one in sorted(series.items(), key=lambda item: (*item[0][:3], str(item[0][3]))):
        choice = studies.setdefault(key[:2], Choice(one.study_uid, [], [], patient_id=key[0]))
        reason = reasons.get(key)
        if reason is None and one.frames < rules.series.min_images:
            reason = (f"{one.frames} image{'' if one.frames == 1 else 's'}, fewer than the "
                      f"{rules.series.min_images} required")
        if reason is None:
            # the instance rule picks single-frame images; an enhanced multi-frame image is kept whole
            one.kept = [h for h in one.images if h.frames > 1 or rules.instances.keeps(h.instance)]
            kept = sum(h.frames for h in one.kept)
            if kept < 2:
                reason = f"{kept} image(s) left by the instance rule ({rules.instances.describe()})"
        if reason is None:
            choice.chosen.append(one)
        else:
            choice.left_out.append((one, reason))
    if rules.series.pick == "largest":
        for choice in studies.values():
            if len(choice.chosen) > 1:
                ranked = sorted(choice.chosen, key=lambda s: (-s.frames, s.series_number or 0, s.series_uid))
                choice.chosen = ranked[:1]
                choice.left_out.extend((s, f"a larger series ({ranked[0].label()}) was chosen") for s in ranked[1:])
    return [studies[key] for key in sorted(studies)]

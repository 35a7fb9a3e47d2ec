"""``curator build SOURCE OUT`` for a slices tree (profile ``slices``): the ``curator ingest-slices`` output (image/,
mask/, labels.yaml, CNCB's metadata CSVs when there are any) with a ``dataset.yaml`` card beside them -> a release.

The source is validated first (``validate --deep``, profile ``slices``): a source with errors is refused and
nothing is written. The release carries the slices and masks as they are, the card, labels.yaml and CNCB's
CSVs unchanged, a registry of the slices (``slices_registry.csv``), README_<LANG>.md/.pdf with numbers
computed from the masks, an example figure in the label scheme's colours, LICENSE, metadata, manifests and
the verify kit; the stage is validated again (deep) before it replaces OUT.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curator.errors import BuildError, ExitCode
from curator.io.card import CardError, load_card
from curator.io.licences import known_licences
from curator.io.slices import LABELS_FILE, LESIONS_CSV, SCANS_CSV, MetadataError, read_label_declaration, read_slice
from curator.label_schemes import LabelSchemeError, load_scheme
from curator.models.card import DatasetCard
from curator.models.labels import LabelScheme
from curator.models.profile import Profile
from curator.profiles import get_profile
from curator.release.finishing import check_out, finish_release, write_validated
from curator.release.metadata import SlicesSummary
from curator.release.readme import TemplateMissingError, readme_context, readme_name
from curator.release.source_problems import CARD_NAME
from curator.validate import ValidateOptions, validate

__all__ = ["REGISTRY_NAME", "SliceRow", "build_slices", "is_slices_source", "slices_stats"]

REGISTRY_NAME = "slices_registry.csv"
REGISTRY_COLUMNS = ("case", "slice", "image_file", "mask_file", "width", "height", "lesion")
CNCB_CSVS = (SCANS_CSV, LESIONS_CSV, "metadata.csv")
FIGURE = "figures/examples.png"
# a source is not yet a release: the READMEs and LICENSE the build writes are not asked of it
SOURCE_IGNORED = frozenset({"REQUIRED_FILE_MISSING"})
MAX_SIZE_ROWS = 6
METADATA = ["datapackage.json", "croissant.json", "datacite.json", "zenodo.json"]


@dataclass(frozen=True)
class SliceRow:
    case: str
    slice: str
    image_file: str
    mask_file: str
    width: int
    height: int
    values: dict[int, int]


def is_slices_source(source: Path, profile_name: str = "mosmed") -> bool:
    """Build as slices: profile ``slices`` asked for, or a folder with image/ and mask/ and no studies.csv."""
    tree = (source / "image").is_dir() and (source / "mask").is_dir() and not (source / "studies.csv").exists()
    return profile_name == "slices" or tree


def _scheme(source: Path, card: DatasetCard, profile: Profile) -> LabelScheme:
    """labels.yaml (what ingest-slices wrote) first, then the card's ``label_scheme``, then the profile's."""
    name = card.label_scheme or profile.label_scheme or "cncb"
    if (source / LABELS_FILE).is_file():
        try:
            name = read_label_declaration(source / LABELS_FILE)
        except MetadataError as error:
            raise BuildError(f"{LABELS_FILE}: {error}", ExitCode.INVALID) from error
    try:
        return load_scheme(name)
    except LabelSchemeError as error:
        raise BuildError(f"label scheme {name!r}: {error}", ExitCode.USAGE) from error


def _rows(source: Path, profile: Profile) -> list[SliceRow]:
    """Every image/mask pair of the source, masks counted pixel by pixel (the source validated clean before)."""
    pattern = profile.pattern_for("image").regex
    rows = []
    for image in sorted((source / "image").rglob("*")):
        rel = image.relative_to(source).as_posix()
        match = pattern.match(rel)
        if match is None or not image.is_file():
            continue
        mask_rel = f"mask/{match['case']}/{match['slice']}.png"
        header = read_slice(source / mask_rel, decode=True, count=True)
        if isinstance(header, str) or header.values is None:
            raise BuildError(f"{mask_rel}: the mask's pixels cannot be counted ({header})", ExitCode.INVALID)
        rows.append(SliceRow(match["case"], match["slice"], rel, mask_rel, header.width, header.height,
                             dict(header.values)))
    return rows


def slices_stats(rows: list[SliceRow], scheme: LabelScheme, lang: str) -> dict[str, Any]:
    """The README's numbers: cases, slices, slices with lesions, pixel share and slices per label, image sizes."""
    pixels: Counter[int] = Counter()
    for row in rows:
        pixels.update(row.values)
    total = sum(pixels.values()) or 1
    lesion = set(scheme.lesion_values)
    sizes = Counter((row.width, row.height) for row in rows)
    return {
        "cases": len({row.case for row in rows}),
        "slices": len(rows),
        "lesion_slices": sum(1 for row in rows if any(row.values.get(v, 0) for v in lesion)),
        "labels": [{"value": label.value, "name": label.name(lang),
                    "share": f"{100 * pixels.get(label.value, 0) / total:.2f}",
                    "slices": sum(1 for row in rows if row.values.get(label.value, 0))}
                   for label in scheme.labels],
        # every size while there are few (CNCB: 512 x 512), else the range (Inf-Net's crops differ slice by slice)
        "sizes": ([{"width": w, "height": h, "slices": n} for (w, h), n in sorted(sizes.items())]
                  if len(sizes) <= MAX_SIZE_ROWS else []),
        "size_range": {"widths": [min(w for w, _ in sizes), max(w for w, _ in sizes)],
                       "heights": [min(h for _, h in sizes), max(h for _, h in sizes)], "distinct": len(sizes)}
        if sizes else None,
        "scheme": scheme.name,
        # CNCB names a scan <class>/<patient_id>/<scan_id> (NCP, CP, Normal): cases and slices per class
        "classes": [{"name": name, "cases": len({row.case for row in members}), "slices": len(members)}
                    for name, members in sorted(_by_class(rows).items())],
    }


def _by_class(rows: list[SliceRow]) -> dict[str, list[SliceRow]]:
    classes: dict[str, list[SliceRow]] = {}
    for row in rows:
        parts = row.case.split("/")
        if len(parts) == 3:
            classes.setdefault(parts[0], []).append(row)
    return classes


def _write_registry(stage: Path, rows: list[SliceRow], scheme: LabelScheme) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REGISTRY_COLUMNS)
    lesion = set(scheme.lesion_values)
    for row in rows:
        writer.writerow([row.case, row.slice, "/" + row.image_file, "/" + row.mask_file, row.width, row.height,
                         int(any(row.values.get(v, 0) for v in lesion))])
    (stage / REGISTRY_NAME).write_text(buffer.getvalue(), encoding="utf-8", newline="\n")


def _figure(stage: Path, rows: list[SliceRow], scheme: LabelScheme) -> list[str]:
    """One example slice per lesion label (the slice where it covers most pixels), in the scheme's colours."""
    from curator.release import figures as draw  # matplotlib is imported only when a release is built

    panels = []
    for label in scheme.labels:
        if not label.lesion:
            continue
        best = max(rows, key=lambda row: row.values.get(label.value, 0), default=None)
        if best is not None and best.values.get(label.value, 0):
            panels.append((label.key, stage / best.image_file, stage / best.mask_file))
    if not panels:
        return []
    draw.slices_figure(panels, scheme, stage / FIGURE)
    return [FIGURE]


def _card(source: Path) -> DatasetCard:
    try:
        card = load_card(source / CARD_NAME)
    except CardError as error:
        raise BuildError(f"the dataset card has {len(error.problems)} problem(s); nothing was written",
                         ExitCode.USAGE, [f"{CARD_NAME}: {p}" for p in error.problems]) from error
    if card.licence not in known_licences():
        raise BuildError(f"{CARD_NAME}: licence {card.licence!r} has no legal text in curator", ExitCode.USAGE)
    return card


def _write_release(stage: Path, source: Path, card: DatasetCard, rows: list[SliceRow], scheme: LabelScheme,
                   jobs: int | None, xxh128: bool) -> None:
    from curator.release.readme import _environment

    for row in rows:
        for rel in (row.image_file, row.mask_file):
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, stage / rel)
    for name in (LABELS_FILE, *CNCB_CSVS):
        if (source / name).is_file():
            shutil.copyfile(source / name, stage / name)   # CNCB's CSVs are kept as they are
    if not (stage / LABELS_FILE).exists():
        (stage / LABELS_FILE).write_text(f"label_scheme: {scheme.name}\n", encoding="utf-8", newline="\n")
    _write_registry(stage, rows, scheme)
    figures = _figure(stage, rows, scheme)
    numbers = slices_stats(rows, scheme, card.languages[0])
    for lang in card.languages:
        name = f"README.slices.{lang}.md.j2"
        try:
            template = _environment().get_template(name)
        except Exception as error:
            raise TemplateMissingError(f"no slices README template for language {lang!r} ({name})") from error
        context = readme_context(card, lang, {"per_category": {}}, {})
        context.update(stats=slices_stats(rows, scheme, lang), figures=figures, registry=REGISTRY_NAME)
        (stage / readme_name(lang)).write_text(template.render(**context), encoding="utf-8", newline="\n")
    finish_release(stage, card, [], profile=get_profile("slices"), jobs=jobs, xxh128=xxh128,
                   slices=SlicesSummary(numbers["cases"], numbers["slices"], numbers["lesion_slices"]))


def _errors(report: Any, ignore: frozenset[str] = frozenset()) -> list[str]:
    return [f"{f.code} {f.path}: {f.message}" for f in report.findings
            if f.severity.value == "error" and f.code not in ignore]


def build_slices(source: Path, out: Path, *, force: bool = False, jobs: int | None = None,
                 xxh128: bool = False) -> tuple[Path, int, Any]:
    """Build the slices release; returns (OUT, number of slices, the deep validation report of the release)."""
    profile = get_profile("slices")
    card = _card(source)
    checked = validate(source, ValidateOptions(profile=profile.name, jobs=jobs, deep=True))
    problems = _errors(checked, SOURCE_IGNORED)
    if problems:
        raise BuildError("the slices source does not validate (validate --deep --profile slices); nothing was "
                         "written", ExitCode.INVALID, problems)
    scheme = _scheme(source, card, profile)
    rows = _rows(source, profile)
    out = check_out(source, out)

    def write(stage: Path) -> None:
        try:
            _write_release(stage, source, card, rows, scheme, jobs, xxh128)
        except TemplateMissingError as error:
            raise BuildError(str(error), ExitCode.USAGE) from error

    report = write_validated(out, write, force=force, profile=profile.name, jobs=jobs, refuse=lambda report: BuildError(
        "the built release does not validate (validate --deep); nothing was written", ExitCode.INVALID,
        _errors(report)))
    return out, len(rows), report

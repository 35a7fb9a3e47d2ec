"""``curator ingest INPUT... OUT``: DICOM studies (folders, zip, tar, 7z, RAR) into a source for ``curator build``.

Registered on the ``curator`` group in ``curator.cli.main``; the work is imported only when the command runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from curator.cli.options import archive_limit_options, executor_options, report_options


@dataclass(frozen=True)
class IngestArguments:
    """What ``curator ingest`` was given, one field per click parameter (same names): built once, passed down."""

    paths: tuple[Path, ...]
    key_file: Path | None
    map_file: Path | None
    key_map: Path | None
    preset: str
    rules_file: Path | None
    series_description: tuple[str, ...]
    exclude_description: tuple[str, ...]
    kernel: tuple[str, ...]
    min_images: int | None
    pick: str | None
    every: int | None
    remainder: int | None
    tilt: str | None
    uneven: str | None
    categories: Path | None
    category_column: str
    category: str | None
    card: Path | None
    jobs: int | None
    executor: str
    scheduler: str | None
    fmt: tuple[str, ...]
    output: tuple[Path, ...]
    verbose: bool
    max_gigabytes: float
    max_ratio: float

    def overrides(self) -> dict[tuple[str, str], Any]:
        """The rule options given on the command line, by (rules section, field); unset ones are None or ()."""
        return {("series", "description"): self.series_description,
                ("series", "exclude_description"): self.exclude_description, ("series", "kernel"): self.kernel,
                ("series", "min_images"): self.min_images, ("series", "pick"): self.pick,
                ("instances", "every"): self.every, ("instances", "remainder"): self.remainder,
                ("conversion", "tilt"): self.tilt, ("conversion", "uneven"): self.uneven}


def _rules(preset: str, rules_file: Path | None, overrides: dict[tuple[str, str], Any]) -> Any:
    from pydantic import ValidationError

    from curator.errors import OptionsError
    from curator.models.ingest import PRESETS, IngestRules

    data = PRESETS[preset].model_dump()
    if rules_file is not None:   # yaml, and the card's error wording below, only when they are needed (issue 15)
        import yaml

        from curator.io.regular import read_regular_text

        try:
            loaded = yaml.safe_load(read_regular_text(rules_file)) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise OptionsError(f"cannot read the rules file {rules_file}: {error}") from error
        if not isinstance(loaded, dict):
            raise OptionsError(f"the rules file {rules_file} must be a mapping (series:, instances:, conversion:)")
        for section, values in loaded.items():
            if isinstance(values, dict) and isinstance(data.get(section), dict):
                data[section].update(values)
            else:
                data[section] = values
    for (section, name), value in overrides.items():
        if value not in (None, ()):
            data[section][name] = value
    try:
        return IngestRules.model_validate(data)
    except ValidationError as error:
        from curator.io.card import describe_validation_error

        raise OptionsError(f"invalid ingest rules: {describe_validation_error(error, limit=5)}") from error


def _run(given: IngestArguments) -> None:
    from curator.anonymise import load_key, load_mapping
    from curator.cli.cluster import command_engine, note_executor
    from curator.cli.main import EXIT_INVALID, EXIT_VALID, present
    from curator.errors import OptionsError
    from curator.ingest.categories import load_category_map
    from curator.ingest.pipeline import IngestOptions, ingest
    from curator.io.archive_read import Limits
    from curator.render.progress import ProgressLine

    if len(given.paths) < 2:
        raise OptionsError("give at least one INPUT and the OUT folder")
    *inputs, out = given.paths
    key_file, map_file, categories, card = given.key_file, given.map_file, given.categories, given.card
    key = load_key(key_file)
    rules = _rules(given.preset, given.rules_file, given.overrides())
    mapping = load_category_map(categories, given.category_column, given.category)
    if categories is None and given.category is None:
        raise OptionsError("every study needs a category: give --categories FILE (a CSV mapping inputs, patients or "
                           "studies to categories) or --category for all")
    if card is not None and not card.is_file():
        raise OptionsError(f"the dataset card {card} {'is not a regular file' if card.exists() else 'does not exist'}")
    key_map = given.key_map or out.resolve().parent / f"{out.resolve().name}.keymap.csv"
    limits = Limits(max_total_bytes=int(given.max_gigabytes * 2**30), max_ratio=given.max_ratio)
    line = ProgressLine()
    try:
        with command_engine(given.executor, given.scheduler, given.jobs, given.verbose) as running:
            report = ingest(inputs, out, IngestOptions(
                key=key, key_map=key_map, rules=rules, categories=mapping,
                pseudonyms=load_mapping(map_file) if map_file else None, card=card, jobs=given.jobs, limits=limits,
                key_file=key_file,
                own_files=tuple(p for p in (map_file, categories, given.rules_file, card) if p is not None),
                progress=lambda done, total: line("ingest", done, total)))
            note_executor(running, report)
    finally:
        line.close()
    present(report, given.fmt, given.output, command="ingest", verbose=given.verbose)
    extra = report.stats.model_extra or {}
    if not given.fmt or given.fmt == ("text",):
        click.echo(ingest_summary(extra, out, key_map))
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Secret key for pseudonyms, date shifts and study names (default: $CURATOR_ANON_KEY).")
@click.option("--map", "map_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CSV of original PatientID,pseudonym (default: ANON-<10 digits> derived from the key).")
@click.option("--key-map", type=click.Path(path_type=Path, dir_okay=False),
              help="Where the pseudonym -> PatientID/StudyInstanceUID/input map is written; must be outside OUT "
                   "(default: OUT.keymap.csv beside OUT).")
@click.option("--preset", type=click.Choice(["default", "mosmed"]), default="default", show_default=True,
              help="mosmed: SeriesDescription *BODY* and every 10th image (InstanceNumber % 10 = 0).")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="YAML file of rules (series:, instances:, conversion:), applied over the preset.")
@click.option("--series-description", multiple=True, help="Keep series whose description matches this glob.")
@click.option("--exclude-description", multiple=True, help="Leave out series whose description matches this glob.")
@click.option("--kernel", multiple=True, help="Keep series whose ConvolutionKernel matches this glob.")
@click.option("--min-images", type=click.IntRange(min=1), help="Images a series needs (before --every).")
@click.option("--pick", type=click.Choice(["largest", "all"]), help="Several matching series: the largest, or all.")
@click.option("--every", type=click.IntRange(min=1), help="Keep images with InstanceNumber % N == remainder.")
@click.option("--remainder", type=click.IntRange(min=0), help="See --every (default 0).")
@click.option("--tilt", type=click.Choice(["keep", "resample"]), help="Gantry tilt: resample (default) or keep.")
@click.option("--uneven", type=click.Choice(["refuse", "keep", "resample"]),
              help="Unevenly spaced slices: refuse (default), keep, or resample.")
@click.option("--categories", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CSV: category (and optional mask) per input, patient_id, study_uid or accession.")
@click.option("--category-column", default="category", show_default=True, help="The category column's name.")
@click.option("--category", help="Category of every study the map does not name.")
@click.option("--card", type=click.Path(path_type=Path, dir_okay=False), help="dataset.yaml to put in OUT.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Inputs processed at once (default: all cores).")
@executor_options
@report_options
@archive_limit_options("An archive")
def ingest(**parameters: Any) -> None:
    """Convert the DICOM studies in INPUT... (folders, zip, tar, 7z, RAR) into a build source in OUT.

    Per study: the series chosen by the rules, every Nth image if asked, anonymised in memory (PS3.15 Basic
    Profile), converted to NIfTI (int16 HU, true slice spacing), gzipped deterministically. OUT gets the volumes,
    studies.csv (category, sex, age), provenance.json and, with --card, dataset.yaml: run `curator build OUT REL`
    next. Identifiers go only to the key file, outside OUT. A rerun skips inputs already done and intact.
    Exit codes: 0 done; 1 some input or series could not be used (the rest is written); 2 usage (also
    another key than OUT was made with); 3 could not run (an input is missing, OUT cannot be written, internal error).
    """
    from curator.cli.main import guarded

    guarded(_run)(IngestArguments(**parameters))


def ingest_summary(extra: dict[str, Any], out: Path, key_map: Path) -> str:
    """The closing line: volumes, and inputs converted out of those read (a refused one is not converted)."""
    from curator.wording import plural

    done, converted = int(extra.get("units_done", 0)), int(extra.get("units_converted", 0))
    volumes, studies = int(extra.get("volumes", 0)), int(extra.get("studies", 0))
    return (f"{plural(volumes, 'volume')} in {out} ({converted} of {plural(done, 'input')} read converted, "
            f"{done - converted} without a volume, {extra.get('units_resumed', 0)} unchanged since the last run); "
            f"studies.csv lists {plural(studies, 'study', 'studies')}; the key file is {key_map} (keep it private, "
            "outside the release)")

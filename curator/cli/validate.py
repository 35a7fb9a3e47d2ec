"""``curator validate``: check a release folder and present the report in the formats asked for.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.cli.common import cache_warning
from curator.cli.main import EXIT_INVALID, EXIT_VALID, guarded, present, split_items
from curator.cli.options import executor_options, report_options


@click.command()
@click.argument("root")
@click.option("--profile", help="Layout profile (default: detected from the folder).")
@report_options
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]),
              help="Lowest severity that makes the release invalid (exit 1); default error.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Settings file (default: curator.toml or [tool.curator] in pyproject.toml in ROOT).")
@click.option("--no-config", is_flag=True, help="Ignore any settings file in ROOT.")
@click.option("--select", multiple=True, help="Only these codes or tags (repeatable, comma-separated).")
@click.option("--ignore", multiple=True, help="Drop these codes or tags (repeatable, comma-separated).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files read at once (default: all cores).")
@executor_options
@click.option("--fast", "tier", flag_value="fast", default=True, help="Headers, registry, manifests (default).")
@click.option("--deep", "tier", flag_value="deep",
              help="Also read every NIfTI payload once: gzip CRC, mask labels, empty masks, HU range.")
@click.option("--tolerance-voxels", type=click.FloatRange(min=0, min_open=True),
              help="Largest mask-vs-study shift allowed, in voxels (default: the profile's, 0.05).")
@click.option("--tolerance-degrees", type=click.FloatRange(min=0, min_open=True),
              help="Largest mask-vs-study rotation allowed, in degrees (default: the profile's, 0.05).")
@click.option("--lang", type=click.Choice(["en", "ru"]), default="en", show_default=True,
              help="Language of the text output's messages.")
@click.option("--identifiers", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A private list of names and IDs (one per line) that must not appear anywhere in the release.")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="Where unchanged files' digests and headers are remembered (default: ~/.cache/curator).")
@click.option("--no-cache", is_flag=True, help="Read every file again; remember nothing.")
@click.option("--changed-since", metavar="REF",
              help="Only files changed since this git ref (plus the registry, manifests and READMEs).")
@guarded
def validate(root: str, profile: str | None, fmt: tuple[str, ...], fail_on: str | None, config_file: Path | None,
             no_config: bool, select: tuple[str, ...],
             ignore: tuple[str, ...], jobs: int | None, tier: str, tolerance_voxels: float | None,
             tolerance_degrees: float | None, lang: str, identifiers: Path | None, output: tuple[Path, ...],
             verbose: bool, cache_dir: Path | None, no_cache: bool, changed_since: str | None, executor: str,
             scheduler: str | None) -> None:
    """Check the release at ROOT: files, registry, NIfTI headers, checksums. ROOT is a folder, or a release in
    object storage: s3://bucket/prefix or an http(s):// base (fast tier; credentials from the environment)."""
    from curator.cli.cluster import command_engine, for_workers, note_executor
    from curator.io.cache import default_cache_dir
    from curator.models.findings import Severity
    from curator.render.progress import ProgressLine
    from curator.validate import ValidateOptions
    from curator.validate import validate as run_validate

    progress = ProgressLine()
    options = ValidateOptions(profile=profile, fail_on=Severity(fail_on) if fail_on else None,
                              select=split_items(select), ignore=split_items(ignore), jobs=jobs,
                              deep=tier == "deep", progress=progress, tolerance_voxels=tolerance_voxels,
                              tolerance_degrees=tolerance_degrees, identifiers=identifiers,
                              config_file=config_file, discover_config=not no_config,
                              cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
                              changed_since=changed_since)
    try:
        with command_engine(executor, scheduler, jobs, verbose) as running:
            report = run_validate(root if "://" in root else for_workers(Path(root), running), options)
            note_executor(running, report, root if "://" in root else Path(root))
    finally:
        progress.close()
    cache_warning((report.stats.model_extra or {}).get("cache"))
    present(report, fmt, output, command="validate", lang=lang, verbose=verbose)
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)


"""``curator``: build, validate and verify dataset releases.

Exit codes (DESIGN.md): 0 valid/intact, 1 invalid, 2 usage or configuration error, 3 could not run.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from curator import __version__
from curator.errors import BuildError, OptionsError, ProfileError, RunError

if TYPE_CHECKING:
    from curator.models.findings import Report

# Only click and the exceptions are imported at start-up: each command imports what it needs when it runs, so
# `curator verify` on an unchanged release is done before pydantic and the catalogue would have loaded.

F = TypeVar("F", bound=Callable[..., Any])

EXIT_VALID, EXIT_INVALID, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


def guarded(function: F) -> F:
    """Map failures to the documented exit codes; an unexpected exception is an internal error (3)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (OptionsError, ProfileError) as error:
            click.echo(f"curator: error: {error}", err=True)
            sys.exit(EXIT_USAGE)
        except RunError as error:
            click.echo(f"curator: cannot run: {error}", err=True)
            sys.exit(EXIT_CANNOT_RUN)
        except BuildError as error:
            click.echo(f"curator build: {error}", err=True)
            for problem in error.problems[:50]:
                click.echo(f"  - {problem}", err=True)
            if len(error.problems) > 50:
                click.echo(f"  ... and {len(error.problems) - 50} more", err=True)
            sys.exit(error.exit_code)
        except Exception:
            click.echo("curator: internal error (please report it with the traceback below)", err=True)
            click.echo(traceback.format_exc(), err=True)
            sys.exit(EXIT_CANNOT_RUN)

    return wrapper  # type: ignore[return-value]


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


FORMATS = ("text", "json", "sarif", "junit", "github", "markdown")


class _BytesProgress:
    """A progress callback that also asks for bytes (hash_listed sees ``wants_bytes``)."""

    wants_bytes = True

    def __init__(self, line: Any, phase: str) -> None:
        self.line, self.phase = line, phase

    def __call__(self, done: int, total: int) -> None:
        self.line(self.phase, done, total)

    def with_bytes(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        self.line.with_bytes(self.phase, done, total, done_bytes, total_bytes)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OptionsError(f"cannot write the report to {output}: {error.strerror or error}") from error


def _present(report: Report, formats: tuple[str, ...], outputs: tuple[Path, ...], *, command: str,
             lang: str = "en", verbose: bool = False) -> None:
    """Each format to its --output (paired in order); the formats left over go to standard output."""
    from curator.render.github import job_summary, to_github
    from curator.render.junit import to_junit
    from curator.render.markdown import to_markdown
    from curator.render.report import GROUP_LIMIT, to_json, to_text
    from curator.render.sarif import to_sarif

    formats = formats or ("text",)
    if len(outputs) > len(formats):
        raise OptionsError(f"{len(outputs)} --output files for {len(formats)} --format(s); pair each output "
                           "with a format")
    if len(formats) - len(outputs) > 1:
        raise OptionsError("only one format can go to standard output; give the others an --output file")
    colour = not outputs[len(formats) - 1:] and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: to_text(report, command=command, lang=lang, limit=None if verbose else GROUP_LIMIT,
                                colour=colour),
        "json": lambda: to_json(report),
        "sarif": lambda: to_sarif(report, command),
        "junit": lambda: to_junit(report, command),
        "github": lambda: to_github(report, command),
        "markdown": lambda: to_markdown(report, command),
    }
    for index, fmt in enumerate(formats):
        _emit(renderers[fmt](), outputs[index] if index < len(outputs) else None)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if fmt == "github" and summary_file:
            try:
                with Path(summary_file).open("a", encoding="utf-8") as handle:
                    handle.write(job_summary(report, command))
            except OSError as error:
                raise OptionsError(f"cannot write GITHUB_STEP_SUMMARY {summary_file}: {error}") from error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curator")
def main() -> None:
    """Package, validate and verify medical-imaging dataset releases."""


@main.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--profile", help="Layout profile (default: detected from the folder).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), multiple=True,
              help="text (default), json, sarif, junit, github or markdown; repeat for several, each with an --output.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]),
              help="Lowest severity that makes the release invalid (exit 1); default error.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Settings file (default: curator.toml or [tool.curator] in pyproject.toml in ROOT).")
@click.option("--no-config", is_flag=True, help="Ignore any settings file in ROOT.")
@click.option("--select", multiple=True, help="Only these codes or tags (repeatable, comma-separated).")
@click.option("--ignore", multiple=True, help="Drop these codes or tags (repeatable, comma-separated).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files read at once (default: all cores).")
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
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
              help="Write the report here (one per --format, in order).")
@click.option("--verbose", "-v", is_flag=True, help="Text output: list every finding, not two per code.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where unchanged files' digests and headers are remembered (default: ~/.cache/curator).")
@click.option("--no-cache", is_flag=True, help="Read every file again; remember nothing.")
@click.option("--changed-since", metavar="REF",
              help="Only files changed since this git ref (plus the registry, manifests and READMEs).")
@guarded
def validate(root: Path, profile: str | None, fmt: tuple[str, ...], fail_on: str | None, config_file: Path | None,
             no_config: bool, select: tuple[str, ...],
             ignore: tuple[str, ...], jobs: int | None, tier: str, tolerance_voxels: float | None,
             tolerance_degrees: float | None, lang: str, identifiers: Path | None, output: tuple[Path, ...],
             verbose: bool, cache_dir: Path | None, no_cache: bool, changed_since: str | None) -> None:
    """Check the release at ROOT: files, registry, NIfTI headers, checksums."""
    from curator.io.cache import default_cache_dir
    from curator.models.findings import Severity
    from curator.render.progress import ProgressLine
    from curator.validate import ValidateOptions
    from curator.validate import validate as run_validate

    progress = ProgressLine()
    options = ValidateOptions(profile=profile, fail_on=Severity(fail_on) if fail_on else None, select=_split(select),
                              ignore=_split(ignore), jobs=jobs, deep=tier == "deep", progress=progress,
                              tolerance_voxels=tolerance_voxels, tolerance_degrees=tolerance_degrees,
                              identifiers=identifiers, config_file=config_file, discover_config=not no_config,
                              cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
                              changed_since=changed_since)
    try:
        report = run_validate(root, options)
    finally:
        progress.close()
    _present(report, fmt, output, command="validate", lang=lang, verbose=verbose)
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)


@main.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--manifest", help="Manifest to check against (default: SHA256SUMS, else MD5SUMS, ...).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), multiple=True,
              help="text (default), json, sarif, junit, github or markdown; repeat for several, each with an --output.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
              help="Write the report here (one per --format, in order).")
@click.option("--verbose", "-v", is_flag=True, help="Text output: list every finding, not two per code.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files hashed at once (default: all cores).")
@click.option("--only", multiple=True, help="Check only paths matching this glob (repeatable), e.g. 'masks/*'.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where unchanged files' digests are remembered (default: ~/.cache/curator).")
@click.option("--no-cache", is_flag=True, help="Hash every file again; remember nothing.")
@guarded
def verify(root: Path, manifest: str | None, fmt: tuple[str, ...], output: tuple[Path, ...], verbose: bool,
           jobs: int | None, only: tuple[str, ...], cache_dir: Path | None, no_cache: bool) -> None:
    """Check a downloaded copy at ROOT against its checksum manifest; list the files to fetch again."""
    from curator.io.cache import default_cache_dir
    from curator.render.progress import ProgressLine
    from curator.verify import intact_summary, judge, read_release

    line = ProgressLine()
    try:
        reading = read_release(root, manifest=manifest, jobs=jobs, only=only,
                               cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
                               progress=_BytesProgress(line, "verify"))
    finally:
        line.close()
    if fmt in ((), ("text",)) and not output:
        intact = intact_summary(reading)   # nothing to report: no need to build (and import) the report
        if intact is not None:
            click.echo(intact)
            sys.exit(EXIT_VALID)
    report = judge(reading, jobs)
    _present(report, fmt, output, command="verify", verbose=verbose)
    refetch = (report.stats.model_extra or {}).get("refetch") or []
    if refetch and not fmt:
        click.echo(f"fetch again ({len(refetch)}): " + " ".join(refetch))
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists (only once the new release is complete).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files hashed at once (default: all cores).")
@click.option("--xxh128", is_flag=True, help="Also write a tagged XXH128SUMS (xxhsum -c checks it fast).")
@click.option("--bagit", "bag", type=click.Path(path_type=Path, file_okay=False),
              help="Also write a BagIt bag of the release to this folder.")
@guarded
def build(source: Path, out: Path, force: bool, jobs: int | None, xxh128: bool, bag: Path | None) -> None:
    """Build a release in OUT from SOURCE (dataset.yaml + studies.csv + NIfTI files)."""
    from curator.build import build as run_build

    result = run_build(source, out, force=force, jobs=jobs, xxh128=xxh128, bag=bag)
    per = ", ".join(f"{k} {v}" for k, v in result.per_category.items())
    click.echo(f"built {result.out}: {result.studies} studies ({per}), {result.masks} masks, "
               f"{result.files} files, {result.bytes:,} bytes; validated with 0 errors")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def rules(fmt: str) -> None:
    """List the finding codes: level, tags, title; [planned] codes are reserved for checks to come."""
    from curator.catalogue import catalogue
    from curator.render.rules import rules_json, rules_text

    click.echo(rules_json(catalogue()) if fmt == "json" else rules_text(catalogue()), nl=False)


@main.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("curator-demo"),
              show_default=True, help="Folder for the demo source and release.")
@click.option("--force", is_flag=True, help="Replace an earlier demo in OUT.")
@guarded
def demo(out: Path, force: bool) -> None:
    """Make the embedded synthetic example, build its release, validate it and verify it."""
    from curator.demo import run_demo

    result = run_demo(out, force=force, echo=click.echo)
    sys.exit(EXIT_VALID if result.ok else EXIT_INVALID)


@main.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1))
@guarded
def diff(old: Path, new: Path, fmt: str, jobs: int | None) -> None:
    """What changed from release OLD to NEW, and the SemVer bump it calls for (exit 0 same, 1 different)."""
    from curator.diff import diff_releases
    from curator.render.diff import diff_json, diff_markdown, diff_text

    result = diff_releases(old, new, jobs)
    renderers = {"text": diff_text, "json": diff_json, "markdown": diff_markdown}
    click.echo(renderers[fmt](result), nl=False)
    sys.exit(EXIT_VALID if result.bump == "NONE" else EXIT_INVALID)


@main.group()
def cache() -> None:
    """The cache of digests and headers that makes reruns over unchanged files free."""


@cache.command("clear")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False))
@guarded
def cache_clear(cache_dir: Path | None) -> None:
    """Delete the cache."""
    from curator.io.cache import clear_cache, default_cache_dir

    folder = cache_dir or default_cache_dir()
    freed = clear_cache(folder) if folder.is_dir() else 0
    click.echo(f"cleared {folder} ({freed:,} bytes)")


from curator.cli.anonymise import anonymise  # noqa: E402  (the command module imports `guarded` from here)

main.add_command(anonymise)


def _register_commands() -> None:
    from curator.cli.pack import pack

    main.add_command(pack)
    from curator.cli.review import review

    main.add_command(review)
    from curator.cli.ingest import ingest

    main.add_command(ingest)
    from curator.cli.ingest_slices import ingest_slices

    main.add_command(ingest_slices)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()

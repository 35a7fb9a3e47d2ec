"""``curator publish RELEASE --to TARGET``: put a validated release on S3-compatible storage or Zenodo.

Exit codes: 0 published (or planned, with --dry-run); 1 the release fails the validation gate, or a file's
checksum on the server differs from the release's (each named); 2 usage or configuration (unknown target, no
token, an unsafe credentials file, limits that cannot be met, --publish where it means nothing); 3 could not run
(the server cannot be reached or failed, the release cannot be read, an internal error).
Every line shown passes :func:`curator.publish.credentials.redact`: a token never reaches the terminal or a report.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from curator.cli.pack import parse_size

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


def _echo(text: str, err: bool = False) -> None:
    from curator.escaping import display
    from curator.publish.credentials import redact

    click.echo(redact(display(text, keep_newlines=True)), err=err)


def _show_plan(outcome: Any) -> None:
    import json

    plan = outcome.plan
    packed = f", packed with the {plan.packed_with} preset" if plan.packed_with else ""
    _echo(f"plan: {len(plan.files)} file(s), {plan.bytes:,} bytes, {plan.parts} upload request(s) to "
          f"{plan.target}{packed}")
    for file in plan.files:
        _echo(f"  {file.rel}  {file.size:,} bytes  sha256:{file.sha256}  md5:{file.md5}")
    _echo("metadata:")
    _echo(json.dumps(plan.metadata, indent=2, ensure_ascii=False))


def _show(outcome: Any, fmt: str) -> int:
    if fmt == "json":
        from curator.escaping import json_text
        from curator.publish.credentials import redact

        click.echo(redact(json_text(outcome.as_dict())))
    elif outcome.dry_run:
        _show_plan(outcome)
        _echo("dry run: nothing was sent")
    else:
        plan = outcome.plan
        removed = f", {len(plan.delete)} removed from the draft" if plan.delete else ""
        _echo(f"{len(outcome.uploaded)} file(s) uploaded, {len(plan.skip)} already there{removed}")
        if outcome.mismatches:
            _echo(f"the server's checksum differs from the release's for {len(outcome.mismatches)} file(s); "
                  "nothing was finished or published:", err=True)
            for problem in outcome.mismatches:
                _echo(f"  - {problem}", err=True)
        else:
            state = "published" if outcome.published else "uploaded (not published; --publish makes it public)"
            _echo(f"every file's checksum on the server matches the release; {state}: {outcome.location}")
    for warning in outcome.warnings:
        _echo(f"warning: {warning}", err=True)
    return EXIT_OK if outcome.ok else EXIT_INVALID


@click.command("publish")
@click.argument("release", type=click.Path(path_type=Path))
@click.option("--to", "to", required=True, metavar="TARGET",
              help="s3://bucket/prefix (any S3-compatible endpoint: AWS_ENDPOINT_URL), zenodo, dataverse or "
                   "huggingface.")
@click.option("--dry-run", is_flag=True, help="Print the plan (files, bytes, parts, metadata); send nothing.")
@click.option("--publish", "make_public", is_flag=True,
              help="Make the record public at the end (Zenodo: publish the deposition). Without it, a draft.")
@click.option("--waive-validation", is_flag=True,
              help="Publish without the validate --deep gate (said as a warning).")
@click.option("--previous", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="A local copy of the previous version: what changed (curator diff) goes in the notes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Processes for validation and packing.")
@click.option("--sandbox", is_flag=True, help="zenodo: sandbox.zenodo.org instead of zenodo.org.")
@click.option("--api", metavar="URL", help="zenodo: the API's base URL (default https://zenodo.org/api).")
@click.option("--record", metavar="ID", help="zenodo: publish a new version of this record (keeps its concept DOI).")
@click.option("--draft", metavar="ID", help="zenodo: continue this draft deposition (resume an interrupted run).")
@click.option("--part-size", callback=parse_size, metavar="SIZE",
              help="s3: multipart part size (default 64MiB, at least 5MiB).")
@click.option("--server", metavar="URL", help="dataverse: the installation, e.g. https://dataverse.harvard.edu.")
@click.option("--dataverse", metavar="ALIAS", help="dataverse: create a new dataset in this collection.")
@click.option("--dataset", metavar="PID", help="dataverse: a new draft of this dataset (doi:...; also resumes).")
@click.option("--repo", metavar="OWNER/NAME", help="huggingface: the dataset repository (HF_ENDPOINT: another Hub).")
def publish(release: Path, to: str, dry_run: bool, make_public: bool, waive_validation: bool,
            previous: Path | None, fmt: str, jobs: int | None, **target_options: Any) -> None:
    """Publish the release at RELEASE to TARGET: gate, plan, pack if needed, upload, compare checksums."""
    from curator.errors import RunError
    from curator.publish.credentials import CredentialsError
    from curator.publish.target import PublishError

    try:
        from curator.publish.run import PublishOptions
        from curator.publish.run import publish as run_publish
        from curator.publish.targets import make_target

        target = make_target(to, target_options)
        options = PublishOptions(dry_run=dry_run, publish=make_public, waive_validation=waive_validation,
                                 previous=previous, jobs=jobs)
        outcome = run_publish(release, target, options, lambda line: _echo(line, err=True))
        code = _show(outcome, fmt)
    except CredentialsError as error:
        _echo(f"curator publish: error: {error}", err=True)
        code = EXIT_USAGE
    except PublishError as error:
        _echo(f"curator publish: {error}", err=True)
        for problem in error.problems[:50]:
            _echo(f"  - {problem}", err=True)
        if len(error.problems) > 50:
            _echo(f"  ... and {len(error.problems) - 50} more", err=True)
        code = error.exit_code
    except RunError as error:
        _echo(f"curator publish: cannot run: {error}", err=True)
        code = EXIT_CANNOT_RUN
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except Exception as error:
        import traceback

        _echo("curator: internal error (please report it with the traceback below)", err=True)
        _echo("".join(traceback.format_exception(error)), err=True)
        code = EXIT_CANNOT_RUN
    sys.exit(code)

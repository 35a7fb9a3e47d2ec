"""``curator pack RELEASE OUT_DIR``: deterministic archive parts of a built release, with their lists.

Register it in the CLI group with ``main.add_command(pack)`` (``from curator.cli.pack import pack``).
Exit codes as everywhere: 0 written; 1 the release is damaged (a file differs from its SHA256SUMS);
2 usage or configuration (limits that cannot be met, OUT_DIR not empty, no release date); 3 internal error.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import traceback
from pathlib import Path

import click

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3

_UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
          "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> int | None:
    """A byte count: ``2000000000``, ``2GB``/``2G`` (decimal) or ``2GiB`` (binary); None stays None."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", value)
    unit = match.group(2).upper() if match else ""
    if not match or unit not in _UNITS:
        raise click.BadParameter(f"{value!r} is not a size; write bytes (2000000000) or with a unit: 2GB, 500MB, "
                                 "2GiB", ctx, param)
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1:
        raise click.BadParameter(f"{value!r} is not a positive size", ctx, param)
    return size


def _release_date(release: Path) -> dt.date:
    from curator.errors import OptionsError
    from curator.io import ReadError
    from curator.io.card import load_card

    try:
        return load_card(release / "dataset.yaml").release_date
    except ReadError as error:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
        if epoch.isdigit():
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
        raise OptionsError(f"cannot date the archive members: {error}; set SOURCE_DATE_EPOCH") from error


@click.command("pack")
@click.argument("release", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["zip", "tar.gz"]),
              help="Archive format of the parts [default: zip; tar.gz with --preset dataverse, whose installations "
                   "may unpack an uploaded zip].")
@click.option("--preset", type=click.Choice(["zenodo", "huggingface", "cncb", "dataverse"]),
              help="Platform limits: zenodo (one record: at most 100 files, 50 GB in all; a part is one file of the "
                   "record) or huggingface (a part is one archive under 20 GB; fewer than 10,000 per folder). "
                   "Platform forms: cncb (parts per class, <CLASS>-<n>.zip, with an md5 JSON per class, <CLASS>.json) "
                   "or dataverse (one archive per patient or case, listed in dataverse_files.json).")
@click.option("--max-part-bytes", callback=parse_size, metavar="SIZE",
              help="Largest archive part, e.g. 2GB, 500MB or 2GiB.")
@click.option("--max-part-files", type=click.IntRange(min=1), help="Most members in one part.")
@click.option("--name", help="File name stem of the parts (default: <code>-v<version> from dataset.yaml).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Parts written at once (default: all cores).")
def pack(release: Path, out_dir: Path, fmt: str | None, preset: str | None, max_part_bytes: int | None,
         max_part_files: int | None, name: str | None, jobs: int | None) -> None:
    """Pack the release at RELEASE into independent archive parts in OUT_DIR.

    Members are sorted, dated SOURCE_DATE_EPOCH (else the release date), owned by 0:0 without names; each
    study stays with its mask; OUT_DIR gets the parts, PARTS.tsv and MD5SUMS/SHA256SUMS of the parts (with
    --preset cncb or dataverse also that platform's md5 listing).
    """
    from curator.cli.common import report_failure
    from curator.errors import OptionsError, RunError

    try:
        from curator.release.archives import PackError, pack_release

        if not release.is_dir():
            raise OptionsError(f"{release} is not a folder; pass a built release")
        fmt = fmt or ("tar.gz" if preset == "dataverse" else "zip")
        try:
            written = pack_release(release, out_dir, fmt=fmt, max_bytes=max_part_bytes, max_files=max_part_files,
                                   when=_release_date(release), preset=preset, name=name, jobs=jobs)
        except PackError as error:
            from curator.escaping import display

            click.echo(f"curator pack: {display(str(error), keep_newlines=True)}", err=True)
            for problem in error.problems[:50]:
                click.echo(f"  - {display(problem)}", err=True)
            if len(error.problems) > 50:
                click.echo(f"  ... and {len(error.problems) - 50} more", err=True)
            sys.exit(error.exit_code)
    except OptionsError as error:
        click.echo(f"curator pack: error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
        raise
    except RunError as error:   # an output that cannot be written (OutputError): exit 3, the path named
        sys.exit(report_failure(error))
    except Exception:
        click.echo("curator: internal error (please report it with the traceback below)", err=True)
        click.echo(traceback.format_exc(), err=True)
        sys.exit(EXIT_CANNOT_RUN)
    parts = [path for path in written if path.suffix in (".zip", ".gz")]
    base = out_dir.absolute()
    lists = [path.relative_to(base).as_posix() for path in written if path not in parts]
    total = sum(path.stat().st_size for path in parts)
    for path in parts:
        click.echo(f"{path.relative_to(base).as_posix()}  {path.stat().st_size:,} bytes")
    click.echo(f"packed {release} into {len(parts)} part(s), {total:,} bytes, in {out_dir} "
               f"(with {', '.join(lists)})")
    sys.exit(EXIT_OK)

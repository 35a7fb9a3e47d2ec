"""``curator ingest-slices --images PATH... --masks PATH... OUT``: 2D slices + label masks into a ``slices`` source.

Registered on the ``curator`` group in ``curator.cli.main``; the work is imported only when the command runs.

Each of ``--images``, ``--masks`` and ``--metadata`` takes every path after it up to the next option, so several
zip parts follow one flag; OUT is the last argument (or the first, before any of the three flags).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from curator.cli.options import archive_limit_options, report_options
from curator.errors import OptionsError

GROUPS = {"--images": "images", "--masks": "masks", "--metadata": "metadata"}


def split_arguments(tokens: tuple[str, ...]) -> tuple[dict[str, list[Path]], Path]:
    """``--images A B --masks C OUT`` -> ({"images": [A, B], "masks": [C], "metadata": []}, OUT).

    OUT is the path before the first of the three flags, or else the last path of all. ``--images=A`` works
    too."""
    groups: dict[str, list[Path]] = {name: [] for name in GROUPS.values()}
    leading: list[str] = []
    current: str | None = None
    last: str | None = None      # the group the last path went to (None: no path after a flag yet)
    for token in tokens:
        flag, equals, value = token.partition("=")
        if flag in GROUPS:
            current, last = GROUPS[flag], None
            if equals:
                if not value:
                    raise OptionsError(f"{flag}= needs a path")
                groups[current].append(Path(value))
            continue
        if token.startswith("-") and len(token) > 1:
            raise OptionsError(f"no such option: {token} (see curator ingest-slices --help)")
        if current is None:
            leading.append(token)
        else:
            groups[current].append(Path(token))
            last = current
    if len(leading) > 1:
        raise OptionsError(f"one OUT folder expected before the flags; found {', '.join(leading)}")
    if leading:
        out = Path(leading[0])
    elif last is not None:
        out = groups[last].pop()
    else:
        raise OptionsError("give the OUT folder: curator ingest-slices --images PATH... --masks PATH... OUT")
    for flag, name in GROUPS.items():
        if name != "metadata" and not groups[name]:
            raise OptionsError(f"give {flag} PATH... (folders or archive parts holding the {name})")
    return groups, out


def _labels(text: str | None) -> tuple[tuple[int, ...] | None, str | None]:
    """``--labels``: (the comma list, None) or (None, a scheme name); the name is checked when the run starts."""
    if text is None:
        return None, None
    if re.fullmatch(r"[a-z][a-z0-9-]*", text.strip()):
        return None, text.strip()
    try:
        values = tuple(sorted({int(item) for item in text.replace(" ", "").split(",") if item}))
    except ValueError as error:
        raise OptionsError(f"--labels {text!r}: expected a label scheme (infnet, cncb, binary-lesion, medseg) or "
                           "whole numbers separated by commas (0,1,2,3)") from error
    if not values or any(v < 0 or v > 65535 for v in values):
        raise OptionsError(f"--labels {text!r}: expected whole numbers from 0 to 65535 separated by commas")
    return values, None


def _run(tokens: tuple[str, ...], labels: str | None, to: str | None, mapping: Path | None, case: str, force: bool,
         jobs: int | None, fmt: tuple[str, ...], output: tuple[Path, ...], verbose: bool, max_gigabytes: float,
         max_ratio: float) -> None:
    from curator.cli.main import EXIT_INVALID, EXIT_VALID, present
    from curator.ingest.slices import IngestSlicesOptions, ingest_slices
    from curator.io.archive_read import Limits
    from curator.render.progress import ProgressLine

    groups, out = split_arguments(tokens)
    limits = Limits(max_total_bytes=int(max_gigabytes * 2**30), max_ratio=max_ratio)
    values, scheme = _labels(labels)
    line = ProgressLine()
    try:
        report = ingest_slices(groups["images"], groups["masks"], out, IngestSlicesOptions(
            labels=values, scheme=scheme, to=to, mapping=mapping, flat_case=case, metadata=tuple(groups["metadata"]),
            force=force, jobs=jobs,
            limits=limits, progress=lambda done, total: line("slices", done, total)))
    finally:
        line.close()
    present(report, fmt, output, command="ingest-slices", verbose=verbose)
    extra = report.stats.model_extra or {}
    if (not fmt or fmt == ("text",)) and extra.get("written") is False:
        click.echo(f"{extra.get('nothing_written')}; {out} is as it was")
    elif not fmt or fmt == ("text",):
        removed = extra.get("removed") or {}
        stripped = ", ".join(f"{name} {count}" for name, count in removed.items()) or "none"
        named = "; ".join(f"{given['name']} = {given['path']}" for given in extra.get("inputs") or [])
        if named:
            click.echo(f"inputs as {out}/provenance.json names them (their own names are not published): {named}")
        from curator.wording import plural

        click.echo(f"{plural(int(extra.get('pairs', 0)), 'image/mask pair')} in "
                   f"{plural(int(extra.get('cases', 0)), 'case')} written to {out}; "
                   f"{extra.get('pairs_left_out', 0)} left out; metadata removed: {stripped}; "
                   f"{_scheme_words(extra)}. "
                   f"Next: curator validate {out} --profile slices --deep")
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)


def _scheme_words(extra: dict[str, object]) -> str:
    remap = extra.get("remap")
    if isinstance(remap, dict):
        table = ", ".join(f"{source}->{to}" for source, to in remap["table"].items())
        return f"masks remapped from {remap['from']} to {remap['to']} ({table})"
    if extra.get("label_scheme"):
        return f"masks in the label scheme {extra['label_scheme']}"
    return "the masks' label scheme is not declared (--labels SCHEME says what their values mean)"


@click.command("ingest-slices", context_settings={"ignore_unknown_options": True},
               options_metavar="--images PATH... --masks PATH... [--metadata FILE...] [OPTIONS]")
@click.argument("tokens", nargs=-1, type=click.UNPROCESSED, metavar="OUT")
@click.option("--labels", help="What the masks hold: a label scheme (infnet, cncb, binary-lesion, medseg: values "
                               "and their meanings) or values, comma-separated (default: the slices profile's, "
                               "0,1,2,3, meaning undeclared).")
@click.option("--to", "to", metavar="SCHEME", help="Remap every mask exactly into this label scheme, by meaning "
                                                  "(--labels infnet --to cncb: 1->2, 2->3); masks are written as "
                                                  "8-bit grey PNG.")
@click.option("--map", "mapping", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Remap by your own table: a CSV of from,to lines or a YAML mapping (1: 2); every value of "
                   "--labels mapped once.")
@click.option("--case", default="0", show_default=True,
              help="Case folder for slices lying at the top of an input (Inf-Net's Imgs/6.jpg).")
@click.option("--force", is_flag=True, help="Replace an OUT written by an earlier ingest-slices (only once the new "
                                            "tree is complete); any other non-empty folder is refused.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files processed at once (default: all cores).")
@report_options
@archive_limit_options("An archive part")
def ingest_slices(tokens: tuple[str, ...], labels: str | None, to: str | None, mapping: Path | None, case: str,
                  force: bool, jobs: int | None, fmt: tuple[str, ...], output: tuple[Path, ...], verbose: bool,
                  max_gigabytes: float, max_ratio: float) -> None:
    """Pair 2D CT slices with their label masks and write them as a `slices` source in OUT.

    \b
    --images PATH...    folders or archive parts (zip, tar, 7z): the slices (JPEG, PNG)
    --masks PATH...     folders or archive parts: the label masks (one-channel PNG)
    --metadata FILE...  CNCB's unzip_filenames.csv, lesions_slices.csv, metadata.csv

    Several parts after one flag (or in one folder) form one tree. An image pairs with the mask at the same path
    without the extension; case folders (<n> or <label>/<patient_id>/<scan_id>) are kept, slice numbers are padded
    to four digits (6.jpg -> 0006.jpg), slices at the top of a tree go to the case --case. OUT gets
    image/<case>/<slice>.jpg or .png, mask/<case>/<slice>.png, provenance.json, labels.yaml (the masks' label
    scheme, when --labels names one; --to or --map remap them exactly) and the metadata CSVs; the
    inputs are named there images-1, masks-1, ... (their own names, which may identify a patient, only in the
    report). PNG text/time/EXIF chunks and JPEG EXIF/XMP/IPTC/comment segments and bytes after the image's end are
    removed without re-encoding; every copy is checked to decode to the same pixels. The inputs are only read; OUT
    appears only when complete; --force replaces only an OUT that ingest-slices wrote.
    Exit codes: 0 done; 1 some pairs were left out (see the report; the rest is written), or a remap met a mask
    value outside the source labels (nothing written); 2 usage; 3 internal error.
    """
    from curator.cli.main import guarded

    guarded(_run)(tokens, labels, to, mapping, case, force, jobs, fmt, output, verbose, max_gigabytes, max_ratio)

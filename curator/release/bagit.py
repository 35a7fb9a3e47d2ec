"""A BagIt 1.0 bag (RFC 8493) of a finished release, for archives and repositories that ingest bags.

The payload ``data/`` is the release as distributed (its own SHA256SUMS and MD5SUMS included), copied or
hard-linked. Tag files are written deterministically: ``manifest-sha256.txt`` and ``manifest-md5.txt`` in
GNU format (``<hex>  data/<path>``, sorted; the same line format as SHA256SUMS), ``bag-info.txt`` in a fixed
order with ``Bagging-Date`` from the card's release date, and ``tagmanifest-sha256.txt`` over the tag files.
The bag is assembled in a temporary folder beside ``bag`` and renamed into place when complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
from pathlib import Path

from curator import __version__
from curator.errors import BuildError, ExitCode
from curator.io import ReadError
from curator.io.card import load_card
from curator.io.hashing import CHUNK
from curator.io.manifest import format_gnu
from curator.models.card import DatasetCard, localise
from curator.outputs import EXEC_MODE, lock, overlap, staged

__all__ = ["bag_info", "write_bag"]

_TAG_FILES = ("bag-info.txt", "bagit.txt", "manifest-md5.txt", "manifest-sha256.txt")


def _release_files(release: Path) -> list[str]:
    """Every regular file of the release, sorted; links and special files are refused."""
    files = []
    for path in release.rglob("*"):
        rel = path.relative_to(release).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise BuildError(f"{release}: {rel} is a link or a special file; a bag holds regular files only",
                             ExitCode.INVALID)
        if path.is_file():
            files.append(rel)
    return sorted(files)


def _copy_hashing(source: Path, target: Path, link: bool) -> tuple[str, str]:
    """Put ``source`` at ``target`` (hard link when asked and possible, else a copy) and return (sha256, md5)
    from one read of the bytes."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    target.parent.mkdir(parents=True, exist_ok=True)
    linked = False
    if link:
        try:
            os.link(source, target)
            linked = True
        except OSError:
            linked = False
    with source.open("rb") as reader:
        if linked:
            while chunk := reader.read(CHUNK):
                sha.update(chunk)
                md5.update(chunk)
        else:
            with target.open("wb") as writer:
                while chunk := reader.read(CHUNK):
                    sha.update(chunk)
                    md5.update(chunk)
                    writer.write(chunk)
    if not linked and source.stat().st_mode & stat.S_IXUSR:
        target.chmod(EXEC_MODE)   # the mode policy (curator.outputs) keeps it executable, the rest 0644
    return sha.hexdigest(), md5.hexdigest()


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def bag_info(card: DatasetCard | None, when: dt.date, octets: int, streams: int) -> str:
    """``bag-info.txt``: fixed labels in a fixed order; no value depends on the clock."""
    lines = [("Bag-Software-Agent", f"curator {__version__}"), ("Bagging-Date", when.isoformat()),
             ("Bag-Size", _human(octets))]
    if card is not None:
        lang = "en" if "en" in card.languages else card.languages[0]
        contact = next((c for c in card.contributors if c.email), None)
        if contact is not None:
            lines.append(("Contact-Name", localise(contact.name, lang)))
            lines.append(("Contact-Email", contact.email or ""))
        lines += [("External-Description", " ".join(localise(card.title, lang).split())),
                  ("External-Identifier", card.permanent_link),
                  ("Internal-Sender-Identifier", f"{card.code} {card.version}")]
    lines.append(("Payload-Oxum", f"{octets}.{streams}"))
    if card is not None:
        lines.append(("Source-Organization", " ".join(localise(card.copyright_holder, lang).split())))
    return "".join(f"{label}: {value}\n" for label, value in lines)


def write_bag(release: Path, bag: Path, *, when: dt.date | None = None, link: bool = False) -> None:
    """Write a BagIt 1.0 bag of the finished ``release`` at ``bag`` (which must not exist or be empty).

    ``when`` is the Bagging-Date; by default the release date of the release's ``dataset.yaml``.
    ``link`` hard-links payload files instead of copying them (falling back to a copy across file systems).
    Raises :class:`curator.errors.BuildError` (exit code 2 for usage problems) when the bag cannot be made.
    """
    release, bag = Path(release).absolute(), Path(bag).absolute()
    if not release.is_dir():
        raise BuildError(f"{release} is not a folder; pass a built release", ExitCode.USAGE)
    if overlap(bag, [release]) is not None:
        raise BuildError(f"the bag {bag} and the release {release} must not contain each other", ExitCode.USAGE)
    if bag.exists() and (not bag.is_dir() or any(bag.iterdir())):
        raise BuildError(f"{bag} already exists and is not empty; choose another folder", ExitCode.USAGE)
    card: DatasetCard | None = None
    try:
        card = load_card(release / "dataset.yaml")
    except ReadError as error:
        if when is None:
            raise BuildError(f"cannot date the bag: {error}; pass the Bagging-Date explicitly",
                             ExitCode.USAGE) from error
    bagging_date = when or (card.release_date if card else None)
    assert bagging_date is not None
    files = _release_files(release)

    with lock(bag):
        if bag.exists() and (not bag.is_dir() or any(bag.iterdir())):
            raise BuildError(f"{bag} already exists and is not empty; choose another folder", ExitCode.USAGE)
        with staged(bag) as stage:
            _write_payload(release, stage.root, files, card, bagging_date, link)


def _write_payload(release: Path, stage: Path, files: list[str], card: DatasetCard | None, bagging_date: dt.date,
                   link: bool) -> None:
    sha256: dict[str, str] = {}
    md5: dict[str, str] = {}
    octets = 0
    for rel in files:
        key = f"data/{rel}"
        sha256[key], md5[key] = _copy_hashing(release / rel, stage / "data" / rel, link)
        octets += (release / rel).stat().st_size
    tags = {
        "bagit.txt": "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": bag_info(card, bagging_date, octets, len(files)),
        "manifest-sha256.txt": format_gnu(sha256),
        "manifest-md5.txt": format_gnu(md5),
    }
    for name in _TAG_FILES:
        (stage / name).write_bytes(tags[name].encode("utf-8"))
    tagmanifest = {name: hashlib.sha256(tags[name].encode("utf-8")).hexdigest() for name in _TAG_FILES}
    (stage / "tagmanifest-sha256.txt").write_bytes(format_gnu(tagmanifest).encode("utf-8"))

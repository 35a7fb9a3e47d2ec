"""``curator ingest-slices``: 2D CT slices with label masks (CNCB, Inf-Net) into a ``slices`` source.

The images and the masks each come as one tree made of folders and archive parts (CNCB ships zip parts; several
parts together, given one by one or as the folder they were downloaded into, form one tree). Every image is paired
with its mask by its path inside its tree, without the extension, and the pairs are written as the ``slices``
profile names them::

    OUT/image/<case>/<slice>.jpg|png     the slice, as JPEG or PNG (the format it came in, never re-encoded)
    OUT/mask/<case>/<slice>.png          its label mask, a single-channel PNG
    OUT/provenance.json                  tool, inputs (sha256, size), counts per case, what was removed, the remap
    OUT/labels.yaml                      the masks' label scheme (label_scheme: cncb), when --labels named one
    OUT/unzip_filenames.csv ...          CNCB's metadata CSVs, when given, copied byte for byte

Naming. ``<case>`` is the folder path of the slice inside its tree, kept as it is: one level (``<n>``, CNCB's
ct_lesion_seg) or three (``<label>/<patient_id>/<scan_id>``, CNCB's classification set and its CSVs), each part
ASCII letters, digits, ``_`` and ``-``. Slices lying at the top of a tree (Inf-Net's ``Imgs/6.jpg``) go into the
case ``options.flat_case`` ("0"). ``<slice>`` is the file's number zero-padded to 4 digits, as CNCB's
lesions_slices.csv names slices (``CP/3783/5727/0008.png``): ``6.jpg`` becomes ``0006.jpg``; so ``6`` and ``006``
are the same slice (and both present are reported as SLICE_DUPLICATE). Names that are not numbers, case folders
that are not portable or deeper than three levels are reported (FILE_NAME_INVALID) and left out, never renamed
silently. An input whose top level holds the side's own folder (``image/`` for the images, ``mask/`` for the
masks, as in ct_lesion_seg.zip) is read from that folder, so one archive can be given for both sides.

Anonymisation on the way in, without touching a pixel:

- PNG: the chunks ``tEXt``, ``zTXt``, ``iTXt``, ``tIME`` and ``eXIf`` and any bytes after ``IEND`` are left out;
  every other chunk is copied byte for byte with its CRC (which is checked);
- JPEG: the segments ``APP1`` (EXIF, XMP), ``APP2`` other than an ICC profile, ``APP3``..``APP13``, ``APP15`` and
  ``COM``, and any bytes after ``EOI``, are left out; ``APP0`` (JFIF), the ICC profile, ``APP14`` (Adobe colour
  transform), the tables and the scan data are copied byte for byte;
- the copy is accepted only when Pillow decodes it to the same mode, size, pixels and palette as the input.

Dropping EXIF also drops its Orientation tag: the stored pixel grid (the one the PNG mask is drawn on) is what the
copy shows everywhere; how many slices had an Orientation other than 1 is in the report and the provenance.

Inputs are named in OUT by neutral labels only: ``images-1``, ``images-2``, ``masks-1`` in the order given, an
archive part found in a folder input ``images-1/part-2``; a slice's ``from`` is that label and its path below the
side's folder. The inputs' own names (a folder may be named after the patient) and the folder above ``image/`` in
an archive stay in the report (``stats.inputs``), which stays with the curator. ``force`` replaces only an OUT
that ingest-slices made (its provenance.json names the tool and command, and it holds nothing else at its top).

Labels (curator.ingest.slices_labels): ``--labels`` names the masks' scheme (infnet, cncb, ...) or their values;
``--to``/``--map`` remap every mask exactly through a lookup table and write it as an 8-bit grey PNG (the one case
where a mask is re-encoded); a value outside the source labels stops the run before OUT is touched.

Judgement: a mask must be a single-channel PNG (grey, palette - read as indices - or 1-bit) with values in the label
set, of its image's size. A slice without its counterpart, a duplicate, an unreadable file or a mask that fails is
reported and its pair left out; the rest is written. Nothing is ever joined from an archive member's name onto the
disk: members are staged under numbers in a temporary folder beside OUT, which is renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curator import __version__
from curator.anonymise.images import (
    PNG_STRIPPED_CHUNKS,
    SliceFormatError,
    Stripped,
    strip_jpeg,
    strip_metadata,
    strip_png,
)
from curator.catalogue import make_finding
from curator.ingest.slices_inputs import (
    SIDES,
    Collector,
    IngestSlicesOptions,
    SliceFile,
    SliceInput,
    case_and_slice,
    check_places,
    choose_prefixes,
    list_inputs,
    public_prefix,
)
from curator.ingest.slices_labels import LabelPlan, plan_labels
from curator.ingest.slices_pairs import drop_collisions, pair_slices
from curator.ingest.slices_read import read_all
from curator.io.archive_read import archive_kind
from curator.io.slices import LABELS_FILE, LESIONS_CSV, SCANS_CSV, MetadataError, read_lesions, read_scans
from curator.models.findings import Finding, Report, Severity
from curator.outputs import lock, move, staged
from curator.profiles import get_profile
from curator.report_closing import ingest_report

__all__ = [
    "CODES",
    "PNG_STRIPPED_CHUNKS",
    "IngestSlicesOptions",
    "SliceFormatError",
    "Stripped",
    "ingest_slices",
    "strip_jpeg",
    "strip_metadata",
    "strip_png",
]

# every code ingest-slices can report (a test keeps it in step with the calls in curator/ingest/slices*.py)
CODES = frozenset({
    "ARCHIVE_UNSAFE_MEMBER", "ARCHIVE_CORRUPT", "ARCHIVE_BOMB", "FILE_JUNK", "FILE_UNSAFE", "FILE_NAME_INVALID",
    "IMAGE_UNREADABLE", "MASK_MODE_INVALID", "MASK_VALUES_UNEXPECTED", "SLICE_CASE_UNPAIRED", "SLICE_PAIR_MISSING",
    "SLICE_DUPLICATE", "SLICE_SIZE_MISMATCH", "METADATA_UNREADABLE",
})

PROFILE = "slices"
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


# --- output ------------------------------------------------------------------------------------------------

def _json(document: Any) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _provenance(inputs: list[SliceInput], written: list[dict[str, Any]], labels: dict[str, Any],
                options: IngestSlicesOptions, metadata: list[dict[str, Any]], counts: dict[str, Any],
                stripped: dict[str, Any]) -> bytes:
    import PIL

    cases = Counter(entry["case"] for entry in written)
    profile = get_profile(PROFILE)
    document = {
        "tool": {"name": "curator", "version": __version__, "command": "ingest-slices"},
        "libraries": {"pillow": PIL.__version__, "numpy": np.__version__},
        "profile": PROFILE,
        **labels,
        "naming": {
            "image": "image/{case}/{slice}.jpg (JPEG) or .png (PNG)", "mask": profile.pattern_for("mask").template,
            "slice": f"the file's number, zero-padded to {options.digits} digits",
            "case": "the slice's folder path inside its input, kept as it is (1 or 3 levels)",
            "flat_case": options.flat_case,
        },
        "inputs": [{"side": given.side, "name": given.name, "kind": given.kind, "read_from": public_prefix(given),
                    "sha256": given.sha256, "bytes": given.size, "files": given.files,
                    **({"refused": True} if given.refused else {})}
                   for given in sorted(inputs, key=lambda g: g.order)],
        "anonymisation": {
            "png": "chunks tEXt, zTXt, iTXt, tIME and eXIf and bytes after IEND left out; every other chunk copied "
                   "byte for byte with its CRC",
            "jpeg": "segments APP1 (EXIF, XMP), APP2 other than ICC, APP3..APP13, APP15 and COM and bytes after EOI "
                    "left out; APP0, ICC profile, APP14, tables and scan data copied byte for byte (no re-encoding)",
            "verified": "each copy decodes (Pillow) to the same mode, size, pixels and palette as its input",
            "removed": stripped,
        },
        "counts": {"pairs": len(written), "cases": len(cases), **counts},
        "cases": {case: {"slices": count} for case, count in sorted(cases.items())},
        "metadata": metadata,
        "slices": written,
    }
    return _json(document)


def _labels_record(labels: LabelPlan, before: Counter[int], after: Counter[int]) -> dict[str, Any]:
    """What provenance.json says of the masks' values: the set, the scheme that gives them meaning (None: not
    declared; give --labels SCHEME) and, after a remap, the table and the pixels of each value before and after."""
    remap = None
    if labels.remaps:
        remap = {"from_scheme": labels.source, "to_scheme": labels.target, "source_labels": list(labels.allowed),
                 "table": {str(source): to for source, to in labels.table},
                 **({"map_file_sha256": labels.mapping_sha256} if labels.mapping_sha256 else {}),
                 "pixels_before": {str(v): n for v, n in sorted(before.items())},
                 "pixels_after": {str(v): n for v, n in sorted(after.items())},
                 "masks": "rewritten as 8-bit grey PNG (mode L) holding the target values; every pixel through the "
                          "table, none interpolated"}
    return {"labels": list(labels.written), "label_scheme": labels.scheme, "remap": remap}


def _labels_file(scheme: str) -> bytes:
    return (f"# What the values of the masks under mask/ mean: curator's label scheme {scheme} (schema/labels/).\n"
            "# Written by curator ingest-slices; curator validate and curator build read it, and a label_scheme in\n"
            f"# dataset.yaml comes first.\nlabel_scheme: {scheme}\n").encode()


def _listing_digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def _metadata(folder: Path, paths: Sequence[Path]) -> tuple[list[dict[str, Any]], list[Finding]]:
    copied: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for path in sorted(paths, key=lambda p: p.name):
        try:
            if path.name == SCANS_CSV:
                read_scans(path)
            elif path.name == LESIONS_CSV:
                read_lesions(path)
            data = path.read_bytes()
        except MetadataError as error:
            findings.append(make_finding("METADATA_UNREADABLE", path.as_posix(), reason=str(error)))
            continue
        except OSError as error:
            findings.append(make_finding("METADATA_UNREADABLE", path.as_posix(),
                                         reason=f"cannot read the file ({error.strerror or error})"))
            continue
        (folder / path.name).write_bytes(data)
        copied.append({"name": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return copied, findings


def ingest_slices(images: Sequence[Path], masks: Sequence[Path], out: Path,
                  options: IngestSlicesOptions | None = None) -> Report:
    """Pair, anonymise and write the slices of ``images`` and ``masks`` (folders and archive parts) into ``out``.

    Raises OptionsError for unusable arguments (exit 2); everything wrong with the data is a finding in the
    report, and the pairs it concerns are left out. The inputs are only read.
    """
    started = time.perf_counter()
    options = options or IngestSlicesOptions()
    out = Path(out)
    labels = plan_labels(options.labels, options.scheme, options.to, options.mapping,
                         tuple(get_profile(PROFILE).labels))
    inputs = list_inputs(images, masks)
    check_places(inputs, out, options)
    with lock(out):
        check_places(inputs, out, options)   # again, under the lock: another run may have written OUT meanwhile
        try:
            with staged(out, replace=True) as stage:   # a non-empty OUT was checked to be ours, and --force given
                return _ingest(inputs, out, stage.root, labels, options, started)
        except _NothingWrittenError as refused:   # the staging folder is gone, OUT as it was
            return refused.report


class _NothingWrittenError(Exception):
    """A remap met a mask value outside its source labels: the run stops before OUT is touched."""

    def __init__(self, report: Report) -> None:
        super().__init__("nothing written")
        self.report = report


def _ingest(inputs: list[SliceInput], out: Path, temporary: Path, labels: LabelPlan,
            options: IngestSlicesOptions, started: float) -> Report:
    work = temporary / ".work"
    (work / "clean").mkdir(parents=True)
    collector = Collector()
    for source, given in enumerate(list(inputs)):
        if given.kind == "folder":
            collector.folder(source, given)
        else:
            collector.archive(source, given, options.limits)
    parts: Counter[int] = Counter()
    for folder, rel in collector.parts:   # archive parts inside a folder input: parts of the same tree
        given = inputs[folder]
        path = given.path / rel
        parts[folder] += 1
        inputs.append(SliceInput(given.side, path, f"{given.label}/{rel}", str(archive_kind(path)),
                             f"{given.name}/part-{parts[folder]}", (*given.order[:2], parts[folder])))
        collector.archive(len(inputs) - 1, inputs[-1], options.limits)
    findings = collector.findings
    files = choose_prefixes(inputs, collector.files)
    reads = read_all(inputs, files, work / "clean", labels, options, findings)
    files = [item for item in files if not inputs[item.source].refused]
    slices: list[SliceFile] = []
    ignored = 0
    listings: dict[int, list[str]] = {}
    for item in files:
        read = reads[item.index]
        if read.sha256_in:
            inputs[item.source].files += 1
            if inputs[item.source].kind == "folder":
                listings.setdefault(item.source, []).append(f"{read.sha256_in}  {item.rel}\n")
                inputs[item.source].size += item.size
        if not read.slice:
            ignored += 1
            continue
        findings.extend(make_finding(code, item.label, **context) for code, context in read.problems)
        placed = case_and_slice(item.name, options)
        if isinstance(placed, str):
            findings.append(make_finding("FILE_NAME_INVALID", item.label, reason=placed))
            continue
        item.case, item.slice = placed
        slices.append(item)
    for source, lines in listings.items():
        inputs[source].sha256 = _listing_digest(lines)
    strays = [f for f in findings if f.code == "MASK_VALUES_UNEXPECTED"]
    if labels.remaps and strays:
        raise _NothingWrittenError(ingest_report(out, PROFILE, findings, started, 0, 0, {
            "pairs": 0, "cases": 0, "pairs_left_out": 0, "files_ignored": ignored, "written": False,
            "nothing_written": f"{len(strays)} mask(s) hold values outside the source labels {list(labels.allowed)}"
                               f"{f' of the scheme {labels.source}' if labels.source else ''}, so the remap cannot "
                               "say what they mean; nothing was written"}))

    pairing = pair_slices(inputs, slices, reads)
    findings.extend(pairing.findings)
    before = len(pairing.pairs)
    findings.extend(drop_collisions(pairing.pairs, inputs))
    pairing.left_out += before - len(pairing.pairs)
    profile = get_profile(PROFILE)
    patterns = {side: profile.pattern_for(side).regex for side in SIDES}

    written: list[dict[str, Any]] = []
    removed: Counter[str] = Counter()
    pixels_before: Counter[int] = Counter()
    pixels_after: Counter[int] = Counter()
    trailing_files = trailing_bytes = orientations = total = 0
    for (case, name), pair in sorted(pairing.pairs.items()):
        entry: dict[str, Any] = {"case": case, "slice": name}
        for side, item in zip(SIDES, pair, strict=True):
            read = reads[item.index]
            rel = f"{side}/{case}/{name}.{_EXTENSIONS[read.format]}"
            if not patterns[side].match(rel):  # the naming above follows the profile; this keeps it honest
                raise AssertionError(f"{rel} does not match the {PROFILE} profile's {side} pattern")
            target = temporary / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            move(work / "clean" / str(item.index), target)
            given = inputs[item.source]
            entry[side] = {"path": rel, "from": f"{given.name}/{item.name}", "source_sha256": read.sha256_in,
                           "sha256": read.sha256, "bytes": read.size,
                           **({"removed": list(read.removed)} if read.removed else {}),
                           **({"trailing_bytes": read.trailing} if read.trailing else {}),
                           **({"exif_orientation": read.orientation} if read.orientation else {})}
            removed.update(read.removed)
            pixels_before.update(read.pixels_before or {})
            pixels_after.update(read.pixels_after or {})
            trailing_files += bool(read.trailing)
            trailing_bytes += read.trailing
            orientations += bool(read.orientation)
            total += read.size
        written.append(entry)
    shutil.rmtree(work)

    copied, metadata_findings = _metadata(temporary, options.metadata)
    findings.extend(metadata_findings)
    # codes and counts only: the findings name input files, and what was left out may carry names that must not
    # be published (they stay in the report, with the curator)
    reported = Counter(f.code for f in findings if f.severity != Severity.info)
    counts = {"pairs_left_out": pairing.left_out, "findings": dict(sorted(reported.items()))}
    stripped = {"items": dict(sorted(removed.items())), "trailing_bytes": {"files": trailing_files,
                                                                          "bytes": trailing_bytes},
                "exif_orientation_dropped": orientations}
    if labels.scheme is not None:   # the declaration validate and build read (a dataset.yaml label_scheme wins)
        (temporary / LABELS_FILE).write_bytes(_labels_file(labels.scheme))
    (temporary / "provenance.json").write_bytes(
        _provenance(inputs, written, _labels_record(labels, pixels_before, pixels_after), options, copied, counts,
                    stripped))
    cases = len({entry["case"] for entry in written})
    return ingest_report(out, PROFILE, findings, started, 2 * len(written), total, {
        "pairs": len(written), "cases": cases, "pairs_left_out": pairing.left_out,
        "files_ignored": ignored, "removed": dict(sorted(removed.items())),
        "trailing_bytes": {"files": trailing_files, "bytes": trailing_bytes},
        "exif_orientation_dropped": orientations, "metadata": [entry["name"] for entry in copied],
        "label_scheme": labels.scheme, **({"remap": {"from": labels.source or "--map", "to": labels.target,
                                                     "table": {str(k): v for k, v in labels.table}}}
                                          if labels.remaps else {}),
        # the inputs' own names, for the curator only: OUT calls them by their labels
        "inputs": [{"name": given.name, "path": given.label, "read_from": given.prefix or "/"}
                   for given in sorted(inputs, key=lambda g: g.order)]})



"""ingest-slices, step 3: images paired with their masks by case and slice; duplicates, one-sided slices and
cases, size mismatches and letter-case collisions reported, their pairs left out."""

from __future__ import annotations

from dataclasses import dataclass, field

from curator.catalogue import make_finding
from curator.checks.names import case_collisions
from curator.ingest.slices_inputs import INPUT_FLAGS, SIDES, SliceFile, SliceInput
from curator.ingest.slices_read import SliceRead
from curator.models.findings import Finding


@dataclass
class Pairing:
    pairs: dict[tuple[str, str], tuple[SliceFile, SliceFile]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    left_out: int = 0


def _counterpart(inputs: list[SliceInput], side: str, item: SliceFile) -> str:
    """Where the counterpart of ``item`` would be in the other tree."""
    other = "mask" if side == "image" else "image"
    stem = item.name.rsplit(".", 1)[0] if "." in item.name.rsplit("/", 1)[-1] else item.name
    extension = ".png" if other == "mask" else ".jpg"
    candidates = [given for given in inputs if given.side == other]
    if len(candidates) == 1:
        return f"{candidates[0].label}/{candidates[0].prefix}{stem}{extension}"
    return f"{stem}{extension} (in none of the {len(candidates)} {INPUT_FLAGS[other]} inputs)"


def case_folder(inputs: list[SliceInput], item: SliceFile) -> str:
    given = inputs[item.source]
    folder = item.name.rsplit("/", 1)[0] if "/" in item.name else ""
    return f"{given.label}/{given.prefix}{folder}".rstrip("/")


def pair_slices(inputs: list[SliceInput], files: list[SliceFile], reads: dict[int, SliceRead]) -> Pairing:
    result = Pairing()
    slots: dict[tuple[str, str], dict[str, list[SliceFile]]] = {}
    for item in files:
        slots.setdefault((item.case, item.slice), {"image": [], "mask": []})[item.side].append(item)
    present = {side: {case for (case, _), sides in slots.items() if sides[side]} for side in SIDES}

    unpaired: dict[tuple[str, str], list[SliceFile]] = {}     # (side, case) -> its slices, when the case is one-sided
    for (case, name), sides in sorted(slots.items()):
        usable = True
        for side in SIDES:
            for extra in sides[side][1:]:
                result.findings.append(make_finding("SLICE_DUPLICATE", extra.label, other=sides[side][0].label,
                                                    case=case, slice=name))
                usable = False
        for side, other in (("image", "mask"), ("mask", "image")):
            if sides[side] and not sides[other]:
                usable = False
                if case not in present[other]:
                    unpaired.setdefault((side, case), []).append(sides[side][0])
                else:
                    item = sides[side][0]
                    result.findings.append(make_finding("SLICE_PAIR_MISSING", item.label, side=side, case=case,
                                                        slice=name, counterpart=_counterpart(inputs, side, item)))
        if usable and all(reads[f.index].usable for side in SIDES for f in sides[side]):
            image, mask = sides["image"][0], sides["mask"][0]
            image_read, mask_read = reads[image.index], reads[mask.index]
            if (image_read.width, image_read.height) != (mask_read.width, mask_read.height):
                result.findings.append(make_finding(
                    "SLICE_SIZE_MISMATCH", mask.label, image=image.label,
                    mask_size=f"{mask_read.width}x{mask_read.height}",
                    image_size=f"{image_read.width}x{image_read.height}", case=case, slice=name))
                usable = False
        else:
            usable = False
        if usable:
            result.pairs[(case, name)] = (sides["image"][0], sides["mask"][0])
        else:
            result.left_out += 1
    for (side, case), items in sorted(unpaired.items()):
        other = "mask" if side == "image" else "image"
        folder = case_folder(inputs, items[0])
        candidates = [given for given in inputs if given.side == other]
        folder_rel = items[0].name.rsplit("/", 1)[0] if "/" in items[0].name else ""
        counterpart = (f"{candidates[0].label}/{candidates[0].prefix}{folder_rel}".rstrip("/")
                       if len(candidates) == 1 else f"case {case} in the {INPUT_FLAGS[other]} inputs")
        result.findings.append(make_finding("SLICE_CASE_UNPAIRED", folder, slices=len(items), counterpart=counterpart,
                                            case=case, side=side))
    return result


def drop_collisions(pairs: dict[tuple[str, str], tuple[SliceFile, SliceFile]],
                    inputs: list[SliceInput]) -> list[Finding]:
    """Cases whose names differ only in letter case (one folder on macOS and Windows) are left out (the later
    one in sorted order); ``pairs`` loses them."""
    cases = {case for case, _ in pairs}
    findings: list[Finding] = []
    for case, earlier in sorted(case_collisions(cases).items()):
        items = [pair for key, pair in pairs.items() if key[0] == case]
        findings.append(make_finding(
            "FILE_NAME_INVALID", case_folder(inputs, items[0][0]), case=case,
            reason=f"case {case} differs from case {earlier} only in letter case, so the two would be one folder on "
                   "macOS and Windows; rename one of them"))
        for key in [key for key in pairs if key[0] == case]:
            del pairs[key]
    return findings

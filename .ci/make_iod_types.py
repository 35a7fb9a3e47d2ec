"""Regenerate schema/deid/iod_attribute_types.json from dicom3tools' module and IOD tables (maintenance script,
not part of the package).

Usage: python .ci/make_iod_types.py DICOM3TOOLS_CHECKOUT > schema/deid/iod_attribute_types.json

Reads libsrc/standard/{module,iodcomp}/*.tpl and elmdict/dicom3.tpl of a dicom3tools checkout (BSD-3-Clause,
David A. Clunie / PixelMed Publishing; the tables dciodvfy itself verifies against) and keeps, for the SOP classes
listed in SOP_CLASSES, the Type (1, 1C, 2, 2C, 3) of every attribute whose PS3.15 Table E.1-1 action leaves a
choice (Z, X/Z, X/D, Z/D, X/Z/D), keyed by its position: the tags of the enclosing sequences and its own, joined
by "/". "*" holds the fallback for other SOP classes: the strictest Type any IOD of the tables gives that position.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1": ("Computed Radiography Image Storage", "CRImage"),
    "1.2.840.10008.5.1.4.1.1.1.1": ("Digital X-Ray Image Storage - For Presentation", "DXImageForPresentation"),
    "1.2.840.10008.5.1.4.1.1.1.1.1": ("Digital X-Ray Image Storage - For Processing", "DXImageForProcessing"),
    "1.2.840.10008.5.1.4.1.1.2": ("CT Image Storage", "CTImage"),
    "1.2.840.10008.5.1.4.1.1.2.1": ("Enhanced CT Image Storage", "EnhancedCTImage"),
    "1.2.840.10008.5.1.4.1.1.2.2": ("Legacy Converted Enhanced CT Image Storage", "LegacyConvertedEnhancedCTImage"),
    "1.2.840.10008.5.1.4.1.1.4": ("MR Image Storage", "MRImage"),
    "1.2.840.10008.5.1.4.1.1.4.1": ("Enhanced MR Image Storage", "EnhancedMRImage"),
    "1.2.840.10008.5.1.4.1.1.7": ("Secondary Capture Image Storage", "SCImage"),
    "1.2.840.10008.5.1.4.1.1.7.1": ("Multi-frame Single Bit Secondary Capture Image Storage",
                                    "MultiframeSingleBitSCImage"),
    "1.2.840.10008.5.1.4.1.1.7.2": ("Multi-frame Grayscale Byte Secondary Capture Image Storage",
                                    "MultiframeGrayscaleByteSCImage"),
    "1.2.840.10008.5.1.4.1.1.7.3": ("Multi-frame Grayscale Word Secondary Capture Image Storage",
                                    "MultiframeGrayscaleWordSCImage"),
    "1.2.840.10008.5.1.4.1.1.7.4": ("Multi-frame True Color Secondary Capture Image Storage",
                                    "MultiframeTrueColorSCImage"),
    "1.2.840.10008.5.1.4.1.1.66.4": ("Segmentation Storage", "Segmentation"),
    "1.2.840.10008.5.1.4.1.1.128": ("Positron Emission Tomography Image Storage", "PETImage"),
    "1.2.840.10008.5.1.4.1.1.481.3": ("RT Structure Set Storage", "RTStructureSet"),
}
CHOICES = {"Z", "X/Z", "X/D", "Z/D", "X/Z/D"}
MAX_DEPTH = 6
PAIR = re.compile(r'(\w+)="([^"]*)"')
STRICT = {"1": 0, "1C": 1, "2": 2, "2C": 3, "3": 4}


def git_show(repo: Path, path: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True, errors="replace").stdout


def git_ls(repo: Path, folder: str) -> list[str]:
    out = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "--name-only", "HEAD", folder + "/"],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.endswith(".tpl")]


def pairs(line: str) -> list[tuple[str, str]]:
    code = line.split("#", 1)[0] if line.count('"') % 2 == 0 else line
    return PAIR.findall(code.split("#", 1)[0]) if "#" in code else PAIR.findall(code)


def parse_bodies(text: str, bodies: dict[str, list[tuple]]) -> None:  # type: ignore[type-arg]
    stack: list[list[tuple]] = []  # type: ignore[type-arg]
    for line in text.splitlines():
        found = pairs(line)
        if not found:
            word = line.strip()
            if word in ("MacroEnd", "ModuleEnd") and stack:
                stack.clear()
            elif word == "SequenceEnd" and len(stack) > 1:
                stack.pop()
            continue
        key, value = found[0]
        fields = dict(found)
        if key in ("DefineMacro", "Module") and not stack:
            body: list[tuple] = []  # type: ignore[type-arg]
            bodies[value] = body
            stack = [body]
        elif not stack:
            continue
        elif key == "Name":
            stack[-1].append(("attr", value, fields.get("Type", "3")))
        elif key == "Sequence":
            inner: list[tuple] = []  # type: ignore[type-arg]
            stack[-1].append(("seq", value, fields.get("Type", "3"), inner))
            stack.append(inner)
        elif key == "InvokeMacro":
            stack[-1].append(("macro", value))


def flatten(body: list[tuple], bodies: dict[str, list[tuple]], tags: dict[str, str], prefix: str,  # type: ignore[type-arg]
            out: dict[str, str], depth: int, seen: tuple[str, ...]) -> None:
    for item in body:
        if item[0] == "macro":
            if item[1] in bodies and item[1] not in seen:
                flatten(bodies[item[1]], bodies, tags, prefix, out, depth, (*seen, item[1]))
            continue
        tag = tags.get(item[1])
        if tag is None:
            continue
        path = f"{prefix}/{tag}" if prefix else tag
        old = out.get(path)
        if old is None or STRICT[item[2]] < STRICT[old]:
            out[path] = item[2]
        if item[0] == "seq" and depth < MAX_DEPTH:
            flatten(item[3], bodies, tags, path, out, depth + 1, seen)


def main() -> None:
    repo = Path(sys.argv[1]) / ".git" if (Path(sys.argv[1]) / ".git").exists() else Path(sys.argv[1])
    deid = json.loads(Path(__file__).resolve().parents[1].joinpath(
        "schema/deid/confidentiality_profile_attributes.json").read_text(encoding="utf-8"))
    choice = {row["id"].upper() for row in deid if row["basicProfile"] in CHOICES and len(row["id"]) == 8
              and "X" not in row["id"].upper()}
    tags: dict[str, str] = {}
    for line in git_show(repo, "libsrc/standard/elmdict/dicom3.tpl").splitlines():
        match = re.match(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)", line)
        keyword = dict(PAIR.findall(line)).get("Keyword")
        if match and keyword:
            tags.setdefault(keyword, (match.group(1) + match.group(2)).upper())
    bodies: dict[str, list[tuple]] = {}  # type: ignore[type-arg]
    for path in git_ls(repo, "libsrc/standard/module"):
        parse_bodies(git_show(repo, path), bodies)
    iods: dict[str, list[str]] = {}
    for path in git_ls(repo, "libsrc/standard/iodcomp"):
        current = None
        for line in git_show(repo, path).splitlines():
            found = dict(pairs(line))
            if "CompositeIOD" in found:
                current = found["CompositeIOD"]
                iods[current] = []
            elif "Module" in found and current is not None:
                iods[current].append(found["Module"])
    types: dict[str, dict[str, str]] = {}
    for iod, modules in iods.items():
        out: dict[str, str] = {}
        for module in modules:
            if module in bodies:
                flatten(bodies[module], bodies, tags, "", out, 0, (module,))
        types[iod] = {p: t for p, t in sorted(out.items()) if p.rsplit("/", 1)[-1] in choice}
    fallback: dict[str, str] = {}
    for table in types.values():
        for p, t in table.items():
            if p not in fallback or STRICT[t] < STRICT[fallback[p]]:
                fallback[p] = t
    commit = subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    missing = [iod for _, iod in SOP_CLASSES.values() if iod not in types]
    if missing:
        raise SystemExit(f"IODs not in the tables: {missing}")
    result = {
        "about": "DICOM attribute Types (1, 1C, 2, 2C, 3) per SOP class for the attributes whose PS3.15 Table E.1-1 "
                 "action leaves a choice (Z, X/Z, X/D, Z/D, X/Z/D), keyed by position: the tags of the enclosing "
                 "sequences and the attribute's own, joined by '/'. '*' is the fallback for other SOP classes: the "
                 "strictest Type any IOD gives the position. See PROVENANCE.txt.",
        "source": f"dicom3tools libsrc/standard module and iodcomp tables, QIICR/dicom3tools commit {commit}",
        "licence": "BSD-3-Clause, Copyright (c) 1993-2024 David A. Clunie DBA PixelMed Publishing "
                   "(LICENSE-dicom3tools.txt)",
        "sop_classes": {uid: {"name": name, "iod": iod, "types": types[iod]}
                        for uid, (name, iod) in SOP_CLASSES.items()},
        "*": {"name": "fallback: any other SOP class", "iod": "*", "types": dict(sorted(fallback.items()))},
    }
    json.dump(result, sys.stdout, indent=0, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

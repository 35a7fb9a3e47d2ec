"""The shipped label schemes (``schema/labels/*.yaml``) and the exact remap of one into another.

One home for what a mask value means: ingest-slices remaps with :func:`remap_table` (or a curator's own
``from,to`` file, :func:`parse_mapping` + :func:`check_mapping`), validate judges a mask's values with
:func:`fitting_schemes` and :func:`differing_meanings`, and the review page and figures take names and colours
from the scheme.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from curator.models.labels import LabelScheme
from curator.resources import schema_dir

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LabelSchemeError(Exception):
    """An unknown scheme, a broken scheme file, or a remap that would lose or invent a meaning."""


def _folder() -> Path:
    return schema_dir() / "labels"


@cache
def scheme_names() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in _folder().glob("*.yaml")))


@cache
def load_scheme(name: str) -> LabelScheme:
    """The shipped scheme ``name``; LabelSchemeError names the known ones when it is not shipped."""
    if name not in scheme_names():
        raise LabelSchemeError(f"unknown label scheme {name!r}; known: {', '.join(scheme_names())}")
    path = _folder() / f"{name}.yaml"
    try:
        scheme = LabelScheme.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER))
    except (yaml.YAMLError, ValidationError) as error:   # a packaging error, told plainly
        raise LabelSchemeError(f"label scheme file {path} is broken: {error}") from error
    if scheme.name != name:
        raise LabelSchemeError(f"label scheme file {path} names itself {scheme.name!r}")
    return scheme


def remap_table(source: LabelScheme, target: LabelScheme) -> dict[int, int]:
    """source value -> target value, by meaning: the target label with the same key, else the one the source
    label is ``part_of``. A source label with no counterpart raises (a remap never drops or guesses a meaning)."""
    by_key = {label.key: label.value for label in target.labels}
    table: dict[int, int] = {}
    lost: list[str] = []
    for label in source.labels:
        if label.key in by_key:
            table[label.value] = by_key[label.key]
        elif label.part_of is not None and label.part_of in by_key:
            table[label.value] = by_key[label.part_of]
        else:
            lost.append(f"{label.value} ({label.name('en')})")
    if lost:
        raise LabelSchemeError(f"label scheme {target.name!r} has no label for {source.name!r} "
                               f"{', '.join(lost)}; give a mapping file that says where they go")
    return table


def fitting_schemes(values: Iterable[int]) -> tuple[str, ...]:
    """Names of the shipped schemes whose values include every value in ``values``."""
    present = set(values)
    return tuple(name for name in scheme_names() if present <= set(load_scheme(name).values))


def differing_meanings(names: Iterable[str], values: Iterable[int]) -> dict[int, dict[str, str]]:
    """value -> {scheme: label key} for each of ``values`` that the schemes ``names`` give different meanings
    (empty: the schemes agree on every value, so which of them applies makes no difference)."""
    schemes = [load_scheme(name) for name in names]
    differing: dict[int, dict[str, str]] = {}
    for value in sorted(set(values)):
        keys = {scheme.name: label.key for scheme in schemes if (label := scheme.label(value)) is not None}
        if len(set(keys.values())) > 1:
            differing[value] = keys
    return differing


MAX_MAPPING_BYTES = 1 << 20   # a label map has a few lines; a bigger file is not one
MAX_LABEL = 65535             # 16-bit PNG masks


class _UniqueKeyLoader(_LOADER):  # type: ignore[misc,valid-type]
    """A YAML loader that refuses a mapping naming one key twice (plain YAML keeps the last one silently)."""


def _unique_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    repeated = sorted({str(key) for key in keys if keys.count(key) > 1})
    if repeated:
        raise LabelSchemeError(f"value {', '.join(repeated)} is mapped twice; map each value once")
    return dict(loader.construct_pairs(node, deep=deep))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _label_value(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise LabelSchemeError(f"{where}: {raw!r} is not a whole number from 0 to {MAX_LABEL}")
    try:
        value = int(str(raw).strip())
    except ValueError as error:
        raise LabelSchemeError(f"{where}: {raw!r} is not a whole number from 0 to {MAX_LABEL}") from error
    if not 0 <= value <= MAX_LABEL:
        raise LabelSchemeError(f"{where}: {value} is not a whole number from 0 to {MAX_LABEL}")
    return value


def _yaml_pairs(text: str) -> list[tuple[object, object, str]]:
    document = yaml.load(text, Loader=_UniqueKeyLoader)
    if isinstance(document, dict):
        return [(key, value, f"entry {key!r}") for key, value in document.items()]
    if isinstance(document, list):
        pairs: list[tuple[object, object, str]] = []
        for number, item in enumerate(document, 1):
            if isinstance(item, dict) and set(item) == {"from", "to"}:
                pairs.append((item["from"], item["to"], f"item {number}"))
            elif isinstance(item, list) and len(item) == 2:
                pairs.append((item[0], item[1], f"item {number}"))
            else:
                raise LabelSchemeError(f"item {number} is {item!r}; expected {{from: N, to: M}} or [N, M]")
        return pairs
    raise LabelSchemeError("expected a mapping of value: new value (1: 2), or a list of {from: N, to: M}")


def _csv_pairs(text: str) -> list[tuple[object, object, str]]:
    pairs: list[tuple[object, object, str]] = []
    rows = csv.reader(io.StringIO(text))
    for row in rows:
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if [cell.lower() for cell in cells] == ["from", "to"] and not pairs:
            continue   # the header row
        if len(cells) != 2:
            raise LabelSchemeError(f"line {rows.line_num}: {','.join(cells)!r}; expected two numbers, from,to")
        pairs.append((cells[0], cells[1], f"line {rows.line_num}"))
    return pairs


def parse_mapping(data: bytes, name: str) -> dict[int, int]:
    """A curator's own remap, ``from,to``, from the bytes of the file ``name``: a CSV (``.csv``, an optional
    ``from,to`` header, ``#`` comments) or YAML (``1: 2`` lines, or a list of ``{from: 1, to: 2}``). Values are
    whole numbers 0..65535 and no value is mapped twice; LabelSchemeError names the line or entry that breaks a
    rule. The caller reads the file (``curator.io.regular``: a regular file, at most MAX_MAPPING_BYTES)."""
    if len(data) > MAX_MAPPING_BYTES:
        raise LabelSchemeError(f"{name}: more than {MAX_MAPPING_BYTES} bytes; a label map has a few lines")
    try:
        text = data.decode("utf-8-sig")
        pairs = _csv_pairs(text) if name.lower().endswith(".csv") else _yaml_pairs(text)
    except UnicodeDecodeError as error:
        raise LabelSchemeError(f"{name}: not UTF-8 text ({error})") from error
    except yaml.YAMLError as error:
        raise LabelSchemeError(f"{name}: not valid YAML ({error})") from error
    except (LabelSchemeError, csv.Error) as error:
        raise LabelSchemeError(f"{name}: {error}") from error
    table: dict[int, int] = {}
    for raw_from, raw_to, where in pairs:
        source = _label_value(raw_from, f"{name}: {where}")
        if source in table:
            raise LabelSchemeError(f"{name}: {where}: value {source} is mapped twice; map each value once")
        table[source] = _label_value(raw_to, f"{name}: {where}")
    if not table:
        raise LabelSchemeError(f"{name}: maps no value; give one from,to line per value of the masks")
    return table


def check_mapping(table: Mapping[int, int], source: Iterable[int], target: Iterable[int] | None = None) -> None:
    """A remap must map every value of the ``source`` label set, no value outside it, and (when the ``target``
    set is known) only onto its values; LabelSchemeError says which values break that."""
    source_values, mapped = set(source), set(table)
    problems = []
    if source_values - mapped:
        problems.append(f"does not map {_listed(source_values - mapped)} of the source labels "
                        f"{_listed(source_values)}")
    if mapped - source_values:
        problems.append(f"maps {_listed(mapped - source_values)}, which the source labels {_listed(source_values)} "
                        "do not have")
    if target is not None:
        target_values = set(target)
        outside = {value for value in table.values() if value not in target_values}
        if outside:
            problems.append(f"maps onto {_listed(outside)}, outside the target labels {_listed(target_values)}")
    if problems:
        raise LabelSchemeError("; ".join(problems))


def _listed(values: Iterable[int]) -> str:
    return "{" + ", ".join(str(value) for value in sorted(values)) + "}"

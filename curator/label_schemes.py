"""The shipped label schemes (``schema/labels/*.yaml``) and the exact remap of one into another.

One home for what a mask value means: ingest-slices remaps with :func:`remap_table`, validate judges a mask's
values with :func:`fitting_schemes`, and the review page and figures take names and colours from the scheme.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

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

"""The one set of DICOM value accessors: an element's value, a functional group's value, and the two conversion
rules (a whole number, a list of finite numbers) that refuse rather than truncate. io.dicom (validate), ingest's
select, convert and seg all read DICOM values through these, so "1.5" means the same everywhere."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:   # values are read from data sets someone else parsed: pydicom is not needed to import this
    from pydicom.dataset import Dataset

__all__ = ["element_value", "finite_numbers", "group_value", "whole_number"]

T = TypeVar("T")


def element_value(ds: Dataset, keyword: str) -> object | None:
    """The value of ``keyword``, None when the element is absent or empty; what pydicom raises for a malformed
    element is raised. The first step of every DICOM value accessor (here, ingest's select, convert and seg)."""
    if keyword not in ds:
        return None
    value = ds.get(keyword)
    return None if value is None or value == "" else value


def group_value(groups: Sequence[Dataset], sequence: str, keyword: str,
                fallback: Dataset | None = None) -> object | None:
    """``keyword`` from the first functional group (per-frame, then shared) whose ``sequence`` item has it, else
    from ``fallback``'s own elements when given (an enhanced image may also carry it at the top level; a SEG not)."""
    for group in groups:
        items = group.get(sequence)
        if items:
            value = element_value(items[0], keyword)
            if value is not None:
                return value
    return None if fallback is None else element_value(fallback, keyword)


def _checked(ds: Dataset, keyword: str, invalid: list[str], convert: Callable[[object], T | str]) -> T | None:
    """``keyword`` through ``convert`` (whole_number, finite_numbers); None when absent, or with the reason noted
    in ``invalid`` when it does not convert."""
    try:
        value = element_value(ds, keyword)
        converted = None if value is None else convert(value)
    except Exception as error:  # a malformed element pydicom only notices when it is read
        invalid.append(f"{keyword}: {error}")
        return None
    if isinstance(converted, str):
        invalid.append(f"{keyword}: {converted}")
        return None
    return converted


def _number(ds: Dataset, keyword: str, invalid: list[str]) -> float | None:
    numbers = _checked(ds, keyword, invalid, lambda value: finite_numbers(value, 1))
    return None if numbers is None else numbers[0]


def _integer(ds: Dataset, keyword: str, invalid: list[str]) -> int | None:
    return _checked(ds, keyword, invalid, whole_number)


def _vector(ds: Dataset, keyword: str, size: int, invalid: list[str]) -> tuple[float, ...] | None:
    return _checked(ds, keyword, invalid, lambda value: finite_numbers(value, size))


def finite_numbers(value: object, count: int) -> tuple[float, ...] | str:
    """A DICOM decimal value (one number or a multi-value) as ``count`` finite floats, or what is wrong with it
    (a phrase for the caller's message: "'1\\x' is not a list of numbers (...)")."""
    shown = " ".join(str(value).split())
    try:
        items = [value] if isinstance(value, str | bytes | int | float) else list(value)  # type: ignore[call-overload]
        numbers = tuple(float(item) for item in items)
    except (TypeError, ValueError, OverflowError) as error:
        return f"{shown!r} is not a list of numbers ({error})"
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        return f"should hold {count} finite numbers, found {shown!r}"
    return numbers


def whole_number(value: object) -> int | str:
    """A DICOM integer value (IS, US, a number) as an int, or what is wrong with it (a phrase for the caller's
    message): "1.5", "abc", "inf" are refused, never truncated or rounded."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    shown = " ".join(str(value).split())
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return f"{shown!r} is not a whole number"
    if not math.isfinite(number) or number != int(number):
        return f"{shown!r} is not a whole number"
    return int(number)

"""The one severity order, most severe first: plain strings, so the verify fast path needs no pydantic.

``curator.models.findings`` builds ``Severity.rank`` from it; reports and ``verify`` sort findings by it.
"""

from __future__ import annotations

ORDER: tuple[str, ...] = ("error", "warning", "info")


def sort_index(level: str) -> int:
    """0 for the most severe level; sort by this to list errors first."""
    return ORDER.index(level)


def rank(level: str) -> int:
    """How severe ``level`` is: larger is worse (``info`` 0 .. ``error`` 2), for ``>= fail_on`` comparisons."""
    return len(ORDER) - 1 - ORDER.index(level)

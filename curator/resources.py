"""Where the package's data lives: ``schema/``, ``templates/`` and ``examples/``.

In a wheel they are shipped inside the package as ``curator/_data/<name>``; in a source checkout (or an
editable install) they are the top-level folders beside ``curator/``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``schema``, ``templates`` or ``examples``) shipped with curator."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"curator's data folder {name!r} is missing from {_PACKAGE}; the installation is incomplete, "
        "reinstall the package."
    )


def schema_dir() -> Path:
    return data_dir("schema")


def templates_dir() -> Path:
    return data_dir("templates")


def examples_dir() -> Path:
    return data_dir("examples")

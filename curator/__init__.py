"""curator: package, validate and verify medical-imaging dataset releases.

Public API (the command line is a thin layer over these):

- :func:`validate` checks a release folder and returns a :class:`Report`;
- :func:`build` turns a source folder (dataset card + studies table) into a release;
- :func:`verify` checks a downloaded release against its checksum manifest.

Attributes are imported on first use, so ``curator verify`` does not pay for nibabel and openpyxl.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BuildError": "curator.errors",
    "BuildResult": "curator.release",
    "build": "curator.release",
    "Finding": "curator.models.findings",
    "Report": "curator.models.findings",
    "Severity": "curator.models.findings",
    "ValidateOptions": "curator.validate",
    "validate": "curator.validate",
    "verify": "curator.verify",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'curator' has no attribute {name!r}")

"""curator: package, validate and verify medical-imaging dataset releases.

Public API (the command line is a thin layer over these):

- :func:`validate` checks a release folder and returns a :class:`Report`;
- :func:`build` turns a source folder (dataset card + studies table) into a release;
- :func:`verify` checks a downloaded release against its checksum manifest.
"""

__version__ = "0.1.0"

from curator.build import BuildError, BuildResult, build
from curator.models.findings import Finding, Report, Severity
from curator.validate import ValidateOptions, validate
from curator.verify import verify

__all__ = [
    "BuildError",
    "BuildResult",
    "Finding",
    "Report",
    "Severity",
    "ValidateOptions",
    "__version__",
    "build",
    "validate",
    "verify",
]

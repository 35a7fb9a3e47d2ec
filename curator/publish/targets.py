"""Which target ``--to`` names: ``s3://bucket/prefix`` or a platform name, and the function that makes it.

Each entry is ``"module:function"``, imported only when named; the function takes the ``--to`` value and the
command's options (a dict of the CLI's keyword options: ``sandbox``, ``api``, ``record``, ``draft``,
``part_size``, ...) and returns a :class:`curator.publish.target.Target`. A new target registers one line here.
"""

from __future__ import annotations

import importlib
from typing import Any

from curator.publish.target import PublishError, Target

__all__ = ["FACTORIES", "make_target"]

FACTORIES: dict[str, str] = {
    "s3": "curator.publish.s3:from_options",
    "zenodo": "curator.publish.zenodo:from_options",
    "dataverse": "curator.publish.dataverse:from_options",
    "huggingface": "curator.publish.hub:from_options",
}


def make_target(to: str, options: dict[str, Any]) -> Target:
    kind = "s3" if to.startswith("s3://") else to
    if kind not in FACTORIES:
        raise PublishError(f"unknown target {to!r}; use one of: s3://bucket/prefix, "
                           f"{', '.join(sorted(k for k in FACTORIES if k != 's3'))}", 2)
    module, _, function = FACTORIES[kind].partition(":")
    target: Target = getattr(importlib.import_module(module), function)(to, options)
    return target

"""The ``curator`` command. ``curator verify`` goes to its own parser before click is imported (see
:mod:`curator.cli.verify`); every other command goes to the click group in :mod:`curator.cli.main`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["verify"]:
        from curator.cli.verify import run

        sys.exit(run(args[1:]))
    from curator.cli.main import main as group

    group(args=args, prog_name="curator")

"""--executor and --scheduler, shared by validate, verify, build and ingest (without click: verify parses with
argparse). A command runs inside :func:`command_engine`; with ``--executor dask`` every bulk step goes to the Dask
cluster (:func:`curator.executor.engine`), and the report's ``stats.executor`` says what ran it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from curator.errors import OptionsError
from curator.executor import ENGINES, Running, engine

P = TypeVar("P", Path, str, Path | str)

if TYPE_CHECKING:
    from curator.models.findings import Report

__all__ = ["ENGINES", "EXECUTOR_HELP", "SCHEDULER_HELP", "command_engine", "for_workers", "note_executor"]

EXECUTOR_HELP = ("Where the bulk work runs: local (a process/thread pool, the default) or dask (the --scheduler's "
                 "cluster, or a local Dask cluster of --jobs workers). Needs pip install 'ct-curator[cluster]'.")
SCHEDULER_HELP = ("With --executor dask: the scheduler's address, e.g. tcp://scheduler.example.org:8786 (default: "
                  "$DASK_SCHEDULER_ADDRESS, else a local cluster started for the command).")


@contextmanager
def command_engine(executor: str, scheduler: str | None, jobs: int | None, verbose: bool) -> Iterator[Running]:
    """The block's tasks on ``executor``; a usage error for --scheduler without --executor dask."""
    if scheduler and executor != "dask":
        raise OptionsError("--scheduler needs --executor dask")
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    with engine(executor, scheduler=address, jobs=jobs, verbose=verbose) as running:
        yield running


def for_workers(path: P, running: Running) -> P:
    """``path`` as the workers must see it: absolute on Dask (a worker's folder is not the client's; the report
    still names ROOT as typed), unchanged on the local pool and for a URL (a string: s3://..., https://...)."""
    return path if running.local or not isinstance(path, Path) else path.absolute()


def note_executor(running: Running, report: Report | None = None, root: Path | str | None = None) -> None:
    """On Dask: ``report.stats.executor`` = {"engine", "workers", "batches", "retried", "workers_lost"}, the
    report's ``root`` as typed (``root``: the work ran on :func:`for_workers`' absolute path), and a line on stderr
    when batches were run again after a worker was lost. The local pool adds nothing."""
    facts = running.facts()
    if facts is None:
        return
    if report is not None and isinstance(root, Path) and report.root == str(root.absolute()):
        report.root = str(root)
    if report is not None:
        report.stats = report.stats.model_copy(update={"executor": facts})   # Stats keeps extra keys
    if facts.get("retried"):
        sys.stderr.write(f"curator: {facts['workers_lost']} Dask worker(s) lost during the run; "
                         f"{facts['retried']} batch(es) of work were run again on another worker\n")

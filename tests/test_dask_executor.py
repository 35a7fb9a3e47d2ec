"""--executor dask (issue 16): the same report, finding for finding, from the local pool and from a Dask cluster.

Real clusters, no mocks: a LocalCluster started by the CLI, one started by the test, and a scheduler and two
workers started as separate processes on loopback (what a user's cluster looks like), one of which is killed
while it runs a batch. What is compared byte for byte: the whole JSON report but ``stats.seconds`` (it differs
from run to run on any engine) and ``stats.executor`` (present on Dask only: the engine, workers, batches and
retried batches). Every other key, ``root``, ``counts``, the other stats and every finding, is the same text.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from curator import executor
from curator.errors import RunError
from tests.factories import damage_three_ways
from tests.hostile import Run, run_bounded
from tests.servers import free_port

CLUSTER_START = 60    # seconds a scheduler and its workers get to come up on a loaded 2-core machine


def _comparable(run: Run) -> str:
    """The report as text, without what differs from run to run (seconds) or names the engine (executor)."""
    report = run.report()
    report["stats"].pop("seconds")
    report["stats"].pop("executor", None)
    return json.dumps(report, ensure_ascii=False)


def _commands(release: Path) -> dict[str, list[str]]:
    common = ["--format", "json", "--no-cache"]
    return {"validate": ["validate", str(release), "--deep", *common], "verify": ["verify", str(release), *common]}


@pytest.fixture(scope="module")
def damaged(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A release with a wrong mask value, a truncated gzip and a wrong manifest line (read only by the tests)."""
    release = tmp_path_factory.mktemp("dask") / "release"
    shutil.copytree(built_release, release, symlinks=True)
    damage_three_ways(release)
    return release


@pytest.fixture(scope="module")
def local_reports(damaged: Path) -> dict[str, str]:
    """Each command's report on the local pool: --jobs 1 and --jobs 2 give the same one (asserted here)."""
    reports = {}
    for command, args in _commands(damaged).items():
        one = run_bounded([*args, "--jobs", "1"], cwd=damaged.parent)
        one.assert_bounded(exit_code=1, seconds=60, megabytes=300)
        two = run_bounded([*args, "--jobs", "2"], cwd=damaged.parent)
        two.assert_bounded(exit_code=1, seconds=60, megabytes=300)
        assert _comparable(one) == _comparable(two)
        reports[command] = _comparable(one)
    codes = {(f["code"], f["path"]) for f in json.loads(reports["validate"])["findings"]}
    assert {("MASK_VALUES_UNEXPECTED", "masks/study_0004_mask.nii.gz"),
            ("IMAGE_TRUNCATED", "studies/CT-2/study_0006.nii.gz"), ("CHECKSUM_MISMATCH", "LICENSE")} <= codes
    return reports


def _executor_stats(run: Run) -> dict[str, Any]:
    stats: dict[str, Any] = run.report()["stats"]["executor"]
    return stats


def test_a_local_cluster_started_by_the_command_gives_the_same_reports(damaged: Path,
                                                                         local_reports: dict[str, str]) -> None:
    for command, args in _commands(damaged).items():
        run = run_bounded([*args, "--executor", "dask", "--jobs", "2"], cwd=damaged.parent)
        run.assert_bounded(exit_code=1, seconds=60, megabytes=400)
        assert _comparable(run) == local_reports[command], command
        stats = _executor_stats(run)
        assert (stats["engine"], stats["workers"], stats["retried"], stats["workers_lost"]) == ("dask", 2, 0, 0)
        assert stats["batches"] >= 2
        assert run.stderr == ""   # distributed's start-up and shut-down logging stays quiet without -v


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[str]:
    """A LocalCluster of 2 worker processes started by the test; its scheduler's address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", scheduler_kwargs={"dashboard": False}) as cluster:
        yield cluster.scheduler_address


def test_a_local_cluster_started_by_the_test_gives_the_same_reports(damaged: Path, local_reports: dict[str, str],
                                                                    local_cluster: str) -> None:
    for command, args in _commands(damaged).items():
        run = run_bounded([*args, "--executor", "dask", "--scheduler", local_cluster], cwd=damaged.parent)
        run.assert_bounded(exit_code=1, seconds=30, megabytes=300)
        assert _comparable(run) == local_reports[command], command
        assert _executor_stats(run)["workers"] == 2


def test_a_relative_root_is_read_by_workers_whose_folder_is_another(damaged: Path, local_cluster: str) -> None:
    """ROOT "." on a cluster whose workers run in another folder (the test's cluster was started from pytest's):
    the workers read the release, not "." of their own, and the report still names ROOT as typed."""
    for args in _commands(damaged).values():
        relative = [args[0], ".", *args[2:]]
        local = run_bounded([*relative, "--jobs", "2"], cwd=damaged)
        local.assert_bounded(exit_code=1, seconds=60, megabytes=300)
        run = run_bounded([*relative, "--executor", "dask", "--scheduler", local_cluster], cwd=damaged)
        run.assert_bounded(exit_code=1, seconds=30, megabytes=300)
        assert _comparable(run) == _comparable(local), args[0]
        assert run.report()["root"] == "."


def test_the_scheduler_address_comes_from_the_environment(damaged: Path, local_reports: dict[str, str],
                                                          local_cluster: str) -> None:
    run = run_bounded([*_commands(damaged)["verify"], "--executor", "dask"], cwd=damaged.parent,
                      env={"DASK_SCHEDULER_ADDRESS": local_cluster})
    run.assert_bounded(exit_code=1, seconds=30, megabytes=300)
    assert _comparable(run) == local_reports["verify"]
    assert _executor_stats(run)["workers"] == 2   # the test's cluster, not one of --jobs (all cores) started anew


def test_a_task_that_raises_raises_at_its_place_as_locally(local_cluster: str) -> None:
    """An item whose task raises is raised on the client when its turn comes, after the items before it."""
    items = ["1", "2", "3", "x", "5"]
    seen: list[int] = []
    with executor.engine("dask", scheduler=local_cluster), pytest.raises(ValueError, match="'x'"):
        seen.extend(executor.iter_tasks(int, items))
    assert seen == [1, 2, 3]
    with executor.engine("dask", scheduler=local_cluster) as running:
        batched = list(executor.run_batches(partial(map_ints, 10), [str(n) for n in range(100)], batch_size=7))
        facts = running.facts()
    assert batched == [n + 10 for n in range(100)]
    assert facts is not None
    assert facts["batches"] == 15   # 100 items in batches of 7


def map_ints(add: int, batch: list[str]) -> list[int]:
    return [int(item) + add for item in batch]


def test_iter_tasks_reads_a_generator_lazily_in_the_batches_of_a_list(local_cluster: str) -> None:
    """iter_tasks on Dask takes a generator's items as the batches are submitted (a bounded window ahead of the
    results, never the whole input) and cuts them as it would a list of the same length."""
    taken = 0

    def source(count: int) -> Iterator[str]:
        nonlocal taken
        for n in range(count):
            taken += 1
            yield str(n)

    with executor.engine("dask", scheduler=local_cluster):
        stream = executor.iter_tasks(int, source(1_000_000))
        assert [next(stream) for _ in range(10)] == list(range(10))
        stream.close()
    # a window of 16 batches (2 workers: MIN_WINDOW) of TASK_BATCH items, and the batch being cut
    assert taken <= 17 * executor.TASK_BATCH
    sizes: dict[str, object] = {}
    for name, items in (("generator", lambda: source(5000)), ("list", lambda: [str(n) for n in range(5000)])):
        with executor.engine("dask", scheduler=local_cluster) as running:
            assert list(executor.iter_tasks(int, items())) == list(range(5000))
            facts = running.facts()
        assert facts is not None
        sizes[name] = facts["batches"]
    assert sizes == {"generator": 79, "list": 79}   # 5000 / TASK_BATCH (64), rounded up


def test_many_tiny_items_go_in_fewer_bigger_tasks_on_dask(local_cluster: str) -> None:
    """A caller batching hundreds of tiny items (verify's small files: 512 a task) gets DASK_BATCH_ITEMS a task on
    Dask, whose tasks cost the cluster ~5-10 ms of CPU each; a caller asking for the default 256 or fewer (remote
    objects, one request each) keeps its size. The results are the same, in order."""
    items = [str(n) for n in range(5000)]
    with executor.engine("dask", scheduler=local_cluster) as running:
        tiny = list(executor.run_batches(partial(map_ints, 1), items, batch_size=512))
        tiny_facts = running.facts()
    with executor.engine("dask", scheduler=local_cluster) as running:
        kept = list(executor.run_batches(partial(map_ints, 1), items, batch_size=256))
        kept_facts = running.facts()
    assert tiny == kept == [n + 1 for n in range(5000)]
    assert tiny_facts is not None and kept_facts is not None
    assert (tiny_facts["batches"], kept_facts["batches"]) == (3, 20)   # 5000 / 2048 and 5000 / 256, rounded up
    assert executor.DASK_BATCH_ITEMS == 2048


def test_a_batch_and_its_results_cross_the_wire_as_one_bytes_object(local_cluster: str) -> None:
    """What a worker holds for a batch is one bytes object, not a list that Dask would serialise item by item (a
    header, frames and metrics for each of 512 digests: ~30 ms of a worker's CPU a task, measured)."""
    from curator.executor_dask import unpack

    with executor.engine("dask", scheduler=local_cluster):
        back_end = executor._engine
        assert back_end is not None
        scattered = back_end.client.scatter(partial(map_ints, 1), broadcast=True, hash=False)
        futures = back_end._submit(scattered, [["1", "2"], ["3"]])
        held = back_end.client.gather(back_end.client.map(type, futures, pure=False))
        outcomes = [unpack(data) for data in back_end.client.gather(futures)]
    assert held == [bytes, bytes]
    assert outcomes == [(True, [2, 3]), (True, [4])]


def unpicklable(batch: list[str]) -> list[object]:
    import threading

    return [threading.Lock() for _ in batch]   # neither pickle nor cloudpickle can send a lock


def test_a_result_that_cannot_be_sent_back_is_an_error_at_its_place(local_cluster: str) -> None:
    with executor.engine("dask", scheduler=local_cluster), \
            pytest.raises(RuntimeError, match="results cannot be sent back"):
        list(executor.iter_batch_results(unpicklable, iter([["a"], ["b"]])))


# --- a scheduler and workers started as separate processes, as on a user's cluster ---

@contextmanager
def dask_processes(workers: int, environment: dict[str, str] | None = None) -> Iterator[tuple[str, list[Any]]]:
    """``dask scheduler`` and ``workers`` × ``dask worker`` on loopback (named w0, w1, ...; one thread; no nanny: a
    killed worker stays dead); the scheduler's address and the worker processes. All are ended on leaving."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    env = {**os.environ, **(environment or {})}
    processes = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], env=env, **quiet)]
    try:
        for number in range(workers):
            processes.append(subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-nanny",
                                               "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{number}"],
                                              env=env, **quiet))
        from distributed import Client

        with Client(address, timeout=CLUSTER_START) as client:
            client.wait_for_workers(workers, timeout=CLUSTER_START)
        yield address, processes[1:]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_a_separately_started_scheduler_and_workers_give_the_same_reports(damaged: Path,
                                                                          local_reports: dict[str, str]) -> None:
    with dask_processes(2) as (address, _):
        for command, args in _commands(damaged).items():
            run = run_bounded([*args, "--executor", "dask", "--scheduler", address], cwd=damaged.parent)
            run.assert_bounded(exit_code=1, seconds=30, megabytes=300)
            assert _comparable(run) == local_reports[command], command
            assert _executor_stats(run)["workers"] == 2


def test_killing_a_worker_mid_run_still_gives_the_full_report(damaged: Path, local_reports: dict[str, str]) -> None:
    """Each batch waits 0.3 s on the workers (CURATOR_TEST_TASK_DELAY); once the first worker runs a batch it is
    killed (SIGKILL): its batch runs again on the other one, and the report is the same, saying so."""
    from distributed import Client

    with dask_processes(2, {"CURATOR_TEST_TASK_DELAY": "0.3"}) as (address, workers), \
            Client(address, timeout=CLUSTER_START) as watcher, ThreadPoolExecutor(1) as background:
        victim = workers[0]
        victim_address = next(w for w, info in watcher.scheduler_info()["workers"].items() if info["name"] == "w0")
        args = [*_commands(damaged)["verify"], "--executor", "dask", "--scheduler", address]
        running = background.submit(run_bounded, args, cwd=damaged.parent)
        deadline = time.monotonic() + 30
        while not watcher.processing().get(victim_address) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.processing().get(victim_address), "the worker never ran a batch"
        os.killpg(victim.pid, signal.SIGKILL)
        run = running.result()
    run.assert_bounded(exit_code=1, seconds=30, megabytes=300)
    assert _comparable(run) == local_reports["verify"]
    stats = _executor_stats(run)
    assert stats["workers_lost"] == 1
    assert stats["retried"] >= 1
    assert "run again on another worker" in run.stderr


# --- bad inputs: a clear message and the contract's exit code, bounded in time ---

def test_an_unreachable_scheduler_is_exit_3_in_seconds(damaged: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"   # nothing listens there
    run = run_bounded([*_commands(damaged)["verify"], "--executor", "dask", "--scheduler", address],
                      cwd=damaged.parent, timeout=60)
    run.assert_bounded(exit_code=3, seconds=15, megabytes=200)
    assert run.stdout == ""
    assert f"cannot reach the Dask scheduler at {address}" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_scheduler_without_workers_is_exit_3_not_a_hang(damaged: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=":0",
                      scheduler_kwargs={"dashboard": False}) as cluster:
        run = run_bounded([*_commands(damaged)["validate"], "--executor", "dask", "--scheduler",
                           cluster.scheduler_address], cwd=damaged.parent, timeout=60)
    run.assert_bounded(exit_code=3, seconds=20, megabytes=300)
    assert "has no workers" in run.stderr


def test_a_scheduler_without_dask_executor_is_a_usage_error(damaged: Path) -> None:
    for command in ("validate", "verify"):
        run = run_bounded([*_commands(damaged)[command], "--scheduler", "tcp://127.0.0.1:8786"], cwd=damaged.parent)
        run.assert_bounded(exit_code=2, seconds=30, megabytes=300)
        assert "--scheduler needs --executor dask" in run.stderr


def test_the_engine_raises_run_error_for_an_unreachable_scheduler() -> None:
    started = time.monotonic()
    with pytest.raises(RunError, match="cannot reach"), executor.engine("dask", scheduler=f"tcp://127.0.0.1:{free_port()}"):
        pass
    assert time.monotonic() - started < 15


def test_without_dask_installed_the_dask_executor_is_a_usage_error_naming_the_extra(damaged: Path) -> None:
    """An interpreter where ``import distributed`` fails (None in sys.modules is how Python marks a module that
    cannot be imported): exit 2 naming the extra to install; the local pool still runs there."""
    program = ("import sys; sys.modules['distributed'] = None; from curator.cli.entry import main; "
               "main(sys.argv[1:])")
    for command in ("validate", "verify"):
        run = run_bounded([sys.executable, "-c", program, *_commands(damaged)[command], "--executor", "dask"],
                          cwd=damaged.parent)
        run.assert_bounded(exit_code=2, seconds=30, megabytes=300)
        assert "pip install 'ct-curator[cluster]'" in run.stderr
    local = run_bounded([sys.executable, "-c", program, *_commands(damaged)["verify"]], cwd=damaged.parent)
    local.assert_bounded(exit_code=1, seconds=30, megabytes=300)

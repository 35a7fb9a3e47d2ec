"""Micro benchmarks of the core readers: the three walkers of ``curator/io/inventory.py`` and the hashing read
loops of ``curator/io/hashing.py``, this checkout against ``--baseline CHECKOUT``, interleaved, best of --repeat.

Both checkouts' modules are loaded side by side in one process (``curator/io/inventory.py`` and ``hashing.py`` by
file), and each round times each candidate in turn on the same warm files: best wall and CPU seconds of the rounds
(a loaded machine slows both alike), and with ``--strace`` the ``lstat`` calls of each walk (``strace -c``):

    python benchmarks/walkers_micro.py --walk 200000 --baseline /work/main
    python benchmarks/walkers_micro.py --hash 20000 --baseline /work/main
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent.parent

HASH_CALLS: dict[str, Callable[[ModuleType, str], object]] = {
    "hash_one sha256": lambda hashing, path: hashing.hash_one(path, "sha256"),
    "hash_file (sha256,)": lambda hashing, path: hashing.hash_file(path, ("sha256",)),
    "hash_file [sha256]": lambda hashing, path: hashing.hash_file(path, ["sha256"]),
    "hash_file sha256+md5": lambda hashing, path: hashing.hash_file(path, ("sha256", "md5")),
}


def load(checkout: str, module: str) -> ModuleType:
    """``curator/io/<module>.py`` of a checkout as a module of its own (both checkouts in one process)."""
    spec = importlib.util.spec_from_file_location(f"{module}_{abs(hash(checkout))}",
                                                  Path(checkout) / "curator" / "io" / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def timed(work: Callable[[], int]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    count = work()
    return time.perf_counter() - wall, time.process_time() - cpu, count


def make_tree(root: Path, count: int) -> None:
    """``count`` 1 KB files in folders of 1,000 (two levels), plus a few links, a FIFO and a .git folder."""
    for index in range(count):
        folder = root / f"part{index // 100_000:02d}" / f"{index // 1000 % 100:03d}"
        if index % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"slice_{index:07d}.png").write_bytes(index.to_bytes(8, "little") * 128)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"x")
    (root / "link").symlink_to("part00")
    os.mkfifo(root / "pipe")


def make_flat(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (root / f"f{index:06d}.bin").write_bytes(index.to_bytes(8, "little") * 128)


def measure(cases: dict[str, dict[str, Callable[[], int]]], repeat: int) -> None:
    """Best wall and CPU time of each case and candidate, the candidates run in turn within each round."""
    best: dict[tuple[str, str], tuple[float, float, int]] = {}
    for _ in range(repeat):
        for case, candidates in cases.items():
            for label, work in candidates.items():
                wall, cpu, count = timed(work)
                old = best.get((case, label), (wall, cpu, count))
                best[(case, label)] = (min(wall, old[0]), min(cpu, old[1]), count)
    print(f"load average {os.getloadavg()}")
    for case, candidates in cases.items():
        cells = [f"{label} {best[(case, label)][0] * 1e3:8.1f} ms wall {best[(case, label)][1] * 1e3:8.1f} ms CPU "
                 f"({best[(case, label)][2]} items)" for label in candidates]
        ratio = ""
        if len(candidates) == 2:
            ours, base = (best[(case, label)] for label in candidates)
            ratio = f"  ours/base wall {ours[0] / base[0]:.3f} CPU {ours[1] / base[1]:.3f}"
        print(f"{case:22s} " + " | ".join(cells) + ratio)


def stat_calls(checkout: str, name: str, root: Path) -> int:
    """The lstat calls of one walk (strace -c of a process that runs only it)."""
    script = (f"import importlib.util, sys; sys.path.insert(0, {str(HERE / 'benchmarks')!r}); import walkers_micro; "
              f"sum(1 for _ in getattr(walkers_micro.load({checkout!r}, 'inventory'), {name!r})"
              f"(walkers_micro.Path({str(root)!r})))")
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(["strace", "-f", "-c", "-o", out.name, sys.executable, "-c", script], check=True,
                       capture_output=True)
        return sum(int(m.group(1)) for m in re.finditer(
            r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(?:newfstatat|lstat|statx)\s*$", out.read(), re.M))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--walk", type=int, default=0, help="files in the walked tree")
    parser.add_argument("--hash", type=int, default=0, help="1 KB files hashed")
    parser.add_argument("--baseline", help="another checkout measured alongside, interleaved")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tree", type=Path, help="where the files are made (kept, and reused when there)")
    parser.add_argument("--strace", action="store_true", help="also count each walker's lstat calls")
    args = parser.parse_args()
    checkouts = {"ours": str(HERE)}
    if args.baseline:
        checkouts["base"] = str(Path(args.baseline).resolve())
    with tempfile.TemporaryDirectory(prefix="walkers-micro-") as scratch:
        if args.walk:
            root = args.tree / f"tree{args.walk}" if args.tree else Path(scratch) / "tree"
            if not root.exists():
                make_tree(root, args.walk)
            walkers = {label: load(checkout, "inventory") for label, checkout in checkouts.items()}
            measure({name: {label: partial(_count, getattr(module, name), root) for label, module in walkers.items()}
                     for name in ("walk", "walk_files", "walk_file_names")}, args.repeat)
            if args.strace:
                for name in ("walk", "walk_files", "walk_file_names"):
                    for label, checkout in checkouts.items():
                        print(f"{name:22s} {label}: {stat_calls(checkout, name, root)} stat calls")
        if args.hash:
            root = args.tree / f"flat{args.hash}" if args.tree else Path(scratch) / "flat"
            if not root.exists():
                make_flat(root, args.hash)
            paths = sorted(str(path) for path in root.iterdir())
            hashers = {label: load(checkout, "hashing") for label, checkout in checkouts.items()}
            measure({case: {label: partial(_each, call, module, paths) for label, module in hashers.items()}
                     for case, call in HASH_CALLS.items()}, args.repeat)


def _count(view: Callable[[Path], Iterable[object]], root: Path) -> int:
    return sum(1 for _ in view(root))


def _each(call: Callable[[ModuleType, str], object], module: ModuleType, paths: list[str]) -> int:
    for path in paths:
        call(module, path)
    return len(paths)


if __name__ == "__main__":
    main()

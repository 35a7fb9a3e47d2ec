"""Micro benchmarks of the core readers: the three walkers of ``curator/io/inventory.py`` and the hashing read
loops of ``curator/io/hashing.py``, this checkout against ``--baseline CHECKOUT``, interleaved, best of --repeat.

Each measurement is a fresh process (the checkout first on ``sys.path``) that imports the module and times only the
call, on warm files: wall and CPU seconds, and the ``lstat`` calls of a walk (``strace -c`` when ``--strace``):

    python benchmarks/walkers_micro.py --walk 200000 --baseline /work/main
    python benchmarks/walkers_micro.py --hash 20000 --baseline /work/main
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

WALK = """
import sys, time
from pathlib import Path
sys.path.insert(0, {checkout!r})
from curator.io import inventory
assert inventory.__file__.startswith({checkout!r}), inventory.__file__
view = getattr(inventory, {name!r})
wall, cpu = time.perf_counter(), time.process_time()
count = sum(1 for _ in view(Path({root!r})))
print(count, time.perf_counter() - wall, time.process_time() - cpu)
"""

HASH = """
import sys, time, os
sys.path.insert(0, {checkout!r})
from curator.io import hashing
assert hashing.__file__.startswith({checkout!r}), hashing.__file__
paths = [os.path.join({root!r}, name) for name in sorted(os.listdir({root!r}))]
call = {call}
wall, cpu = time.perf_counter(), time.process_time()
for path in paths:
    call(path)
print(len(paths), time.perf_counter() - wall, time.process_time() - cpu)
"""

HASH_CALLS = {
    "hash_one sha256": "lambda path: hashing.hash_one(path, 'sha256')",
    "hash_file (sha256,)": "lambda path: hashing.hash_file(path, ('sha256',))",
    "hash_file [sha256]": "lambda path: hashing.hash_file(path, ['sha256'])",
    "hash_file sha256+md5": "lambda path: hashing.hash_file(path, ('sha256', 'md5'))",
}


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


def run(script: str, strace: bool) -> tuple[int, float, float, int | None]:
    command = [sys.executable, "-c", script]
    if strace:
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
            subprocess.run(["strace", "-f", "-c", "-o", out.name, *command], check=True, capture_output=True)
            calls = sum(int(m.group(1)) for m in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?"
                                                              r"(?:newfstatat|lstat|statx)\s*$", out.read(), re.M))
        return 0, 0.0, 0.0, calls
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    count, wall, cpu = done.stdout.split()
    return int(count), float(wall), float(cpu), None


def measure(cases: dict[str, str], checkouts: dict[str, str], repeat: int) -> None:
    best: dict[tuple[str, str], tuple[float, float, int]] = {}
    for _ in range(repeat):
        for case, template in cases.items():
            for label, checkout in checkouts.items():   # interleaved: each round runs every candidate once
                count, wall, cpu, _ = run(template.format(checkout=checkout), strace=False)
                old = best.get((case, label))
                best[(case, label)] = (min(wall, old[0]) if old else wall, min(cpu, old[1]) if old else cpu, count)
    print(f"load average {os.getloadavg()}")
    for case in cases:
        cells = []
        for label in checkouts:
            wall, cpu, count = best[(case, label)]
            cells.append(f"{label} {wall * 1e3:8.1f} ms wall {cpu * 1e3:8.1f} ms CPU ({count} items)")
        ratio = ""
        if len(checkouts) == 2:
            ours, base = (best[(case, label)][0] for label in checkouts)
            ratio = f"  ours/base {ours / base:.3f}"
        print(f"{case:22s} " + " | ".join(cells) + ratio)


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
            cases = {name: WALK.replace("{root!r}", repr(str(root))).replace("{name!r}", repr(name))
                     for name in ("walk", "walk_files", "walk_file_names")}
            measure(cases, checkouts, args.repeat)
            if args.strace:
                for case, template in cases.items():
                    for label, checkout in checkouts.items():
                        print(f"{case:22s} {label}: {run(template.format(checkout=checkout), True)[3]} stat calls")
        if args.hash:
            root = args.tree / f"flat{args.hash}" if args.tree else Path(scratch) / "flat"
            if not root.exists():
                make_flat(root, args.hash)
            cases = {case: HASH.replace("{root!r}", repr(str(root))).replace("{call}", call)
                     for case, call in HASH_CALLS.items()}
            measure(cases, checkouts, args.repeat)


if __name__ == "__main__":
    main()

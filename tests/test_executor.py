"""The executor keeps order on threads and processes; the progress line shows only on a terminal."""

from __future__ import annotations

import io

from curator.executor import run_tasks
from curator.render.progress import ProgressLine


def square(value: int) -> int:
    return value * value


def test_results_keep_input_order_on_every_executor() -> None:
    items = list(range(25))
    expected = [i * i for i in items]
    assert run_tasks(square, items, 1) == expected
    assert run_tasks(square, items, 3) == expected
    assert run_tasks(square, items, 2, processes=True) == expected


def test_progress_is_reported_for_every_task() -> None:
    seen: list[tuple[int, int]] = []
    run_tasks(square, range(7), 2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 7) for i in range(1, 8)]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_draws_on_a_terminal_only() -> None:
    pipe = io.StringIO()
    quiet = ProgressLine(pipe, delay=0)
    quiet("checksums", 1, 2)
    assert pipe.getvalue() == ""
    terminal = _Terminal()
    line = ProgressLine(terminal, delay=0, rate=1000)
    line("checksums", 1, 4)
    line("checksums", 4, 4)
    line.close()
    assert "checksums: 4/4 files" in terminal.getvalue() and terminal.getvalue().endswith("\r\x1b[K")


def test_progress_line_shows_bytes_and_time_left(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from curator.cli.common import BytesProgress
    from curator.io.manifest import parse_manifest
    from curator.root_and_hashes import hash_listed

    for index in range(3):
        (tmp_path / f"f{index}").write_bytes(b"x" * 1000)
    (tmp_path / "SHA256SUMS").write_text("".join(f"{'0' * 64}  f{index}\n" for index in range(3)))
    terminal = _Terminal()
    line = ProgressLine(terminal, delay=0, rate=1000)
    hash_listed(tmp_path, [parse_manifest(tmp_path / "SHA256SUMS")], {f"f{i}": None for i in range(3)}, 1,
                progress=BytesProgress(line, "verify"))
    assert "verify: 3/3 files, 0.00/0.00 GB" in terminal.getvalue()

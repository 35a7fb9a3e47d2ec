"""The wheel carries schema/, templates/ and examples/, so an installed curator works from any folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_data_folders(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("ct_curator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("schema", "templates", "examples"):
        shipped = {n for n in names if n.startswith(f"curator/_data/{folder}/")}
        on_disk = {f"curator/_data/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / folder).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        assert shipped == on_disk, folder
    assert "curator/cli/main.py" in names

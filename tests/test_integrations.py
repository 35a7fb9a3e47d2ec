"""The ready-made integrations: the pre-commit hook runs on a scratch repository; the Action is well-formed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _entry(entry: str) -> list[str]:
    """The hook's command; ``curator`` is this environment's, also when its bin folder is not on PATH."""
    words = shlex.split(entry)
    if words[0] == "curator" and shutil.which("curator") is None:
        return [sys.executable, "-m", "curator", *words[1:]]
    return words


def test_precommit_hook_definition_runs_on_a_scratch_repository(built_release: Path, tmp_path: Path) -> None:
    """Run each hook the way pre-commit would (entry + args, in the repository root, no file names)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {hook["id"] for hook in hooks} == {"curator-validate", "curator-verify"}
    repo = tmp_path / "dataset"
    shutil.copytree(built_release, repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        command = [*_entry(hook["entry"]), *hook.get("args", [])]
        assert subprocess.run(command, cwd=repo, capture_output=True, check=False).returncode == 0
    (repo / "studies/CT-0/study_0001.nii.gz").unlink()
    validate_hook = next(h for h in hooks if h["id"] == "curator-validate")
    failed = subprocess.run([*_entry(validate_hook["entry"]), *validate_hook["args"]], cwd=repo,
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "FILE_MISSING" in failed.stdout


def test_github_action_is_a_composite_that_uploads_sarif() -> None:
    action = yaml.safe_load((ROOT / ".github/actions/validate/action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    run_text = "\n".join(step.get("run", "") for step in steps)
    assert "curator validate" in run_text and "--format sarif" in run_text and "--format github" in run_text
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif") for step in steps)
    assert set(action["inputs"]) >= {"root", "changed-since", "fail-on"}

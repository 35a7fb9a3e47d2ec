"""``curator publish --to dataverse`` and ``--to huggingface`` against local stand-ins of the documented APIs.

Dataverse: the native API (https://guides.dataverse.org/en/latest/api/native-api.html), stood in by
tests/dataverse_standin.py. The Hub: the endpoints huggingface_hub 2.4 calls (LFS protocol; Xet is turned off with
HF_HUB_DISABLE_XET=1 because the stand-in does not speak it), stood in by tests/hub_standin.py. Neither was run
against the real service here. Each run is ``python -m curator publish`` in a subprocess (tests/hostile.py), so the
client reads its environment (HF_ENDPOINT, HF_HUB_DISABLE_XET) as a user's shell would set it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from curator.io.card import load_card
from curator.publish.dataverse import DataverseTarget
from curator.publish.dataverse_metadata import dataset_version
from curator.publish.hub_card import card_metadata, hub_card
from curator.publish.target import PlannedFile, PublishError, ReleaseInfo
from tests.dataverse_standin import DataverseStandin
from tests.hostile import Run, run_bounded
from tests.hub_standin import HubStandin
from tests.release_extras import tree_files

DV_TOKEN = "dv-secret-7f3a9c-token"
HF_TOKEN = "hf_SecretToken42xyz"
REPO = "radiology/test-ct"
BROKEN = "studies/CT-1/study_0003.nii.gz"


@pytest.fixture
def dataverse() -> Iterator[DataverseStandin]:
    with DataverseStandin(DV_TOKEN) as standin:
        yield standin


@pytest.fixture
def hub() -> Iterator[HubStandin]:
    with HubStandin(HF_TOKEN) as standin:
        yield standin


def _publish(release: Path, args: list[str], env: dict[str, str], exit_code: int) -> Run:
    run = run_bounded(["publish", str(release), *args, "--format", "json"], env=env, timeout=180)
    # a publish of this small release: within 120 s (mostly the deep validation gate) and 400 MB
    run.assert_bounded(exit_code=exit_code, seconds=120, megabytes=400)
    for secret in (DV_TOKEN, HF_TOKEN):
        assert secret not in run.stdout + run.stderr
    return run


def _dv_env(tmp_path: Path, token: str = DV_TOKEN) -> dict[str, str]:
    return {"CURATOR_DATAVERSE_TOKEN": token, "CURATOR_CREDENTIALS": str(tmp_path / "no-credentials.toml")}


def _hf_env(tmp_path: Path, hub: HubStandin, token: str = HF_TOKEN) -> dict[str, str]:
    return {"CURATOR_HF_TOKEN": token, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1",
            "HF_HOME": str(tmp_path / "hf-home"), "CURATOR_CREDENTIALS": str(tmp_path / "no-credentials.toml")}


def _lfs_bytes(release: Path, files: set[str]) -> int:
    """Bytes an LFS upload of ``files`` sends: each distinct content once (LFS objects are addressed by sha256)."""
    sizes = {hashlib.sha256((release / rel).read_bytes()).hexdigest(): (release / rel).stat().st_size
             for rel in files}
    return sum(sizes.values())


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _dv_args(dataverse: DataverseStandin, *more: str) -> list[str]:
    return ["--to", "dataverse", "--server", dataverse.url, *more]


# ------------------------------------------------------------------------------------------------ Dataverse


def test_dataverse_dry_run_prints_the_citation_block_and_sends_nothing(
        built_release: Path, dataverse: DataverseStandin, tmp_path: Path) -> None:
    run = _publish(built_release, _dv_args(dataverse, "--dataverse", "radiology", "--dry-run"), _dv_env(tmp_path), 0)
    report = run.report()
    assert report["metadata"] == dataset_version(load_card(built_release / "dataset.yaml"))
    assert sorted(f["path"] for f in report["files"]) == tree_files(built_release)
    assert dataverse.requests == []


def test_dataverse_publish_makes_a_draft_then_resume_skips_and_publish_publishes(
        built_release: Path, dataverse: DataverseStandin, tmp_path: Path) -> None:
    run = _publish(built_release, _dv_args(dataverse, "--dataverse", "radiology"), _dv_env(tmp_path), 0)
    report = run.report()
    [(pid, dataset)] = dataverse.datasets.items()
    assert dataset["published"] is False
    assert dataset["metadata"] == dataset_version(load_card(built_release / "dataset.yaml"))["datasetVersion"]
    stored = dataverse.files(pid)
    assert sorted(stored) == tree_files(built_release)
    assert {rel: hashlib.md5(f["content"]).hexdigest() for rel, f in stored.items()} == {
        rel: _md5(built_release / rel) for rel in tree_files(built_release)}
    assert {f["tabIngest"] for f in stored.values()} == {False}     # a CSV kept byte for byte
    assert sorted(report["uploaded"]) == tree_files(built_release)
    assert report["mismatches"] == []
    assert pid in report["location"]

    again = _publish(built_release, _dv_args(dataverse, "--dataset", pid, "--publish"), _dv_env(tmp_path), 0).report()
    assert again["uploaded"] == []
    assert sorted(again["skipped"]) == tree_files(built_release)
    assert set(dataverse.added.values()) == {1}
    assert dataverse.datasets[pid]["published"] is True


def test_dataverse_interrupted_upload_resumes_with_only_the_rest(
        built_release: Path, dataverse: DataverseStandin, tmp_path: Path) -> None:
    dataverse.fail_after_adds = 5
    run = _publish(built_release, _dv_args(dataverse, "--dataverse", "radiology"), _dv_env(tmp_path), 3)
    [pid] = dataverse.datasets
    assert f"rerun with --dataset {pid}" in run.stderr
    assert sum(dataverse.added.values()) == 5

    dataverse.fail_after_adds = None
    report = _publish(built_release, _dv_args(dataverse, "--dataset", pid), _dv_env(tmp_path), 0).report()
    assert len(report["skipped"]) == 5
    assert len(report["uploaded"]) == len(tree_files(built_release)) - 5
    assert set(dataverse.added.values()) == {1}               # no file sent twice
    assert dataverse.bytes_in == sum((built_release / rel).stat().st_size for rel in tree_files(built_release))


def test_dataverse_copy_that_differs_on_the_server_is_named_and_not_published(
        built_release: Path, dataverse: DataverseStandin, tmp_path: Path) -> None:
    dataverse.corrupt.add(BROKEN)
    run = _publish(built_release, _dv_args(dataverse, "--dataverse", "radiology", "--publish"), _dv_env(tmp_path), 1)
    mismatches = run.report()["mismatches"]
    assert len(mismatches) == 1
    assert mismatches[0].startswith(f"{BROKEN}: the server's md5 is ")
    [dataset] = dataverse.datasets.values()
    assert dataset["published"] is False


def test_dataverse_refused_token_is_a_usage_error_that_does_not_show_it(
        built_release: Path, dataverse: DataverseStandin, tmp_path: Path) -> None:
    run = _publish(built_release, _dv_args(dataverse, "--dataverse", "radiology", "--waive-validation"),
                   _dv_env(tmp_path, token="dv-wrong-token-0000"), 2)
    assert "HTTP 401" in run.stderr
    assert "dv-wrong-token-0000" not in run.stdout + run.stderr
    assert dataverse.datasets == {}


def test_dataverse_card_without_a_contact_email_is_refused_before_anything_is_sent(
        release: Path, dataverse: DataverseStandin, tmp_path: Path) -> None:
    card = yaml.safe_load((release / "dataset.yaml").read_text(encoding="utf-8"))
    for person in card["contributors"]:
        person.pop("email", None)
    (release / "dataset.yaml").write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    run = _publish(release, _dv_args(dataverse, "--dataverse", "radiology", "--waive-validation", "--dry-run"),
                   _dv_env(tmp_path), 2)
    assert "Dataverse requires a dataset contact email" in run.stderr
    assert dataverse.requests == []


def test_dataverse_needs_a_collection_or_a_dataset(built_release: Path, tmp_path: Path) -> None:
    run = _publish(built_release, ["--to", "dataverse", "--server", "https://dv.example.org", "--dry-run"],
                   _dv_env(tmp_path), 2)
    assert "--dataverse ALIAS" in run.stderr


# ------------------------------------------------------------------------------------------------ the Hub


def _hub_files(hub: HubStandin) -> dict[str, Any]:
    return hub.repos[REPO]["files"]


def test_hub_dry_run_prints_the_card_metadata_and_sends_nothing(
        built_release: Path, hub: HubStandin, tmp_path: Path) -> None:
    run = _publish(built_release, ["--to", "huggingface", "--repo", REPO, "--dry-run"], _hf_env(tmp_path, hub), 0)
    metadata = run.report()["metadata"]
    card = load_card(built_release / "dataset.yaml")
    assert metadata == {"card_file": "README.md", "card_data": card_metadata(card, tree_files(built_release))}
    assert hub.requests == []


def test_hub_publish_private_repo_card_and_lfs_sha256_then_resume_skips_and_publish_opens(
        built_release: Path, hub: HubStandin, tmp_path: Path) -> None:
    env = _hf_env(tmp_path, hub)
    report = _publish(built_release, ["--to", "huggingface", "--repo", REPO], env, 0).report()
    assert hub.repos[REPO]["private"] is True
    files = _hub_files(hub)
    assert sorted(files) == sorted([*tree_files(built_release), "README.md"])
    for rel in tree_files(built_release):
        assert hub.content(REPO, rel) == (built_release / rel).read_bytes(), rel
    lfs = {rel for rel, stored in files.items() if stored["lfs"]}
    assert {"studies/CT-0/study_0001.nii.gz", "README_EN.pdf", "dataset_registry.xlsx"} <= lfs
    assert "README_EN.md" not in lfs                        # small text stays in git: compared by git blob id
    card = load_card(built_release / "dataset.yaml")
    readme = (built_release / "README_EN.md").read_text(encoding="utf-8")
    assert hub.content(REPO, "README.md").decode() == hub_card(card, tree_files(built_release), readme)
    assert sorted(report["uploaded"]) == tree_files(built_release)
    assert report["mismatches"] == []
    assert len(hub.repos[REPO]["commits"]) == 2             # the card, then every file in one commit
    sent = hub.lfs_bytes_in
    assert sent == _lfs_bytes(built_release, lfs)

    again = _publish(built_release, ["--to", "huggingface", "--repo", REPO, "--publish"], env, 0).report()
    assert again["uploaded"] == []
    assert sorted(again["skipped"]) == tree_files(built_release)
    assert hub.lfs_bytes_in == sent
    assert hub.repos[REPO]["private"] is False

    # a public repository is only changed with --publish
    commits = len(hub.repos[REPO]["commits"])
    run = _publish(built_release, ["--to", "huggingface", "--repo", REPO, "--waive-validation"], env, 2)
    assert "is public: uploading to it would publish" in run.stderr
    assert len(hub.repos[REPO]["commits"]) == commits


def test_hub_interrupted_upload_resumes_without_sending_a_byte_twice(
        built_release: Path, hub: HubStandin, tmp_path: Path) -> None:
    env = _hf_env(tmp_path, hub)
    hub.fail_uploads_after = 3
    run = _publish(built_release, ["--to", "huggingface", "--repo", REPO], env, 3)
    assert "uploading" in run.stderr
    first = hub.lfs_bytes_in
    assert len(hub.lfs) == 3

    hub.fail_uploads_after = None
    _publish(built_release, ["--to", "huggingface", "--repo", REPO], env, 0)
    lfs = {rel for rel, stored in _hub_files(hub).items() if stored["lfs"]}
    assert hub.lfs_bytes_in == _lfs_bytes(built_release, lfs)
    assert first < hub.lfs_bytes_in


def test_hub_copy_that_differs_on_the_server_is_named(built_release: Path, hub: HubStandin, tmp_path: Path) -> None:
    hub.corrupt.update({BROKEN, "README_EN.md"})
    run = _publish(built_release, ["--to", "huggingface", "--repo", REPO, "--publish"], _hf_env(tmp_path, hub), 1)
    mismatches = sorted(run.report()["mismatches"])
    assert len(mismatches) == 2
    assert mismatches[0].startswith("README_EN.md: the server's git-sha1 is ")
    assert mismatches[1].startswith(f"{BROKEN}: the server's sha256 is ")
    assert hub.repos[REPO]["private"] is True


def test_hub_refused_token_is_a_usage_error_that_does_not_show_it(
        built_release: Path, hub: HubStandin, tmp_path: Path) -> None:
    run = _publish(built_release, ["--to", "huggingface", "--repo", REPO, "--waive-validation"],
                   _hf_env(tmp_path, hub, token="hf_WrongToken0000"), 2)
    assert "HTTP 401" in run.stderr
    assert "hf_WrongToken0000" not in run.stdout + run.stderr
    assert hub.repos == {}


def test_hub_repo_must_be_owner_slash_name(built_release: Path, hub: HubStandin, tmp_path: Path) -> None:
    run = _publish(built_release, ["--to", "huggingface", "--repo", "../x", "--dry-run"], _hf_env(tmp_path, hub), 2)
    assert "--repo must be OWNER/NAME" in run.stderr


def test_hub_new_version_removes_what_the_release_dropped_and_says_what_changed(
        built_release: Path, release: Path, hub: HubStandin, tmp_path: Path) -> None:
    env = _hf_env(tmp_path, hub)
    _publish(built_release, ["--to", "huggingface", "--repo", REPO], env, 0)
    (release / "figures" / "examples_RU.png").unlink()
    args = ["--to", "huggingface", "--repo", REPO, "--previous", str(built_release), "--waive-validation"]
    report = _publish(release, args, env, 0).report()
    assert report["deleted"] == ["figures/examples_RU.png"]
    assert "figures/examples_RU.png" not in _hub_files(hub)
    last = hub.repos[REPO]["commits"][-1]
    assert "figures/examples_RU.png" in last["paths"]
    assert "Removed: figures/examples_RU.png." in last["header"]["description"]


def test_hub_release_with_its_own_readme_md_is_refused(release: Path, hub: HubStandin, tmp_path: Path) -> None:
    (release / "README.md").write_text("# mine\n", encoding="utf-8")
    run = _publish(release, ["--to", "huggingface", "--repo", REPO, "--waive-validation", "--dry-run"],
                   _hf_env(tmp_path, hub), 2)
    assert "the release has its own README.md" in run.stderr
    assert hub.requests == []


def test_dataverse_refuses_zip_files_it_would_unpack(built_release: Path, tmp_path: Path) -> None:
    card = load_card(built_release / "dataset.yaml")
    part = PlannedFile("release-1.zip", tmp_path / "release-1.zip", 10, "0" * 64, "0" * 32)
    target = DataverseTarget("https://dv.example.org", "radiology", None)
    with pytest.raises(PublishError) as caught:
        target.metadata(ReleaseInfo(root=built_release, card=card, readmes={}, files=[part]))
    assert caught.value.exit_code == 2
    assert caught.value.problems == ["release-1.zip"]

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from curator.release import build
from tests.factories import make_source
from tests.servers import RangeServer, S3Server
from tests.tool_skips import pytest_runtest_makereport  # noqa: F401  (a skip of a needs_tool test fails CI)

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The command line caches digests in ~/.cache/curator; tests keep theirs apart, and the variable is put back."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CURATOR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real third-party files beside the checkout (see ../shared/realdata/INDEX.md)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not found at {REALDATA}")
    return REALDATA


@pytest.fixture(scope="session")
def built_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One release built from the factory source; tests that change it take a copy (``release``)."""
    base = tmp_path_factory.mktemp("built")
    source = make_source(base / "source")
    out = base / "release"
    build(source, out, jobs=1)
    return out


@pytest.fixture
def release(built_release: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "release"
    shutil.copytree(built_release, copy, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on loopback in its own process (tests/servers.py), shared by the session's tests; each test
    makes its own bucket. Its environment (credentials, AWS_ENDPOINT_URL) is what a user would set."""
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_environment(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """``s3_server`` with its credentials and endpoint in this test's environment (and its subprocesses')."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    s3_server.reset()
    return s3_server


@pytest.fixture
def range_server(tmp_path: Path) -> Iterator[RangeServer]:
    """An HTTP server with Range support over ``tmp_path / "served"`` (made empty), with byte counters."""
    folder = tmp_path / "served"
    folder.mkdir()
    with RangeServer(folder) as server:
        yield server


_realdata_passed = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _realdata_passed
    if report.when == "call" and report.passed and "realdata" in report.keywords:
        _realdata_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """CI reads how many realdata tests passed (CURATOR_REALDATA_COUNT names the file)."""
    import os

    target = os.environ.get("CURATOR_REALDATA_COUNT")
    if target:
        Path(target).write_text(str(_realdata_passed), encoding="utf-8")

"""curator.gc_pauses (issue 15): fewer cyclic collections while many long-lived objects are made, bounded and
restored: the SARIF document is built without collections, the DICOM readers' results arrive with the first
generation collected every COLLECT_EVERY objects instead of 700."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from curator import validate
from curator.gc_pauses import fewer_collections
from curator.profiles import get_profile
from tests.check_facts import observe_dicom_judging
from tests.dicom_factories import write_series
from tests.memory import traced


def test_the_settings_are_restored_even_when_the_block_raises() -> None:
    before, enabled = gc.get_threshold(), gc.isenabled()
    with pytest.raises(ValueError, match="x"), fewer_collections(50_000):
        assert gc.get_threshold() == (50_000, *before[1:])
        raise ValueError("x")
    assert gc.get_threshold() == before
    with pytest.raises(ValueError, match="y"), fewer_collections():
        assert not gc.isenabled()
        raise ValueError("y")
    assert (gc.get_threshold(), gc.isenabled()) == (before, enabled)


def test_cyclic_garbage_made_under_a_raised_threshold_is_still_collected() -> None:
    """Bounded: half a million reference cycles (72 MB traced when collection is off) made inside the block never
    hold more than the garbage of about one threshold's worth of objects (7 MB measured)."""
    assert gc.isenabled()
    with traced() as memory, fewer_collections(validate.COLLECT_EVERY):
        for _ in range(500_000):
            first: list[object] = []
            second: list[object] = [first]
            first.append(second)
    assert memory.peak < 25 << 20, memory.peak


def test_the_dicom_results_arrive_under_the_raised_threshold_and_it_is_restored_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_series(tmp_path / "P1" / "series", count=3)
    before = gc.get_threshold()
    seen: list[int] = []
    observe_dicom_judging(monkeypatch, lambda audited: seen.append(gc.get_threshold()[0]))
    facts = validate.gather(tmp_path, get_profile("dicom"), validate.ValidateOptions(jobs=1))
    assert facts.dicom_judged is not None and len(facts.dicom_judged) == 3
    assert seen == [validate.COLLECT_EVERY] * 3
    assert gc.get_threshold() == before

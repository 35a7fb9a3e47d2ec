"""curator.memo.BoundedMemo: the one bounded per-process memo of the hot paths (DICOM walk and values, finding
relocations, NIfTI sharing, ingest's SeriesMemo)."""

from __future__ import annotations

from curator.memo import BoundedMemo


def test_a_full_memo_forgets_everything_before_it_takes_the_next_entry() -> None:
    memo: BoundedMemo[int, str] = BoundedMemo(3)
    for key in range(3):
        assert memo.remember(key, str(key)) == str(key)
    assert dict(memo) == {0: "0", 1: "1", 2: "2"}
    assert memo.remember(9, "nine") == "nine"
    assert dict(memo) == {9: "nine"}
    for key in range(10_000):   # unique keys only (a hostile input): never more than the limit
        memo.remember(key, "")
        assert len(memo) <= 3

"""The shared wording helpers."""

from curator.wording import human_bytes, rate_and_left


def test_rate_and_left_is_one_estimate_for_every_progress_display() -> None:
    assert rate_and_left(500, 1000, 10.0) == (50.0, 10)
    assert rate_and_left(0, 1000, 10.0) == (0.0, None)        # nothing done yet: no guess
    assert rate_and_left(1000, 1000, 10.0) == (100.0, None)   # finished: nothing left to say
    assert rate_and_left(500, 1000, 0.0) == (0.0, None)       # no time passed: no rate


def test_human_bytes_is_the_one_size_wording() -> None:
    assert [human_bytes(n) for n in (999, 1000, 1_500_000, 2e12)] == ["999 B", "1.0 KB", "1.5 MB", "2.0 TB"]

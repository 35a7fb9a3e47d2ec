"""Headers kept compactly (validate holds one per NIfTI file): equal numbers and tuples of the same items shared
between headers, without changing a value, a sign of zero, or how anything compares."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np

from curator.io import nifti
from curator.io.nifti import read_header, shared
from tests.factories import ct_volume, write_nifti
from tests.memory import traced


def test_shared_numbers_keep_their_sign_and_nan_stays_apart() -> None:
    zero, negative = shared(0.0), shared(-0.0)
    assert zero is shared(0.0) and negative is shared(-0.0) and zero is not negative
    assert math.copysign(1, negative) == -1
    nan = float("nan")
    assert shared(nan) is nan and shared(float("nan")) is not nan       # a NaN is never one object for two values
    assert shared((zero, 1.0)) is not shared((negative, 1.0))            # tuples of different objects stay apart
    row = (shared(0.5), shared(1.0))
    assert shared(row) is row and shared((shared(0.5), shared(1.0))) is row


def test_shared_memo_is_bounded() -> None:
    for value in range(10**9, 10**9 + nifti.SHARED_MAX + 100):
        shared(value)
    assert len(nifti._SHARED) <= nifti.SHARED_MAX


def test_headers_of_one_protocol_share_their_tuples_with_the_values_nibabel_reads(tmp_path: Path) -> None:
    affine = np.array([[-0.7, 0.0, 0.0, 180.0], [0.0, 0.7, -0.0, -170.5], [0.0, 0.0, 8.0, -300.0], [0, 0, 0, 1]])
    paths = [tmp_path / f"study_{n}.nii.gz" for n in range(3)]
    for n, path in enumerate(paths):
        write_nifti(path, ct_volume(seed=n), affine)
    headers = [read_header(p) for p in paths]
    assert headers[0].affine is headers[1].affine is headers[2].affine
    assert headers[0].pixdim_raw is headers[1].pixdim_raw
    loaded = nib.load(str(paths[0]))
    best = loaded.header.get_best_affine()
    assert headers[0].affine == tuple(tuple(float(v) for v in row) for row in best)
    assert [math.copysign(1, v) for v in headers[0].affine[1]] == [math.copysign(1, v) for v in best[1]]
    assert headers[0].pixdim_raw == tuple(float(v) for v in loaded.header["pixdim"])


def test_a_header_of_a_known_protocol_costs_well_under_a_kilobyte(tmp_path: Path) -> None:
    """tracemalloc of 2,000 headers of one file: 619 bytes each measured; fresh tuples of floats were 3,195."""
    path = tmp_path / "study.nii.gz"
    write_nifti(path, ct_volume(), np.diag([0.7, 0.7, 8.0, 1.0]))
    read_header(path)
    with traced() as memory:
        headers = [read_header(path) for _ in range(2000)]
    held = memory.held
    assert len(headers) == 2000
    assert held / 2000 < 1000, held / 2000


def test_headers_from_the_cache_share_their_values_as_read_ones_do(tmp_path: Path) -> None:
    """A cached rerun of a million files keeps a million headers made by header_from_json: they must be as compact
    as read ones (measured 3,400 bytes each with fresh tuples, floats and strings; ~600 shared)."""
    path = tmp_path / "study.nii.gz"
    write_nifti(path, ct_volume(), np.diag([0.7, 0.7, 8.0, 1.0]))
    read = read_header(path)
    stored = json.loads(json.dumps(nifti.header_to_json(read)))   # as the cache stores and gives it
    with traced() as memory:
        cached = [nifti.header_from_json(stored) for _ in range(2000)]
    held = memory.held
    assert cached[0] == read
    assert cached[0].affine is cached[1].affine is read.affine
    assert cached[0].pixdim_raw is cached[1].pixdim_raw
    assert cached[0].datatype is cached[1].datatype
    assert held / 2000 < 1000, held / 2000


def test_a_header_goes_to_the_cache_as_dataclasses_asdict_gives_it(tmp_path: Path) -> None:
    """header_to_json reads the fields without asdict's deep copy: the same keys in the same order, the same
    values, the same JSON text, for a plain header and one with problems and a measured stream; and back."""
    path = tmp_path / "study.nii.gz"
    write_nifti(path, ct_volume(), np.diag([0.7, 0.7, 8.0, 1.0]))
    read = read_header(path)
    odd = dataclasses.replace(read, problems=("one", "two"), stream_size=12, stream_error="stopped", isize=None,
                              qform=None)
    for header in (read, odd):
        made = nifti.header_to_json(header)
        assert list(made.items()) == list(dataclasses.asdict(header).items())
        assert json.dumps(made) == json.dumps(dataclasses.asdict(header))
        assert nifti.header_from_json(json.loads(json.dumps(made))) == header

"""The deep tier reads voxels as the inflater hands them out (issue 15, deep-startup): one stream's pieces are viewed
where they lie, never joined into fixed-size blocks, and a study's mask follows each of its pieces in lockstep. These
tests cut the streams at odd places (reads of a prime number of bytes, so pieces end inside a voxel of 2, 4 or 8
bytes) and compare every statistic with numpy's over the whole arrays."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from curator.io import payload as payload_module
from curator.io.hashing import CHUNK
from curator.io.payload import AIR_HU, NiftiStream, scan_nifti, scan_pair
from tests.factories import gzip_member, nifti_bytes, write_nifti

SHAPE = (67, 61, 23)   # 94,001 voxels, no dimension a power of two: more than the 64 KiB read with a gzip header


def volume(dtype: str, seed: int = 0) -> np.ndarray:
    """Values of ``dtype`` spread over its CT-like range, with some out of [-2048, 4095] where the type allows."""
    rng = np.random.default_rng(seed)
    if dtype == "uint8":
        return rng.integers(0, 256, SHAPE).astype(np.uint8)
    values = rng.normal(-300, 900, SHAPE)
    values[0, 0, 0], values[1, 0, 0] = -3000, 5000
    return values.astype(dtype)


def labels(seed: int = 1, top: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(SHAPE) < 0.3).astype(np.uint8) * rng.integers(1, top + 1, SHAPE).astype(np.uint8)


def reference(data: np.ndarray, scaling: tuple[float, float] | None = None) -> np.ndarray:
    flat = data.ravel(order="F")
    return flat.astype(np.float64) * scaling[0] + scaling[1] if scaling else flat


@pytest.fixture(params=[61, 1009], ids=["read-61", "read-1009"])
def odd_reads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Read the files ``n`` bytes at a time, so the inflated pieces end at arbitrary offsets."""
    monkeypatch.setattr(payload_module, "CHUNK", request.param)
    return int(request.param)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64"])
def test_pieces_hold_every_voxel_once_in_order(tmp_path: Path, odd_reads: int, dtype: str, gz: bool) -> None:
    data = volume(dtype)
    path = write_nifti(tmp_path / ("v.nii.gz" if gz else "v.nii"), data, gz=gz)
    stream = NiftiStream(path, [])
    pieces = list(stream.voxel_pieces(per_piece=1000))
    stream.finish()
    assert np.array_equal(np.concatenate(pieces), reference(data))
    assert all(piece.dtype == data.dtype for piece in pieces)
    assert max(p.size for p in pieces) <= 1000
    if data.itemsize > 1:   # some piece ended inside a voxel, which then came alone
        assert any(p.size == 1 for p in pieces)


def test_scaled_pieces_equal_the_scaled_array(tmp_path: Path, odd_reads: int) -> None:
    data = volume("int16")
    path = write_nifti(tmp_path / "v.nii.gz", data, scaling=(0.5, -1024.0))
    stream = NiftiStream(path, [])
    pieces = list(stream.voxel_pieces())
    stream.finish()
    assert np.array_equal(np.concatenate(pieces), reference(data, (0.5, -1024.0)))


@pytest.mark.parametrize("dtype", ["int16", "float32", "float64", "uint8"])
def test_single_stream_statistics_equal_numpy(tmp_path: Path, odd_reads: int, dtype: str) -> None:
    data = volume(dtype)
    flat = reference(data).astype(np.float64)
    found = scan_nifti(write_nifti(tmp_path / "v.nii.gz", data), []).voxels
    assert found is not None
    assert (found.count, found.minimum, found.maximum) == (flat.size, flat.min(), flat.max())
    assert (found.below, found.above) == (int((flat < -2048).sum()), int((flat > 4095).sum()))
    if dtype == "uint8":   # 256 distinct values: more than a label map has
        assert found.values is None
    else:
        assert found.values is None or sum(found.values.values()) == flat.size


@pytest.mark.parametrize(("study_dtype", "top"), [("int16", 1), ("float32", 1), ("float64", 3), ("int16", 3)])
def test_pair_in_lockstep_equals_numpy(tmp_path: Path, odd_reads: int, study_dtype: str, top: int) -> None:
    study, mask = volume(study_dtype, seed=2), labels(top=top)
    study_path = write_nifti(tmp_path / "s.nii.gz", study)
    mask_path = write_nifti(tmp_path / "m.nii.gz", mask)
    study_payload, mask_payload = scan_pair(study_path, mask_path, ["sha256"], ["md5"])
    flat_study, flat_mask = reference(study).astype(np.float64), reference(mask)
    marked = flat_study[flat_mask != 0]
    lesion = mask_payload.lesion
    assert lesion is not None
    assert lesion.voxels == int(np.count_nonzero(flat_mask))
    assert lesion.hu_total == pytest.approx(float(marked.sum()), rel=1e-12)
    assert lesion.air == int(np.count_nonzero(marked < AIR_HU))
    assert mask_payload.voxels is not None and study_payload.voxels is not None
    values, counts = np.unique(flat_mask, return_counts=True)
    assert mask_payload.voxels.values == Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))
    assert (study_payload.voxels.count, study_payload.voxels.minimum, study_payload.voxels.maximum) == (
        flat_study.size, flat_study.min(), flat_study.max())
    assert study_payload.stream_error is None and mask_payload.stream_error is None


def test_a_mask_of_two_byte_labels_follows_a_float_study(tmp_path: Path, odd_reads: int) -> None:
    study, mask = volume("float64", seed=3), labels(top=2).astype(np.int16)
    study_payload, mask_payload = scan_pair(write_nifti(tmp_path / "s.nii.gz", study),
                                            write_nifti(tmp_path / "m.nii.gz", mask), [], [])
    flat_study, flat_mask = reference(study), reference(mask)
    assert mask_payload.lesion is not None
    assert mask_payload.lesion.voxels == int(np.count_nonzero(flat_mask))
    assert mask_payload.lesion.hu_total == pytest.approx(float(flat_study[flat_mask != 0].sum()), rel=1e-12)
    assert study_payload.voxels is not None and study_payload.voxels.count == flat_study.size


def test_a_truncated_mask_loses_no_study_voxels(tmp_path: Path) -> None:
    """The study's statistics cover every voxel when its mask's stream ends early (they lost a whole block of
    2**20 voxels when the two were zipped block by block and the mask ran out first)."""
    shape = (128, 128, 70)   # 1,146,880 voxels: more than one block of 2**20
    study = np.full(shape, -700, dtype=np.int16)
    study[0, 0, 69] = 3000   # the largest value sits in the last block
    mask = np.zeros(shape, dtype=np.uint8)
    mask[10:20, 10:20, 1:3] = 1
    study_path = write_nifti(tmp_path / "s.nii.gz", study)
    mask_path = write_nifti(tmp_path / "m.nii.gz", mask)
    data = mask_path.read_bytes()
    mask_path.write_bytes(data[: len(data) // 2])   # ends inside the deflate data
    study_payload, mask_payload = scan_pair(study_path, mask_path, [], [])
    assert mask_payload.stream_problem == "truncated"
    assert study_payload.stream_error is None
    assert study_payload.voxels is not None
    assert (study_payload.voxels.count, study_payload.voxels.maximum) == (study.size, 3000)


def test_a_member_header_cut_by_a_read_near_the_end_of_the_file(tmp_path: Path) -> None:
    """A second gzip member whose header starts 4 bytes before the end of the first read (1 MiB) and whose file ends
    within 64 KiB after it was called truncated inside that header: the reader asked for 64 KiB more, got less (the
    rest of the file) and gave up without parsing what it had."""
    data = np.random.default_rng(4).integers(0, 256, (100, 100, 100), dtype=np.uint8)   # incompressible
    stream = nifti_bytes(data)
    first = gzip_member(stream[:-1000])
    pad = CHUNK - 4 - len(first) - 2   # an FEXTRA field of this size puts the first member's end at CHUNK - 4
    assert 0 <= pad < 65536
    first = gzip_member(stream[:-1000], extra=b"x" * pad)
    assert len(first) == CHUNK - 4
    path = tmp_path / "v.nii.gz"
    path.write_bytes(first + gzip_member(stream[-1000:]))
    found = scan_nifti(path, ["sha256"])
    assert (found.stream_error, found.members, found.decompressed) == (None, 2, len(stream))
    assert found.voxels is not None and found.voxels.count == data.size

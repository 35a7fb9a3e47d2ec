"""The hashers' one read loop (curator/io/hashing._read_into): hash_one and hash_file give hashlib's digests and the
file's size across the read sizes' edges (empty, one small read, the small-read size, several large chunks)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from curator.io.hashing import CHUNK, SMALL_READ, hash_file, hash_one


@pytest.mark.parametrize("size", [0, 1, 1024, SMALL_READ - 1, SMALL_READ, SMALL_READ + 1, 2 * CHUNK + 5])
def test_hash_one_and_hash_file_give_hashlib_s_digests_and_the_size(tmp_path: Path, size: int) -> None:
    data = bytes(index * 7 % 251 for index in range(size))
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    sha256, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    assert hash_one(path, "sha256") == (sha256, size)
    assert hash_one(str(path), "md5") == (md5, size)
    assert hash_file(path, ("sha256",)) == hash_file(path, ["sha256"]) == {"sha256": sha256}
    assert hash_file(path, ("sha256", "md5")) == {"sha256": sha256, "md5": md5}

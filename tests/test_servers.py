"""The loopback servers other tests rely on behave as the protocols say (tests/servers.py)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import urllib.request
from pathlib import Path

import pytest

from tests.servers import RangeServer, S3Server


def _get(url: str, range_header: str | None = None) -> tuple[int, bytes, str | None]:
    request = urllib.request.Request(url, headers={"Range": range_header} if range_header else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Range")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Range")


def test_range_server_serves_ranges_and_counts_bytes(range_server: RangeServer) -> None:
    data = bytes(range(256)) * 40
    (range_server.folder / "a.bin").write_bytes(data)
    assert _get(range_server.url + "a.bin") == (200, data, None)
    assert _get(range_server.url + "a.bin", "bytes=10-19") == (206, data[10:20], f"bytes 10-19/{len(data)}")
    assert _get(range_server.url + "a.bin", "bytes=10000-") == (206, data[10000:], f"bytes 10000-10239/{len(data)}")
    assert _get(range_server.url + "a.bin", "bytes=-5") == (206, data[-5:], f"bytes 10235-10239/{len(data)}")
    assert _get(range_server.url + "a.bin", "bytes=20000-")[0] == 416
    assert _get(range_server.url + "../etc/passwd")[0] == 404
    assert range_server.sent["a.bin"] == len(data) + 10 + 240 + 5


def test_range_server_drops_the_connection_once(range_server: RangeServer) -> None:
    data = b"x" * 200_000
    (range_server.folder / "big.bin").write_bytes(data)
    range_server.drop_after["big.bin"] = 70_000
    with pytest.raises(http.client.IncompleteRead), urllib.request.urlopen(range_server.url + "big.bin",
                                                                           timeout=10) as response:
        response.read()
    assert range_server.sent["big.bin"] == 70_000
    assert _get(range_server.url + "big.bin", "bytes=70000-")[1] == data[70_000:]
    assert range_server.sent["big.bin"] == 200_000


def test_s3_server_keeps_sha256_checksums_and_counts(s3_server: S3Server, tmp_path: Path) -> None:
    client = s3_server.client()
    client.create_bucket(Bucket="servers-test")
    data = b"CT" * 5000
    client.put_object(Bucket="servers-test", Key="r/a.nii.gz", Body=data, ChecksumAlgorithm="SHA256")
    s3_server.reset()
    head = client.head_object(Bucket="servers-test", Key="r/a.nii.gz", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert head["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    part = client.get_object(Bucket="servers-test", Key="r/a.nii.gz", Range="bytes=0-99")["Body"].read()
    assert part == data[:100]
    counters = s3_server.counters()
    assert counters["requests"] == {"HEAD": 1, "GET": 1}
    assert counters["by_key"]["/servers-test/r/a.nii.gz"] == 100

"""A stand-in for the read side of Zenodo's REST API, on the Range server of tests/servers.py.

Only what ``curator fetch`` reads, as https://developers.zenodo.org/ documents it ("Records", "Retrieve"):
``GET /api/records/{id}`` answers the record, whose ``files[]`` each have ``id``, ``key`` (the file name), ``size``,
``checksum`` (``"md5:<hex>"``) and ``links.self``, the file's download URL
(``/api/records/{id}/files/{key}/content``), served with Range support.

(Written on branch h5/fetch with the read-only part only; the publish side of this stand-in is h5/publish-core's.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.servers import RangeServer


def zenodo_record(server: RangeServer, record_id: int, folder: Path) -> dict[str, Any]:
    """Publish every file directly in ``folder`` (which lies in the server's folder) as record ``record_id``."""
    entries = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        key = path.name
        content = f"/api/records/{record_id}/files/{key}/content"
        server.aliases[content] = path.relative_to(server.folder).as_posix()
        entries.append({"id": hashlib.md5(content.encode()).hexdigest(), "key": key, "size": path.stat().st_size,
                        "checksum": "md5:" + hashlib.md5(path.read_bytes()).hexdigest(),
                        "links": {"self": server.url.rstrip("/") + quote(content)}})
    record = {"id": record_id, "recid": str(record_id), "conceptrecid": str(record_id - 1),
              "doi": f"10.5281/zenodo.{record_id}", "conceptdoi": f"10.5281/zenodo.{record_id - 1}",
              "metadata": {"title": "A stand-in record", "version": "1.0.0", "access_right": "open"},
              "files": entries, "links": {"self": f"{server.url}api/records/{record_id}"}}
    server.documents[f"/api/records/{record_id}"] = json.dumps(record).encode()
    return record

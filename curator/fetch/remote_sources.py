"""``s3://bucket/prefix``: every object under the prefix, listed by :mod:`curator.io.remote` (the one S3 listing,
with the checksums the store keeps: ChecksumSHA256 from a HEAD with ChecksumMode=ENABLED, md5 from a single-part
ETag). A multipart object's composite checksum is not a digest of its bytes and is not compared; DEST's own
manifest still checks it at the end."""

from __future__ import annotations

from curator.fetch.plan import HEX_DIGITS, Item, Plan


def s3_plan(url: str) -> Plan:
    from curator.io.remote import open_store

    store = open_store(url)
    files = store.files()
    sums = store.checksums([f.rel for f in files])
    plan = Plan(source=store.url)
    for found in files:
        digests = {a: d for a, d in sums.get(found.rel, {}).items() if a in HEX_DIGITS}
        where = "S3 ChecksumSHA256" if "sha256" in digests else "S3 ETag (md5)" if "md5" in digests else "S3"
        plan.add(Item(rel=found.rel, url=f"{store.url}/{found.rel}", size=found.size, digests=digests, where=where))
    return plan

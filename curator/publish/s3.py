"""The S3 target: ``curator publish RELEASE --to s3://bucket/prefix`` on any S3-compatible endpoint.

Credentials and endpoint come from botocore's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a
profile, an instance role; ``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3`` for another endpoint); curator never
reads or shows them. The bucket must exist: curator does not create buckets or change their policy.

- A file up to the part size is one ``PutObject`` with ``ChecksumSHA256`` (the release's own SHA-256): the
  server refuses bytes that do not match it. A larger file is a multipart upload with ``ChecksumAlgorithm
  SHA256`` and a checksum per part. An interrupted multipart upload is resumed: the upload still open for the
  key (``ListMultipartUploads``) and its parts (``ListParts``) are found, each part's size and ``ChecksumSHA256``
  (else its ETag, the part's MD5) is checked against the local bytes, and only the missing or wrong parts are
  sent before ``CompleteMultipartUpload``. While the parts are read the whole file's SHA-256 is computed too,
  and an upload whose local bytes differ from the release's SHA256SUMS is aborted before it completes.
- What the server holds is read with ``HeadObject`` (``ChecksumMode=ENABLED``): a single-part object's
  ``ChecksumSHA256`` is the file's SHA-256; a multipart object's is S3's composite checksum (the SHA-256 of the
  parts' SHA-256 digests, ``<base64>-<parts>``), which curator computes from the local file with the same part
  size to compare; an object without a checksum is compared by its single-part ETag (its MD5).
- Object metadata (``x-amz-meta-*``) from the card: title, code, version, licence, permanent link, and the
  file's SHA-256; the release's own metadata files (datacite.json, zenodo.json, croissant.json, ...) are
  uploaded as they are, with the rest of the release.
- ``--publish`` does not apply: curator never changes ACLs or bucket policies, so making the objects public is
  the bucket owner's decision (a usage error says so).
"""

from __future__ import annotations

import base64
import hashlib
import math
import urllib.parse
from dataclasses import dataclass
from typing import Any

from curator.models.card import localise
from curator.publish.target import Limits, PlannedFile, Progress, PublishError, ReleaseInfo, RemoteChecksum

__all__ = ["DEFAULT_PART_SIZE", "S3Target", "parse_s3_url"]

DEFAULT_PART_SIZE = 64 * 2**20
MIN_PART_SIZE = 5 * 2**20              # S3's smallest part (but the last)
MAX_PARTS = 10_000
MAX_OBJECT = 5 * 10**12 - 1            # 5 TB, S3's largest object


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str                          # "" or ending in "/"

    def key(self, rel: str) -> str:
        return self.prefix + rel

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3_url(url: str) -> S3Location:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise PublishError(f"{url!r} is not an S3 location; write s3://bucket/prefix", 2)
    prefix = parsed.path.strip("/")
    return S3Location(parsed.netloc, prefix + "/" if prefix else "")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _header_value(text: str) -> str:
    """An S3 user-metadata value is an HTTP header: ASCII, no line breaks; other text is percent-encoded."""
    flat = " ".join(text.split())
    return flat if flat.isascii() else urllib.parse.quote(flat, safe=" ,.;:/()-_'")


class S3Target:
    """Publish to ``s3://bucket/prefix`` with boto3 (the ``publish`` extra)."""

    prunes = False

    def __init__(self, url: str, part_size: int = DEFAULT_PART_SIZE) -> None:
        self.where = parse_s3_url(url)
        if part_size < MIN_PART_SIZE:
            raise PublishError(f"the part size must be at least {MIN_PART_SIZE:,} bytes (S3's smallest part)", 2)
        self.part_size = part_size
        self.describe = str(self.where)
        self.limits = Limits(max_file_bytes=min(MAX_OBJECT, part_size * MAX_PARTS))
        self._client: Any = None
        self._object_metadata: dict[str, str] = {}
        self._composite: dict[str, str] = {}
        self._current_meta: dict[str, str] = {}

    # ------------------------------------------------------------------------------------------- the plan

    def check_publish(self, publish: bool) -> None:
        if publish:
            raise PublishError("--publish does not apply to S3: curator never changes ACLs or bucket policies; "
                               "the objects are as visible as the bucket's own policy makes them", 2)

    def parts(self, file: PlannedFile) -> int:
        return 1 if file.size <= self.part_size else math.ceil(file.size / self.part_size)

    def metadata(self, release: ReleaseInfo) -> dict[str, Any]:
        card = release.card
        lang = "en" if "en" in card.languages else card.languages[0]
        meta = {"curator-title": _header_value(localise(card.title, lang)), "curator-code": card.code,
                "curator-version": card.version, "curator-licence": card.licence,
                "curator-link": card.permanent_link}
        return {"bucket": self.where.bucket, "prefix": self.where.prefix, "object_metadata": meta,
                "checksum": "SHA256 (ChecksumSHA256 per object; composite per part for multipart uploads)",
                "part_size": self.part_size}

    # ------------------------------------------------------------------------------------------- the server

    def _s3(self) -> Any:
        if self._client is None:
            try:
                import boto3  # type: ignore[import-untyped]
                from botocore.config import Config  # type: ignore[import-untyped]
            except ImportError:
                raise PublishError("publishing to S3 needs boto3: pip install 'ct-curator[publish]'", 2) from None
            self._client = boto3.client("s3", config=Config(retries={"max_attempts": 3, "mode": "standard"}))
        return self._client

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            return getattr(self._s3(), method)(**kwargs)
        except ClientError as error:
            info = error.response.get("Error", {})
            code = str(info.get("Code", "error"))
            usage = code in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403",
                             "404")     # a HEAD's error has no body: only its status
            bad = code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch")
            message = info.get("Message") or {"404": "not found", "403": "forbidden"}.get(code, "")
            raise PublishError(f"S3 refused {what}: {code} ({message})",
                               1 if bad else 2 if usage else 3) from None
        except BotoCoreError as error:
            raise PublishError(f"cannot reach S3 for {what}: {type(error).__name__}: {error}", 3) from None

    def open(self, metadata: dict[str, Any]) -> None:
        self._object_metadata = dict(metadata["object_metadata"])
        self._call(f"access to the bucket {self.where.bucket}", "head_bucket", Bucket=self.where.bucket)

    def remote_files(self) -> dict[str, RemoteChecksum]:
        found: dict[str, RemoteChecksum] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.where.bucket, "Prefix": self.where.prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(f"the listing of {self.where}", "list_objects_v2", **kwargs)
            for item in page.get("Contents", []):
                key = item["Key"]
                rel = key[len(self.where.prefix):]
                head = self._call(f"the checksum of {key}", "head_object", Bucket=self.where.bucket, Key=key,
                                  ChecksumMode="ENABLED")
                found[rel] = self._checksum(head)
            if not page.get("IsTruncated"):
                return found
            token = page.get("NextContinuationToken")

    @staticmethod
    def _checksum(head: dict[str, Any]) -> RemoteChecksum:
        size = int(head.get("ContentLength", 0))
        value = head.get("ChecksumSHA256")
        etag = str(head.get("ETag", "")).strip('"')
        parts = etag.rpartition("-")[2] if "-" in etag else ""
        if value:
            if "-" not in value and (head.get("ChecksumType") == "COMPOSITE" or parts.isdigit()):
                value = f"{value}-{parts or 1}"     # some servers leave the part count off a HEAD's value
            if "-" in value:
                return RemoteChecksum("s3-composite-sha256", value, size)
            return RemoteChecksum("sha256", base64.b64decode(value).hex(), size)
        if etag and "-" not in etag:
            return RemoteChecksum("md5", etag, size)
        return RemoteChecksum("s3-etag", etag, size)     # a multipart object without checksums: not comparable

    def local_checksum(self, file: PlannedFile, remote: RemoteChecksum) -> str | None:
        if remote.algorithm != "s3-composite-sha256":
            return None
        if file.rel not in self._composite:
            digests = []
            with file.path.open("rb") as handle:
                while chunk := handle.read(self.part_size):
                    digests.append(hashlib.sha256(chunk).digest())
            self._composite[file.rel] = self._composite_of(digests)
        return self._composite[file.rel]

    @staticmethod
    def _composite_of(digests: list[bytes]) -> str:
        return f"{_b64(hashlib.sha256(b''.join(digests)).digest())}-{len(digests)}"

    def delete(self, rel: str) -> None:
        raise PublishError("the S3 target never deletes objects", 3)

    # ------------------------------------------------------------------------------------------- upload

    def _object_meta(self, file: PlannedFile) -> dict[str, str]:
        return {**self._object_metadata, "sha256": file.sha256}

    def upload(self, file: PlannedFile, progress: Progress) -> None:
        key = self.where.key(file.rel)
        if file.size <= self.part_size:
            with file.path.open("rb") as handle:
                body = handle.read(self.part_size + 1)       # at most one part in memory
            digest = hashlib.sha256(body).digest()
            if digest.hex() != file.sha256:                   # never rely on the server to refuse: not all do
                raise PublishError(f"{file.rel} differs from its SHA-256 in the release's manifest "
                                   f"({digest.hex()} read, {file.sha256} listed): not uploaded", 1)
            self._call(f"the upload of {file.rel}", "put_object", Bucket=self.where.bucket, Key=key, Body=body,
                       ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(digest), Metadata=self._object_meta(file))
            progress(len(body))
            return
        self._multipart(file, key, progress)

    def _open_upload(self, key: str) -> tuple[str, dict[int, dict[str, Any]]]:
        """The upload id of an interrupted multipart upload of ``key`` and its parts, or a new upload."""
        listing = self._call(f"the open uploads of {key}", "list_multipart_uploads", Bucket=self.where.bucket,
                             Prefix=key)
        uploads = sorted((u for u in listing.get("Uploads", []) if u["Key"] == key),
                         key=lambda u: u.get("Initiated", 0))
        for upload in uploads[:-1]:                      # older attempts: abandoned
            self._call(f"the abandoned upload of {key}", "abort_multipart_upload", Bucket=self.where.bucket,
                       Key=key, UploadId=upload["UploadId"])
        if uploads:
            upload_id = uploads[-1]["UploadId"]
            parts: dict[int, dict[str, Any]] = {}
            marker = 0
            while True:
                page = self._call(f"the parts of {key}", "list_parts", Bucket=self.where.bucket, Key=key,
                                  UploadId=upload_id, PartNumberMarker=marker)
                for part in page.get("Parts", []):
                    parts[int(part["PartNumber"])] = part
                if not page.get("IsTruncated"):
                    return upload_id, parts
                marker = int(page["NextPartNumberMarker"])
        created = self._call(f"the upload of {key}", "create_multipart_upload", Bucket=self.where.bucket, Key=key,
                             ChecksumAlgorithm="SHA256", Metadata=self._current_meta)
        return str(created["UploadId"]), {}

    def _multipart(self, file: PlannedFile, key: str, progress: Progress) -> None:
        self._current_meta = self._object_meta(file)
        upload_id, there = self._open_upload(key)
        count = self.parts(file)
        whole = hashlib.sha256()
        digests: list[bytes] = []
        done: list[dict[str, Any]] = []
        with file.path.open("rb") as handle:
            for number in range(1, count + 1):
                chunk = handle.read(self.part_size)
                whole.update(chunk)
                digest = hashlib.sha256(chunk).digest()
                digests.append(digest)
                old = there.get(number)
                if old is not None and self._same_part(old, chunk, digest):
                    done.append({"PartNumber": number, "ETag": old["ETag"], "ChecksumSHA256": _b64(digest)})
                    continue
                sent = self._call(f"part {number} of {file.rel}", "upload_part", Bucket=self.where.bucket, Key=key,
                                  UploadId=upload_id, PartNumber=number, Body=chunk, ChecksumAlgorithm="SHA256",
                                  ChecksumSHA256=_b64(digest))
                done.append({"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": _b64(digest)})
                progress(len(chunk))
        if whole.hexdigest() != file.sha256:
            self._call(f"the upload of {file.rel}", "abort_multipart_upload", Bucket=self.where.bucket, Key=key,
                       UploadId=upload_id)
            raise PublishError(f"{file.rel} differs from its SHA-256 in the release's manifest "
                               f"({whole.hexdigest()} read, {file.sha256} listed): its upload was aborted", 1)
        self._call(f"the completion of {file.rel}", "complete_multipart_upload", Bucket=self.where.bucket, Key=key,
                   UploadId=upload_id, MultipartUpload={"Parts": done})
        self._composite[file.rel] = self._composite_of(digests)

    @staticmethod
    def _same_part(listed: dict[str, Any], chunk: bytes, digest: bytes) -> bool:
        """A part already on the server holds ``chunk``: by its ChecksumSHA256 (S3 lists it for uploads made
        with a checksum), else by its ETag, a part's MD5 (servers that list no part checksum)."""
        if int(listed.get("Size", -1)) != len(chunk):
            return False
        if listed.get("ChecksumSHA256"):
            return bool(listed["ChecksumSHA256"] == _b64(digest))
        return str(listed.get("ETag", "")).strip('"') == hashlib.md5(chunk).hexdigest()

    def finish(self, publish: bool) -> str:
        return str(self.where)


def from_options(to: str, options: dict[str, Any]) -> S3Target:
    """The target for ``--to s3://bucket/prefix`` (``part_size`` from ``--part-size``)."""
    return S3Target(to, options.get("part_size") or DEFAULT_PART_SIZE)

"""Pictures, content-addressed: each stored once under its sha256, on disk or in S3-compatible storage.

Why by content: a clinic resending a field after a cut link, or two fields with the same picture, store
one object; a name that is its own checksum cannot point at the wrong bytes, and the hub verifies it
before keeping anything (a half-sent picture never becomes a blob). On disk a picture is written to a
temporary file, fsynced and renamed into place, so a crash leaves either nothing or the whole picture.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from edge_all.errors import EdgeAllError, UsageError
from edge_all.sync.protocol import SHA256


class BlobError(EdgeAllError):
    """The picture store cannot be reached or written."""


class BlobMismatch(ValueError):
    """Bytes that do not hash to the name they were sent under."""


class BlobStore(Protocol):
    def has(self, sha256: str) -> bool: ...
    def put(self, sha256: str, data: bytes) -> bool: ...  # True when newly stored
    def get(self, sha256: str) -> bytes | None: ...
    def delete(self, sha256: str) -> None: ...


def check(sha256: str, data: bytes) -> None:
    if not SHA256.match(sha256):
        raise BlobMismatch("a picture is named by the lower-case hex sha256 of its bytes")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BlobMismatch("the bytes received do not hash to the picture's name (cut off, or damaged)")


class DiskBlobs:
    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BlobError(f"{root}: cannot make the picture folder ({exc.strerror or exc})") from None

    def _path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise BlobMismatch("not a sha256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def put(self, sha256: str, data: bytes) -> bool:
        check(sha256, data)
        path = self._path(sha256)
        if path.is_file():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
        try:
            with open(temporary, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise BlobError(f"{path}: cannot store a picture ({exc.strerror or exc})") from None
        return True

    def get(self, sha256: str) -> bytes | None:
        try:
            return self._path(sha256).read_bytes()
        except (FileNotFoundError, BlobMismatch):
            return None

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)


class S3Blobs:
    """An S3 bucket (SeaweedFS, MinIO, Ceph, AWS); credentials from the usual AWS_* variables."""

    def __init__(self, bucket: str, endpoint: str | None, prefix: str = "pictures/") -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        self.client = boto3.client("s3", endpoint_url=endpoint, config=config)
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors = (BotoCoreError, ClientError)
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise BlobError(f"s3://{bucket}: cannot use the bucket ({exc})") from None
            self.client.create_bucket(Bucket=bucket)
        except BotoCoreError as exc:
            raise BlobError(f"s3://{bucket} at {endpoint}: cannot reach the picture store ({exc})") from None

    def _key(self, sha256: str) -> str:
        if not SHA256.match(sha256):
            raise BlobMismatch("not a sha256")
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def has(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise BlobError(f"s3://{self.bucket}: {exc}") from None
        except self._errors as exc:
            raise BlobError(f"s3://{self.bucket}: {exc}") from None

    def put(self, sha256: str, data: bytes) -> bool:
        check(sha256, data)
        if self.has(sha256):
            return False
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(sha256), Body=data)
        except self._errors as exc:
            raise BlobError(f"s3://{self.bucket}: cannot store a picture ({exc})") from None
        return True

    def get(self, sha256: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"].read()
        except ClientError:
            return None
        except self._errors as exc:
            raise BlobError(f"s3://{self.bucket}: {exc}") from None

    def delete(self, sha256: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))
        except self._errors as exc:
            raise BlobError(f"s3://{self.bucket}: {exc}") from None


def open_blobs(location: str, endpoint: str | None = None) -> BlobStore:
    """A folder, or s3://BUCKET (with --s3-endpoint for anything but AWS)."""
    if location.startswith("s3://"):
        bucket = urlparse(location).netloc
        if not bucket:
            raise UsageError(f"{location}: name the bucket (s3://BUCKET)")
        return S3Blobs(bucket, endpoint)
    return DiskBlobs(Path(location))

"""An S3-compatible object store (AWS S3, MinIO, Ceph, R2, ...) as candlecast uses it.

`s3://bucket/prefix` names where the stores live. The endpoint and credentials come from the
standard AWS variables (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`), never from candlecast's own settings.

Atomicity: S3 has no rename, so nothing here writes then renames. Each object is written whole
by one request (a single PUT of bytes serialized in memory first, or a multipart upload that S3
publishes only when it completes): a reader sees the previous object or the new one, never a
part. Two writers of one object are ordered by conditional writes (`If-Match` on the ETag read,
`If-None-Match: *` for a first write): the loser gets `WriteConflict` and retries on what won.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

S3_SCHEME = "s3://"
# Enough connections for the readers' threads (read_many uses 16).
MAX_POOL_CONNECTIONS = 32


class WriteConflict(Exception):
    """Another writer changed the object since it was read (HTTP 412)."""


@dataclass(frozen=True)
class Blob:
    data: bytes
    etag: str


def is_object_store_url(location: str | Path | None) -> bool:
    return isinstance(location, str) and location.startswith(S3_SCHEME)


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` → (`bucket`, `some/prefix`)."""
    if not is_object_store_url(url):
        raise ValueError(f"{url!r} is not an object store URL like 's3://bucket/prefix'")
    bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
    if not bucket or any(part in ("", ".", "..") for part in prefix.strip("/").split("/")[1:]):
        raise ValueError(f"{url!r}: expected 's3://bucket' or 's3://bucket/prefix'")
    return bucket, prefix.strip("/")


_clients: dict[tuple[str, int], object] = {}
_clients_lock = threading.Lock()


def s3_client():
    """One boto3 client per process (boto3 clients are thread-safe; sessions are not)."""
    import os

    key = (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL", ""), 0)
    with _clients_lock:
        if key not in _clients:
            import boto3
            from botocore.config import Config

            config = Config(
                max_pool_connections=MAX_POOL_CONNECTIONS,
                retries={"max_attempts": 5, "mode": "standard"},
                s3={"addressing_style": "path"},
            )
            _clients[key] = boto3.session.Session().client("s3", config=config)
        return _clients[key]


class ObjectStore:
    """Objects under one `s3://bucket/prefix`, addressed by keys relative to the prefix."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.bucket, self.prefix = parse_s3_url(url)
        self.client = s3_client()

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def uri(self, relative: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key(relative)}"

    def get(self, relative: str) -> Blob | None:
        """The object and its ETag (one consistent pair), or None when there is none."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(relative))
        except self.client.exceptions.NoSuchKey:
            return None
        return Blob(response["Body"].read(), response["ETag"])

    def exists(self, relative: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(relative))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def put(self, relative: str, data: bytes, expected: Blob | None | bool = True) -> str:
        """Write the object whole in one request; returns its new ETag.

        `expected`: the Blob read before (write only if it is still the current object), None
        (write only if there is no object yet), True (unconditional). A lost race raises
        WriteConflict."""
        from botocore.exceptions import ClientError

        conditions: dict[str, str] = {}
        if isinstance(expected, Blob):
            conditions["IfMatch"] = expected.etag
        elif expected is None:
            conditions["IfNoneMatch"] = "*"
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=self.key(relative), Body=data, **conditions
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (
                409,
                412,
            ):
                raise WriteConflict(self.uri(relative)) from error
            raise
        return response["ETag"]

    def upload_file(self, relative: str, path: Path) -> None:
        """A large file (a model archive): multipart, published by S3 only once complete."""
        self.client.upload_file(str(path), self.bucket, self.key(relative))

    def download_file(self, relative: str, path: Path) -> None:
        self.client.download_file(self.bucket, self.key(relative), str(path))

    def list(self, folder: str) -> list[str]:
        """Keys (relative to the prefix) under a folder, sorted."""
        start = self.key(folder.rstrip("/") + "/")
        paginator = self.client.get_paginator("list_objects_v2")
        keys = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        cut = len(self.prefix) + 1 if self.prefix else 0
        return sorted(key[cut:] for key in keys)

    def delete(self, relative: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(relative))

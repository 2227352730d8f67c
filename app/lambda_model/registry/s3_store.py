"""The S3 backend of the model store: `s3://bucket/prefix`, written with conditional puts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from lambda_model.registry.artifact import ARTIFACT_FILES, METADATA_FILE
from lambda_model.registry.store import (
    NO_POINTER,
    POINTER,
    VERSIONS_DIR,
    ModelStore,
    StoreError,
    is_version_name,
)

# Bounds on one S3 call (connect, then each read of the socket), and on how often it is tried: a store
# that accepts connections but never answers must fail a cold start in seconds, inside Lambda's 10 s
# init phase and the function's timeout, so the client gets the documented 503, not a 5xx from the
# gateway. (botocore's own defaults, 60 s reads tried four times, hold a cold start for minutes.)
S3_CONNECT_TIMEOUT_SECONDS = 2
S3_READ_TIMEOUT_SECONDS = 2
S3_TOTAL_ATTEMPTS = 2
# Where a fetched version is downloaded: /tmp in Lambda, the one writable folder.
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "lambda-model-cache"


class S3Store(ModelStore):
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # imported on first use: a model in the image never pays for boto3
            from botocore.config import Config

            # Short timeouts: an unreachable store must become a quick 503 (and a retry on the next
            # request), not a Lambda init phase that hangs on botocore's 60 s default.
            config = Config(
                connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
                read_timeout=S3_READ_TIMEOUT_SECONDS,
                # total_max_attempts counts the first try; botocore's "max_attempts" counts only retries.
                retries={"total_max_attempts": S3_TOTAL_ATTEMPTS, "mode": "standard"},
            )
            self._client = boto3.client("s3", config=config)
        return self._client

    @classmethod
    def from_uri(cls, uri: str) -> S3Store:
        return cls(*split_s3_uri(uri))

    def _key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def _call(self, action: str, method: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(**kwargs)
        except ClientError as error:
            if _error_code(error) == "PreconditionFailed":  # IfNoneMatch="*" met an existing key
                raise StoreError(f"{action} refused: the key exists in {self.uri}; versions are immutable") from error
            raise StoreError(f"{action} failed on {self.uri}: {_error_code(error)}: {error}") from error
        except BotoCoreError as error:
            raise StoreError(f"{action} failed: {self.uri} is unreachable: {error}") from error

    def exists(self) -> bool:
        return bool(self.versions())

    def _keys(self, action: str, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(action, lambda **kw: list(paginator.paginate(**kw)), Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def list_files(self, folder: str, prefix: str = "") -> list[str]:
        keys = self._keys(f"listing {folder}", self._key(folder) + "/" + prefix)
        return sorted(key.rsplit("/", 1)[-1] for key in keys)

    def read_file(self, folder: str, name: str) -> bytes:
        return self._get_bytes(f"reading {folder}/{name}", self._key(folder, name))

    def create_file(self, folder: str, name: str, content: bytes) -> bool:
        try:
            self._call(
                f"writing {folder}/{name}",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(folder, name),
                Body=content,
                IfNoneMatch="*",
            )
        except StoreError as error:
            if _error_code(error.__cause__) in ("PreconditionFailed", "412"):
                return False
            raise
        return True

    def versions(self) -> list[str]:
        suffix = "/" + METADATA_FILE
        keys = self._keys("listing versions", self._key(VERSIONS_DIR) + "/")
        names = (key[: -len(suffix)].rsplit("/", 1)[-1] for key in keys if key.endswith(suffix))
        return sorted(name for name in names if is_version_name(name))

    def _get_bytes(self, action: str, key: str) -> bytes:
        """One object's content; reading the body is inside the error mapping, since a stream can fail too."""

        def get_and_read(**kwargs: Any) -> bytes:
            return self.client.get_object(**kwargs)["Body"].read()

        return self._call(action, get_and_read, Bucket=self.bucket, Key=key)

    def _write_version(self, version: str, folder: Path) -> None:
        # metadata.json goes last: its presence is what makes a version visible to readers.
        for name in ARTIFACT_FILES:
            self._call(
                f"uploading {name}",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(VERSIONS_DIR, version, name),
                Body=(folder / name).read_bytes(),
                IfNoneMatch="*",
            )

    def _read_pointer(self) -> bytes | None:
        try:
            return self._get_bytes("reading the pointer", self._key(POINTER))
        except StoreError as error:
            if _error_code(error.__cause__) in ("NoSuchKey", "404"):
                return None
            raise

    def pointer_tag(self) -> str:
        # The object's ETag, which S3 compares in If-Match (it is no MD5 under SSE-KMS, so never recompute it).
        try:
            head = self._call(
                "reading the pointer", self.client.head_object, Bucket=self.bucket, Key=self._key(POINTER)
            )
        except StoreError as error:
            if _error_code(error.__cause__) in ("NoSuchKey", "404", "NotFound"):
                return NO_POINTER
            raise
        return head["ETag"].strip('"')

    def _replace_pointer(self, document: bytes, if_pointer: str | None) -> None:
        condition: dict[str, str] = {}
        if if_pointer == NO_POINTER:
            condition = {"IfNoneMatch": "*"}
        elif if_pointer is not None:
            condition = {"IfMatch": f'"{if_pointer}"'}
        try:
            self._call(
                "writing the pointer",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(POINTER),
                Body=document,
                ContentType="application/json",
                **condition,
            )
        except StoreError as error:
            # 412: the ETag differs (or the pointer appeared); 409: a concurrent conditional write won.
            if if_pointer is not None and _error_code(error.__cause__) in (
                "PreconditionFailed",
                "412",
                "ConditionalRequestConflict",
                "409",
            ):
                raise self._pointer_moved(if_pointer) from error
            raise

    def _local_copy(self, version: str, cache_dir: Path | None) -> Path:
        cache_dir = cache_dir or DEFAULT_CACHE_DIR
        folder = cache_dir / version
        if (folder / METADATA_FILE).is_file():
            return folder
        staging: Path | None = None
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=cache_dir))
            for name in ARTIFACT_FILES:
                content = self._get_bytes(f"downloading {name} of {version}", self._key(VERSIONS_DIR, version, name))
                (staging / name).write_bytes(content)
            staging.rename(folder)
        except OSError as error:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if not (folder / METADATA_FILE).is_file():  # else another process cached it first: use theirs
                # A full disk or a read-only cache: name it, rather than let a half copy speak for it.
                raise StoreError(f"cannot cache version {version} in {cache_dir}: {error}") from error
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        return folder

    def _discard_local_copy(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)  # only the cache: the store itself is untouched


def _error_code(error: BaseException | None) -> str:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "?")


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise StoreError(f"{uri!r} names no bucket; use s3://bucket/prefix")
    return bucket, key.strip("/")

"""Object stores with versions: a local folder (the embedded default) or any S3 server.

Both keep every version of a key: uploading the same key twice returns two version ids, and
a download can pin one. Locations are URLs: ``file:///abs/path``, ``s3://bucket/prefix``,
or a bare ``bucket/prefix`` (S3, as Brain-Score names its buckets).

``LocalStore`` lays a folder out as ``<root>/<key>`` (the latest version, so the folder reads
like a plain folder of files) and ``<root>/.versions/<key>/<version_id>`` (every version). A
plain folder of files, such as a data plugin holding its packaged files, is therefore a
store too, for downloads without a version id.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm.auto import tqdm

from brainmark._files import atomic_path
from brainmark.exceptions import StoreError
from brainmark.settings import get_settings

VERSIONS_FOLDER = ".versions"
_PROGRESS_MIN_BYTES = 32 << 20


class Store:
    """Interface of a versioned object store; see :class:`LocalStore` and :class:`S3Store`."""

    location: str

    def upload(self, path: str | Path, key: str) -> tuple[str, str | None]:
        """Store the file at ``path`` under ``key``; return (object location, version id)."""
        raise NotImplementedError

    def download(self, key: str, destination: str | Path, version_id: str | None = None) -> Path:
        """Write the object (the latest version unless ``version_id``) to ``destination``."""
        raise NotImplementedError

    def versions(self, key: str) -> list[str]:
        """Version ids of ``key``, oldest first."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def _check_key(key: str) -> str:
    parts = PurePosixPath(key).parts if isinstance(key, str) else ()
    if (
        not parts
        or key.startswith("/")
        or "\\" in key
        or any(part in (".", "..") for part in parts)
        or parts[0] == VERSIONS_FOLDER
    ):
        raise StoreError(
            f"Invalid store key {key!r}: use a relative path with '/' separators, no '.' or "
            f"'..' parts, not starting with {VERSIONS_FOLDER!r}."
        )
    return key


class LocalStore(Store):
    """A folder as a versioned store; uploads and downloads are atomic file replacements.

    Parameters
    ----------
    root
        The folder; created on the first upload.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()
        self.location = self.root.as_uri()

    def upload(self, path: str | Path, key: str) -> tuple[str, str]:
        """Copy ``path`` in as a new version of ``key`` and make it the latest."""
        _check_key(key)
        source = Path(path)
        if not source.is_file():
            raise StoreError(f"Cannot upload {source} to {self.location}: no such file.")
        # Sortable by time, unique across processes.
        version_id = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        version_path = self.root / VERSIONS_FOLDER / key / version_id
        try:
            with atomic_path(version_path) as temporary:
                shutil.copyfile(source, temporary)
        except OSError as error:  # a full disk, a read-only folder: nothing was kept
            raise StoreError(
                f"Cannot upload {source} to {self.location} as {key!r}: "
                f"{error.strerror or error}. Nothing was stored."
            ) from error
        with atomic_path(self.root / key) as temporary:
            temporary.unlink()
            try:
                os.link(version_path, temporary)  # No second copy where hard links work.
            except OSError:
                shutil.copyfile(version_path, temporary)
        return f"{self.location}/{key}", version_id

    def download(self, key: str, destination: str | Path, version_id: str | None = None) -> Path:
        _check_key(key)
        source = self.root / key if version_id is None else (
            self.root / VERSIONS_FOLDER / key / version_id
        )
        if not source.is_file():
            known = self.versions(key)
            what = f"version {version_id!r} of {key!r}" if version_id else repr(key)
            raise StoreError(
                f"Store {self.location} has no {what}. "
                + (f"Versions there: {known}." if known else "Upload it first.")
            )
        destination = Path(destination)
        with atomic_path(destination) as temporary:
            shutil.copyfile(source, temporary)
        return destination

    def versions(self, key: str) -> list[str]:
        _check_key(key)
        folder = self.root / VERSIONS_FOLDER / key
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


class S3Store(Store):
    """A bucket (and key prefix) of an S3-compatible server with versioning enabled.

    Parameters
    ----------
    bucket
        Bucket name.
    prefix
        Key prefix inside the bucket, without leading or trailing '/'.
    endpoint_url
        Server URL for S3-compatible servers (MinIO, moto); default from the
        ``s3_endpoint_url`` setting, empty meaning AWS.
    client_kwargs
        Extra arguments for ``boto3.client('s3', ...)``, e.g. credentials or ``region_name``.
        Without credentials anywhere in boto3's usual chain, requests go unsigned (public
        buckets).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.client_kwargs = dict(client_kwargs or {})
        self.location = f"s3://{bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The boto3 client, created on first use (boto3 imports are slow)."""
        if self._client is None:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config

            kwargs = dict(self.client_kwargs)
            endpoint = self.endpoint_url or get_settings().s3_endpoint_url or None
            if endpoint:
                kwargs.setdefault("endpoint_url", endpoint)
            if "aws_access_key_id" not in kwargs and boto3.Session().get_credentials() is None:
                kwargs.setdefault("config", Config(signature_version=UNSIGNED))
            self._client = boto3.client("s3", **kwargs)
        return self._client

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def upload(self, path: str | Path, key: str) -> tuple[str, str | None]:
        """Put ``path`` as a new version; the version id is None on unversioned buckets."""
        source = Path(path)
        if not source.is_file():
            raise StoreError(f"Cannot upload {source} to {self.location}: no such file.")
        full_key = self._key(key)
        try:
            with open(source, "rb") as body:
                response = self.client.put_object(Bucket=self.bucket, Key=full_key, Body=body)
        except Exception as error:
            raise StoreError(
                f"Uploading {source} to s3://{self.bucket}/{full_key} failed: {error}"
            ) from error
        return f"s3://{self.bucket}/{full_key}", response.get("VersionId")

    def download(self, key: str, destination: str | Path, version_id: str | None = None) -> Path:
        full_key = self._key(key)
        arguments = {"Bucket": self.bucket, "Key": full_key}
        if version_id is not None:
            arguments["VersionId"] = version_id
        try:
            response = self.client.get_object(**arguments)
        except Exception as error:
            what = f"version {version_id!r} of " if version_id else ""
            raise StoreError(
                f"Downloading {what}s3://{self.bucket}/{full_key} failed: {error}"
            ) from error
        destination = Path(destination)
        size = int(response.get("ContentLength") or 0)
        body = response["Body"]
        with (
            atomic_path(destination) as temporary,
            open(temporary, "wb") as handle,
            tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc=key,
                disable=size < _PROGRESS_MIN_BYTES,
            ) as progress,
        ):
            for chunk in body.iter_chunks(1 << 20):
                handle.write(chunk)
                progress.update(len(chunk))
        return destination

    def versions(self, key: str) -> list[str]:
        full_key = self._key(key)
        found: list[str] = []
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_key):
            found.extend(
                version["VersionId"]
                for version in page.get("Versions", [])
                if version["Key"] == full_key
            )
        # S3 lists the versions of a key newest first (LastModified has only 1 s resolution).
        return found[::-1]


def open_store(location: str | Path | Store) -> Store:
    """The store at ``location``: a Store, ``file://``, ``s3://`` URL, a path, or a bucket.

    ``s3://bucket/prefix`` and a bare ``bucket/prefix`` are S3; ``file:///path``, a
    :class:`~pathlib.Path` and strings starting with '/', '.' or '~' are local folders.
    """
    if isinstance(location, Store):
        return location
    if isinstance(location, Path):
        return LocalStore(location)
    if not isinstance(location, str) or not location:
        raise StoreError(f"A store location must be a non-empty string. Got {location!r}.")
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise StoreError(
                f"file:// store locations must be local (file:///path). Got {location!r}."
            )
        return LocalStore(urllib.parse.unquote(parsed.path))
    if parsed.scheme == "s3":
        return S3Store(parsed.netloc, parsed.path.strip("/"))
    if parsed.scheme:
        raise StoreError(
            f"Unsupported store location {location!r}: use file:///path, s3://bucket/prefix "
            f"or a bare bucket/prefix."
        )
    if location.startswith(("/", ".", "~")):
        return LocalStore(location)
    bucket, _, prefix = location.partition("/")
    return S3Store(bucket, prefix)


def default_store() -> Store:
    """The store named by the ``store`` setting (default: the folder ``<home>/store``)."""
    return open_store(get_settings().store_location)

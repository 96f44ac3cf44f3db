"""Media kept in an S3-compatible bucket (MinIO, Garage, AWS S3, ...): `Bucket` lists, reads, writes,
deletes and presigns its objects. An object's place in the library is its URL `s3://<bucket>/<key>`,
stored where a local file's path would be (`media.path`), so every query that compares paths works on
both.

The client is obstore (the Rust `object_store` crate behind a small Python API). It was compared with
aiobotocore and with httpx on presigned URLs against the same S3 server on 127.0.0.1 (32 MiB object,
best of 5): 751 / 515 / 454 MB/s for a whole object, 44 / 38 / 36 MB/s for 1 MiB ranges. It is async
and sync alike (the scan's thread lists with the sync calls), has ranged and conditional GETs, multipart
uploads and presigning built in, and pulls in no botocore; the official `minio` client is synchronous.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import obstore
from obstore.exceptions import (
    BaseError,
    InvalidPathError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)
from obstore.store import S3Store

from medianest.config import Settings
from medianest.errors import NotFound, Unavailable

if TYPE_CHECKING:
    from obstore import GetOptions
    from obstore.store import RetryConfig

SCHEME = "s3://"
# Bytes per chunk of a streamed GET (at least): 256 KiB relayed a proxied whole file about 6% faster than
# 1 MiB (less waiting for a big chunk to fill before it moves on) and 128 KiB 10% slower (bench/s3_bench.py).
CHUNK = 256 * 1024
# Files up to this size are uploaded in one PUT; bigger ones in parts of this size (S3's minimum is 5 MiB).
PART = 8 * 1024 * 1024
# Calls that list, look up, write or delete are failed after CALL_TIMEOUT each, tried RETRIES more times
# within RETRY_WITHIN (obstore's default, 10 retries of 30 s, kept a scan or a player waiting 3 minutes
# on a bucket that accepts connections and never answers). A GET whose body a player reads at its own
# pace (a film read at its bit rate, for an hour) must not be cut by that timeout, which counts until
# the body's end: reads have their own client, bounded by READ_TIMEOUT.
CONNECT_TIMEOUT = timedelta(seconds=5)
CALL_TIMEOUT = timedelta(seconds=30)
READ_TIMEOUT = timedelta(hours=12)
RETRIES = 2
RETRY_WITHIN = timedelta(seconds=15)


def is_object(path: str) -> bool:
    return path.startswith(SCHEME)


@dataclass(frozen=True)
class ObjectStat:
    key: str
    size: int
    mtime: float
    etag: str | None


@dataclass(frozen=True)
class Stored:
    """A media item's object, as a stream needs it: which bucket and key, the version the index knows,
    and whether players are sent to a presigned URL instead of being streamed the bytes."""

    bucket: Bucket
    key: str
    etag: str | None
    redirect: bool = False


class ObjectChanged(Exception):
    """The object is not the version the index knows (rewritten or removed since the last scan)."""


class Bucket:
    """The configured bucket. Keys are relative to the bucket; `url(key)` is what the index stores."""

    def __init__(self, settings: Settings, call_timeout: timedelta = CALL_TIMEOUT) -> None:
        if not settings.s3_bucket:
            raise ValueError("no bucket configured (MEDIANEST_S3_BUCKET)")
        self.name = settings.s3_bucket
        self.presign_ttl = timedelta(seconds=settings.s3_presign_ttl_s)
        self.store = _store(settings, settings.s3_endpoint_url, call_timeout)
        self.reader = _store(settings, settings.s3_endpoint_url, READ_TIMEOUT)  # for GETs whose bodies are streamed
        # Signing is local: a store aimed at the address players use signs the URLs they are sent to.
        public = settings.s3_public_url
        self.public = _store(settings, public.rstrip("/"), call_timeout) if public else self.store

    def url(self, key: str) -> str:
        return f"{SCHEME}{self.name}/{key}"

    def key_of(self, path: str) -> str | None:
        """The key of an `s3://` path in this bucket; None for anything else."""
        start = f"{SCHEME}{self.name}/"
        return path[len(start):] if path.startswith(start) else None

    # --- listing (the scan's thread) ---------------------------------------------------------------

    def list(self, prefix: str) -> Iterator[ObjectStat]:
        """Every object under `prefix` ("" for the whole bucket). Raises `Unavailable` with why when the
        bucket cannot be listed (unreachable, no such bucket, refused credentials)."""
        try:
            for chunk in obstore.list(self.store, prefix or None, chunk_size=1000):
                for meta in chunk:
                    yield ObjectStat(meta["path"], meta["size"], meta["last_modified"].timestamp(), meta["e_tag"])
        except InvalidPathError as exc:  # obstore refuses the whole listing for one such key
            raise Unavailable("bucket", self.name, "a key under it cannot be listed (an empty, '.' or '..' "
                              "part, or a control character): rename that object") from exc
        except (BaseError, FileNotFoundError) as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc

    # --- reading -----------------------------------------------------------------------------------

    async def open(self, key: str, start: int, end: int | None, etag: str | None) -> AsyncIterator[bytes]:
        """The bytes [start, end) of the object (`end` None and `start` 0: all of it, asked for without a
        Range, as a plain client does), in chunks, from exactly the version `etag` names. The request is
        made before this returns, so a failure comes before any byte is promised: `ObjectChanged` when
        the object is another version or gone, `Unavailable` when the bucket cannot be reached."""
        options: GetOptions = {}
        if start or end is not None:
            options["range"] = (start, end) if end is not None else {"offset": start}
        if etag:
            options["if_match"] = etag
        try:
            result = await obstore.get_async(self.reader, key, options=options)
        except (PreconditionError, FileNotFoundError) as exc:
            raise ObjectChanged(key) from exc
        except BaseError as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc
        return _chunks(result.stream(min_chunk_size=CHUNK))

    def fetch(self, key: str, dest: Path, etag: str | None = None) -> None:
        """Copy the object into the file `dest` (for a reader that needs a file: tags, cover art)."""
        options: GetOptions = {"if_match": etag} if etag else {}
        try:
            result = obstore.get(self.reader, key, options=options)
        except (PreconditionError, FileNotFoundError) as exc:
            raise ObjectChanged(key) from exc
        except BaseError as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc
        with open(dest, "wb") as out:  # a local error here is the caller's, not the bucket's
            try:
                for chunk in result.stream(min_chunk_size=CHUNK):
                    out.write(chunk)
            except BaseError as exc:  # the connection broke mid-way
                raise Unavailable("bucket", self.name, why(exc)) from exc

    async def head(self, key: str) -> ObjectStat:
        try:
            meta = await obstore.head_async(self.store, key)
        except FileNotFoundError as exc:
            raise NotFound("object", key) from exc
        except BaseError as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc
        return ObjectStat(meta["path"], meta["size"], meta["last_modified"].timestamp(), meta["e_tag"])

    async def presign(self, key: str, ttl: timedelta | None = None, public: bool = False) -> str:
        """A GET URL for the object that works without credentials for `ttl` (`s3_presign_ttl_s`), at the
        address players use when `public` (else the one MediaNest uses: ffmpeg's). `Unavailable` when it
        cannot be signed (credentials that could not be fetched)."""
        try:
            return await obstore.sign_async(self.public if public else self.store, "GET", key,
                                            ttl or self.presign_ttl)
        except BaseError as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc

    # --- writing -----------------------------------------------------------------------------------

    async def upload(self, src: Path, key: str) -> ObjectStat:
        """Put the file at `key` (replacing what is there) and return the object as stored. A big file
        goes in parts; an upload that fails or is killed leaves no object (S3 shows an object only once
        its last part is committed)."""
        try:
            await obstore.put_async(self.store, key, src, chunk_size=PART, max_concurrency=4)
        except BaseError as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc
        try:
            return await self.listed(key)
        except NotFound:  # a listing that lags behind the write (some S3-compatible servers): HEAD has it
            return await self.head(key)

    async def listed(self, key: str) -> ObjectStat:
        """The object as a listing shows it: a scan compares with listings, and some servers (MinIO) give
        a listing's times in milliseconds and HEAD's in whole seconds, which would look like a change."""
        folder = key.rpartition("/")[0]  # obstore lists by folder: the key itself as a prefix lists nothing
        try:
            async for chunk in obstore.list(self.store, folder or None, chunk_size=1000):
                for meta in chunk:
                    if meta["path"] == key:
                        return ObjectStat(key, meta["size"], meta["last_modified"].timestamp(), meta["e_tag"])
        except (BaseError, FileNotFoundError) as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc
        raise NotFound("object", key)

    async def delete(self, key: str) -> None:
        try:
            await obstore.delete_async(self.store, key)
        except FileNotFoundError:
            return  # gone already (S3 itself answers a delete of nothing with success)
        except BaseError as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc

    def exists_now(self, key: str) -> bool:
        """`exists`, blocking (for a worker thread)."""
        try:
            obstore.head(self.store, key)
        except FileNotFoundError:
            return False
        except BaseError as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc
        return True

    def put_now(self, src: Path, key: str) -> None:
        """Put a small file at `key`, blocking (for a worker thread)."""
        try:
            obstore.put(self.store, key, src)
        except (BaseError, FileNotFoundError) as exc:
            raise Unavailable("bucket", self.name, why(exc)) from exc

    async def exists(self, key: str) -> bool:
        try:
            await self.head(key)
        except NotFound:
            return False
        return True


def _store(settings: Settings, endpoint: str | None, timeout: timedelta) -> S3Store:
    """A client of the configured bucket at `endpoint` (None: AWS's own)."""
    config: dict[str, Any] = {"region": settings.s3_region, "virtual_hosted_style_request": False}
    if endpoint:
        config["endpoint"] = endpoint
    if settings.s3_access_key_id:
        config["access_key_id"] = settings.s3_access_key_id
    if settings.s3_secret_access_key:
        config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    retry: RetryConfig = {"max_retries": RETRIES, "retry_timeout": RETRY_WITHIN}
    return S3Store(settings.s3_bucket, config=config, retry_config=retry,  # type: ignore[arg-type]
                   client_options={"allow_http": bool(endpoint and endpoint.startswith("http://")),
                                   "timeout": timeout, "connect_timeout": CONNECT_TIMEOUT})


def why(exc: BaseException) -> str:
    """A sentence for a user about a failed bucket call, without credentials or signed URLs. (obstore
    raises the built-in FileNotFoundError for a missing object or bucket, its own errors for the rest.)"""
    if isinstance(exc, FileNotFoundError):
        return "the bucket does not exist"
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        return "the bucket refused the credentials"
    return "the bucket cannot be reached"


async def _chunks(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream:
        # obstore's `Bytes`, not copied into `bytes`: it has the buffer protocol, which granian and httpx
        # read from directly. The copy cost a fifth of a proxied stream's speed (bench/s3_bench.py).
        yield chunk


@contextlib.contextmanager
def scratch_copy(bucket: Bucket, key: str, scratch: Path, etag: str | None = None) -> Iterator[Path]:
    """A temporary local copy of the object, under its own name (readers look at the suffix, and a file
    without tags is titled by its name), removed afterwards."""
    folder = scratch / f"object-{secrets.token_hex(8)}"
    folder.mkdir(parents=True)
    dest = folder / os.path.basename(key)
    try:
        bucket.fetch(key, dest, etag)
        yield dest
    finally:
        dest.unlink(missing_ok=True)
        folder.rmdir()

"""`Bucket` (storage/objects.py) against moto's S3 server: what the rest of the code relies on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from medianest.config import Settings
from medianest.errors import NotFound, Unavailable
from medianest.library.buckets import SCRATCH_STALE_S, sweep_scratch
from medianest.storage.objects import Bucket, ObjectChanged, scratch_copy
from tests.storage.s3server import S3Server


def bucket_on(s3: S3Server, name: str, **extra: object) -> Bucket:
    return Bucket(Settings(**s3.settings(name), **extra))  # type: ignore[arg-type]


async def test_a_big_upload_goes_in_parts_and_reads_back_by_ranges_of_exactly_that_version(
        s3: S3Server, bucket: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * (40 * 1024 + 3)  # ~10 MiB: more than one part
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    b = bucket_on(s3, bucket)
    stored = await b.upload(src, "a/Ünïcödé 🎵 name.mp3")
    assert (stored.key, stored.size) == ("a/Ünïcödé 🎵 name.mp3", len(data)) and stored.etag
    assert s3.get(bucket, stored.key) == data and s3.uploads_in_progress(bucket) == 0
    chunks = [c async for c in await b.open(stored.key, 5, 3 * 1024 * 1024 + 7, stored.etag)]
    assert b"".join(chunks) == data[5:3 * 1024 * 1024 + 7] and len(chunks) >= 2  # streamed, not slurped
    s3.put(bucket, stored.key, b"rewritten")
    with pytest.raises(ObjectChanged):
        await b.open(stored.key, 0, 10, stored.etag)
    s3.delete(bucket, stored.key)
    with pytest.raises(ObjectChanged):
        await b.open(stored.key, 0, 10, None)
    await b.delete(stored.key)  # deleting what is gone is fine
    with pytest.raises(NotFound):
        await b.head(stored.key)


def test_a_listing_gives_size_time_and_etag_and_says_why_it_failed(s3: S3Server, bucket: str) -> None:
    s3.put(bucket, "music/x.mp3", b"123")
    s3.put(bucket, "other/y.mp3", b"4567")
    [obj] = list(bucket_on(s3, bucket).list("music/"))
    assert (obj.key, obj.size) == ("music/x.mp3", 3) and obj.etag and obj.mtime > 1.7e9
    with pytest.raises(Unavailable, match="cannot be reached"):
        list(bucket_on(s3, "no-such-bucket-here").list(""))
    dead = Bucket(Settings(s3_bucket=bucket, s3_endpoint_url="http://127.0.0.1:9", s3_access_key_id="k",
                           s3_secret_access_key="s"))
    with pytest.raises(Unavailable, match="cannot be reached"):
        list(dead.list(""))


def test_a_scratch_copy_has_the_object_s_name_and_is_removed(s3: S3Server, bucket: str, tmp_path: Path) -> None:
    s3.put(bucket, "m/Sång.flac", b"fLaC...")
    with scratch_copy(bucket_on(s3, bucket), "m/Sång.flac", tmp_path) as local:
        assert local.name == "Sång.flac" and local.read_bytes() == b"fLaC..."
    assert list(tmp_path.iterdir()) == []


async def test_a_presigned_url_needs_no_credentials(s3: S3Server, bucket: str) -> None:
    s3.put(bucket, "k/a b.mp3", b"0123456789")
    url = await bucket_on(s3, bucket, s3_presign_ttl_s=120).presign("k/a b.mp3")
    assert "X-Amz-Expires=120" in url
    async with httpx.AsyncClient() as plain:
        r = await plain.get(url, headers={"Range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"234"


def test_scratch_copies_a_killed_scan_left_are_swept_and_fresh_ones_kept(tmp_path: Path) -> None:
    old, fresh = tmp_path / "object-old", tmp_path / "object-fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "film.mkv").write_bytes(b"partial copy")
    os.utime(old, (time.time() - SCRATCH_STALE_S - 60,) * 2)
    (tmp_path / "other").mkdir()
    sweep_scratch(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["object-fresh", "other"]
    sweep_scratch(tmp_path / "missing")  # nothing to sweep yet


async def test_an_upload_whose_listing_lags_behind_is_stated_by_head(
        s3: S3Server, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def not_listed_yet(self: Bucket, key: str) -> None:
        raise NotFound("object", key)

    monkeypatch.setattr(Bucket, "listed", not_listed_yet)
    src = tmp_path / "a.mp3"
    src.write_bytes(b"12345")
    stored = await bucket_on(s3, bucket).upload(src, "d/a.mp3")
    assert (stored.key, stored.size) == ("d/a.mp3", 5) and stored.etag

"""Sized cover art on real images (Pillow- and ffmpeg-made): dimensions, formats, buckets, the cache, names
that are not ours, broken files, decompression bombs and two threads sizing one cover."""

from __future__ import annotations

import errno
import io
import struct
import threading
import zlib
from pathlib import Path

import pytest
import structlog
from PIL import Image

from medianest.library import artwork, covers
from medianest.library.demo import make_cover


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def photo(width: int, height: int) -> Image.Image:
    """An opaque picture with detail (a gradient per channel), so JPEG has something to encode."""
    x = Image.linear_gradient("L").resize((width, height))
    y = Image.linear_gradient("L").rotate(90).resize((width, height))
    return Image.merge("RGB", (x, y, Image.new("L", (width, height), 90)))


def with_hole(width: int, height: int) -> Image.Image:
    """RGBA with a fully transparent left half."""
    img = photo(width, height).convert("RGBA")
    img.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    return img


def store(cache: Path, img: Image.Image, fmt: str = "JPEG", **options: object) -> str:
    return artwork.store(cache, encode(img, fmt, **options))


def opened(path: Path) -> tuple[str | None, tuple[int, int]]:
    with Image.open(path) as img:
        img.load()
        return img.format, img.size


def sized_files(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "sized").rglob("*") if p.is_file()) if (cache / "sized").exists() else []


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` in a few dozen bytes: what a decompression bomb looks like to open."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return artwork.PNG + b"\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_jpeg_shrinks_to_its_bucket_keeping_aspect(tmp_path: Path) -> None:
    name = store(tmp_path, photo(1000, 500))
    out = covers.sized(tmp_path, name, 256)
    assert out == tmp_path / "sized" / "256" / name
    assert opened(out) == ("JPEG", (256, 128))
    assert covers.media_type(out) == "image/jpeg"


def test_png_with_transparency_stays_png_with_its_alpha(tmp_path: Path) -> None:
    name = store(tmp_path, with_hole(600, 600), "PNG")
    out = covers.sized(tmp_path, name, 300)
    assert out is not None and out.suffix == ".png" and covers.media_type(out) == "image/png"
    with Image.open(out) as img:
        assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (300, 300))
        assert img.getpixel((10, 150))[3] == 0 and img.getpixel((290, 150))[3] == 255


def test_png_whose_alpha_is_all_opaque_becomes_a_jpeg(tmp_path: Path) -> None:
    name = store(tmp_path, photo(600, 600).convert("RGBA"), "PNG")
    out = covers.sized(tmp_path, name, 128)
    assert out == tmp_path / "sized" / "128" / (name.removesuffix(".png") + ".jpg")
    assert opened(out) == ("JPEG", (128, 128))
    assert covers.media_type(out) == "image/jpeg"


def test_an_ffmpeg_made_cover_as_the_scanner_stores_it(tmp_path: Path) -> None:
    name = artwork.store(tmp_path / "art", make_cover(tmp_path / "cover.jpg", "teal").read_bytes())
    out = covers.sized(tmp_path / "art", name, 100)
    assert out is not None and opened(out) == ("JPEG", (128, 128))


def test_exif_rotation_is_applied_to_the_pixels(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    name = store(tmp_path, photo(400, 200), exif=exif.tobytes())
    out = covers.sized(tmp_path, name, 256)
    assert out is not None and opened(out) == ("JPEG", (128, 256))


def test_a_gif_named_jpg_is_typed_by_its_bytes_and_sized_to_png_with_its_transparency(tmp_path: Path) -> None:
    gif = with_hole(400, 400).convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    gif.info["transparency"] = gif.getpixel((0, 0))
    name = artwork.store(tmp_path, encode(gif, "GIF", transparency=gif.info["transparency"]))
    assert name.endswith(".jpg") and covers.media_type(tmp_path / name) == "image/gif"
    out = covers.sized(tmp_path, name, 64)
    assert out is not None and opened(out) == ("PNG", (64, 64))


@pytest.mark.parametrize(("asked", "bucket"), [
    (1, 32), (32, 32), (33, 64), (129, 256), (256, 256), (257, 300), (301, 512), (599, 600), (601, 1024),
    (2047, 2048), (2048, 2048), (2049, None), (999_999_999, None), (0, None), (-5, None)])
def test_requested_sizes_round_up_to_a_bucket(asked: int, bucket: int | None) -> None:
    assert covers.bucket(asked) == bucket


def test_every_size_in_a_bucket_shares_one_file(tmp_path: Path) -> None:
    name = store(tmp_path, photo(1200, 1200))
    outs = {covers.sized(tmp_path, name, asked) for asked in range(129, 257)}
    assert outs == {tmp_path / "sized" / "256" / name}
    assert sized_files(tmp_path) == [tmp_path / "sized" / "256" / name]


def test_a_size_below_the_floor_gets_the_smallest_bucket(tmp_path: Path) -> None:
    name = store(tmp_path, photo(500, 250))
    out = covers.sized(tmp_path, name, 1)
    assert out is not None and opened(out) == ("JPEG", (32, 16))


def test_a_largest_side_over_the_last_bucket_is_capped_at_it(tmp_path: Path) -> None:
    name = store(tmp_path, photo(3000, 1500))
    out = covers.sized(tmp_path, name, 1500)
    assert out is not None and opened(out) == ("JPEG", (2048, 1024))


@pytest.mark.parametrize("asked", [None, 0, -1, 2049, 999_999_999, 350, 400, 1000])
def test_the_original_when_no_smaller_copy_is_asked_for(tmp_path: Path, asked: int | None) -> None:
    # 400 px: 350 rounds up to 512, which would not be smaller; past 2048 is the original's turn.
    name = store(tmp_path, photo(400, 300))
    assert covers.sized(tmp_path, name, asked) == tmp_path / name
    assert sized_files(tmp_path) == []


def test_the_copy_is_made_once_and_reused(tmp_path: Path) -> None:
    name = store(tmp_path, photo(800, 800))
    first = covers.sized(tmp_path, name, 600)
    assert first is not None
    before = first.stat()
    again = covers.sized(tmp_path, name, 512 + 1)
    assert again == first
    after = again.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("name", ["", "../x.jpg", "a/b", "..\\x.jpg", ".hidden.jpg", "nope.jpg", "sized"])
def test_names_not_in_the_cache_are_none(tmp_path: Path, name: str) -> None:
    cache = tmp_path / "art"
    real = store(cache, photo(600, 600))
    assert covers.sized(cache, real, 64) is not None  # so "sized" exists as a directory
    (tmp_path / "x.jpg").write_bytes(encode(photo(600, 600), "JPEG"))  # what "../x.jpg" points at
    (cache / ".hidden.jpg").write_bytes(encode(photo(600, 600), "JPEG"))
    assert covers.sized(cache, name, 64) is None
    assert covers.sized(cache, name, None) is None


@pytest.mark.parametrize("data", [b"", b"\xff\xd8 not really a jpeg" * 10, b"GIF89a" + b"\x00" * 5],
                         ids=["zero-byte", "garbage", "header-only-gif"])
def test_unreadable_files_are_served_as_they_are_with_a_warning(tmp_path: Path, data: bytes) -> None:
    name = artwork.store(tmp_path, data)
    with structlog.testing.capture_logs() as logs:
        assert covers.sized(tmp_path, name, 64) == tmp_path / name
    assert [entry["log_level"] for entry in logs] == ["warning"]
    assert logs[0]["path"] == str(tmp_path / name) and logs[0]["size"] == 64
    assert sized_files(tmp_path) == []


def test_a_truncated_jpeg_is_served_as_it_is(tmp_path: Path) -> None:
    whole = encode(photo(1000, 1000), "JPEG")
    name = artwork.store(tmp_path, whole[: len(whole) // 2])
    with structlog.testing.capture_logs() as logs:
        assert covers.sized(tmp_path, name, 128) == tmp_path / name
    assert "truncated" in logs[0]["error"]
    assert sized_files(tmp_path) == []


@pytest.mark.parametrize(("side", "why"), [(9000, "is over"), (30000, "decompression bomb")],
                         ids=["over-our-limit", "over-pillows-limit"])
def test_decompression_bombs_are_not_decoded(tmp_path: Path, side: int, why: str) -> None:
    name = artwork.store(tmp_path, png_header(side, side))
    with structlog.testing.capture_logs() as logs:
        assert covers.sized(tmp_path, name, 256) == tmp_path / name
    assert "DecompressionBombError" in logs[0]["error"] and why in logs[0]["error"]


def test_a_copy_that_cannot_be_put_in_place_leaves_the_original_and_no_temp_file(tmp_path: Path) -> None:
    name = store(tmp_path, photo(600, 600))
    blocker = tmp_path / "sized" / "64" / name
    (blocker / "inside").mkdir(parents=True)  # a non-empty directory where the copy belongs: os.replace fails
    with structlog.testing.capture_logs() as logs:
        assert covers.sized(tmp_path, name, 64) == tmp_path / name
    assert logs[0]["log_level"] == "warning"
    assert sorted(p.name for p in blocker.parent.iterdir()) == [name]


def test_a_disk_full_midway_leaves_no_half_copy_to_serve_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = store(tmp_path, photo(600, 600))
    real_save = Image.Image.save

    def half_then_full(img: Image.Image, fh: io.BufferedWriter, *args: object, **kwargs: object) -> None:
        fh.write(encode(img, "JPEG")[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    assert covers.sized(tmp_path, name, 64) == tmp_path / name
    assert sized_files(tmp_path) == []
    monkeypatch.setattr(Image.Image, "save", real_save)
    out = covers.sized(tmp_path, name, 64)
    assert out is not None and opened(out) == ("JPEG", (64, 64))


def test_threads_sizing_one_cover_at_once_get_one_whole_file(tmp_path: Path) -> None:
    name = store(tmp_path, photo(1600, 1600))
    dest = tmp_path / "sized" / "1024" / name
    start, done = threading.Barrier(4), threading.Event()
    results: list[Path | None] = []
    seen: list[tuple[str | None, tuple[int, int]]] = []

    def size_it() -> None:
        start.wait()
        results.append(covers.sized(tmp_path, name, 1024))

    def watch() -> None:  # whenever the copy is there, it is whole
        while not done.is_set():
            if dest.exists():
                try:
                    seen.append(opened(dest))
                except OSError:  # a half-written file: what the rename is there to prevent
                    seen.append((None, (0, 0)))

    writers = [threading.Thread(target=size_it) for _ in range(4)]
    watcher = threading.Thread(target=watch)
    for thread in [watcher, *writers]:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    watcher.join()
    assert results == [dest] * 4
    assert sized_files(tmp_path) == [dest]  # no temp file left behind
    assert set(seen) <= {("JPEG", (1024, 1024))} and opened(dest) == ("JPEG", (1024, 1024))


def test_forget_removes_the_sized_copies_of_a_cover(tmp_path: Path) -> None:
    name = store(tmp_path, photo(800, 600))
    small, medium = covers.sized(tmp_path, name, 64), covers.sized(tmp_path, name, 300)
    assert small is not None and medium is not None and small.exists() and medium.exists()
    covers.forget(tmp_path, name)
    assert not small.exists() and not medium.exists()
    assert (tmp_path / name).exists()  # the original is the caller's to remove

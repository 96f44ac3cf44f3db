"""Cover art at the sizes apps ask for: resized copies of the artwork cache's images, made once and kept.

A copy lives at `<artwork dir>/sized/<bucket>/<stem>.jpg|.png`. Originals are named by content hash, so a
copy can never go stale: new art is a new name.
"""

from __future__ import annotations

import bisect
import os
import tempfile
from pathlib import Path

import structlog
from PIL import Image, ImageOps

from medianest.library.artwork import PNG, path_of

log = structlog.get_logger(__name__)

# Requested sizes round up to one of these, so a client (or a crawler) asking for every size from 1 to 5000
# makes at most len(BUCKETS) copies of a cover, not thousands; rounding up, not to the nearest, means no one
# gets a blurrier image than asked for. 300 and 600 sit between the powers of two because grid and detail
# views often ask for about that much, and rounding 300 up to 512 would send ~3x the pixels.
# Past 2048 (a TV's full-screen art) the original is the next size up: never a file that large of ours, so
# `size=999999999` costs nothing. 32 is the floor: nothing shows art smaller.
BUCKETS = (32, 64, 128, 256, 300, 512, 600, 1024, 2048)
# A 600-dpi scan of an LP sleeve (~7200 px square) still sizes; past this it is not cover art, and decoding
# it would take over 256 MB. Below Pillow's own bomb limit (MAX_IMAGE_PIXELS, ~89M), which we leave alone:
# it is process-wide, as `warnings.catch_warnings` is (not thread-safe), so neither is touched here.
MAX_PIXELS = 8192 * 8192
# Only the formats cover art comes in: fewer of Pillow's parsers face files from the internet.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
# Quality 85: indistinguishable from the original at these sizes, a fraction of the bytes. `optimize` (better
# Huffman tables) is a few % smaller for little time. PNG keeps Pillow's default: `optimize` saved ~2% on a
# 2048 px test image, not worth a second knob.
JPEG_OPTIONS = {"quality": 85, "optimize": True}


def sized(cache: Path, name: str, size: int | None) -> Path | None:
    """The cover `name` with its longest side at the bucket `size` rounds up to; None for names not in `cache`.

    The original when no bucket applies (`bucket`), when the bucket is not smaller than the image, and when the
    image cannot be read or written (logged: the client still gets bytes). Blocking (run it in a worker
    thread); safe for two threads sizing the same cover at once: each writes its own temp file and renames it
    into place, so a reader sees one whole file or none.
    """
    original = path_of(cache, name)
    side = bucket(size) if size is not None else None
    if original is None or side is None:
        return original
    folder = cache / "sized" / str(side)
    return _cached(folder, original.stem) or _make(original, folder, side)


def bucket(size: int) -> int | None:
    """The bucket `size` rounds up to; None (the original) for 0 and below, as Navidrome reads 0, or past the last."""
    if size <= 0 or size > BUCKETS[-1]:
        return None
    return BUCKETS[bisect.bisect_left(BUCKETS, size)]


def media_type(path: Path) -> str:
    """The image's MIME type from its first bytes: the cache names anything not PNG `.jpg` (a GIF or WebP too)."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if head.startswith(PNG):
        return "image/png"
    if head.startswith(b"GIF8"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def forget(cache: Path, name: str) -> None:
    """Remove the sized copies of a cover whose original is being removed."""
    stem = Path(name).stem
    for side in BUCKETS:
        for ext in (".jpg", ".png"):
            (cache / "sized" / str(side) / (stem + ext)).unlink(missing_ok=True)


def _cached(folder: Path, stem: str) -> Path | None:
    # One of the two exists at most: an original always sizes to the same format.
    for ext in (".jpg", ".png"):
        path = folder / (stem + ext)
        if path.is_file():
            return path
    return None


def _make(original: Path, folder: Path, side: int) -> Path:
    # No copy when the original is no bigger: the header is read on every such call (cheap, no pixels decoded).
    try:
        with Image.open(original, formats=FORMATS) as img:
            if max(img.size) <= side:
                return original
            if img.width * img.height > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{img.width}x{img.height} is over {MAX_PIXELS} pixels")
            small = _shrink(img, side)
        return _write(small, folder, original.stem)
    # Pillow's decoders raise many types for bad bytes (OSError, SyntaxError, EOFError, struct.error,
    # zlib.error, ValueError, DecompressionBombError), and a full disk is an OSError: none of them should cost
    # the client its cover, so each is logged and the original served.
    except Exception as exc:
        log.warning("cover art not resized: the original is served", path=str(original), size=side, error=repr(exc))
        return original


def _shrink(img: Image.Image, side: int) -> Image.Image:
    # JPEG decodes straight at 1/2..1/8 scale (less memory and time); at 2x the target, as `thumbnail` drafts,
    # so Lanczos still has the detail to work from.
    img.draft(None, (side * 2, side * 2))
    # The copy keeps no EXIF, so a camera's "rotate 90°" must be applied to the pixels.
    img = ImageOps.exif_transpose(img).convert("RGBA" if img.has_transparency_data else "RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    # Many tools write PNGs with an alpha channel that is all opaque: those become JPEGs, several times smaller.
    opaque = img.mode == "RGBA" and img.getchannel("A").getextrema()[0] == 255
    return img.convert("RGB") if opaque else img


def _write(img: Image.Image, folder: Path, stem: str) -> Path:
    # Temp file + os.replace, as artwork.store: readers and a racing writer of the same copy see one whole
    # file (the last rename wins, and both wrote the same pixels).
    fmt, ext, options = ("PNG", ".png", {}) if img.mode == "RGBA" else ("JPEG", ".jpg", JPEG_OPTIONS)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            img.save(fh, fmt, **options)
        dest = folder / (stem + ext)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise
    return dest

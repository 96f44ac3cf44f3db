"""File names for downloads that are safe on any file system, and the library path template.

Titles come from the internet: they can hold `/` and `..`, Windows device names, control characters,
bidi overrides and a thousand emoji. Every name made here is a single NFC component of at most 255 bytes
of UTF-8 (the common file-system limit), with no character any of ext4, APFS, NTFS, exFAT or SMB refuses,
never `.` or `..`, never a hidden dot-file, never a Windows device name, and never empty.
"""

from __future__ import annotations

import itertools
import os
import unicodedata
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from string import Formatter

DEFAULT_TEMPLATE = "Downloads/{channel}/{title} [{id}].{ext}"
FIELDS = ("channel", "title", "id", "site", "uploader", "upload_date", "playlist", "ext")
# What a placeholder becomes when the extractor gave nothing (or nothing usable, such as "...").
DEFAULTS = {
    "channel": "Unknown channel",
    "title": "Unknown title",
    "id": "unknown",
    "site": "unknown",
    "uploader": "Unknown uploader",
    "upload_date": "unknown date",
    "playlist": "Unknown playlist",
    "ext": "bin",
}
MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux and macOS; NTFS counts UTF-16 units, which is never more
# 8 components of 255 bytes keep a rendered path near 2 KiB, well under PATH_MAX (4096) with the root.
MAX_DEPTH = 8
MAX_EXT_BYTES = 16
# Each placeholder value on its own; `_render_part` shortens further when a component holds several.
MAX_VALUE_BYTES = 180

# Windows refuses these (`/` and NUL everywhere): readable stand-ins for the common ones, `_` otherwise.
_REPLACE = str.maketrans({":": " -", '"': "'", "/": "-", "\\": "-", "|": "-", "*": "_", "?": "_", "<": "_", ">": "_"})
# Bidi embeddings, overrides and isolates spoof names ("invoice\u202efdp.exe" shows as "invoiceexe.pdf");
# the BOM is invisible. Plain RTL text and the LRM/RLM marks are left alone.
_INVISIBLE = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
# Device names (case-insensitive, with or without an extension) that open a device instead of a file.
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {f"{dev}{n}" for dev in ("COM", "LPT") for n in "0123456789¹²³"}
)
_ZWJ = "\u200d"
_SKIN_TONES = range(0x1F3FB, 0x1F400)


def safe_component(text: str, max_bytes: int = 180) -> str:
    """`text` as one file-name component of at most `max_bytes` of UTF-8, safe on every file system
    (see the module doc); `_` when nothing usable is left."""
    if max_bytes < 1:
        raise ValueError("max_bytes must be at least 1")
    return _clean(text, max_bytes) or "_"


def validate_template(template: str) -> None:
    """Raise `ValueError` unless `template` renders to a safe relative path (for startup config checks)."""
    _template_parts(template)


def render_template(template: str, fields: Mapping[str, str | None], ext: str) -> PurePosixPath:
    """The relative library path for one download. Each placeholder value is made safe (missing ones
    become `DEFAULTS`); each component is cut to 255 bytes by shortening its longest value, the id last
    and the extension never (so `{title} [{id}].{ext}` loses title). `ValueError` for a bad template."""
    values = {name: _value(name, fields.get(name)) for name in FIELDS}
    values["ext"] = _clean(ext.lstrip("."), MAX_EXT_BYTES) or DEFAULTS["ext"]
    return PurePosixPath(*(_render_part(part, values) for part in _template_parts(template)))


def unique_path(dest: Path) -> Path:
    """`dest` when nothing is there, else the first free `stem (n).suffix` beside it (n = 2, 3, ...), still
    within 255 bytes. Only a name is chosen: create the file with mode "x" and retry on FileExistsError."""
    if not os.path.lexists(dest):  # lexists: a dangling symlink is taken too
        return dest
    candidates = (dest.with_name(numbered(dest.name, n)) for n in itertools.count(2))
    return next(path for path in candidates if not os.path.lexists(path))


def _clean(text: str, max_bytes: int) -> str:
    """The work of safe_component, returning "" when nothing usable is left."""
    text = "".join(ch for ch in text.translate(_REPLACE) if _visible(ch))
    # NFC after the removals, which can bring a base and its mark together; no NFC mapping yields `_REPLACE` keys.
    text = " ".join(unicodedata.normalize("NFC", text).split())
    name = _fit(text, max_bytes)
    if name and _is_reserved(name):
        name = _fit("_" + name, max_bytes)
    return name


def _visible(ch: str) -> bool:
    # Cc: C0/C1 controls, NUL and DEL; Cs: lone surrogates, which cannot be encoded as UTF-8 at all.
    return ch not in _INVISIBLE and (ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cs"))


def _fit(text: str, max_bytes: int) -> str:
    """Cut to `max_bytes`, then drop the leading and trailing dots and spaces Windows and `ls` dislike."""
    return _truncate(text.strip(" ."), max_bytes).strip(" .")


def _truncate(text: str, max_bytes: int) -> str:
    """The longest prefix within `max_bytes` of UTF-8 that splits no character, combining sequence or
    emoji ZWJ/skin-tone sequence. (Full grapheme rules, UAX #29, are not in the stdlib: a flag may split.)"""
    hard = end = len(text.encode()[:max_bytes].decode("utf-8", "ignore"))
    while 0 < end < len(text) and (_continues(text[end]) or text[end - 1] == _ZWJ):
        end -= 1
    # One sequence longer than max_bytes (Zalgo text, a long ZWJ chain): cut inside it rather than lose it.
    return text[: end or hard].rstrip(_ZWJ)


def _continues(ch: str) -> bool:
    """True for a character that belongs to the one before it (marks, variation selectors, joiners)."""
    return unicodedata.category(ch).startswith("M") or ch == _ZWJ or ord(ch) in _SKIN_TONES


def _is_reserved(name: str) -> bool:
    return name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED


def _value(name: str, raw: str | None) -> str:
    return (_clean(raw, MAX_VALUE_BYTES) if raw else "") or DEFAULTS[name]


def _template_parts(template: str) -> list[str]:
    """The template's `/`-separated components, each checked; `ValueError` says what is wrong."""
    if template.startswith("/") or "\\" in template:
        raise ValueError("the download template must be a relative path with `/` separators")
    if not template.endswith(".{ext}"):
        raise ValueError("the download template must end with `.{ext}`")
    parts = template.split("/")
    if len(parts) > MAX_DEPTH:
        raise ValueError(f"the download template may have at most {MAX_DEPTH} components")
    for part in parts:
        _check_part(part)
    return parts


def _check_part(part: str) -> None:
    if part in ("", ".", ".."):
        raise ValueError(f"the download template has an empty, `.` or `..` component: {part!r}")
    for _, field, spec, conversion in Formatter().parse(part):
        if field is not None and (field not in FIELDS or spec or conversion):
            raise ValueError(f"unknown placeholder {{{field}}}; use plain {{name}} with one of {', '.join(FIELDS)}")
    sample = part.format_map(dict.fromkeys(FIELDS, "x"))
    if _clean(sample, MAX_COMPONENT_BYTES) != sample:
        raise ValueError(f"the download template component {part!r} is not a safe file name")


def _render_part(part: str, values: dict[str, str]) -> str:
    """One component, its values shortened until it fits in MAX_COMPONENT_BYTES."""
    while True:
        # Cleaned again as a whole: joined values can make a new device name ("co" + "n").
        rendered = part.format_map(values)
        text = _clean(rendered, len(rendered.encode()) + 1)
        excess = len(text.encode()) - MAX_COMPONENT_BYTES
        if excess <= 0:
            return text
        values = _shorten(part, values, excess)


def _shorten(part: str, values: dict[str, str], excess: int) -> dict[str, str]:
    """`values` with the longest value in `part` cut by `excess` bytes; the id goes last, `ext` never."""
    fields = {field for _, field, _, _ in Formatter().parse(part) if field}
    sizes = {field: len(values[field].encode()) for field in fields - {"ext"} if len(values[field].encode()) > 1}
    if not sizes:
        raise ValueError(f"the download template component {part!r} cannot fit in {MAX_COMPONENT_BYTES} bytes")
    field = max(sizes, key=lambda f: (f != "id", sizes[f]))
    return {**values, field: _clean(values[field], max(1, sizes[field] - excess)) or "_"}


def numbered(name: str, n: int) -> str:
    path = PurePosixPath(name)
    tag = f" ({n}){path.suffix}"
    return (_fit(path.stem, max(1, MAX_COMPONENT_BYTES - len(tag.encode()))) or "_") + tag

"""Cleaning text that comes from outside (file tags, remote pages, other services) before it is stored.

PostgreSQL refuses NUL in text (a 500 on one database and junk stored on the other), control characters
break one-line formats (an M3U `#EXTINF` line, a log line, a header), lone surrogates cannot be encoded
as UTF-8 at all, and bidi overrides (U+202E) make a name read differently from what it is ("exe.mp3"
shown as "3pm.exe"). Both functions are one `str.translate` call: cheap enough for every tag of a scan.
"""

from __future__ import annotations

import unicodedata

# Explicit bidi embeddings, overrides and isolates. The plain marks (LRM U+200E, RLM U+200F) stay:
# right-to-left titles use them legitimately and they cannot reorder text by themselves.
BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_SURROGATES = range(0xD800, 0xE000)
_WHITESPACE_CONTROLS = {ord("\t"), ord("\n"), ord("\r"), 0x0B, 0x0C, 0x85}

# One line: whitespace controls become a space, every other control, surrogate and bidi control goes.
_LINE = {c: None for c in (*_CONTROLS, *_SURROGATES, *BIDI_CONTROLS)} | dict.fromkeys(_WHITESPACE_CONTROLS, " ")
_LINE |= {0x2028: " ", 0x2029: " "}  # the Unicode line and paragraph separators
# Several lines (descriptions): tabs and newlines stay, carriage returns go.
_MULTILINE = {c: None for c in (*_CONTROLS, *_SURROGATES, *BIDI_CONTROLS) if c not in (0x09, 0x0A)}


def clean_line(text: str) -> str:
    """`text` as one clean line: no controls, surrogates or bidi overrides; surrounding space stripped."""
    return text.translate(_LINE).strip()


def clean_text(text: str) -> str:
    """`text` with its lines kept (tabs and newlines) but every other control character removed."""
    return text.translate(_MULTILINE).strip()


def clean_optional(text: object, max_length: int | None = None) -> str | None:
    """`clean_line` for an optional field (a value from JSON is taken as its text), cut to `max_length`
    characters; None, or an empty result, is None."""
    if text is None:
        return None
    cleaned = clean_line(str(text))
    if max_length is not None:
        cleaned = cleaned[:max_length].rstrip()
    return cleaned or None


def is_format_char(ch: str) -> bool:
    """Unicode format characters (category Cf: bidi marks, zero-width joiners...): invisible in a file
    name, so a `Content-Disposition` name drops them all."""
    return unicodedata.category(ch) == "Cf"

"""The Range header (RFC 9110 §14.1.2 and §14.2), parsed strictly.

Starlette's parser is lenient where the RFC is strict and strict where it is lenient: it reads `1_0`,
`+5` and ` 5 ` as numbers (Python's `int`), and answers 416 when any one range starts past the end
even if others are satisfiable. Here a header that is not exactly the ABNF is ignored (the whole file
is sent), unsatisfiable ranges are dropped, and 416 is left for when none overlaps the file.
"""

from __future__ import annotations

import re

# More ranges than this in one request is abuse (or a broken client): the whole file is cheaper.
MAX_RANGES = 100
# first-pos "-" [ last-pos ] | "-" suffix-length, ASCII digits only.
_SPEC = re.compile(r"([0-9]+)-([0-9]*)|-([0-9]+)")
# Positions this long are past the end of any file; capping them keeps `int` away from huge strings.
_MAX_DIGITS = 18
_BEYOND = 10**_MAX_DIGITS
# What players send nearly always (`bytes=123-` or `bytes=123-456`), read in one match.
_COMMON = re.compile(r"bytes=([0-9]{1,18})-([0-9]{0,18})")


class Unsatisfiable(Exception):
    """No requested range overlaps the file (a 416)."""


class _Ignored(Exception):
    """The header is malformed or asks for too much: it is ignored (§14.2)."""


def parse_range(header: str, size: int) -> list[tuple[int, int]]:
    """Sorted, coalesced `[start, end)` pairs; [] means ignore the header and send the whole file.

    Raises `Unsatisfiable` when the header is valid but no range overlaps a file of `size` bytes.
    """
    common = _COMMON.fullmatch(header)
    if common is not None:
        return _first_last(common.group(1), common.group(2), size)
    try:
        ranges = [rng for rng in (_one(part, size) for part in _parts(header)) if rng is not None]
    except _Ignored:
        return []
    if not ranges:
        raise Unsatisfiable
    return ranges if len(ranges) == 1 else _coalesce(sorted(ranges))


def _parts(header: str) -> list[str]:
    unit, eq, spec = header.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        raise _Ignored
    parts = [p.strip() for p in spec.split(",")]
    parts = [p for p in parts if p]  # the RFC's list syntax allows empty elements
    if not parts or len(parts) > MAX_RANGES:
        raise _Ignored
    return parts


def _one(part: str, size: int) -> tuple[int, int] | None:
    """One range clipped to the file, or None when it misses the file."""
    match = _SPEC.fullmatch(part)
    if match is None:
        raise _Ignored
    first, last, suffix = match.groups()
    if suffix is not None:
        length = _number(suffix)
        return (max(size - length, 0), size) if length > 0 and size > 0 else None
    return _clip(first, last, size)


def _clip(first: str, last: str, size: int) -> tuple[int, int] | None:
    start = _number(first)
    end = _number(last) + 1 if last else size
    if last and end <= start:
        raise _Ignored  # last-pos < first-pos makes the whole header invalid (§14.1.2)
    return (start, min(end, size)) if start < size else None


def _first_last(first: str, last: str, size: int) -> list[tuple[int, int]]:
    """`parse_range` for a header of one `first-[last]` range."""
    try:
        rng = _clip(first, last, size)
    except _Ignored:
        return []
    if rng is None:
        raise Unsatisfiable
    return [rng]


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else _BEYOND


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping and touching ranges (§14.6 allows it) so no byte is sent twice."""
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged

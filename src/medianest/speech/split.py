"""A long text cut into pieces a provider takes in one call: at sentence ends where it can, at spaces
where a sentence is too long, and inside a word only when a word alone is (a URL, text without spaces).
Pieces keep the text's order and, joined with spaces, say all of it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

Measure = Callable[[str], int]
# A sentence ends at . ! ? … (and their full-width forms) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+|\s*\n\s*")


def by_bytes(text: str) -> int:
    """The UTF-8 length, as Google counts its 5,000-byte limit."""
    return len(text.encode())


def split(text: str, limit: int, measure: Measure = len) -> list[str]:
    """`text` in pieces of at most `limit` (by `measure`), each stripped and none empty."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pieces: list[str] = []
    current = ""
    for part in _parts(text, limit, measure):
        joined = f"{current} {part}" if current else part
        if measure(joined) <= limit:
            current = joined
        else:
            pieces.append(current)
            current = part
    if current:
        pieces.append(current)
    return pieces


def _parts(text: str, limit: int, measure: Measure) -> Iterator[str]:
    """The sentences, each cut further (at spaces, then anywhere) when it alone is over `limit`."""
    for sentence in _SENTENCE_END.split(text):
        sentence = " ".join(sentence.split())
        if not sentence:
            continue
        if measure(sentence) <= limit:
            yield sentence
            continue
        for word in sentence.split(" "):
            yield from _cut(word, limit, measure)


def _cut(word: str, limit: int, measure: Measure) -> Iterator[str]:
    """A word over `limit` in pieces that fit (never splitting a character)."""
    while measure(word) > limit:
        end = _longest_prefix(word, limit, measure)
        yield word[:end]
        word = word[end:]
    if word:
        yield word


def _longest_prefix(word: str, limit: int, measure: Measure) -> int:
    """The largest n with measure(word[:n]) <= limit (at least 1: a character over `limit` goes alone)."""
    low, high = 1, len(word)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(word[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return low

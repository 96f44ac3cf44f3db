"""Long texts cut into pieces a provider takes: at sentence ends, then spaces, then anywhere; by characters
for eSpeak and by UTF-8 bytes for Google's 5,000-byte limit; nothing lost, nothing reordered."""

from __future__ import annotations

import pytest

from medianest.speech.split import by_bytes, split


def _words(text: str) -> list[str]:
    return text.split()


def test_sentences_are_packed_whole_under_the_limit() -> None:
    text = "One two three. Four five! Six seven eight? Nine.\nTen eleven"
    pieces = split(text, 30)
    assert pieces == ["One two three. Four five!", "Six seven eight? Nine.", "Ten eleven"]
    assert all(len(p) <= 30 for p in pieces)


def test_a_long_sentence_is_cut_at_spaces_and_a_long_word_anywhere() -> None:
    text = "alpha beta gamma delta epsilon " + "x" * 25 + " omega"
    pieces = split(text, 12)
    assert all(len(p) <= 12 for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")  # every character, in order
    assert pieces[0] == "alpha beta"


def test_bytes_are_counted_for_google_and_characters_are_never_split() -> None:
    text = "Grüße aus Köln. " * 400 + "日本語の文章です。" * 300  # multi-byte letters, CJK without spaces
    pieces = split(text, 5000, by_bytes)
    assert len(pieces) > 2 and all(by_bytes(p) <= 5000 for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert split(text, 5000) != pieces  # by characters, fewer pieces


def test_blank_text_has_no_pieces_and_a_bad_limit_is_refused() -> None:
    assert split(" \n\t ", 100) == []
    with pytest.raises(ValueError):
        split("text", 0)


def test_whitespace_runs_collapse_without_losing_words() -> None:
    text = "A  line\twith   gaps.\n\n\nNext   paragraph here."
    assert _words(" ".join(split(text, 1000))) == _words(text)

"""The offline engine for real: eSpeak NG from the `espeakng-loader` wheel, in a child process, speaking two
languages (and a voice variant); the speech lasts longer for a longer text, and a probe finds an audio stream
that is not silence. A cancel or a timeout kills the child."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from medianest.downloads.spec import Failure
from medianest.speech import offline
from medianest.speech.offline import Offline
from tests.speech.probe import probe

TEXTS = {
    "en": ("Good morning.", "Good morning. The weather today is mild, with a light breeze from the west and a "
                            "chance of rain in the late afternoon."),
    "de": ("Guten Morgen.", "Guten Morgen. Das Wetter ist heute mild, mit einer leichten Brise aus dem Westen und "
                            "am späten Nachmittag vielleicht etwas Regen."),
    "fr": ("Bonjour.", "Bonjour. Le temps est doux aujourd'hui, avec une légère brise de l'ouest et un peu de "
                       "pluie en fin d'après-midi."),
}


@pytest.mark.parametrize("language", sorted(TEXTS))
async def test_each_language_is_real_speech_that_grows_with_the_text(tmp_path: Path, language: str) -> None:
    short, long = TEXTS[language]
    engine = Offline()
    await engine.synthesize(short, language, None, tmp_path / "short.wav")
    await engine.synthesize(long, language, None, tmp_path / "long.wav")
    a, b = probe(tmp_path / "short.wav"), probe(tmp_path / "long.wav")
    assert a.audio_streams == b.audio_streams == 1 and a.other_streams == b.other_streams == 0
    assert a.container == "wav" and a.loudest > 0.05 and b.loudest > 0.05  # sound, not silence
    assert 0.3 < a.duration_s < b.duration_s
    assert b.duration_s > 3 * a.duration_s  # about words, not a fixed length


async def test_a_voice_variant_and_a_regional_tag(tmp_path: Path) -> None:
    engine = Offline()
    await engine.synthesize("Hello there.", "en-US", None, tmp_path / "plain.wav")
    await engine.synthesize("Hello there.", "en-US", "f3", tmp_path / "f3.wav")
    await engine.synthesize("Guten Tag.", "de-DE", None, tmp_path / "de.wav")  # eSpeak has "de": found by lookup
    plain, female = (tmp_path / "plain.wav").read_bytes(), (tmp_path / "f3.wav").read_bytes()
    assert plain != female and probe(tmp_path / "f3.wav").loudest > 0.05
    assert probe(tmp_path / "de.wav").duration_s > 0.3


def test_the_catalogue_comes_from_the_voice_data() -> None:
    languages = offline.languages()
    assert {"en", "en-us", "de", "fr", "es", "ja"} <= set(languages) and len(languages) > 100
    assert languages["de"].name == "German"
    assert {"f3", "m1", "klatt"} <= set(offline.voices())
    assert offline.voices()["f3"].gender == "female"
    assert offline.find_language("EN_us") == "en-us" and offline.find_language("de-AT-x-private") == "de"
    assert offline.find_language("xx") is None and offline.find_language("") is None


async def test_an_unknown_language_or_voice_fails_for_good(tmp_path: Path) -> None:
    with pytest.raises(Failure) as language:
        await Offline().synthesize("Hello.", "tlh", None, tmp_path / "a.wav")
    with pytest.raises(Failure) as voice:
        await Offline().synthesize("Hello.", "en", "nobody", tmp_path / "b.wav")
    assert not language.value.transient and not voice.value.transient
    assert not list(tmp_path.iterdir())


def _children() -> list[int]:
    """Our eSpeak children still alive (their parent is this process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"medianest.speech.espeak" in cmdline and ppid == os.getpid():
            found.append(int(entry.name))
    return found


async def test_a_cancel_kills_the_child(tmp_path: Path) -> None:
    text = "This sentence is spoken many times over. " * 2500  # some seconds of work for eSpeak
    task = asyncio.create_task(Offline().synthesize(text, "en", None, tmp_path / "long.wav"))
    for _ in range(200):  # until the child runs (a deadline, not a timing assertion)
        if _children():
            break
        await asyncio.sleep(0.01)
    assert _children()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _children() == [] and not (tmp_path / "long.wav").exists()


async def test_a_child_that_takes_too_long_is_killed(tmp_path: Path) -> None:
    text = "This sentence is spoken many times over. " * 2500
    with pytest.raises(Failure) as failed:
        await Offline(timeout_s=0.05).synthesize(text, "en", None, tmp_path / "long.wav")
    assert failed.value.transient and "too long" in failed.value.reason
    assert _children() == [] and not (tmp_path / "long.wav").exists()

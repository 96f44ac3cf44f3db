"""The offline engine: eSpeak NG, whose library and voice data ship in the `espeakng-loader` wheel (no
system package, nothing fetched at run time), over 100 languages and a set of voice variants.

Each piece of text is spoken by a child process (`espeak.py`): a crash or a hang in the C library costs
that process only, and a cancel or a timeout kills it. The languages and voices are read from the voice
data's own files, so listing them loads no C code into the server.
"""

from __future__ import annotations

import asyncio
import json
import sys
from functools import cache
from pathlib import Path

from medianest.downloads.spec import Failure
from medianest.speech.children import finish
from medianest.speech.providers import Language, ProviderName, Voice

# eSpeak takes any length, but a piece is what progress is reported by and what a retry repeats.
PIECE_CHARS = 2000
# Far more than eSpeak needs for a piece (about 0.1 s): only a hung child waits this long.
PIECE_TIMEOUT_S = 120.0


def data_dir() -> Path:
    import espeakng_loader  # imported here: its import looks for the data

    return Path(espeakng_loader.get_data_path())


def library() -> str:
    import espeakng_loader

    return str(espeakng_loader.get_library_path())


def _fields(path: Path) -> list[tuple[str, str]]:
    """(keyword, rest) of each line of an eSpeak voice file."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [(parts[0], parts[1].strip() if len(parts) > 1 else "")
            for parts in (line.split("//")[0].strip().split(None, 1) for line in lines) if parts]


@cache
def _catalogue() -> dict[str, tuple[int, str, Language]]:
    """Every language code the voice data names (`lang/<family>/<file>`: `language <code> [priority]`
    lines), lower-case, to (priority, the voice file that speaks it best, the language)."""
    found: dict[str, tuple[int, str, Language]] = {}
    root = data_dir() / "lang"
    for path in sorted(root.rglob("*")):
        fields = _fields(path) if path.is_file() else []
        name = next((value for key, value in fields if key == "name"), path.name)
        for key, value in fields:
            words = value.split()
            if key != "language" or not words:
                continue
            priority = int(words[1]) if len(words) > 1 and words[1].isdigit() else 5  # eSpeak's default
            code = words[0].lower()
            if code not in found or priority < found[code][0]:
                found[code] = (priority, path.relative_to(root).as_posix(), Language(code, name))
    return found


def languages() -> dict[str, Language]:
    return {code: language for code, (_, _, language) in _catalogue().items()}


def voice_file(code: str) -> str:
    """The voice file (`roa/fr`) to ask eSpeak for a language code it lists: eSpeak finds a voice by its
    file, while some codes ("fr-fr") name no file."""
    return _catalogue()[code][1]


@cache
def voices() -> dict[str, Voice]:
    """The voice variants (`voices/!v/<file>`), which any language can be spoken with."""
    found: dict[str, Voice] = {}
    for path in sorted((data_dir() / "voices" / "!v").glob("*")):
        fields = dict(_fields(path)) if path.is_file() else {}
        gender = fields.get("gender", "").split()[0] if fields.get("gender") else None
        found[path.name] = Voice(path.name, fields.get("name") or path.name, gender, ())
    return found


def find_language(code: str) -> str | None:
    """The eSpeak language for a BCP-47 tag (case and `_` forgiven): the tag, else shorter and shorter
    prefixes of it ("de-DE" -> "de"), as RFC 4647 lookup does; None when none is known."""
    tag = code.strip().lower().replace("_", "-")
    known = languages()
    while tag:
        if tag in known:
            return tag
        tag = tag.rpartition("-")[0]
    return None


class Offline:
    name: ProviderName = "offline"
    limit = PIECE_CHARS
    suffix = "wav"

    def __init__(self, timeout_s: float = PIECE_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s

    def measure(self, text: str) -> int:
        return len(text)

    async def synthesize(self, text: str, language: str, voice: str | None, dest: Path) -> None:
        spoken = find_language(language)
        if spoken is None:
            raise Failure(f"eSpeak NG does not speak {language!r}", transient=False)
        if voice is not None and voice not in voices():
            raise Failure(f"eSpeak NG has no voice {voice!r}", transient=False)
        speaker = voice_file(spoken)
        job = {"text": text, "voice": f"{speaker}+{voice}" if voice else speaker, "out": str(dest),
               "library": library(), "data": str(data_dir())}
        await self._run(json.dumps(job).encode())

    async def _run(self, job: bytes) -> None:
        """The child, fed `job`, waited for at most `timeout_s`, and killed whatever ends the wait (a
        timeout, a cancel)."""
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "medianest.speech.espeak", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        err = await finish(child, job, self.timeout_s, "eSpeak NG took too long to speak a piece of the text")
        if child.returncode != 0:
            reason = err.decode(errors="replace").strip() or f"the eSpeak NG process died ({child.returncode})"
            raise Failure(reason[:500], transient=(child.returncode or 0) < 0)  # killed by a signal: maybe not again

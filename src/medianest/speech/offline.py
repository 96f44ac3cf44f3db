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
from contextlib import suppress
from functools import cache
from pathlib import Path

from medianest.downloads.spec import Failure
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
def languages() -> dict[str, Language]:
    """Every language code the voice data names (`lang/<family>/<file>`), lower-case, to its language."""
    found: dict[str, Language] = {}
    for path in sorted((data_dir() / "lang").rglob("*")):
        fields = _fields(path) if path.is_file() else []
        name = next((value for key, value in fields if key == "name"), path.name)
        for key, value in fields:
            if key == "language" and value:
                code = value.split()[0].lower()
                found.setdefault(code, Language(code, name))
    return found


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
    measure = staticmethod(len)

    def __init__(self, timeout_s: float = PIECE_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s

    async def synthesize(self, text: str, language: str, voice: str | None, dest: Path) -> None:
        spoken = find_language(language)
        if spoken is None:
            raise Failure(f"eSpeak NG does not speak {language!r}", transient=False)
        if voice is not None and voice not in voices():
            raise Failure(f"eSpeak NG has no voice {voice!r}", transient=False)
        job = {"text": text, "voice": f"{spoken}+{voice}" if voice else spoken, "out": str(dest),
               "library": library(), "data": str(data_dir())}
        await self._run(json.dumps(job).encode())

    async def _run(self, job: bytes) -> None:
        """The child, fed `job`, waited for at most `timeout_s`, and killed whatever ends the wait (a
        timeout, a cancel)."""
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "medianest.speech.espeak", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        try:
            _, err = await asyncio.wait_for(child.communicate(job), self.timeout_s)
        except TimeoutError:
            raise Failure("eSpeak NG took too long to speak a piece of the text", transient=True) from None
        finally:
            if child.returncode is None:
                with suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
        if child.returncode != 0:
            reason = err.decode(errors="replace").strip() or f"the eSpeak NG process died ({child.returncode})"
            raise Failure(reason[:500], transient=child.returncode < 0)  # killed by a signal: maybe not again

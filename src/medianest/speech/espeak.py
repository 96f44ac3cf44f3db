"""The eSpeak NG child: `python -m medianest.speech.espeak` speaks one text into a WAV file and exits.

It runs in a process of its own (offline.py starts one per piece of text): eSpeak NG is a C library
loaded with ctypes, and a crash or a hang inside it must cost that process only, never the worker,
which kills it on a cancel or a timeout. It reads one JSON object on stdin, `{text, voice, out, library,
data}`: the text, the eSpeak voice name (`en-us`, `de+f3`: a language and an optional variant), the WAV
file to write, and where `espeakng-loader` keeps the library and its voice data. It exits 0 with the file
written, or non-zero with one line on stderr saying why. Only the standard library is imported here.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import wave

# speak_lib.h: espeak_AUDIO_OUTPUT, espeak_POSITION_TYPE, the flags of espeak_Synth, espeak_ERROR.
AUDIO_OUTPUT_SYNCHRONOUS = 2  # samples handed to the callback; espeak_Synth returns when all are made
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
EE_OK = 0
# The samples eSpeak hands over: 16-bit signed mono at the rate espeak_Initialize returns.
SAMPLE_BYTES = 2
SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class SpeakError(Exception):
    """eSpeak refused the voice or the text."""


def speak(library: str, data: str, voice: str, text: str) -> tuple[int, bytes]:
    """(sample rate, 16-bit mono PCM) of `text` spoken by `voice`."""
    lib = ctypes.CDLL(library)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), 0)
    if rate <= 0:
        raise SpeakError(f"eSpeak NG could not start (voice data at {data})")
    if lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
        raise SpeakError(f"eSpeak NG has no voice {voice!r}")
    chunks: list[bytes] = []

    def collect(wav: ctypes.Array[ctypes.c_short] | None, count: int, events: object) -> int:
        if wav and count > 0:
            chunks.append(ctypes.string_at(wav, count * SAMPLE_BYTES))
        return 0  # go on

    callback = SynthCallback(collect)  # kept referenced until synthesis ends
    lib.espeak_SetSynthCallback(callback)
    encoded = text.encode()
    if lib.espeak_Synth(encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None) != EE_OK:
        raise SpeakError("eSpeak NG could not speak the text")
    return rate, b"".join(chunks)


def write_wav(path: str, rate: int, pcm: bytes) -> None:
    """The samples as a WAV file, written under another name and renamed: whoever sees `path` sees it whole."""
    partial = f"{path}.part"
    with wave.open(partial, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_BYTES)
        out.setframerate(rate)
        out.writeframes(pcm)
    os.replace(partial, path)


def main() -> int:
    try:
        job = json.loads(sys.stdin.buffer.read())
        rate, pcm = speak(job["library"], job["data"], job["voice"], job["text"])
        if not pcm:
            raise SpeakError("eSpeak NG made no sound of the text")
        write_wav(job["out"], rate, pcm)
    except (SpeakError, OSError, ValueError, KeyError) as exc:
        print(f"{exc}"[:500], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Safe file names and the library path template, against what the internet puts in titles."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath

import pytest

from medianest.filenames import (
    DEFAULT_TEMPLATE,
    MAX_COMPONENT_BYTES,
    render_template,
    safe_component,
    unique_path,
    validate_template,
)

FORBIDDEN = set('/\\:*?"<>|\x00')
RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{n}" for d in ("COM", "LPT") for n in "123456789"}
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, 25 bytes
NASTY = [
    "",
    " ",
    ".",
    "..",
    "...",
    ". .",
    "/",
    "//",
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    '/\\:*?"<>|',
    "\x00",
    "\x00\x01\x1f\x7f\x9f",
    "\t\n\r",
    "CON",
    "con.txt",
    "nul.tar.gz",
    "Lpt9 .mp4",
    "COM¹",
    "CONOUT$",
    " .hidden. ",
    "a" * 1000,
    "😀" * 1000,
    FAMILY * 100,
    "e\u0301" * 500,
    "q\u0307\u0323" * 300,
    "Z" + "\u0336\u0335\u0334" * 200,
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",  # Hebrew
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",  # Arabic
    "invoice\u202efdp.exe",
    "\udcff lone surrogate",
    "\u2028\u2029\u00a0\u3000",
    "🇫🇷" * 200,
    "👍🏽" * 200,
]


def assert_safe(name: str, max_bytes: int = 180) -> None:
    assert name, "never empty"
    assert name not in (".", "..")
    assert not FORBIDDEN & set(name)
    assert all(unicodedata.category(ch) not in ("Cc", "Cs") for ch in name)
    assert "\u202e" not in name
    assert name == name.strip(" ."), "no leading/trailing dots or spaces"
    assert name.split(".")[0].rstrip().upper() not in RESERVED
    assert len(name.encode("utf-8")) <= max_bytes
    assert unicodedata.is_normalized("NFC", name)
    assert "  " not in name


# --- safe_component ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", NASTY)
def test_nasty_input_gives_a_safe_name(text: str) -> None:
    name = safe_component(text)
    assert_safe(name)
    assert safe_component(name) == name, "idempotent"


@pytest.mark.parametrize("text", NASTY)
@pytest.mark.parametrize("max_bytes", [1, 2, 3, 4, 5, 7, 13, 31, 64, 255])
def test_every_size_limit_is_kept(text: str, max_bytes: int) -> None:
    assert_safe(safe_component(text, max_bytes), max_bytes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Never Gonna Give You Up", "Never Gonna Give You Up"),
        ("Artist: Song", "Artist - Song"),
        ("AC/DC - Back in Black", "AC-DC - Back in Black"),
        ('He said "hi"', "He said 'hi'"),
        ("What? Really*", "What_ Really_"),
        ("<b>bold</b>", "_b_bold_-b_"),
        ("a | b \\ c", "a - b - c"),
        ("  lots   of \t\n space  ", "lots of space"),
        ("null\x00byte\x07bell", "nullbytebell"),
        ("...and then.", "and then"),
        (".bashrc", "bashrc"),
        ("", "_"),
        ("....", "_"),
        ("///", "---"),
        ("/ . /", "- . -"),
        ("\u2028line\u2029para", "line para"),
    ],
)
def test_replacements(text: str, expected: str) -> None:
    assert safe_component(text) == expected


@pytest.mark.parametrize("text", [".", "..", "...", " . ", ". .", ".. ..", "\x00.\x00"])
def test_dots_never_become_dot_or_dot_dot(text: str) -> None:
    assert safe_component(text) == "_"


@pytest.mark.parametrize(
    "text",
    ["CON", "con", "Con", "PRN", "aux", "NUL", "COM1", "com9", "LPT1", "lpt9", "COM0", "COM¹", "LPT³", "CONIN$",
     "con.txt", "NUL.tar.gz", "com1.mp4", "CON .txt", "nul."],
)  # fmt: skip
def test_windows_device_names_are_avoided(text: str) -> None:
    name = safe_component(text)
    assert name.startswith("_")
    assert name[1:].lower() == text.lower().rstrip(".")


@pytest.mark.parametrize("text", ["CONSOLE", "COM10", "icon", "prn-report", "nullify.txt", "auxiliary", "LPT"])
def test_names_that_only_look_reserved_are_kept(text: str) -> None:
    assert safe_component(text) == text


def test_nfc_normalization() -> None:
    assert safe_component("Cafe\u0301") == "Café"
    assert safe_component("Cafe\u0301") == safe_component("Caf\u00e9")
    assert safe_component("\u212b") == "\u00c5"  # ANGSTROM SIGN -> A WITH RING
    assert safe_component("e\u202e\u0301") == "é"  # composed after the override is removed


def test_unicode_text_survives() -> None:
    for text in ["😀 Party 🎉", FAMILY, "\u05e9\u05dc\u05d5\u05dd", "日本語のタイトル", "Ünïcödé", "👍🏽", "🇫🇷"]:
        assert safe_component(text) == text


def test_bidi_overrides_are_removed_but_rtl_marks_kept() -> None:
    assert safe_component("invoice\u202efdp.exe") == "invoicefdp.exe"
    assert safe_component("a\u2066b\u2069c\ufeff") == "abc"
    assert safe_component("\u05d0\u200fb") == "\u05d0\u200fb"


def test_long_titles_are_cut_on_character_boundaries() -> None:
    assert safe_component("a" * 1000) == "a" * 180
    assert safe_component("😀" * 1000) == "😀" * 45  # 4 bytes each
    assert safe_component("é" * 1000, 181) == "é" * 90  # 2 bytes each: 181 is not reached
    assert safe_component("a" + "日" * 1000, 10) == "a日日日"


def test_truncation_keeps_combining_and_emoji_sequences_whole() -> None:
    q = unicodedata.normalize("NFC", "q\u0307\u0323")  # no precomposed form: 3 characters, 5 bytes
    assert safe_component(q * 100, 14) == q * 2
    assert safe_component(FAMILY * 10, 30) == FAMILY
    assert safe_component(FAMILY * 10, 24) == FAMILY[:5]  # one family does not fit: cut inside, no dangling ZWJ
    assert safe_component("👍🏽" * 10, 10) == "👍🏽"  # the skin tone stays with its thumb
    whole = safe_component("x\u0301\u0302" + FAMILY + "e\u0301" + "👍🏽" + "q\u0307\u0323")
    for size in range(5, 60):
        name = safe_component(whole, size)
        rest = whole[len(name) :]
        assert whole.startswith(name)
        assert not name.endswith("\u200d")
        assert not rest or not (unicodedata.category(rest[0]).startswith("M") or rest[0] in "\u200d\U0001f3fd")


def test_zalgo_text_is_cut_inside_a_character_rather_than_lost() -> None:
    name = safe_component("Z" + "\u0336" * 500)
    assert name.startswith("Z\u0336")
    assert len(name.encode()) <= 180


def test_max_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        safe_component("x", 0)


# --- render_template ---------------------------------------------------------------------------------

VIDEO = {"channel": "Rick Astley", "title": "Never Gonna Give You Up (Official Video)", "id": "dQw4w9WgXcQ"}


def assert_safe_path(path: PurePosixPath) -> None:
    assert not path.is_absolute()
    assert len(str(path).encode()) < 4096
    for part in path.parts:
        assert_safe(part, MAX_COMPONENT_BYTES)


def test_default_template() -> None:
    path = render_template(DEFAULT_TEMPLATE, VIDEO, "mp4")
    assert path == PurePosixPath("Downloads/Rick Astley/Never Gonna Give You Up (Official Video) [dQw4w9WgXcQ].mp4")


def test_every_placeholder() -> None:
    template = "{site}/{uploader}/{playlist}/{upload_date} {channel} - {title} [{id}].{ext}"
    fields = {**VIDEO, "site": "youtube", "uploader": "RickAstleyVEVO", "upload_date": "20091025", "playlist": "80s"}
    path = render_template(template, fields, ".webm")
    expected = (
        "youtube/RickAstleyVEVO/80s/20091025 Rick Astley - Never Gonna Give You Up (Official Video) [dQw4w9WgXcQ].webm"
    )
    assert path == PurePosixPath(expected)


@pytest.mark.parametrize("missing", [{}, dict.fromkeys(VIDEO), dict.fromkeys(VIDEO, ""), dict.fromkeys(VIDEO, " ... ")])
def test_missing_values_get_defaults(missing: dict[str, str | None]) -> None:
    path = render_template(DEFAULT_TEMPLATE, missing, "mp4")
    assert path == PurePosixPath("Downloads/Unknown channel/Unknown title [unknown].mp4")


def test_missing_extension_gets_a_default_and_fields_cannot_override_it() -> None:
    assert render_template("{title}.{ext}", {"title": "t", "ext": "exe"}, "") == PurePosixPath("t.bin")
    assert render_template("{title}.{ext}", {"title": "t"}, "../../x") == PurePosixPath("t.-..-x")


@pytest.mark.parametrize(
    "fields",
    [
        {"channel": "..", "title": "..", "id": ".."},
        {"channel": "../../..", "title": "../../etc/passwd", "id": "/"},
        {"channel": "/etc", "title": "\\..\\..\\boot.ini", "id": "C:"},
        {"channel": "CON", "title": "nul", "id": "aux"},
        {"channel": ".", "title": "./.", "id": "\x00"},
        {"channel": "a/b/c/d", "title": "x/y", "id": "1/2"},
    ],
)
def test_hostile_values_stay_inside_their_component(fields: dict[str, str]) -> None:
    path = render_template(DEFAULT_TEMPLATE, fields, "mp4")
    assert_safe_path(path)
    assert len(path.parts) == 3
    assert path.parts[0] == "Downloads"
    assert ".." not in path.parts
    assert path.suffix == ".mp4"


@pytest.mark.parametrize(
    "title", ["a" * 1000, "😀" * 1000, "é" * 1000, FAMILY * 100, "日本" * 500, "x" * 100 + "🇫🇷" * 300]
)
def test_long_titles_are_shortened_keeping_id_and_extension(title: str) -> None:
    path = render_template(DEFAULT_TEMPLATE, {**VIDEO, "title": title, "channel": title}, "mp4")
    assert_safe_path(path)
    assert path.name.endswith(" [dQw4w9WgXcQ].mp4")
    assert len(path.name.encode()) <= MAX_COMPONENT_BYTES
    assert len(path.parts[1].encode()) <= 180


def test_several_long_values_in_one_component_all_fit() -> None:
    long = "ü" * 500
    fields = {"channel": long, "playlist": long, "title": long, "id": "i" * 300}
    path = render_template("{channel} - {playlist} - {title} [{id}].{ext}", fields, "mp4")
    assert_safe_path(path)
    assert len(path.name.encode()) <= MAX_COMPONENT_BYTES
    assert path.name.endswith("].mp4")
    assert "[iiii" in path.name  # the id is the last value shortened


def test_joined_values_cannot_form_a_device_name() -> None:
    path = render_template("{playlist}{id}.{ext}", {"playlist": "co", "id": "n"}, "txt")
    assert path == PurePosixPath("_con.txt")


def test_deepest_template_stays_well_under_path_max() -> None:
    template = "/".join(["{title}"] * 7) + "/{title} [{id}].{ext}"
    path = render_template(template, {"title": "😀" * 1000, "id": "x" * 1000}, "mp4")
    assert_safe_path(path)
    assert len(path.parts) == 8
    assert len(str(path).encode()) < 2100


@pytest.mark.parametrize(
    "template",
    [
        "",
        "/abs/{title}.{ext}",
        "//server/share/{title}.{ext}",
        "../{title}.{ext}",
        "a/../{title}.{ext}",
        "a/./{title}.{ext}",
        "a//{title}.{ext}",
        "a/",
        "{title}",
        "{title}.mp4",
        "{title}.{ext}/",
        "{nope}.{ext}",
        "{}.{ext}",
        "{0}.{ext}",
        "{title!r}.{ext}",
        "{title:>999}.{ext}",
        "{title.__class__}.{ext}",
        "{title[0]}.{ext}",
        "{title.{ext}",
        "{title}}.{ext}",
        "C:\\media\\{title}.{ext}",
        "a\\b/{title}.{ext}",
        "C:/{title}.{ext}",
        ".{ext}",
        " {title}.{ext}",
        "{title} /{id}.{ext}",
        "{title}./{id}.{ext}",
        "con/{title}.{ext}",
        "a:b/{title}.{ext}",
        "a\x00/{title}.{ext}",
        "x" * 300 + "/{title}.{ext}",
        "/".join(["a"] * 8) + "/{title}.{ext}",
    ],
)
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(ValueError):
        validate_template(template)
    with pytest.raises(ValueError):
        render_template(template, VIDEO, "mp4")


@pytest.mark.parametrize(
    "template",
    [DEFAULT_TEMPLATE, "{title}.{ext}", "Music/{uploader}/{playlist}/{title}.{ext}", "{{braces}} {title}.{ext}",
     "Video [{site}]/{upload_date} - {title} ({id}).{ext}"],
)  # fmt: skip
def test_good_templates_are_accepted(template: str) -> None:
    validate_template(template)
    assert_safe_path(render_template(template, VIDEO, "mkv"))


# --- unique_path -------------------------------------------------------------------------------------


def test_unique_path_returns_a_free_destination_unchanged(tmp_path: Path) -> None:
    assert unique_path(tmp_path / "a.mp4") == tmp_path / "a.mp4"


def test_unique_path_counts_up(tmp_path: Path) -> None:
    dest = tmp_path / "Song [id].mp4"
    dest.touch()
    assert unique_path(dest) == tmp_path / "Song [id] (2).mp4"
    (tmp_path / "Song [id] (2).mp4").touch()
    (tmp_path / "Song [id] (3).mp4").mkdir()
    assert unique_path(dest) == tmp_path / "Song [id] (4).mp4"


def test_unique_path_without_extension_and_with_a_dangling_symlink(tmp_path: Path) -> None:
    dest = tmp_path / "README"
    os.symlink(tmp_path / "nowhere", dest)
    assert unique_path(dest) == tmp_path / "README (2)"


@pytest.mark.parametrize("stem", ["a" * 251, "😀" * 62 + "abc", "é" * 125 + "a"])
def test_unique_path_stays_within_255_bytes(tmp_path: Path, stem: str) -> None:
    dest = tmp_path / f"{stem}.mp4"
    assert len(dest.name.encode()) == MAX_COMPONENT_BYTES
    dest.touch()
    for n in range(2, 12):
        found = unique_path(dest)
        assert len(found.name.encode()) <= MAX_COMPONENT_BYTES
        assert found.name.endswith(f" ({n}).mp4")
        found.name.encode().decode("utf-8")
        found.touch()  # the file system accepts the name

"""Range requests against real media files: exact bytes, multipart/byteranges, 416s, malformed headers."""

from __future__ import annotations

import re

import httpx

from tests.streaming.conftest import Library

TITLE = "Bars Clip"  # the biggest fixture file (an mp4), so ranges land well inside it


def _content(library: Library, title: str = TITLE) -> bytes:
    return library.files[title].read_bytes()


def parse_byteranges(response: httpx.Response) -> list[tuple[str, tuple[int, int, int], bytes]]:
    """Strictly parse a multipart/byteranges body: (content type, (first, last, size), bytes) per part.

    Each part's length is taken from its Content-Range, so a part with the wrong number of bytes, a
    missing CRLF or a bad closing delimiter fails the parse.
    """
    match = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})",
                         response.headers["content-type"])
    assert match, response.headers["content-type"]
    delimiter = b"--" + match.group(1).encode()
    body, pos, parts = response.content, 0, []
    while body.startswith(delimiter + b"\r\n", pos):
        head_end = body.index(b"\r\n\r\n", pos)
        lines = body[pos + len(delimiter) + 2:head_end].decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines)
        content_range = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", fields["Content-Range"])
        assert content_range, fields
        first, last, size = map(int, content_range.groups())
        start = head_end + 4
        end = start + last - first + 1
        parts.append((fields["Content-Type"], (first, last, size), body[start:end]))
        assert body[end:end + 2] == b"\r\n", "a part must end with CRLF"
        pos = end + 2
    assert body[pos:] == delimiter + b"--", "the body must end with the closing delimiter"
    assert len(body) == int(response.headers["content-length"])
    return parts


async def test_single_range_returns_exact_bytes(library: Library) -> None:
    content = _content(library)
    for stream in (library.stream, library.stream_bearer):
        r = await stream(TITLE, {"Range": "bytes=100-1123"})
        assert r.status_code == 206
        assert r.content == content[100:1124]
        assert r.headers["content-range"] == f"bytes 100-1123/{len(content)}"
        assert r.headers["content-length"] == "1024"
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["content-type"] == "video/mp4"


SHAPES = [
    ("bytes=0-0", 0, 1),
    ("bytes=-500", -500, None),
    ("bytes=100-", 100, None),
    ("bytes=1000-999999999", 1000, None),  # end past EOF is clamped
    ("bytes=0-999999999999999999999999999999", 0, None),  # even absurdly far past it
    ("BYTES=10-19", 10, 20),  # range units are case-insensitive
    ("bytes=10-19,", 10, 20),  # empty list elements are allowed
    ("bytes=0-9,5-14", 0, 15),  # overlapping ranges are coalesced into one
    ("bytes=0-9,10-19", 0, 20),  # so are touching ones
    ("bytes=0-9,999999999-", 0, 10),  # an unsatisfiable range among satisfiable ones is dropped
]


async def test_single_range_shapes(library: Library) -> None:
    content = _content(library)
    for spec, start, end in SHAPES:
        expected = content[start:end]
        first = len(content) + start if start < 0 else start
        r = await library.stream(TITLE, {"Range": spec})
        assert r.status_code == 206, spec
        assert r.content == expected, spec
        assert r.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
        assert int(r.headers["content-length"]) == len(expected)


async def test_suffix_longer_than_file_is_whole_file_as_206(library: Library) -> None:
    content = _content(library)
    r = await library.stream(TITLE, {"Range": f"bytes=-{len(content) * 2}"})
    assert r.status_code == 206
    assert r.content == content
    assert r.headers["content-range"] == f"bytes 0-{len(content) - 1}/{len(content)}"


async def test_multiple_ranges_are_multipart_byteranges(library: Library) -> None:
    content = _content(library)
    size = len(content)
    r = await library.stream(TITLE, {"Range": "bytes=0-99, 1000-1999, -300"})
    assert r.status_code == 206
    assert "content-range" not in r.headers
    parts = parse_byteranges(r)
    assert [p[1] for p in parts] == [(0, 99, size), (1000, 1999, size), (size - 300, size - 1, size)]
    for mime, (first, last, _), data in parts:
        assert mime == "video/mp4"
        assert data == content[first:last + 1]


async def test_multiple_ranges_out_of_order_each_part_is_right(library: Library) -> None:
    content = _content(library)
    r = await library.stream(TITLE, {"Range": "bytes=5000-5099,-100,10-19"})
    parts = parse_byteranges(r)
    size = len(content)
    assert sorted(p[1][:2] for p in parts) == [(10, 19), (5000, 5099), (size - 100, size - 1)]
    for _, (first, last, _), data in parts:
        assert data == content[first:last + 1]


async def test_multipart_head_has_length_but_no_body(library: Library) -> None:
    get = await library.stream(TITLE, {"Range": "bytes=0-9,20-29"})
    head = await library.stream(TITLE, {"Range": "bytes=0-9,20-29"}, method="HEAD")
    assert head.status_code == 206
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["content-type"].startswith("multipart/byteranges; boundary=")


UNSATISFIABLE = ["bytes={size}-", "bytes={size}-{size}", "bytes=999999999-", "bytes=-0",
                 "bytes={size}-,{size}0-", "bytes=" + "9" * 5000 + "-"]


async def test_unsatisfiable_is_416_in_the_error_envelope(library: Library) -> None:
    size = len(_content(library))
    for spec in UNSATISFIABLE:
        r = await library.stream(TITLE, {"Range": spec.format(size=size)})
        assert r.status_code == 416, spec
        assert r.headers["content-range"] == f"bytes */{size}"
        assert r.headers["content-type"] == "application/json"
        error = r.json()["error"]
        assert error["code"] == "RANGE_NOT_SATISFIABLE"
        assert error["details"] == {"size": size}
        assert error["request_id"] == r.headers["x-request-id"]


async def test_unsatisfiable_head_has_no_body(library: Library) -> None:
    size = len(_content(library))
    r = await library.stream(TITLE, {"Range": f"bytes={size}-"}, method="HEAD")
    assert r.status_code == 416
    assert r.content == b""
    assert r.headers["content-range"] == f"bytes */{size}"


MALFORMED = [
    "garbage", "", "bytes", "bytes=", "bytes=-", "bytes=,", "bytes=abc-def", "bytes=5-1", "bytes=0-1,9-3",
    "items=0-1", "bytes 0-1", "bytes:0-1", "bytes==0-1", "bytes=0--1", "bytes=--1", "bytes=-1-2",
    "bytes=1-2-3", "bytes=0x10-0x20", "bytes=1_0-2_0", "bytes=+1-2", "bytes=1.5-2", "bytes=1 - 2",
    "bytes=-1e3", "bytes=0-1;q=1", "bytes=0-1 2-3", "bytes=" + "0-0," * 200,
    "bytes=" + ",".join(["1-2"] * 101),
    "bytes=" + "1" * 10_000 + "-" + "0", "bytes=٣-٤", "bytes=１-２", "bytes=0-1,ä", "ｂｙｔｅｓ=0-1",
    "bytes=\t", "bytes=0-1,,,,,,x",
]


async def test_malformed_range_sends_the_whole_file(library: Library) -> None:
    content = _content(library)
    for spec in MALFORMED:
        # Sent as raw UTF-8 bytes: the server sees exactly what a sloppy client would put on the wire.
        r = await library.stream(TITLE, {"Range": spec.encode()})  # type: ignore[dict-item]
        assert r.status_code == 200, spec
        assert r.content == content, spec
        assert "content-range" not in r.headers
        assert r.headers["content-length"] == str(len(content))


async def test_two_hundred_ranges_never_fail(library: Library) -> None:
    content = _content(library)
    spec = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 4}" for i in range(200))
    r = await library.stream(TITLE, {"Range": spec})
    assert r.status_code == 200  # more than 100 ranges is abuse: the whole file instead
    assert r.content == content
    spec = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 4}" for i in range(100))
    r = await library.stream(TITLE, {"Range": spec})
    assert r.status_code == 206
    assert [data for *_, data in parse_byteranges(r)] == [content[i * 10:i * 10 + 5] for i in range(100)]


async def test_raw_non_ascii_range_header_never_fails(library: Library) -> None:
    # Raw bytes above 0x7f, sent as they are (httpx would refuse a non-latin-1 str).
    for raw in (b"bytes=\xff\xfe-\x80", b"bytes=0-1\xc3\xa4", "bytes=0-🎵".encode()):
        r = await library.stream(TITLE, {"Range": raw})  # type: ignore[dict-item]
        assert r.status_code == 200


async def test_every_range_of_a_small_file_round_trips(library: Library) -> None:
    """Walk a real mp3 in uneven ranges, as a player's seek-and-buffer would, and rebuild it."""
    content = library.files["untagged"].read_bytes()
    item = library.item("my untagged song")
    rebuilt, pos, step = b"", 0, 1
    while pos < len(content):
        r = await library.stream(item["title"], {"Range": f"bytes={pos}-{pos + step - 1}"})
        assert r.status_code == 206
        rebuilt += r.content
        pos, step = pos + len(r.content), step * 3 + 1
    assert rebuilt == content

"""Conditional requests: ETag and Last-Modified validators, If-Range, If-None-Match, If-Modified-Since."""

from __future__ import annotations

import os
from email.utils import formatdate

from tests.streaming.conftest import Library

TITLE = "Jóga"


async def test_validators_are_sent(library: Library) -> None:
    r = await library.stream(TITLE)
    assert r.status_code == 200
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    mtime = library.files[TITLE].stat().st_mtime
    assert r.headers["last-modified"] == formatdate(mtime, usegmt=True)


async def test_if_range_with_matching_etag_gives_the_range(library: Library) -> None:
    content = library.files[TITLE].read_bytes()
    etag = (await library.stream(TITLE, method="HEAD")).headers["etag"]
    r = await library.stream(TITLE, {"Range": "bytes=10-19", "If-Range": etag})
    assert r.status_code == 206
    assert r.content == content[10:20]


async def test_if_range_with_matching_date_gives_the_range(library: Library) -> None:
    last_modified = (await library.stream(TITLE, method="HEAD")).headers["last-modified"]
    r = await library.stream(TITLE, {"Range": "bytes=10-19", "If-Range": last_modified})
    assert r.status_code == 206


async def test_if_range_that_does_not_match_gives_the_whole_file(library: Library) -> None:
    content = library.files[TITLE].read_bytes()
    etag = (await library.stream(TITLE, method="HEAD")).headers["etag"]
    for if_range in ('"not-the-etag"', f"W/{etag}", "Mon, 01 Jan 2001 00:00:00 GMT", "garbage"):
        r = await library.stream(TITLE, {"Range": "bytes=10-19", "If-Range": if_range})
        assert r.status_code == 200, if_range
        assert r.content == content
        assert "content-range" not in r.headers


async def test_if_range_after_the_file_changed_gives_the_new_whole_file(own_library: Library) -> None:
    path = own_library.files[TITLE]
    etag = (await own_library.stream(TITLE, method="HEAD")).headers["etag"]
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 60))
    r = await own_library.stream(TITLE, {"Range": "bytes=10-19", "If-Range": etag})
    assert r.status_code == 200
    assert r.headers["etag"] != etag
    # An unsatisfiable range behind a failed If-Range is not a 416 either: the range is ignored.
    r = await own_library.stream(TITLE, {"Range": "bytes=999999999-", "If-Range": etag})
    assert r.status_code == 200


async def test_if_none_match_gives_304_without_a_body(library: Library) -> None:
    first = await library.stream(TITLE)
    etag = first.headers["etag"]
    for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        for method in ("GET", "HEAD"):
            r = await library.stream(TITLE, {"If-None-Match": inm}, method=method)
            assert r.status_code == 304, (inm, method)
            assert r.content == b""
            assert r.headers["etag"] == etag
            assert r.headers["last-modified"] == first.headers["last-modified"]
            assert "content-range" not in r.headers


async def test_if_none_match_wins_over_range(library: Library) -> None:
    etag = (await library.stream(TITLE, method="HEAD")).headers["etag"]
    r = await library.stream(TITLE, {"If-None-Match": etag, "Range": "bytes=0-9"})
    assert r.status_code == 304


async def test_if_none_match_that_does_not_match_sends_the_file(library: Library) -> None:
    first = await library.stream(TITLE)
    r = await library.stream(TITLE, {"If-None-Match": '"something-else"',
                                     # ignored when If-None-Match is present (RFC 9110 §13.1.3)
                                     "If-Modified-Since": first.headers["last-modified"]})
    assert r.status_code == 200
    assert r.content == first.content


async def test_if_modified_since_gives_304_or_the_file(library: Library) -> None:
    first = await library.stream(TITLE)
    r = await library.stream(TITLE, {"If-Modified-Since": first.headers["last-modified"]})
    assert r.status_code == 304
    assert r.content == b""
    r = await library.stream(TITLE, {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert r.status_code == 200
    assert r.content == first.content
    for bad in ("yesterday", "", "Mon, 99 Foo 2001 99:99:99 GMT", "Mon, 01 Jan 99999 00:00:00 GMT"):
        r = await library.stream(TITLE, {"If-Modified-Since": bad})
        assert r.status_code == 200, bad


async def test_head_gives_the_headers_of_get_and_no_body(library: Library) -> None:
    get = await library.stream(TITLE)
    head = await library.stream(TITLE, method="HEAD")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-length", "content-type", "etag", "last-modified", "accept-ranges", "cache-control"):
        assert head.headers[name] == get.headers[name], name
    ranged = await library.stream(TITLE, {"Range": "bytes=5-14"}, method="HEAD")
    assert ranged.status_code == 206
    assert ranged.content == b""
    assert ranged.headers["content-length"] == "10"
    assert ranged.headers["content-range"] == f"bytes 5-14/{len(get.content)}"

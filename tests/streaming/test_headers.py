"""Response headers: MIME types per container, Content-Disposition for downloads, artwork, request ids."""

from __future__ import annotations

from urllib.parse import unquote

from tests.conftest import bearer
from tests.streaming.conftest import Library

MIME = {
    "Jóga": "audio/mpeg",  # mp3
    "Bachelorette": "audio/mp4",  # m4a
    "Circle": "audio/flac",
    "Square": "audio/ogg",  # opus in ogg
    "Bars Clip": "video/mp4",
    "Motion Study": "video/webm",
    "Matroska Sample": "video/x-matroska",
}


async def test_content_type_matches_the_container(library: Library) -> None:
    for title, mime in MIME.items():
        assert library.item(title)["mime"].split(";")[0] == mime, title
        for method in ("GET", "HEAD"):
            r = await library.stream(title, method=method)
            assert r.status_code == 200
            assert r.headers["content-type"].split(";")[0] == mime, (title, method)


async def test_bytes_are_the_file_for_every_format(library: Library) -> None:
    for title in MIME:
        r = await library.stream(title)
        assert r.content == library.files[title].read_bytes(), title
        assert r.headers["cache-control"].startswith("private")
        assert "content-disposition" not in r.headers


def _filename_star(disposition: str) -> str:
    for param in disposition.split(";"):
        name, _, value = param.strip().partition("=")
        if name == "filename*":
            charset, _, rest = value.partition("''")
            assert charset == "UTF-8"
            return unquote(rest, encoding="utf-8", errors="strict")
    raise AssertionError(f"no filename* in {disposition!r}")


async def test_download_sets_an_rfc6266_disposition_with_the_unicode_title(library: Library) -> None:
    r = await library.stream("Jóga", download="1")
    assert r.status_code == 200
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert disposition.isascii()  # the header itself stays ASCII; the UTF-8 name is percent-encoded
    assert _filename_star(disposition) == "Jóga.mp3"
    assert 'filename="J_ga.mp3"' in disposition
    ranged = await library.stream("Jóga", {"Range": "bytes=0-9"}, download="1")
    assert ranged.status_code == 206
    assert ranged.headers["content-disposition"] == disposition


async def test_download_name_with_awkward_characters(own_library: Library) -> None:
    item = own_library.item("Ünïcödé 日本語 🎵")
    r = await own_library.client.patch(f"/api/v1/media/{item['id']}", headers=bearer(own_library.token),
                                   json={"title": 'Quote "this"; a/b\\c 🎵 日本語'})
    assert r.status_code == 200, r.text
    r = await own_library.stream(item["title"], download="1")
    disposition = r.headers["content-disposition"]
    assert disposition.isascii()
    name = _filename_star(disposition)
    assert name.endswith(".mp3") and "日本語" in name and "🎵" in name
    assert not any(c in name for c in '/\\"')
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.endswith(".mp3") and "\\" not in fallback


async def test_artwork_for_an_item_with_cover_art(library: Library) -> None:
    item = library.item("Jóga")
    assert item["artwork_url"]
    r = await library.client.get(item["artwork_url"])
    assert r.status_code == 200
    assert r.headers["content-type"] in ("image/jpeg", "image/png")
    assert r.content[:3] == b"\xff\xd8\xff" or r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "etag" in r.headers
    head = await library.client.head(item["artwork_url"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(r.content))
    again = await library.client.get(item["artwork_url"], headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    by_bearer = await library.client.get(f"/api/v1/media/{item['id']}/artwork", headers=bearer(library.token))
    assert by_bearer.content == r.content


async def test_artwork_for_an_item_without_cover_art_is_404(library: Library) -> None:
    item = library.item("my untagged song")
    assert item["artwork_url"] is None
    r = await library.client.get(f"/api/v1/media/{item['id']}/artwork", headers=bearer(library.token))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


async def test_artwork_missing_from_the_cache_is_404(own_library: Library) -> None:
    item = own_library.item("Circle")
    artwork_dir = own_library.api.app.state.parts.settings.artwork_dir
    for cached in artwork_dir.iterdir():
        cached.unlink()
    r = await own_library.client.get(item["artwork_url"])
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


async def test_every_stream_response_has_a_request_id(library: Library) -> None:
    for headers in ({}, {"Range": "bytes=0-1"}, {"Range": "bytes=999999999-"}, {"Range": "bytes=0-1,4-5"}):
        r = await library.stream("Jóga", headers)
        assert r.headers["x-request-id"], headers
    r = await library.stream("Jóga", {"X-Request-ID": "trace-me-123"})
    assert r.headers["x-request-id"] == "trace-me-123"

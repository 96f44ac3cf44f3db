"""A client of the OpenSubtitles.com REST API v1 (https://opensubtitles.stoplight.io).

  POST /api/v1/login       {username, password} -> a token (downloads count against the account's quota)
  GET  /api/v1/subtitles   ?languages=&moviehash=&query= -> subtitles, each with its files
  POST /api/v1/download    {file_id} -> a temporary link to the file; 406 once the daily quota is used up
  GET  /api/v1/infos/formats   the board's reachability probe
Every call carries `Api-Key` and a `User-Agent` naming the app (both required). GET parameters go
lower-case and sorted by name: the API redirects any other spelling, and we do not follow redirects.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from medianest.errors import NotFound, RateLimited, UpstreamError
from medianest.integrations.http import Upstream
from medianest.text import clean_optional

# A subtitle file is a few hundred KiB at most; anything far larger is not one.
MAX_SUBTITLE_BYTES = 5 * 1024 * 1024
_HASH_CHUNK = 64 * 1024


def moviehash(path: Path) -> str:
    """OpenSubtitles' file hash: the size plus the little-endian 64-bit words of the first and last
    64 KiB, modulo 2**64, as 16 hex digits. (No maintained package provides it; it is this short.)"""
    size = path.stat().st_size
    if size < _HASH_CHUNK * 2:
        raise ValueError("too small for a moviehash (under 128 KiB)")
    total = size
    with path.open("rb") as fh:
        for offset in (0, size - _HASH_CHUNK):
            fh.seek(offset)
            total += sum(struct.unpack(f"<{_HASH_CHUNK // 8}Q", fh.read(_HASH_CHUNK)))
    return f"{total & 0xFFFFFFFFFFFFFFFF:016x}"


@dataclass(frozen=True)
class Found:
    file_id: int
    file_name: str | None
    language: str | None
    release: str | None
    title: str | None
    year: int | None
    downloads: int
    hearing_impaired: bool
    hash_match: bool


class OpenSubtitles:
    """`tokens` outlives the client (one per request): the login token is reused for a day, not
    fetched for every download."""

    def __init__(self, upstream: Upstream, username: str | None, password: str | None,
                 tokens: dict[str, str]) -> None:
        self.upstream, self.username, self.password, self.tokens = upstream, username, password, tokens

    async def formats(self) -> None:
        await self.upstream.json("GET", "/api/v1/infos/formats")

    async def search(self, moviehash: str | None, query: str | None, languages: list[str]) -> list[Found]:
        params = {"languages": ",".join(sorted(lang.lower() for lang in languages)), "moviehash": moviehash,
                  "query": query.lower() if query else None}
        ordered = sorted((k, v) for k, v in params.items() if v)
        body = await self.upstream.json("GET", "/api/v1/subtitles", params=ordered)
        try:
            return [f for item in body["data"] for f in _found(item["attributes"])]
        except (KeyError, TypeError, ValueError):
            raise UpstreamError(self.upstream.name, "sent search results of an unexpected shape") from None

    async def download(self, file_id: int) -> tuple[str, bytes]:
        """(file name, content) of one file; RateLimited when the day's quota is used up."""
        response = await self.upstream.request("POST", "/api/v1/download", json={"file_id": file_id},
                                               headers=await self._auth())
        if response.status_code == 401 and self.username:
            self.tokens.pop("token", None)  # expired login: once more with a fresh one
            response = await self.upstream.request("POST", "/api/v1/download", json={"file_id": file_id},
                                                   headers=await self._auth())
        if response.status_code == 406:
            raise _quota(response)
        if response.status_code in (400, 404):  # it answers 400 "Invalid file_id" for one it does not know
            raise NotFound("subtitle file", file_id)
        self.upstream.check(response)
        body = self.upstream.parse(response)
        if not isinstance(body, dict) or not isinstance(body.get("link"), str):
            raise UpstreamError(self.upstream.name, "sent a download without a link")
        name = clean_optional(body.get("file_name"), 255) or f"{file_id}.srt"
        return name, await self._fetch(body["link"])

    async def login(self) -> None:
        """Sign in afresh (the admin's test proves the username and password work)."""
        self.tokens.pop("token", None)
        await self._auth()

    async def _auth(self) -> dict[str, str]:
        if not self.username or not self.password:
            return {}
        if "token" not in self.tokens:
            body = await self.upstream.json("POST", "/api/v1/login",
                                            json={"username": self.username, "password": self.password})
            if not isinstance(body, dict) or not isinstance(body.get("token"), str):
                raise UpstreamError(self.upstream.name, "sent a login answer without a token")
            self.tokens["token"] = body["token"]
        return {"Authorization": f"Bearer {self.tokens['token']}"}

    async def _fetch(self, link: str) -> bytes:
        """The file behind the temporary link (on another host of theirs), with a size cap."""
        try:
            async with self.upstream.http.stream("GET", link, timeout=self.upstream.policy.timeout_s,
                                                 follow_redirects=True) as response:
                if response.status_code != 200:
                    raise UpstreamError(self.upstream.name, f"answered {response.status_code} for the file")
                content = b""
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_SUBTITLE_BYTES:
                        raise UpstreamError(self.upstream.name, "sent a file too large to be a subtitle")
                return content
        except httpx.HTTPError as exc:
            raise UpstreamError(self.upstream.name, f"could not send the file ({type(exc).__name__})") from None


def _found(attrs: dict[str, Any]) -> list[Found]:
    feature = attrs.get("feature_details") or {}
    # Text fields are written by uploaders: one clean line each.
    return [Found(file_id=int(f["file_id"]), file_name=clean_optional(f.get("file_name"), 1024),
                  language=clean_optional(attrs.get("language"), 1024),
                  release=clean_optional(attrs.get("release"), 1024),
                  title=clean_optional(feature.get("title") or feature.get("movie_name"), 1024),
                  year=feature.get("year") if isinstance(feature.get("year"), int) else None,
                  downloads=int(attrs.get("download_count") or 0),
                  hearing_impaired=bool(attrs.get("hearing_impaired")),
                  hash_match=bool(attrs.get("moviehash_match")))
            for f in attrs.get("files") or []]


def _quota(response: httpx.Response) -> RateLimited:
    """406: the account's downloads for the day are used up; say when they come back."""
    retry_after = 3600
    try:
        reset = response.json().get("reset_time_utc")
        retry_after = max(1, int((datetime.fromisoformat(reset.replace("Z", "+00:00")) - datetime.now(UTC))
                                 .total_seconds()))
    except (AttributeError, TypeError, ValueError):
        pass
    error = RateLimited("OpenSubtitles downloads (the daily quota is used up)", retry_after)
    error.message = f"OpenSubtitles' daily download quota is used up; it resets in {_span(retry_after)}"
    return error


def _span(seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{max(minutes, 1)} min"

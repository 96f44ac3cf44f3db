"""A stand-in for the OpenSubtitles.com REST API v1 (api.opensubtitles.com/api/v1) and its download links.

Sources (read-only):
- The official OpenAPI document (Stoplight export, v1.0.1, copy in phdelodder/SubTools
  `MultiSubDownloader/src/main/resources/opensubtitles/open-api.json`) and the generated docs of the same spec:
  routes, security (`Api-Key` header; `Authorization: Bearer <JWT>`), the login/user/formats shapes, and the search
  rule "Avoid http redirection by sending request parameters sorted and without default values, and send all queries
  in lowercase. Remove leading zeroes in ID parameters" with the documented defaults (type=all,
  hearing_impaired=include, foreign_parts_only=include, trusted_sources=include, machine_translated=exclude,
  ai_translated=include, moviehash_match=include); "If a moviehash is sent ... a moviehash_match boolean field
  will be added ... matching subtitles will always come first"; "languages ... comma separated, sorted in
  alphabetical order".
- Real traffic recorded by subliminal (Diaoul/subliminal tests/cassettes/opensubtitlescom/*.yaml): `...&page=1&...`
  answered `301 Moved Permanently`, empty body, relative `Location: /api/v1/subtitles?<sorted, defaults dropped>`;
  the search item fields and `per_page: 50`; login 200 `{user, token, status, base_url}`; bad password 401
  `{"message":"Error, invalid username/password failed:1 remaining:9  ","status":401}`; `/infos/user` `{"data":{...,
  downloads_count, remaining_downloads, username}}`; the `RateLimit-*` / `X-RateLimit-*-Second` headers
  (5/s, login 1/s).
- Download 200 body (same cassettes, via a research note) and the 406 quota body (plugin.video.elementum#952, with the
  finding that `/download` works with only an Api-Key, at 5 downloads/24h per IP); logout 200
  `{"message":"token successfully destroyed","status":200}` (TheForgotten69/go-opensubtitles fixtures, mirroring the
  docs); `/infos/formats` list (same fixtures); 429 body `{"message":"API rate limit exceeded"}` from Kong
  (jellyfin-plugin-opensubtitles#112); a fake key answered 403 `You cannot consume this service` (a live probe noted in
  a public repo); bad token: `{"errors":["Invalid token"],"status":401}` on /infos/user (vlsub-opensubtitles-com#34),
  `{"message":"invalid token",...}` on /download (MediaBrowser/Emby#3983); status map 406/410/429 from Bazarr's
  `subliminal_patch/providers/opensubtitlescom.py`.

Assumptions (not found in a primary source): a missing Api-Key gets the same 403 as a wrong one (the gateway's anonymous
consumer is refused by its ACL); a missing/blank User-Agent is refused with 403 `{"message":"Missing User-Agent header",
"status":403}`; an unknown `file_id` gets 400 `{"message":"Invalid file_id","status":400}` (the message is attested,
the status is not); unknown routes get Kong's 404 `{"message":"no Route matched with those values"}`; an unknown or
expired download link gets 410; the gateway checks run key -> User-Agent -> rate limit -> 301 -> the endpoint; the
redirect also sorts `languages`; `sub_format` only renames the file (no conversion); `login.base_url` is
`127.0.0.1:<port>` (host only, like the real `api.opensubtitles.com`): a client follows it with its own scheme.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from tests.integrations.standin import Reply, Request, StandIn

API = "/api/v1"
PER_PAGE = 50
ANONYMOUS_QUOTA = 5  # downloads with an Api-Key but no login token, per IP and 24 h
LOGIN_ATTEMPTS = 10
FORMATS = ["srt", "sub", "mpl", "webvtt", "dfxp", "txt"]
SEARCH_DEFAULTS = {"ai_translated": "include", "foreign_parts_only": "include", "hearing_impaired": "include",
                   "machine_translated": "exclude", "moviehash_match": "include", "page": "1",
                   "trusted_sources": "include", "type": "all"}
ID_PARAMS = frozenset({"id", "imdb_id", "tmdb_id", "parent_feature_id", "parent_imdb_id", "parent_tmdb_id",
                       "uploader_id", "user_id"})
DENIED = {"message": "You cannot consume this service"}
NO_ROUTE = {"message": "no Route matched with those values"}
RATE_LIMIT_BODY = b'{\n  "message":"API rate limit exceeded"\n}'
BAD_TOKEN = {"errors": ["Invalid token"], "status": 401}


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _jwt() -> str:
    claims = {"iss": secrets.token_urlsafe(24), "exp": int(time.time()) + 86400}
    return ".".join([_b64({"typ": "JWT", "alg": "HS256"}), _b64(claims), secrets.token_urlsafe(32)])


def _rate_headers(limit: int, remaining: int) -> dict[str, str]:
    return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining), "RateLimit-Reset": "1",
            "X-RateLimit-Limit-Second": str(limit), "X-RateLimit-Remaining-Second": str(remaining)}


def _reset() -> tuple[str, str, str]:
    """(reset_time, reset_time_utc, the message's tail): the quota renews at the next UTC midnight."""
    now = datetime.now(UTC)
    end = now.replace(hour=23, minute=59, second=59, microsecond=999000)
    hours, minutes = divmod(int((end - now).total_seconds()) // 60, 60)
    left = f"{hours:02d} hours and {minutes:02d} minutes"
    tail = f"Your quota will be renewed in {left} ({end:%Y-%m-%d} 23:59:59 UTC) ts={int(now.timestamp())} "
    return left, end.strftime("%Y-%m-%dT%H:%M:%S.999Z"), tail


def normalised(path: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query the API accepts without a redirect: lowercase, sorted, no defaults, no leading zeroes in ids."""
    defaults = SEARCH_DEFAULTS if path == f"{API}/subtitles" else {}
    out = []
    for key, value in ((k.lower(), v.lower()) for k, v in pairs):
        if key in ID_PARAMS and value.isdigit():
            value = value.lstrip("0") or "0"
        if key == "languages":
            value = ",".join(sorted(value.split(",")))
        if defaults.get(key) != value:
            out.append((key, value))
    return sorted(out, key=lambda kv: kv[0])


@dataclass
class _Subtitle:
    file_id: int
    subtitle_id: int
    feature_id: int
    language: str
    title: str
    content: bytes
    year: int | None
    moviehash: str | None
    file_name: str
    release: str
    download_count: int = 0

    def item(self, moviehash: str | None) -> dict[str, Any]:
        slug = self.title.lower().replace(" ", "-")
        attributes: dict[str, Any] = {
            "subtitle_id": str(self.subtitle_id), "language": self.language, "download_count": self.download_count,
            "new_download_count": self.download_count, "hearing_impaired": False, "hd": True, "fps": 23.976,
            "votes": 0, "ratings": 0.0, "from_trusted": False, "foreign_parts_only": False,
            "upload_date": "2024-01-01T00:00:00Z", "ai_translated": False, "nb_cd": 1, "slug": slug,
            "machine_translated": False, "release": self.release, "comments": "",
            "legacy_subtitle_id": self.subtitle_id, "legacy_uploader_id": 0,
            "uploader": {"uploader_id": 3282, "name": "os-auto", "rank": "Application Developers"},
            "feature_details": {"feature_id": self.feature_id, "feature_type": "Movie", "year": self.year,
                                "title": self.title, "movie_name": f"{self.year or ''} - {self.title}".lstrip(" -"),
                                "imdb_id": 100000 + self.feature_id, "tmdb_id": 200000 + self.feature_id},
            "url": f"https://www.opensubtitles.com/{self.language}/subtitles/legacy/{self.subtitle_id}",
            "related_links": [{"label": f"All subtitles for {self.title.lower()}",
                               "url": f"https://www.opensubtitles.com/{self.language}/movies/{slug}",
                               "img_url": f"https://s9.opensubtitles.com/features/{self.feature_id}.jpg"}],
            "files": [{"file_id": self.file_id, "cd_number": 1, "file_name": self.file_name}]}
        if moviehash is not None:
            attributes["moviehash_match"] = self.moviehash == moviehash
        return {"id": str(self.subtitle_id), "type": "subtitle", "attributes": attributes}


@dataclass
class _Quota:
    allowed: int
    remaining: int
    requests: int = 0


class OpenSubtitles(StandIn):
    def __init__(self, api_key: str = "os-test-key", username: str = "nestuser", password: str = "nestpass",  # noqa: S107
                 daily_quota: int = 5) -> None:
        super().__init__()
        self.api_key, self.username, self.password = api_key, username, password
        self.rate_limited = False
        self._subs: dict[int, _Subtitle] = {}
        self._features: dict[tuple[str, int | None], int] = {}
        self._tokens: set[str] = set()
        self._links: dict[str, _Subtitle] = {}
        self._downloads: list[int] = []
        self._failed_logins = 0
        self._user = _Quota(daily_quota, daily_quota)
        self._anonymous = _Quota(ANONYMOUS_QUOTA, ANONYMOUS_QUOTA)
        self._routes = {("POST", "/login"): self._login, ("DELETE", "/logout"): self._logout,
                        ("GET", "/subtitles"): self._search, ("POST", "/download"): self._download,
                        ("GET", "/infos/formats"): self._formats, ("GET", "/infos/user"): self._user_info}

    # -- test controls ---------------------------------------------------------------------------------------

    def add_subtitle(self, file_id: int, language: str, title: str, content: bytes, *, year: int | None = None,
                     moviehash: str | None = None, file_name: str = "subtitle.srt", release: str = "") -> None:
        with self.lock:
            feature = self._features.setdefault((title.lower(), year), 500000 + len(self._features))
            self._subs[file_id] = _Subtitle(file_id, 800000 + len(self._subs), feature, language.lower(), title,
                                            content, year, moviehash.lower() if moviehash else None, file_name,
                                            release)

    def set_remaining(self, n: int, *, anonymous: bool = False) -> None:
        """Downloads left today for the logged-in user (or, with `anonymous`, for key-only downloads)."""
        with self.lock:
            (self._anonymous if anonymous else self._user).remaining = n

    def downloads(self) -> list[int]:
        with self.lock:
            return list(self._downloads)

    def error_body(self, status: int) -> Any:
        return {"message": HTTPStatus(status).phrase, "status": status}

    # -- the gateway -----------------------------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.startswith("/download/"):
            return self._serve_link(request)
        if not request.path.startswith(f"{API}/"):
            return Reply(404, NO_ROUTE)
        refused = self._gate(request)
        if refused is not None:
            return refused
        route = self._routes.get((request.method, request.path[len(API):]))
        if route is None:
            return Reply(404, NO_ROUTE)
        reply = route(request)
        is_login = request.path == f"{API}/login"
        reply.headers.update(_rate_headers(1, 0) if is_login else _rate_headers(5, 4))
        return reply

    def _gate(self, request: Request) -> Reply | None:
        if request.headers.get("api-key") != self.api_key:
            return Reply(403, DENIED)
        if not request.headers.get("user-agent", "").strip():
            return Reply(403, {"message": "Missing User-Agent header", "status": 403})
        with self.lock:
            limited = self.rate_limited
        if limited:
            return Reply(429, RATE_LIMIT_BODY, {**_rate_headers(5, 0), "Retry-After": "1"})
        if request.method == "GET" and request.raw_query:
            pairs = parse_qsl(request.raw_query, keep_blank_values=True)
            wanted = normalised(request.path, pairs)
            if pairs != wanted:
                location = request.path + (f"?{urlencode(wanted)}" if wanted else "")
                return Reply(301, b"", {"Location": location, **_rate_headers(5, 4)})
        return None

    def _bearer(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _logged_in(self, request: Request) -> bool:
        token = self._bearer(request)
        with self.lock:
            return token is not None and token in self._tokens

    # -- endpoints -------------------------------------------------------------------------------------------

    def _login(self, request: Request) -> Reply:
        body = _json(request)
        with self.lock:
            if body.get("username") != self.username or body.get("password") != self.password:
                self._failed_logins += 1
                left = max(LOGIN_ATTEMPTS - self._failed_logins, 0)
                message = f"Error, invalid username/password failed:{self._failed_logins} remaining:{left}  "
                return Reply(401, {"message": message, "status": 401})
            self._failed_logins = 0
            token = _jwt()
            self._tokens.add(token)
            allowed = self._user.allowed
        user = {"allowed_translations": 1, "allowed_downloads": allowed, "level": "Sub leecher", "user_id": 699022,
                "ext_installed": False, "vip": False}
        return Reply(200, {"user": user, "token": token, "status": 200, "base_url": self.url.split("://", 1)[1]})

    def _logout(self, request: Request) -> Reply:
        token = self._bearer(request)
        with self.lock:
            if token is None or token not in self._tokens:
                return Reply(401, BAD_TOKEN)
            self._tokens.discard(token)
        return Reply(200, {"message": "token successfully destroyed", "status": 200})

    def _formats(self, request: Request) -> Reply:
        return Reply(200, {"data": {"output_formats": FORMATS}})

    def _user_info(self, request: Request) -> Reply:
        if not self._logged_in(request):
            return Reply(401, BAD_TOKEN)
        with self.lock:
            quota = self._user
            data = {"allowed_translations": 1, "allowed_downloads": quota.allowed, "level": "Sub leecher",
                    "user_id": 699022, "ext_installed": False, "vip": False, "downloads_count": quota.requests,
                    "remaining_downloads": quota.remaining, "username": self.username}
        return Reply(200, {"data": data})

    def _search(self, request: Request) -> Reply:
        query = (request.arg("query") or "").lower()
        moviehash = request.arg("moviehash")
        languages = {code for code in (request.arg("languages") or "").lower().split(",") if code}
        only_hash = request.arg("moviehash_match") == "only"
        page_arg = request.arg("page") or "1"
        page = int(page_arg) if page_arg.isdigit() and int(page_arg) > 0 else 1
        with self.lock:
            found = [s for s in self._subs.values() if (not languages or s.language in languages)
                     and _matches(s, query, moviehash, only_hash)]
            found.sort(key=lambda s: moviehash is None or s.moviehash != moviehash.lower())
            items = [s.item(moviehash and moviehash.lower()) for s in found]
        chunk = items[(page - 1) * PER_PAGE:page * PER_PAGE]
        return Reply(200, {"total_pages": math.ceil(len(items) / PER_PAGE), "total_count": len(items),
                           "per_page": PER_PAGE, "page": page, "data": chunk})

    def _download(self, request: Request) -> Reply:
        body = _json(request)
        raw_id = body.get("file_id", request.arg("file_id"))
        token = self._bearer(request)
        if token is not None and not self._logged_in(request):
            return Reply(401, {"message": "invalid token", "status": 401})
        file_id = int(raw_id) if isinstance(raw_id, int | str) and str(raw_id).isdigit() else None
        left, reset_utc, tail = _reset()
        with self.lock:
            sub = self._subs.get(file_id) if file_id is not None else None
            if sub is None:
                return Reply(400, {"message": "Invalid file_id", "status": 400})
            quota = self._anonymous if token is None else self._user
            if quota.remaining <= 0:
                message = f"You have downloaded your allowed {quota.allowed} subtitles for 24h.{tail}"
                return Reply(406, {"requests": quota.requests, "remaining": 0, "message": message,
                                   "reset_time": left, "reset_time_utc": reset_utc})
            quota.requests += 1
            quota.remaining -= 1
            sub.download_count += 1
            self._downloads.append(sub.file_id)
            name = _download_name(sub.file_name, body.get("sub_format"))
            link_id = secrets.token_hex(48).upper()
            self._links[link_id] = sub
            requests, remaining = quota.requests, quota.remaining
        return Reply(200, {"link": f"{self.url}/download/{link_id}/subfile/{quote(name)}", "file_name": name,
                           "requests": requests, "remaining": remaining, "message": tail, "reset_time": left,
                           "reset_time_utc": reset_utc})

    def _serve_link(self, request: Request) -> Reply:
        link_id = request.path.split("/")[2]
        with self.lock:
            sub = self._links.get(link_id)
        if sub is None:
            return Reply(410, b"This download link has expired.\n", content_type="text/plain; charset=utf-8")
        name = request.path.rsplit("/", 1)[-1]
        return Reply(200, sub.content, {"Content-Disposition": f'attachment; filename="{name}"'},
                     content_type="application/octet-stream")


def _json(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _matches(sub: _Subtitle, query: str, moviehash: str | None, only_hash: bool) -> bool:
    by_hash = moviehash is not None and sub.moviehash == moviehash.lower()
    if only_hash or (moviehash is not None and not query):
        return by_hash
    return by_hash or query in sub.title.lower()


def _download_name(file_name: str, sub_format: Any) -> str:
    stem, dot, ext = file_name.rpartition(".")
    if not dot:
        stem, ext = file_name, "srt"
    if isinstance(sub_format, str) and sub_format.lower() in FORMATS:
        ext = {"webvtt": "vtt"}.get(sub_format.lower(), sub_format.lower())
    return f"{stem}.{ext}"

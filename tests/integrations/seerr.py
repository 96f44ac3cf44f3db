"""A stand-in for Seerr (formerly Overseerr / Jellyseerr): status, search, requests, movie and TV details.

Sources (read-only): the OpenAPI files `overseerr-api.yml` (sct/overseerr) and `seerr-api.yml` (seerr-team/seerr);
seerr-team/seerr `server/constants/media.ts` (enums), `server/middleware/auth.ts` (`checkUser`, `isAuthenticated`:
403 `{status, error}`), `server/routes/request.ts` (list/get/delete, error messages, default take 10, `serviceErrors`),
`server/entity/MediaRequest.ts` (creation: 409 duplicate, 403 blocklisted, 202 no seasons, TV `seasons` handling),
`server/subscriber/MediaRequestSubscriber.ts` (`updateParentStatus`, `handleRemoveParentUpdate`),
`server/subscriber/MediaSubscriber.ts` (media available -> pending requests approved, requests completed),
`server/routes/movie.ts` / `tv.ts` (500 "Unable to retrieve movie." / "...series."), `server/entity/Media.ts`
(search `mediaInfo` comes from `getRelatedMedia`, which loads no `requests`; details load them), `server/index.ts`
(error handler `{message, errors}`), and express-openapi-validator (`openapi.security.ts`: 401 "cookie 'connect.sid'
required" when neither key nor session cookie is sent; `req.parameter.mutator.ts`: raw `+`, `&`, `'` ... in a query
value -> 400 "Parameter 'query' must be url encoded..."; unknown query parameters -> 400). Issue threads confirming
the wire answers: sct/overseerr#3689, Kha-kis/arr-dashboard#470 (`+` rejected, `%20` accepted),
darkalfx/requestrr#72 (unknown query parameter), vaparr/ha-overseerr#19 (403 body), seerr-team/seerr#2327 (401 body).

Behaviour worth knowing: the API key acts as user 1 (the admin), so its requests are auto-approved (status 2) and the
media moves to processing; the POST answer still shows the media as it was saved (pending), as the real server does.
`X-API-User: 2` acts as a plain user with the REQUEST permission (requests stay pending, sees only its own).

Assumptions: validator (ajv) error texts/paths for type/enum/required errors follow express-openapi-validator 5
("request/query/page must be number"); only the first error is reported. TMDB is replaced by the titles the test adds:
search is a case-insensitive (casefold, NFC) substring match, 20 per page, insertion order; TV shows have seasons
1..n of 10 episodes and no season 0; unknown ids fail as TMDB 404s do through axios. `set_media_status` on a show
gives every season that status for AVAILABLE/DELETED and drops the seasons for UNKNOWN. Version "3.2.0".
Not modelled: 4K servers, quotas, PUT /request/{id}, /request/count, approve/decline routes, person results.
"""

from __future__ import annotations

import copy
import json
import math
import re
import unicodedata
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from tests.integrations.standin import Reply, Request, StandIn

# MediaRequestStatus (server/constants/media.ts)
REQUEST_PENDING, REQUEST_APPROVED, REQUEST_DECLINED, REQUEST_FAILED, REQUEST_COMPLETED = 1, 2, 3, 4, 5
# MediaStatus (BLOCKLISTED was BLACKLISTED in Jellyseerr; plain Overseerr stops at AVAILABLE)
MEDIA_UNKNOWN, MEDIA_PENDING, MEDIA_PROCESSING, MEDIA_PARTIALLY_AVAILABLE, MEDIA_AVAILABLE = 1, 2, 3, 4, 5
MEDIA_BLOCKLISTED = MEDIA_BLACKLISTED = 6
MEDIA_DELETED = 7

VERSION = "3.2.0"
PAGE_SIZE = 20
FORBIDDEN = {"status": 403, "error": "You do not have permission to access this endpoint"}
_RESERVED = re.compile(r"[:/?#\[\]@!$&'()*+,;=]")
_FILTERS = ("all", "approved", "available", "pending", "processing", "unavailable", "failed", "deleted", "completed")
_QUERY_SCHEMA: dict[str, Any] = {  # name -> "string" | "number" | enum values; (nullable number params accept "")
    "query": "string", "page": "number", "language": "string", "take": "number", "skip": "number",
    "requestedBy": "number", "filter": _FILTERS, "sort": ("added", "modified"), "sortDirection": ("asc", "desc"),
    "mediaType": ("movie", "tv", "all")}
_LIST_PARAMS = ("take", "skip", "filter", "sort", "sortDirection", "requestedBy", "mediaType")
_ROUTES: tuple[tuple[str, re.Pattern[str], dict[str, tuple[str, ...]]], ...] = (
    ("/api/v1/status", re.compile(r"/status"), {"GET": ()}),
    ("/api/v1/search", re.compile(r"/search"), {"GET": ("query", "page", "language")}),
    ("/api/v1/request", re.compile(r"/request"), {"GET": _LIST_PARAMS, "POST": ()}),
    ("/api/v1/request/{requestId}", re.compile(r"/request/([^/]+)"), {"GET": (), "DELETE": ()}),
    ("/api/v1/movie/{movieId}", re.compile(r"/movie/([^/]+)"), {"GET": ("language",)}),
    ("/api/v1/tv/{tvId}", re.compile(r"/tv/([^/]+)"), {"GET": ("language",)}),
)
# id -> (username, email, permissions, userType): 1 is the admin the API key acts as, 2 holds only REQUEST (32)
_USERS = {1: ("admin", "admin@seerr.local", 2, 1), 2: ("requester", "requester@seerr.local", 32, 2)}
_MANAGE = 2 | 16  # ADMIN | MANAGE_REQUESTS


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _err(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Reply:
    return Reply(status, {"message": message} if errors is None else {"message": message, "errors": errors})


def _invalid(loc: str, message: str, keyword: str, prop: str = "") -> Reply:
    path = f"/{loc}/{prop}" if prop else f"/{loc}"
    return _err(400, f"request/{loc} {message}", [{"path": path, "message": message,
                                                   "errorCode": f"{keyword}.openapi.validation"}])


def _number(value: str) -> float | None:
    try:
        number = float(value) if value.strip() else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


class Seerr(StandIn):
    def __init__(self, api_key: str = "seerr-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self._titles: dict[tuple[str, int], dict[str, Any]] = {}  # (mediaType, tmdbId) -> TMDB-like facts
        self._media: dict[tuple[str, int], dict[str, Any]] = {}
        self._requests: dict[int, dict[str, Any]] = {}
        self._ids = {"media": 0, "request": 0, "season": 0}

    # -- test controls -----------------------------------------------------------------------------------------

    def add_movie(self, tmdb_id: int, title: str, year: int | None = None, overview: str = "") -> None:
        with self.lock:
            self._titles[("movie", tmdb_id)] = {"title": title, "year": year, "overview": overview}

    def add_tv(self, tmdb_id: int, name: str, year: int | None = None, seasons: int = 1) -> None:
        with self.lock:
            self._titles[("tv", tmdb_id)] = {"title": name, "year": year, "overview": "", "seasons": seasons}

    def set_request_status(self, request_id: int, status: int) -> None:
        with self.lock:
            req = self._requests[request_id]
            req.update(status=status, updatedAt=_now())
            self._update_parent(req)

    def set_media_status(self, media_type: str, tmdb_id: int, status: int) -> None:
        with self.lock:
            key = (media_type, tmdb_id)
            if key not in self._titles:
                raise KeyError(f"add the {media_type} {tmdb_id} first")
            media = self._media.get(key) or self._new_media(key, MEDIA_UNKNOWN)
            self._media[key] = media
            old_status, old_seasons = media["status"], {s["seasonNumber"]: s["status"] for s in media["seasons"]}
            media.update(status=status, updatedAt=_now())
            if media_type == "tv" and status == MEDIA_UNKNOWN:
                media["seasons"] = []
            elif media_type == "tv" and status in (MEDIA_AVAILABLE, MEDIA_DELETED):
                media["seasons"] = [self._season(n, status) for n in range(1, self._titles[key]["seasons"] + 1)]
            self._media_changed(media, old_status, old_seasons)

    def requests_made(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._request_json(r) for r in sorted(self._requests.values(), key=lambda r: r["id"])]

    def error_body(self, status: int) -> Any:
        if status == 403:
            return FORBIDDEN
        return {"message": HTTPStatus(status).phrase}

    # -- HTTP ----------------------------------------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        if not request.path.startswith("/api/v1/"):
            return Reply(404, b"<!DOCTYPE html><h1>404</h1><p>This page could not be found.</p>",
                         content_type="text/html; charset=utf-8")
        sub = request.path[7:].rstrip("/")
        found = next(((t, m, ops) for t, rx, ops in _ROUTES if (m := rx.fullmatch(sub))), None)
        if found is None:
            return _err(404, "not found", [{"path": request.path, "message": "not found"}])
        template, match, ops = found
        if request.method not in ops:
            message = f"{request.method} method not allowed"
            return _err(405, message, [{"path": request.path, "message": message}])
        public = template == "/api/v1/status"
        if not public and not request.headers.get("x-api-key") and "connect.sid=" not in request.headers.get(
                "cookie", ""):
            message = "cookie 'connect.sid' required"
            return _err(401, message, [{"path": template, "message": message}])
        problem = self._check_query(request, ops[request.method]) or self._check_path(template, match)
        if problem is not None:
            return problem
        if public:
            return Reply(200, {"version": VERSION, "commitTag": "local", "updateAvailable": False,
                               "commitsBehind": 0, "restartRequired": False})
        user = self._user(request)
        if user is None:
            return Reply(403, FORBIDDEN)
        with self.lock:
            return self._dispatch(request, template, match.groups(), user)

    def _dispatch(self, request: Request, template: str, groups: tuple[str, ...], user: int) -> Reply:
        if template == "/api/v1/search":
            return self._search(request)
        if template == "/api/v1/request":
            return self._create(request, user) if request.method == "POST" else self._list(request, user)
        if template == "/api/v1/request/{requestId}":
            return self._one(groups[0], user, delete=request.method == "DELETE")
        media_type = "movie" if template.startswith("/api/v1/movie") else "tv"
        return self._details(media_type, float(groups[0]))

    def _user(self, request: Request) -> int | None:
        if request.headers.get("x-api-key") != self.api_key:
            return None  # a session cookie is never valid here: no one can log in to the stand-in
        wanted = request.headers.get("x-api-user", "1")
        return int(wanted) if wanted.isdigit() and int(wanted) in _USERS else None

    def _check_query(self, request: Request, declared: tuple[str, ...]) -> Reply | None:
        raw: dict[str, list[str]] = {}
        for pair in request.raw_query.replace("?", "", 1).split("&") if request.raw_query else ():
            key, _, rest = pair.partition("=")
            raw.setdefault(key, []).append(rest.split("=")[0])
        for name in declared:
            if any(_RESERVED.search(v) for v in raw.get(name, [])):
                message = f"Parameter '{name}' must be url encoded. Its value may not contain reserved characters."
                return _err(400, message, [{"path": f".query.{name}", "message": message}])
        for name in request.query:
            if name not in declared:
                message = f"Unknown query parameter '{name}'"
                return _err(400, message, [{"path": f".query.{name}", "message": message}])
        if "query" in declared and "query" not in request.query:
            return _invalid("query", "must have required property 'query'", "required", "query")
        for name, values in request.query.items():
            kind, value = _QUERY_SCHEMA[name], values[-1]
            if kind == "number" and _number(value) is None and not (value == "" and name in _LIST_PARAMS):
                return _invalid(f"query/{name}", "must be number", "type")
            if isinstance(kind, tuple) and value not in kind:
                return _invalid(f"query/{name}", f"must be equal to one of the allowed values: {', '.join(kind)}",
                                "enum")
        return None

    @staticmethod
    def _check_path(template: str, match: re.Match[str]) -> Reply | None:
        if template.startswith(("/api/v1/movie", "/api/v1/tv")) and _number(match.group(1)) is None:
            name = "movieId" if "movie" in template else "tvId"
            return _invalid(f"params/{name}", "must be number", "type")
        return None

    # -- search and details --------------------------------------------------------------------------------------

    def _search(self, request: Request) -> Reply:
        needle = unicodedata.normalize("NFC", request.arg("query") or "").casefold()
        page = _number(request.arg("page") or "") or 1
        if page != int(page) or not 1 <= page <= 500:  # TMDB refuses it; Seerr wraps that as a 500
            return _err(500, "Unable to retrieve search results.")
        hits = [key for key, t in self._titles.items()
                if needle and needle in unicodedata.normalize("NFC", t["title"]).casefold()]
        start = (int(page) - 1) * PAGE_SIZE
        return Reply(200, {"page": int(page), "totalPages": max(1, math.ceil(len(hits) / PAGE_SIZE)),
                           "totalResults": len(hits),
                           "results": [self._result(key) for key in hits[start:start + PAGE_SIZE]]})

    def _result(self, key: tuple[str, int]) -> dict[str, Any]:
        facts, (media_type, tmdb_id) = self._titles[key], key
        date = f"{facts['year']}-01-01" if facts["year"] else ""
        out: dict[str, Any] = {"id": tmdb_id, "mediaType": media_type, "adult": False, "genreIds": [],
                               "originalLanguage": "en", "overview": facts["overview"], "popularity": 0.0,
                               "voteAverage": 0.0, "voteCount": 0, "backdropPath": None,
                               "posterPath": f"/poster-{media_type}-{tmdb_id}.jpg"}
        if media_type == "movie":
            out.update(title=facts["title"], originalTitle=facts["title"], releaseDate=date, video=False)
        else:
            out.update(name=facts["title"], originalName=facts["title"], firstAirDate=date, originCountry=[])
        if key in self._media:
            out["mediaInfo"] = {**copy.deepcopy(self._media[key]), "watchlists": []}
        return out

    def _details(self, media_type: str, number: float) -> Reply:
        key = (media_type, int(number) if number.is_integer() else -1)
        tmdb_id = key[1]
        if key not in self._titles:
            return _err(500, "Unable to retrieve movie." if media_type == "movie" else "Unable to retrieve series.")
        out = {k: v for k, v in self._result(key).items() if k not in ("mediaType", "genreIds", "mediaInfo")}
        out.update(genres=[], relatedVideos=[], productionCompanies=[], productionCountries=[], spokenLanguages=[],
                   credits={"cast": [], "crew": []}, externalIds={}, watchProviders=[], onUserWatchlist=False)
        if media_type == "tv":
            count = self._titles[key]["seasons"]
            out.update(numberOfSeasons=count, numberOfEpisodes=10 * count, seasons=[
                {"id": tmdb_id * 100 + n, "seasonNumber": n, "name": f"Season {n}", "episodeCount": 10,
                 "airDate": None, "overview": "", "posterPath": None} for n in range(1, count + 1)])
        media = self._media.get(key)
        if media is not None:
            related = [self._request_json(r) for r in self._requests.values() if r["media"] == key]
            out["mediaInfo"] = {**copy.deepcopy(media), "requests": related, "issues": []}
        return Reply(200, out)

    # -- requests ------------------------------------------------------------------------------------------------

    def _create(self, request: Request, user: int) -> Reply:
        body, problem = self._body(request)
        if problem is not None:
            return problem
        media_type, tmdb_id, is4k = body["mediaType"], body["mediaId"], bool(body.get("is4k", False))
        key = (media_type, int(tmdb_id) if float(tmdb_id).is_integer() else -1)
        if key not in self._titles:
            what = "movie details" if media_type == "movie" else "TV show details"
            return _err(500, f"[TMDB] Failed to fetch {what}: Request failed with status code 404")
        status_key = "status4k" if is4k else "status"
        media = copy.deepcopy(self._media.get(key)) or self._new_media(key, MEDIA_UNKNOWN, numbered=False)
        if media["status"] == MEDIA_BLOCKLISTED:
            return _err(403, "This media is blocklisted.")
        if media[status_key] in (MEDIA_UNKNOWN, MEDIA_DELETED):
            media[status_key] = MEDIA_PENDING
        existing = [r for r in self._requests.values() if r["media"] == key and r["is4k"] == is4k]
        if media_type == "movie" and existing and existing[0]["status"] not in (REQUEST_DECLINED, REQUEST_COMPLETED):
            return _err(409, "Request for this media already exists.")
        status = REQUEST_APPROVED if _USERS[user][2] & _MANAGE else REQUEST_PENDING
        seasons = self._tv_seasons(body, media, existing, status) if media_type == "tv" else []
        if isinstance(seasons, Reply):
            return seasons
        media["updatedAt"] = _now()
        if media["id"] is None:  # a new row gets its id when it is saved
            self._ids["media"] += 1
            media["id"] = self._ids["media"]
        self._media[key] = media
        self._ids["request"] += 1
        req = {"id": self._ids["request"], "status": status, "type": media_type, "is4k": is4k, "media": key,
               "requestedBy": user, "modifiedBy": user if status == REQUEST_APPROVED else None, "seasons": seasons,
               "createdAt": _now(), "updatedAt": _now(), "serverId": body.get("serverId"),
               "profileId": body.get("profileId"), "rootFolder": body.get("rootFolder"),
               "languageProfileId": body.get("languageProfileId"), "tags": None, "isAutoRequest": False}
        self._requests[req["id"]] = req
        answer = self._request_json(req)  # the media as saved, before the subscriber moves it on
        self._update_parent(req)
        return Reply(201, answer)

    def _tv_seasons(self, body: dict[str, Any], media: dict[str, Any], existing: list[dict[str, Any]],
                    status: int) -> list[dict[str, Any]] | Reply:
        wanted = body.get("seasons")
        if wanted is None:  # `requestedSeasons.filter` on undefined in MediaRequest.request
            return _err(500, "Cannot read properties of undefined (reading 'filter')")
        if wanted == "all":
            wanted = list(range(1, self._titles[("tv", media["tmdbId"])]["seasons"] + 1))
        taken = {s["seasonNumber"] for r in existing if r["status"] not in (REQUEST_DECLINED, REQUEST_COMPLETED)
                 for s in r["seasons"]}
        taken |= {s["seasonNumber"] for s in media["seasons"] if s["status"] not in (MEDIA_UNKNOWN, MEDIA_DELETED)}
        final = [n for n in wanted if n > 0 and n not in taken]  # season 0 goes: special episodes are off
        if not final:
            return _err(202, "No seasons available to request")
        return [self._season(n, status) for n in final]

    @staticmethod
    def _body(request: Request) -> tuple[dict[str, Any], Reply | None]:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            snippet = request.body.decode("utf-8", "replace")[:30]
            return {}, _err(400, f"Unexpected token '{snippet[:1]}', \"{snippet}\" is not valid JSON")
        if not isinstance(body, dict):
            return {}, _invalid("body", "must be object", "type")
        for prop in ("mediaType", "mediaId"):
            if prop not in body:
                return body, _invalid("body", f"must have required property '{prop}'", "required", prop)
        if body["mediaType"] not in ("movie", "tv"):
            return body, _invalid("body/mediaType", "must be equal to one of the allowed values: movie, tv", "enum")
        for prop, kind in (("mediaId", (int, float)), ("is4k", bool), ("serverId", (int, float)),
                           ("profileId", (int, float)), ("languageProfileId", (int, float))):
            value = body.get(prop, 0 if kind is not bool else False)
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                return body, _invalid(f"body/{prop}", f"must be {'boolean' if kind is bool else 'number'}", "type")
        seasons = body.get("seasons", "all")
        if seasons != "all" and not (isinstance(seasons, list) and all(
                isinstance(n, int | float) and not isinstance(n, bool) and n >= 0 for n in seasons)):
            return body, _invalid("body/seasons", "must match exactly one schema in oneOf", "oneOf")
        return body, None

    def _list(self, request: Request, user: int) -> Reply:
        take = int(_number(request.arg("take") or "") or 10)
        skip = int(_number(request.arg("skip") or "") or 0)
        wanted_by = int(_number(request.arg("requestedBy") or "") or 0)
        flt = request.arg("filter") or "all"
        statuses = {"approved": {2}, "processing": {2}, "pending": {1}, "unavailable": {1, 2}, "failed": {4},
                    "completed": {5}, "available": {5}, "deleted": {5}}.get(flt, {1, 2, 3, 4, 5})
        media_ok = {"available": {5}, "processing": {1, 2, 3, 4}, "unavailable": {1, 2, 3, 4},
                    "deleted": {7}}.get(flt, {1, 2, 3, 4, 5, 7})
        manager = bool(_USERS[user][2] & _MANAGE)
        if not manager and wanted_by and wanted_by != user:
            return _err(403, "You do not have permission to view this user's requests.")
        owner = wanted_by or (None if manager else user)
        kind = request.arg("mediaType") or "all"
        rows = [r for r in self._requests.values() if r["status"] in statuses
                and self._media[r["media"]]["status4k" if r["is4k"] else "status"] in media_ok
                and owner in (None, r["requestedBy"]) and kind in ("all", r["type"])]
        field = {"modified": "updatedAt"}.get(request.arg("sort") or "added", "createdAt")
        rows.sort(key=lambda r: (r[field], r["id"]), reverse=request.arg("sortDirection") != "asc")
        results = [{**self._request_json(r), **({"canRemove": False} if manager else {})}
                   for r in rows[skip:skip + take]]
        return Reply(200, {"pageInfo": {"pages": math.ceil(len(rows) / take), "pageSize": take,
                                        "results": len(rows), "page": math.ceil(skip / take) + 1},
                           "results": results, "serviceErrors": {"radarr": [], "sonarr": []}})

    def _one(self, raw_id: str, user: int, delete: bool) -> Reply:
        req = self._requests.get(int(raw_id)) if raw_id.isdigit() else None
        if req is None:
            return _err(404, "Request not found.")
        manager = bool(_USERS[user][2] & _MANAGE)
        if not delete:
            if req["requestedBy"] != user and not manager:
                return _err(403, "You do not have permission to view this request.")
            return Reply(200, self._request_json(req))
        if not manager and (req["requestedBy"] != user or req["status"] != REQUEST_PENDING):
            return _err(401, "You do not have permission to delete this request.")
        del self._requests[req["id"]]
        media, left = self._media[req["media"]], [r for r in self._requests.values() if r["media"] == req["media"]]
        for is4k, status_key in ((False, "status"), (True, "status4k")):
            if not any(r["is4k"] == is4k for r in left) and media[status_key] != MEDIA_AVAILABLE:
                media[status_key] = MEDIA_UNKNOWN
        return Reply(204)

    # -- state rules (the subscribers) ---------------------------------------------------------------------------

    def _update_parent(self, req: dict[str, Any]) -> None:
        media, status_key = self._media[req["media"]], "status4k" if req["is4k"] else "status"
        if req["status"] == REQUEST_APPROVED and media[status_key] not in (
                MEDIA_AVAILABLE, MEDIA_PARTIALLY_AVAILABLE, MEDIA_PROCESSING):
            media[status_key] = MEDIA_PROCESSING
        if req["status"] == REQUEST_DECLINED and media[status_key] != MEDIA_DELETED and (
                req["type"] == "movie" or (media[status_key] == MEDIA_PENDING and not any(
                    r["status"] == REQUEST_PENDING for r in self._requests.values() if r["media"] == req["media"]))):
            media[status_key] = MEDIA_UNKNOWN
        if req["type"] == "tv" and req["status"] == REQUEST_APPROVED:
            for season in req["seasons"]:
                season["status"] = REQUEST_APPROVED

    def _media_changed(self, media: dict[str, Any], old_status: int, old_seasons: dict[int, int]) -> None:
        key = (media["mediaType"], media["tmdbId"])
        mine = [r for r in self._requests.values() if r["media"] == key and not r["is4k"]]
        if media["status"] == MEDIA_AVAILABLE and old_status == MEDIA_PENDING:
            for req in (r for r in mine if r["status"] == REQUEST_PENDING):
                req["status"] = REQUEST_APPROVED
                self._update_parent(req)
        seasons = {s["seasonNumber"]: s["status"] for s in media["seasons"]}
        if media["status"] not in (MEDIA_PARTIALLY_AVAILABLE, MEDIA_AVAILABLE, MEDIA_DELETED) or (
                media["status"] == old_status and seasons == old_seasons):
            return
        for req in (r for r in mine if r["status"] in (REQUEST_APPROVED, REQUEST_FAILED)):
            if req["type"] == "movie":
                done = media["status"] in (MEDIA_AVAILABLE, MEDIA_DELETED)
            else:
                for season in req["seasons"]:
                    now = seasons.get(season["seasonNumber"])
                    if (now != old_seasons.get(season["seasonNumber"]) or season["status"] == REQUEST_COMPLETED) \
                            and now in (MEDIA_AVAILABLE, MEDIA_DELETED):
                        season["status"] = REQUEST_COMPLETED
                done = all(s["status"] == REQUEST_COMPLETED for s in req["seasons"])
            if done:
                req.update(status=REQUEST_COMPLETED, updatedAt=_now())

    # -- JSON shapes ---------------------------------------------------------------------------------------------

    def _new_media(self, key: tuple[str, int], status: int, numbered: bool = True) -> dict[str, Any]:
        self._ids["media"] += numbered
        stamp = _now()
        service = ("serviceId", "externalServiceId", "externalServiceSlug", "ratingKey", "jellyfinMediaId")
        return {"id": self._ids["media"] if numbered else None, "mediaType": key[0], "tmdbId": key[1],
                "tvdbId": None, "imdbId": None, "status": status, "status4k": MEDIA_UNKNOWN, "createdAt": stamp,
                "updatedAt": stamp, "lastSeasonChange": stamp, "mediaAddedAt": stamp,
                **dict.fromkeys(service + tuple(f"{k}4k" for k in service)),
                "seasons": [], "downloadStatus": [], "downloadStatus4k": []}

    def _season(self, number: int, status: int) -> dict[str, Any]:
        self._ids["season"] += 1
        return {"id": self._ids["season"], "seasonNumber": number, "status": status, "createdAt": _now(),
                "updatedAt": _now()}

    @staticmethod
    def _user_json(uid: int, request_count: int) -> dict[str, Any]:
        username, email, permissions, user_type = _USERS[uid]
        return {"id": uid, "email": email, "plexUsername": None, "jellyfinUsername": None, "username": username,
                "userType": user_type, "permissions": permissions, "avatar": f"/avatarproxy/{uid}",
                "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
                "requestCount": request_count, "displayName": username}

    def _request_json(self, req: dict[str, Any]) -> dict[str, Any]:
        def user(uid: int) -> dict[str, Any]:
            return self._user_json(uid, sum(r["requestedBy"] == uid for r in self._requests.values()))

        out = {k: copy.deepcopy(v) for k, v in req.items() if k not in ("media", "requestedBy", "modifiedBy")}
        out.update(media=copy.deepcopy(self._media[req["media"]]), requestedBy=user(req["requestedBy"]),
                   modifiedBy=user(req["modifiedBy"]) if req["modifiedBy"] else None,
                   seasonCount=len(req["seasons"]))
        return out

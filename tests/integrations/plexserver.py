"""A stand-in for the local Plex Media Server HTTP API (port 32400, not plex.tv): server identity, the
library sections, and a section scan (`refresh`, whole or partial by `path=`).

Sources, and what each behaviour comes from:

- LukeHagar/plex-api-spec (OpenAPI): `paths/identity.yaml` (MediaContainer size/claimed/machineIdentifier/
  version), `paths/library/get-all-libraries.yaml` (MediaContainer size/allowSync/title1 and the Directory
  fields with their types: booleans, `hidden`/`contentChangedAt` ints, Location {id, path}),
  `models/common/PlexDateTime.yaml` (timestamps are Unix epoch seconds), `paths/library/[sectionId]/
  get-refresh-library*.yaml` (GET refresh, optional `force`, answers 200 without a body).
- python-plexapi `plexapi/library.py`: `LibrarySection.update(path=)` sends
  `GET /library/sections/{key}/refresh?path=<quote_plus(path)>`, `refresh()` adds `force=1`,
  `cancelUpdate()` is `DELETE` on the same URL. The newer Plex developer docs (developer.plex.tv/pms, as
  mirrored by plex MCP tool listings) name `POST` for the same refresh, with `force` and `path`.
- support.plex.tv "Plex Media Server URL Commands": the token goes in `X-Plex-Token` (query parameter or
  header); XML is the default answer, JSON with `Accept: application/json`; XML booleans are "1"/"0".
- GitHub issues (bstascavage/plexReport#48, iharosi/homebridge-plex-v2#12, Hellowlol/bw_plex#8) and a
  forums.plex.tv thread (2026, "401 ... have 91 bytes"; JSON clients choke on "<html>"): a missing or wrong
  token gets 401, `Content-Type: text/html`, `X-Plex-Protocol: 1.0`, and the 91-byte body
  `<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>` whatever
  the Accept header says.

Assumptions (not confirmed by a source):

- 404 (an unknown section key, an unknown route) uses the same HTML template as the 401 ("Not Found").
- `/identity` answers without a token (it is the unauthenticated reachability probe clients use).
- A refresh answers 200 with an empty `text/html` body; GET and POST are both recorded as refreshes, DELETE
  (cancel) answers 200 and is not recorded; other methods on a known route answer 404.
- Scans complete instantly: `refreshing` stays false and the section's `scannedAt` becomes "now".
- `fail_status` bodies use the HTML template too, but the base class sends them as application/json.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from tests.integrations.standin import Reply, Request, StandIn

MACHINE_ID = "96f2fe7a78c9dc1f16a16bedbe90f98149be16b4"
VERSION = "1.41.3.9314-a0bfb8370"
XML_TYPE = "text/xml;charset=utf-8"
JSON_TYPE = "application/json"
HTML_TYPE = "text/html"
PLEX_HEADERS = {"X-Plex-Protocol": "1.0", "Cache-Control": "no-cache"}

# section type -> (agent, scanner) as a fresh PMS install picks them
AGENTS = {
    "movie": ("tv.plex.agents.movie", "Plex Movie"),
    "show": ("tv.plex.agents.series", "Plex TV Series"),
    "artist": ("tv.plex.agents.music", "Plex Music"),
    "photo": ("com.plexapp.agents.none", "Plex Photo Scanner"),
}

DEFAULT_SECTIONS: list[tuple[str, str, str, list[str]]] = [
    ("1", "Movies", "movie", ["/media/movies"]),
    ("2", "TV Shows", "show", ["/media/tv"]),
    ("3", "Music", "artist", ["/media/music"]),
]


def html_error(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    return f"<html><head><title>{phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>".encode()


@dataclass
class Section:
    key: str
    title: str
    type: str
    locations: list[tuple[int, str]]
    created_at: int
    scanned_at: int
    uuid: str

    def directory(self) -> dict[str, Any]:
        """The Directory entry of `/library/sections`, JSON-typed (XML flattens it to attributes)."""
        agent, scanner = AGENTS.get(self.type, ("com.plexapp.agents.none", "Plex Video Files Scanner"))
        return {
            "allowSync": True, "art": f"/:/resources/{self.type}-fanart.jpg",
            "composite": f"/library/sections/{self.key}/composite/{self.scanned_at}", "filters": True,
            "refreshing": False, "thumb": f"/:/resources/{self.type}.png", "key": self.key, "type": self.type,
            "title": self.title, "agent": agent, "scanner": scanner, "language": "en-US", "uuid": self.uuid,
            "updatedAt": self.scanned_at, "createdAt": self.created_at, "scannedAt": self.scanned_at,
            "content": True, "directory": True, "contentChangedAt": self.scanned_at % 10_000_000, "hidden": 0,
            "Location": [{"id": loc_id, "path": path} for loc_id, path in self.locations],
        }


class PlexServer(StandIn):
    """Plex Media Server: `/identity`, `/library/sections`, `/library/sections/{key}/refresh`."""

    def __init__(self, token: str = "plex-server-token") -> None:  # noqa: S107 - a test token
        super().__init__()
        self.token = token
        self.version = VERSION  # what /identity says; a test may make it anything
        self._sections: dict[str, Section] = {}
        self._refreshes: list[tuple[str, str | None]] = []
        self.set_sections(DEFAULT_SECTIONS)

    # -- test controls -----------------------------------------------------------------------------------------

    def set_sections(self, sections: list[tuple[str, str, str, list[str]]]) -> None:
        """Replace the library: (key, title, type, location paths) per section; Location ids count from 1."""
        now = int(time.time())
        built: dict[str, Section] = {}
        loc_id = 0
        for key, title, kind, paths in sections:
            locations = []
            for path in paths:
                loc_id += 1
                locations.append((loc_id, path))
            built[key] = Section(key, title, kind, locations, now - 86_400, now,
                                 str(uuid.uuid5(uuid.NAMESPACE_URL, f"plex-section:{key}:{title}")))
        with self.lock:
            self._sections = built

    def refreshes(self) -> list[tuple[str, str | None]]:
        """(section key, `path` parameter or None) of each refresh received, in order."""
        with self.lock:
            return list(self._refreshes)

    # -- the service -------------------------------------------------------------------------------------------

    def error_body(self, status: int) -> Any:
        return self._html(status)

    def answer(self, request: Request) -> Reply:
        if request.path == "/identity" and request.method in ("GET", "HEAD"):
            return self._identity(request)
        if not self._authorized(request):
            return self._html(401)
        if request.path == "/library/sections" and request.method in ("GET", "HEAD"):
            return self._sections_list(request)
        parts = request.path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["library", "sections"] and parts[3] == "refresh":
            return self._refresh(request, parts[2])
        return self._html(404)

    def _authorized(self, request: Request) -> bool:
        given = request.headers.get("x-plex-token") or request.arg("X-Plex-Token")
        return given == self.token

    def _identity(self, request: Request) -> Reply:
        attrs: dict[str, Any] = {"size": 0, "claimed": True, "machineIdentifier": MACHINE_ID,
                                 "version": self.version}
        return self._container(request, attrs, [])

    def _sections_list(self, request: Request) -> Reply:
        with self.lock:
            directories = [s.directory() for s in self._sections.values()]
        attrs: dict[str, Any] = {"size": len(directories), "allowSync": False, "title1": "Plex Library"}
        return self._container(request, attrs, directories)

    def _refresh(self, request: Request, key: str) -> Reply:
        with self.lock:
            section = self._sections.get(key)
            if section is None or request.method not in ("GET", "POST", "DELETE"):
                return self._html(404)
            if request.method != "DELETE":
                self._refreshes.append((key, request.arg("path")))
                section.scanned_at = int(time.time())
        return Reply(200, b"", headers=dict(PLEX_HEADERS), content_type=HTML_TYPE)

    # -- rendering ---------------------------------------------------------------------------------------------

    @staticmethod
    def _html(status: int) -> Reply:
        return Reply(status, html_error(status), headers=dict(PLEX_HEADERS), content_type=HTML_TYPE)

    @staticmethod
    def _container(request: Request, attrs: dict[str, Any], directories: list[dict[str, Any]]) -> Reply:
        if "application/json" in request.headers.get("accept", ""):
            body: dict[str, Any] = dict(attrs)
            if directories:
                body["Directory"] = directories
            return Reply(200, {"MediaContainer": body}, headers=dict(PLEX_HEADERS), content_type=JSON_TYPE)
        root = ET.Element("MediaContainer", _xml_attrs(attrs))
        for directory in directories:
            locations = directory.pop("Location")
            elem = ET.SubElement(root, "Directory", _xml_attrs(directory))
            for location in locations:
                ET.SubElement(elem, "Location", _xml_attrs(location))
        xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
        return Reply(200, xml.encode(), headers=dict(PLEX_HEADERS), content_type=XML_TYPE)


def _xml_attrs(values: dict[str, Any]) -> dict[str, str]:
    """PMS XML writes booleans as "1"/"0" and everything else as its text."""
    return {k: ("1" if v else "0") if isinstance(v, bool) else str(v) for k, v in values.items()}

"""The security headers every response carries, chosen once per kind of page (computed at start-up).

- CSP: the web UI is same-origin scripts and styles (inline styles allowed: UI libraries set `style`
  attributes), images from anywhere over https (download thumbnails), media and sockets from here.
  `/api/docs` gets its own policy: Swagger UI loads from jsDelivr and starts with an inline script.
- `Referrer-Policy: no-referrer`: stream URLs carry a token in the query; a Referer must not leak it.
- COOP `same-origin-allow-popups`: no other site's window keeps a handle on ours, but the window we open
  for "Sign in with Plex" stays ours to close once app.plex.tv has been approved (plain `same-origin` cuts
  that handle the moment the popup leaves for plex.tv).
- HSTS only over https (directly, or through a trusted proxy's X-Forwarded-Proto): over plain http
  the header means nothing and on a LAN address it would only get in the way.
"""

from __future__ import annotations

from starlette.types import Scope

UI_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob: https:; media-src 'self' blob:; connect-src 'self'; font-src 'self' data:; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
DOCS_PATH = "/api/docs"
HSTS = (b"strict-transport-security", b"max-age=31536000")

Headers = tuple[tuple[bytes, bytes], ...]


def _common(csp: str) -> Headers:
    return ((b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin-allow-popups"))


class SecurityHeaders:
    def __init__(self) -> None:
        self._plain = {False: _common(UI_CSP), True: _common(DOCS_CSP)}
        self._https = {docs: (*headers, HSTS) for docs, headers in self._plain.items()}

    def for_scope(self, scope: Scope) -> Headers:
        docs = scope["path"].startswith(DOCS_PATH)
        return (self._https if scope.get("scheme") == "https" else self._plain)[docs]

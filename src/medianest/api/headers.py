"""The security headers every response carries, chosen once per kind of page (computed at start-up).

- CSP: the web UI is same-origin scripts and styles (inline styles allowed: UI libraries set `style`
  attributes), images from anywhere over https (download thumbnails), media and sockets from here.
  `/api/docs` gets its own policy: Swagger UI is served from here too, and its one inline start-up script is
  allowed by its hash (not by 'unsafe-inline'), so nothing else inline can run there.
- `Referrer-Policy: no-referrer`: stream URLs carry a token in the query; a Referer must not leak it.
- COOP `same-origin-allow-popups`: no other site's window keeps a handle on ours, but the window we open
  for "Sign in with Plex" stays ours to close once app.plex.tv has been approved (plain `same-origin` cuts
  that handle the moment the popup leaves for plex.tv).
- HSTS only over https (directly, or through a trusted proxy's X-Forwarded-Proto): over plain http
  the header means nothing and on a LAN address it would only get in the way.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import Scope

UI_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob: https:; media-src 'self' blob:; connect-src 'self'; font-src 'self' data:; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
DOCS_PATH = "/api/docs"
HSTS = (b"strict-transport-security", b"max-age=31536000")

Headers = tuple[tuple[bytes, bytes], ...]


def _common(csp: str) -> Headers:
    return ((b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin-allow-popups"))


def inline_script_sources(page: str) -> str:
    """CSP source expressions allowing exactly the inline scripts of `page` (by their SHA-256)."""
    digests = (hashlib.sha256(body.encode()).digest() for body in _INLINE_SCRIPT.findall(page))
    return "".join(f" 'sha256-{base64.b64encode(d).decode()}'" for d in digests)


class SecurityHeaders:
    def __init__(self, docs_page: str = "") -> None:
        """`docs_page`: the HTML served at /api/docs, whose inline scripts its policy allows."""
        docs_csp = DOCS_CSP.format(scripts=inline_script_sources(docs_page))
        self._plain = {False: _common(UI_CSP), True: _common(docs_csp)}
        self._https = {docs: (*headers, HSTS) for docs, headers in self._plain.items()}

    def for_scope(self, scope: Scope) -> Headers:
        docs = scope["path"].startswith(DOCS_PATH)
        return (self._https if scope.get("scheme") == "https" else self._plain)[docs]

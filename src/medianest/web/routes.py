"""Serve the web UI: `/` is the single page (the client routes by `#/...`), `/static/*` its files, and
`/api/docs`, Swagger UI from our own files, so the API docs work without internet.

Static files are revalidated on every load (`no-cache` + ETag): ES modules import each other by plain
relative URLs, so a long cache would mix old and new modules after an upgrade; a 304 is cheap.

Swagger UI is swagger-ui-dist 5.36.0 from the npm registry (swagger-ui-bundle.js and swagger-ui.css, byte
for byte, with its LICENSE, NOTICE and the bundle's third-party licences), vendored like socket.io-client:
it is the Swagger UI team's own build, and the PyPI packages that ship it trail it by months or years.
hls.js 1.7.4 is vendored the same way (`dist/hls.light.min.mjs` from the npm registry, byte for byte, with its
LICENSE as hls.js.LICENSE); js/stream.js loads it only when an HLS stream plays in a browser without HLS of its own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from medianest import __version__

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
DOCS_URL = "/api/docs"


class _RevalidatedFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: FastAPI) -> None:
    page = (WEB_DIR / "templates" / "index.html").read_text(encoding="utf-8").replace("{{version}}", __version__)

    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    docs = docs_html(app)

    async def api_docs() -> HTMLResponse:
        return HTMLResponse(docs, headers={"Cache-Control": "no-cache"})

    app.mount("/static", _RevalidatedFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", index, include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route(DOCS_URL, api_docs, include_in_schema=False, response_class=HTMLResponse)


def docs_html(app: FastAPI) -> str:
    """The Swagger UI page for the app's OpenAPI document, every asset served from /static. Its one inline
    script (Swagger UI's start-up) is allowed by its hash in the page's Content-Security-Policy."""
    assert app.openapi_url, "the API docs need the OpenAPI document"
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url, title=f"{app.title} API", swagger_favicon_url="/static/icon.svg",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js", swagger_css_url="/static/vendor/swagger-ui.css",
        oauth2_redirect_url=None)
    return bytes(page.body).decode()

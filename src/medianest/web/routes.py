"""Serve the web UI: `/` is the single page (the client routes by `#/...`), `/static/*` its files.

Static files are revalidated on every load (`no-cache` + ETag): ES modules import each other by plain
relative URLs, so a long cache would mix old and new modules after an upgrade; a 304 is cheap.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from medianest import __version__

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"


class _RevalidatedFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: FastAPI) -> None:
    page = (WEB_DIR / "templates" / "index.html").read_text(encoding="utf-8").replace("{{version}}", __version__)

    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    app.mount("/static", _RevalidatedFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", index, include_in_schema=False, response_class=HTMLResponse)

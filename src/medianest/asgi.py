"""Entry point for ASGI servers (settings from the env):
`granian --interface asgi --factory medianest.asgi:app_factory`."""

import gc

from fastapi import FastAPI

from medianest.app import create_app
from medianest.config import Settings


def app_factory() -> FastAPI:
    app = create_app(Settings())
    # Everything built so far (modules, the app, its routes and models) lives as long as the process:
    # moved out of the collector's sight, it is no longer traversed by every full collection.
    gc.freeze()
    return app

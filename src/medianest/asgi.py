"""Entry point for ASGI servers: `uvicorn --factory medianest.asgi:app_factory` (settings from the env)."""

from fastapi import FastAPI

from medianest.app import create_app
from medianest.config import Settings


def app_factory() -> FastAPI:
    return create_app(Settings())

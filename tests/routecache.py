"""Tests build one app per test (each on its own database), and FastAPI builds each route's request
handling (its dependency tree, its pydantic fields) lazily once per app: ~60 routes at 5-10 ms each, so
0.5-0.7 s of every in-process test went to rebuilding exactly what the test before had built. A server
process builds one app, so this costs production nothing and is not changed there.

`share_route_contexts()` keeps, for the test process, one built context per (route, inclusion): every
app `create_app` makes includes the same module-level routers in the same way. What a context refers to
per app is only `dependency_overrides_provider` (the app), for `app.dependency_overrides`, which nothing
in MediaNest or its tests uses: `tests/test_routecache.py` holds that, and that the cache is in use (a
FastAPI that renames these internals turns that test red instead of silently making the suite slow).
"""

from __future__ import annotations

from typing import Any

from fastapi import routing

_CACHE: dict[tuple[Any, ...], Any] = {}


def _key(original_route: Any, include_context: Any) -> tuple[Any, ...]:
    deps = tuple((d.dependency, d.use_cache, getattr(d, "scope", None)) for d in include_context.dependencies)
    return (id(original_route), id(include_context.included_router), include_context.prefix, deps,
            include_context.max_body_size)


def share_route_contexts() -> bool:
    """Install the cache; False when this FastAPI has no such internals (nothing to share)."""
    cls = getattr(routing, "_EffectiveRouteContext", None)
    build = getattr(cls, "from_api_route", None)
    if cls is None or build is None or getattr(build, "__shared__", False):
        return cls is not None and build is not None
    original = build.__func__

    def from_api_route(klass: Any, *, original_route: Any, include_context: Any) -> Any:
        key = _key(original_route, include_context)
        hit = _CACHE.get(key)
        if hit is None or hit[0] is not original_route:
            hit = (original_route, original(klass, original_route=original_route, include_context=include_context))
            _CACHE[key] = hit
        return hit[1]

    from_api_route.__shared__ = True  # type: ignore[attr-defined]
    cls.from_api_route = classmethod(from_api_route)
    return True


def shared_contexts() -> int:
    return len(_CACHE)

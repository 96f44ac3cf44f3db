"""Routes: /api/v1/services (admin: connections and their test), /api/v1/services/status (anyone
signed in: the board), /api/v1/plex/libraries."""

from __future__ import annotations

from fastapi import APIRouter, Response

from medianest.api.deps import AdminUser, CurrentUser, IntegrationsDep, PageDep, SessionDep, parse_id
from medianest.api.envelope import Envelope, Page, errors, ok, page
from medianest.connections import plex_refresh, status
from medianest.connections import service as connections
from medianest.connections.schemas import BoardEntry, PlexLibraryOut, ServiceIn, ServiceOut, ServicePatch, TestResult

router = APIRouter(prefix="/api/v1/services", tags=["services"], responses=errors(401, 403))
plex_router = APIRouter(prefix="/api/v1/plex", tags=["services"], responses=errors(401))


@router.get("/status")
async def status_board(_: CurrentUser, session: SessionDep) -> Envelope[list[BoardEntry]]:
    """Every enabled connection and imported Uptime Kuma monitor, as last checked, with its uptime
    over 24 hours and 7 days. Live changes arrive as `status:update` in the `status` room."""
    return ok(await status.board(session))


@router.get("", responses=errors(422))
async def list_services(_: AdminUser, session: SessionDep, integrations: IntegrationsDep,
                        paging: PageDep) -> Page[ServiceOut]:
    rows, total = await connections.list_services(session, paging.offset, paging.per_page)
    return page([connections.describe(integrations, r) for r in rows], page=paging.page,
                per_page=paging.per_page, total=total)


@router.post("", status_code=201, responses=errors(409, 422))
async def add_service(body: ServiceIn, admin: AdminUser, session: SessionDep,
                      integrations: IntegrationsDep) -> Envelope[ServiceOut]:
    """Add a connection; `secret` is stored encrypted and never returned (`has_secret` says it is set)."""
    config = await connections.add_service(session, integrations, admin, body)
    return ok(connections.describe(integrations, config))


@router.get("/{service_id}", responses=errors(404))
async def get_service(service_id: str, _: AdminUser, session: SessionDep,
                      integrations: IntegrationsDep) -> Envelope[ServiceOut]:
    config = await connections.get_service(session, parse_id(service_id, "service"))
    return ok(connections.describe(integrations, config))


@router.patch("/{service_id}", responses=errors(404, 409, 422))
async def patch_service(service_id: str, body: ServicePatch, admin: AdminUser, session: SessionDep,
                        integrations: IntegrationsDep) -> Envelope[ServiceOut]:
    config = await connections.patch_service(session, integrations, admin, parse_id(service_id, "service"), body)
    return ok(connections.describe(integrations, config))


@router.delete("/{service_id}", status_code=204, responses=errors(404))
async def delete_service(service_id: str, admin: AdminUser, session: SessionDep,
                         integrations: IntegrationsDep) -> Response:
    await connections.delete_service(session, integrations, admin, parse_id(service_id, "service"))
    return Response(status_code=204)


@router.post("/{service_id}/test", responses=errors(404, 422))
async def test_service(service_id: str, _: AdminUser, session: SessionDep,
                       integrations: IntegrationsDep) -> Envelope[TestResult]:
    """Ask the service now and report what it answered (the outcome is not recorded on the board)."""
    result = await connections.test_service(session, integrations, parse_id(service_id, "service"))
    return ok(TestResult(ok=result.status == "up", status=result.status,
                         response_ms=result.response_ms, detail=result.detail))


@plex_router.get("/libraries", responses=errors(502, 503, 504))
async def plex_libraries(_: CurrentUser, session: SessionDep,
                         integrations: IntegrationsDep) -> Envelope[list[PlexLibraryOut]]:
    """The libraries of the configured Plex Media Server(s), with the folders each covers."""
    return ok(await plex_refresh.libraries(session, integrations))

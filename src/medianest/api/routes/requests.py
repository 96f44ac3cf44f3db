"""Routes: /api/v1/requests (search Seerr, request a title, follow and withdraw requests)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from medianest.api.deps import (
    CurrentUser,
    IntegrationsDep,
    LimitsDep,
    NotifierDep,
    PageDep,
    SessionDep,
    parse_id,
    parts,
)
from medianest.api.envelope import Envelope, Page, errors, ok, page
from medianest.inputs import NO_NUL
from medianest.requests import service
from medianest.requests.schemas import RequestIn, RequestOut, RequestStatus, SearchMeta, SearchPageOut

router = APIRouter(prefix="/api/v1/requests", tags=["requests"], responses=errors(401))
UPSTREAM = (502, 503, 504)


@router.get("/search", responses=errors(422, *UPSTREAM))
async def search(request: Request, user: CurrentUser, session: SessionDep, integrations: IntegrationsDep,
                 q: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_NUL)],
                 page_no: Annotated[int, Query(alias="page", ge=1, le=500)] = 1) -> SearchPageOut:
    """Movies and shows matching `q` at Seerr, each with its availability (cached for 5 minutes; while
    Seerr is down the last answer is served with `meta.stale: true`)."""
    found, results, stale = await service.search(session, integrations, parts(request).search_cache, user,
                                                 q, page_no)
    return SearchPageOut(data=results, meta=SearchMeta(
        page=found.page, per_page=len(results), total=found.total_results, total_pages=found.total_pages,
        has_more=found.page < found.total_pages, stale=stale))


@router.post("", status_code=201, responses=errors(409, 422, 429, *UPSTREAM))
async def create(body: RequestIn, user: CurrentUser, session: SessionDep, integrations: IntegrationsDep,
                 limits: LimitsDep, notifier: NotifierDep) -> Envelope[RequestOut]:
    """Request a movie or show at Seerr; its status is followed from then on (`request:updated`)."""
    return ok(RequestOut.of(await service.create(session, integrations, limits, notifier, user, body)))


@router.get("", responses=errors(422))
async def list_requests(user: CurrentUser, session: SessionDep, paging: PageDep,
                        status: RequestStatus | None = None) -> Page[RequestOut]:
    """The caller's requests, newest first (an admin sees everyone's)."""
    rows, total = await service.list_requests(session, user, status, paging.offset, paging.per_page)
    return page([RequestOut.of(r) for r in rows], page=paging.page, per_page=paging.per_page, total=total)


@router.get("/{request_id}", responses=errors(404))
async def get_request(request_id: str, user: CurrentUser, session: SessionDep) -> Envelope[RequestOut]:
    return ok(RequestOut.of(await service.get_request(session, user, parse_id(request_id, "request"))))


@router.delete("/{request_id}", status_code=204, responses=errors(404, 409, *UPSTREAM))
async def cancel(request_id: str, user: CurrentUser, session: SessionDep, integrations: IntegrationsDep,
                 notifier: NotifierDep) -> Response:
    """Withdraw a pending request (here and at Seerr)."""
    await service.cancel(session, integrations, notifier, user, parse_id(request_id, "request"))
    return Response(status_code=204)


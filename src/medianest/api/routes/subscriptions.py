"""Routes: /api/v1/subscriptions (follow, list, read, change, stop, check now) and the private feeds
(/api/v1/feeds/{token}: RSS for podcast apps, and the files it lists)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from medianest.api.deps import CurrentUser, PageDep, SessionDep, parse_id, parts
from medianest.api.envelope import Envelope, Page, errors, ok, page
from medianest.api.routes.streaming import BYTES, AccessDep, stream_response
from medianest.db.base import utcnow
from medianest.inputs import NO_NUL
from medianest.subscriptions import rss, service
from medianest.subscriptions.models import Subscription
from medianest.subscriptions.schemas import SubscriptionIn, SubscriptionOut, SubscriptionPatch

router = APIRouter(prefix="/api/v1/subscriptions", tags=["subscriptions"], responses=errors(401, 403))
feeds_router = APIRouter(prefix="/api/v1/feeds", tags=["subscriptions"])


def _subscriptions(request: Request) -> service.Subscriptions:
    ctx: service.Subscriptions = parts(request).subscriptions
    return ctx


SubscriptionsDep = Annotated[service.Subscriptions, Depends(_subscriptions)]
Token = Annotated[str, Path(max_length=80, pattern=NO_NUL)]


async def _out(request: Request, session: SessionDep, subs: list[Subscription]) -> list[SubscriptionOut]:
    counts = await service.item_counts(session, [s.id for s in subs])
    settings, now = parts(request).settings, utcnow()
    return [SubscriptionOut.of(s, counts[s.id], _feed_url(request, service.feed_token(settings, s)), now)
            for s in subs]


def _feed_url(request: Request, token: str) -> str:
    return str(request.url_for("subscription_feed", token=token))


@router.post("", status_code=201, responses=errors(400, 409, 422, 503))
async def create(request: Request, body: SubscriptionIn, user: CurrentUser, session: SessionDep,
                 ctx: SubscriptionsDep) -> Envelope[SubscriptionOut]:
    """Follow a channel, a playlist or a podcast feed; its first check is queued at once and indexes what
    is there (downloading only the newest `backfill`), later checks download what is new."""
    sub = await service.create(ctx, session, user, body)
    return ok((await _out(request, session, [sub]))[0])


@router.get("", responses=errors(422))
async def list_subscriptions(request: Request, user: CurrentUser, session: SessionDep,
                             paging: PageDep) -> Page[SubscriptionOut]:
    """The caller's subscriptions, newest first."""
    rows, total = await service.list_subscriptions(session, user, paging.offset, paging.per_page)
    return page(await _out(request, session, rows), page=paging.page, per_page=paging.per_page, total=total)


@router.get("/{subscription_id}", responses=errors(404))
async def get_subscription(request: Request, subscription_id: str, user: CurrentUser,
                           session: SessionDep) -> Envelope[SubscriptionOut]:
    sub = await service.get(session, user, parse_id(subscription_id, "subscription"))
    return ok((await _out(request, session, [sub]))[0])


@router.patch("/{subscription_id}", responses=errors(404, 422))
async def update(request: Request, subscription_id: str, body: SubscriptionPatch, user: CurrentUser,
                 session: SessionDep, ctx: SubscriptionsDep) -> Envelope[SubscriptionOut]:
    """Change the rule, the interval, the name; pause it (`enabled`); or revoke its feed URL."""
    sub = await service.update(ctx, session, user, parse_id(subscription_id, "subscription"), body)
    return ok((await _out(request, session, [sub]))[0])


@router.delete("/{subscription_id}", status_code=204, responses=errors(404))
async def remove(subscription_id: str, user: CurrentUser, session: SessionDep) -> Response:
    """Stop following (what it downloaded stays in the library)."""
    await service.remove(session, user, parse_id(subscription_id, "subscription"))
    return Response(status_code=204)


@router.post("/{subscription_id}/check", status_code=202, responses=errors(404))
async def check(request: Request, subscription_id: str, user: CurrentUser, session: SessionDep,
                ctx: SubscriptionsDep) -> Envelope[SubscriptionOut]:
    """Check now; new entries are queued as downloads (followed as `download:*` events)."""
    sub = await service.check_now(ctx, session, user, parse_id(subscription_id, "subscription"))
    return ok((await _out(request, session, [sub]))[0])


@feeds_router.get("/{token}", name="subscription_feed", response_class=Response,
                  responses={200: {"content": {"application/rss+xml": {}}}, **errors(403, 404)})
async def feed(request: Request, token: Token, session: SessionDep) -> Response:
    """A subscription's private RSS feed (the token is the credential): what it downloaded, newest first."""
    sub = await service.by_feed_token(session, parts(request).settings, token)
    entries = await service.feed_entries(session, sub)
    body = rss.render(sub, entries, _feed_url(request, token),
                      lambda media: str(request.url_for("subscription_feed_file", token=token,
                                                        media_id=str(media.id))))
    return Response(body, media_type="application/rss+xml; charset=utf-8",
                    headers={"cache-control": "private, max-age=300"})


async def feed_file(request: Request, token: Token, media_id: str, session: SessionDep,
                    access: AccessDep) -> Response:
    """An episode's file, with Range requests, for the podcast app that read the feed."""
    sub = await service.by_feed_token(session, parts(request).settings, token)
    media = await service.feed_media(session, sub, parse_id(media_id, "media"))
    found, info = await access.file(media.id)
    return stream_response(found, info)


# GET and HEAD are registered apart so each has its own OpenAPI operation id (one route for both gave them
# the same id, and listed them in a set's order, which differs from one process to the next).
for _method in ("GET", "HEAD"):
    feeds_router.add_api_route("/{token}/media/{media_id}", feed_file, methods=[_method], name="subscription_feed_file",
                               response_class=Response, responses={**BYTES, **errors(403)},
                               operation_id=f"subscription_feed_file_{_method.lower()}")

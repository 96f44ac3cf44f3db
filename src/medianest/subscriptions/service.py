"""Subscriptions as the API sees them: follow a source with a rule, list, change, stop, check now, and
the private feed of what a subscription downloaded."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import STATUS_ACTIVE, User
from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.db.queries import count_rows
from medianest.downloads.models import CANCELED, COMPLETED, FAILED, Download
from medianest.downloads.safety import check_url
from medianest.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound, UpstreamUnavailable
from medianest.jobs.queue import Task
from medianest.library.models import Media
from medianest.subscriptions.feeds import FeedError, Listing, feed_client
from medianest.subscriptions.models import DONE, FEED, PRUNED, QUEUED, Subscription, SubscriptionItem
from medianest.subscriptions.models import FAILED as ITEM_FAILED
from medianest.subscriptions.schemas import RuleIn, SubscriptionIn, SubscriptionPatch
from medianest.subscriptions.sources import identify

NAME_CHARS = 200


@dataclass(frozen=True)
class Subscriptions:
    """What the subscription routes need, built once in the app's lifespan."""

    settings: Settings
    check: Task  # "check subscription N" (subscriptions/tasks.py)


async def create(ctx: Subscriptions, session: AsyncSession, user: User, body: SubscriptionIn,
                 only: str | None = None) -> Subscription:
    """Follow `body.url` (its kind found by reading it); its first check is queued at once. With `only`, an
    address of another kind is refused (BadRequest) before anything is kept (a podcast app adds feeds only)."""
    s = ctx.settings
    url = await check_url(body.url, allow_private=s.downloads_allow_private_networks,
                          allowed_sites=s.downloads_allowed_sites)
    await _check_quota(session, user, s.subscriptions_per_user)
    if await session.scalar(select(Subscription.id).where(Subscription.user_id == user.id, Subscription.url == url)):
        raise Conflict("you already follow this address")
    kind, found = await _identify(s, url)
    if only is not None and kind != only:
        raise BadRequest(f"this address is a {kind}, not a {only}")
    sub = Subscription(user_id=user.id, url=url, kind=kind, feed_secret=secrets.token_hex(16),
                       name=(body.name or found.title or url)[:NAME_CHARS], description=found.description,
                       image_url=found.image_url, mode="audio" if kind == "feed" else "video", quality="best",
                       backfill=body.backfill, interval_s=s.subscriptions_interval_s, enabled=True,
                       next_check_at=utcnow(), last_found=0)
    _apply_rule(sub, body, s)
    session.add(sub)
    try:
        await session.commit()
    except IntegrityError:  # the same address added by a request that ran beside this one
        await session.rollback()
        raise Conflict("you already follow this address") from None
    ctx.check.enqueue(sub.id)
    return sub


async def _check_quota(session: AsyncSession, user: User, limit: int) -> None:
    count = await count_rows(session, select(Subscription.id).where(Subscription.user_id == user.id))
    if count >= limit:
        raise Conflict(f"you already have {count} subscriptions, the most allowed")


async def _identify(settings: Settings, url: str) -> tuple[str, Listing]:
    try:
        async with feed_client(settings) as http:
            return await identify(http, settings, url)
    except FeedError as exc:
        if exc.transient:
            raise UpstreamUnavailable("the site", exc.reason) from None
        raise BadRequest(f"cannot follow this address: {exc.reason}") from None


def _apply_rule(sub: Subscription, rule: RuleIn, settings: Settings) -> None:
    """The fields the request set (an explicit null clears an optional one)."""
    given = rule.model_dump(exclude_unset=True, exclude={"new_feed_token", "url", "backfill"})
    interval = given.get("interval_s")
    if interval is not None and interval < settings.subscriptions_min_interval_s:
        raise InvalidInput("interval_s", f"must be at least {settings.subscriptions_min_interval_s} seconds")
    for field in ("name", "mode", "quality", "interval_s", "enabled"):
        if given.get(field, ...) is None:
            given.pop(field)  # required columns: null leaves them as they are
    for field, value in given.items():
        setattr(sub, field, value)
    if sub.mode == "video":
        sub.audio_format = None


async def list_subscriptions(session: AsyncSession, user: User, offset: int, limit: int,
                             ) -> tuple[list[Subscription], int]:
    query = select(Subscription).where(Subscription.user_id == user.id)
    total = await count_rows(session, query)
    rows = await session.scalars(query.order_by(Subscription.id.desc()).offset(offset).limit(limit))
    return list(rows), total


async def get(session: AsyncSession, user: User, sub_id: int) -> Subscription:
    """The caller's own subscription; anyone else's is a 404 (an admin's too: they are personal)."""
    sub = await session.get(Subscription, sub_id)
    if sub is None or sub.user_id != user.id:
        raise NotFound("subscription", sub_id)
    return sub


async def update(ctx: Subscriptions, session: AsyncSession, user: User, sub_id: int,
                 patch: SubscriptionPatch) -> Subscription:
    sub = await get(session, user, sub_id)
    _apply_rule(sub, patch, ctx.settings)
    if patch.new_feed_token:
        sub.feed_secret = secrets.token_hex(16)
    await session.commit()
    await session.refresh(sub)
    return sub


async def remove(session: AsyncSession, user: User, sub_id: int) -> None:
    """Stop following; what it downloaded stays in the library."""
    await session.delete(await get(session, user, sub_id))
    await session.commit()


async def check_now(ctx: Subscriptions, session: AsyncSession, user: User, sub_id: int) -> Subscription:
    """Queue a check now, whatever the interval (a check already running is not doubled: it holds the lease)."""
    sub = await get(session, user, sub_id)
    ctx.check.enqueue(sub.id, True)
    return sub


async def item_counts(session: AsyncSession, sub_ids: list[int]) -> dict[int, dict[str, int]]:
    """Items by state; a queued item whose download has ended counts as it ended (done or failed), as
    the next check will record it."""
    state = case((and_(SubscriptionItem.state == QUEUED, Download.status == COMPLETED), DONE),
                 (and_(SubscriptionItem.state == QUEUED, Download.status.in_((FAILED, CANCELED))), ITEM_FAILED),
                 else_=SubscriptionItem.state)
    rows = await session.execute(
        select(SubscriptionItem.subscription_id, state, func.count())
        .outerjoin(Download, Download.id == SubscriptionItem.download_id)
        .where(SubscriptionItem.subscription_id.in_(sub_ids))
        .group_by(SubscriptionItem.subscription_id, state))
    counts: dict[int, dict[str, int]] = {i: {} for i in sub_ids}
    for sub_id, name, n in rows.all():
        counts[sub_id][name] = n
    return counts


def feed_token(settings: Settings, sub: Subscription) -> str:
    """The private feed's token: the id, signed with the server's secret and the subscription's own
    `feed_secret` (a new one revokes the URLs given out). Nothing else in it grants anything."""
    return f"{sub.id}.{_signature(settings, sub.id, sub.feed_secret)}"


def _signature(settings: Settings, sub_id: int, feed_secret: str) -> str:
    message = f"feed:{sub_id}:{feed_secret}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


async def by_feed_token(session: AsyncSession, settings: Settings, token: str) -> Subscription:
    """The subscription a feed token names, or NotFound (a wrong, old or forged token alike)."""
    sub_id, _, signature = token.partition(".")
    if not sub_id.isascii() or not sub_id.isdigit() or len(sub_id) > 18:
        raise NotFound("feed", None)
    sub = await session.get(Subscription, int(sub_id))
    # Bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, a 500) instead of saying no.
    expected = _signature(settings, sub.id, sub.feed_secret) if sub is not None else ""
    if sub is None or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise NotFound("feed", None)
    owner = await session.get(User, sub.user_id)
    if owner is None or owner.status != STATUS_ACTIVE:  # a suspended user's feeds stop with their account
        raise Forbidden("this account is suspended")
    return sub


async def feed_entries(session: AsyncSession, sub: Subscription, limit: int = 500,
                       ) -> list[tuple[SubscriptionItem, Media]]:
    """What the subscription downloaded and the library still has, newest first."""
    rows = await session.execute(
        select(SubscriptionItem, Media).join(Media, Media.id == SubscriptionItem.media_id)
        .where(SubscriptionItem.subscription_id == sub.id, SubscriptionItem.state == DONE,
               Media.deleted_at.is_(None))
        .order_by(func.coalesce(SubscriptionItem.published_at, Media.uploaded_at, Media.added_at).desc())
        .limit(limit))
    return [(item, media) for item, media in rows.all()]


async def feed_media(session: AsyncSession, sub: Subscription, media_id: int) -> Media:
    """An episode of the private feed: only what this subscription downloaded."""
    found = await session.scalar(
        select(Media).join(SubscriptionItem, SubscriptionItem.media_id == Media.id)
        .where(SubscriptionItem.subscription_id == sub.id, Media.id == media_id, Media.deleted_at.is_(None)))
    if found is None:
        raise NotFound("media", media_id)
    return found


async def feeds_of(session: AsyncSession, user: User) -> list[Subscription]:
    """The caller's podcast feeds (kind "feed"), oldest first: what a podcast app lists as channels."""
    rows = await session.scalars(select(Subscription).where(Subscription.user_id == user.id,
                                                            Subscription.kind == FEED).order_by(Subscription.id))
    return list(rows)


async def episodes(session: AsyncSession, sub_ids: list[int], done_only: bool = False, limit: int | None = None,
                   ) -> list[SubscriptionItem]:
    """The items of these subscriptions, newest first, without the pruned ones (gone by the keep rule);
    with `done_only`, only those downloaded whose media item the library still has."""
    query = select(SubscriptionItem).where(SubscriptionItem.subscription_id.in_(sub_ids),
                                           SubscriptionItem.state != PRUNED)
    if done_only:
        query = query.join(Media, Media.id == SubscriptionItem.media_id).where(
            SubscriptionItem.state == DONE, Media.deleted_at.is_(None))
    newest = func.coalesce(SubscriptionItem.published_at, SubscriptionItem.found_at)
    rows = await session.scalars(query.order_by(newest.desc(), SubscriptionItem.id.desc()).limit(limit))
    return list(rows)


async def episode(session: AsyncSession, user: User, item_id: int) -> tuple[SubscriptionItem, Subscription]:
    """One item of the caller's own feeds; anyone else's, or a pruned one, is NotFound."""
    found = (await session.execute(
        select(SubscriptionItem, Subscription).join(Subscription, Subscription.id == SubscriptionItem.subscription_id)
        .where(SubscriptionItem.id == item_id, Subscription.user_id == user.id, Subscription.kind == FEED,
               SubscriptionItem.state != PRUNED))).first()
    if found is None:
        raise NotFound("episode", item_id)
    return found[0], found[1]


def refresh_feeds(ctx: Subscriptions, feeds: list[Subscription]) -> None:
    """Queue a check of each of these feeds now, whatever their interval (as `check_now` does for one)."""
    for sub in feeds:
        ctx.check.enqueue(sub.id, True)

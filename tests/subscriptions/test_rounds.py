"""The periodic round: only due, enabled subscriptions whose lease is free are checked; a lease left by a
dead check is taken back once it runs out; the round is the task the queue offers every minute."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import update

from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.subscriptions.models import Subscription
from medianest.subscriptions.tasks import DUE
from tests.conftest import Api
from tests.subscriptions.conftest import checked, read, subscribe
from tests.subscriptions.feedserver import FeedServer


async def set_rows(app: FastAPI, sub_id: str, **values: object) -> None:
    async with app.state.parts.sessions() as session:
        await session.execute(update(Subscription).where(Subscription.id == int(sub_id)).values(**values))
        await session.commit()


def run_round(app: FastAPI) -> None:
    """The periodic task as huey's consumer runs it, in a thread of its own (it runs its own event loop)."""
    [task] = [t for t in app.state.parts.jobs.huey._registry._periodic_tasks if t.__name__ == DUE]
    task().execute()


async def test_a_round_checks_only_what_is_due_and_takes_back_dead_leases(
        api: Api, app: FastAPI, feeds: FeedServer, settings: Settings) -> None:
    token = await api.setup_admin()
    subs = []
    for name in ("due", "later", "paused", "held"):
        url = feeds.add_feed(f"/{name}.xml", f"Show {name}", "Host")
        subs.append(sub := await subscribe(api, token, url))
        await checked(api, token, sub["id"])
    due, later, paused, held = subs
    now = utcnow()
    for sub in subs:
        await set_rows(app, sub["id"], next_check_at=now - timedelta(seconds=1))
    await set_rows(app, later["id"], next_check_at=now + timedelta(hours=1))
    await set_rows(app, paused["id"], enabled=False)
    await set_rows(app, held["id"], checking_until=now + timedelta(minutes=5), check_token="someone-else")
    before = {s["id"]: (await read(api, token, s["id"]))["checked_at"] for s in subs}

    await asyncio.to_thread(run_round, app)
    after = {s["id"]: (await read(api, token, s["id"]))["checked_at"] for s in subs}
    assert [s["id"] for s in subs if after[s["id"]] != before[s["id"]]] == [due["id"]]
    # Each was read once when subscribed (to learn what it is) and once by its first check.
    assert len(feeds.requests("/due.xml")) == 3 and len(feeds.requests("/held.xml")) == 2
    new_next = (await read(api, token, due["id"]))["next_check_at"]
    assert new_next > after[due["id"]]  # an interval later (jittered)

    await set_rows(app, held["id"], checking_until=utcnow() - timedelta(seconds=1))  # its holder died
    await asyncio.to_thread(run_round, app)
    again = await read(api, token, held["id"])
    assert again["checked_at"] != before[held["id"]] and not again["checking"]
    assert feeds.requests("/held.xml")[-1].status == 304  # its validators were kept from the first check

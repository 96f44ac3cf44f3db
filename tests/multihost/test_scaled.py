"""The scaled mode across hosts, each a network namespace this test makes (tests/multihost/hosts.py):

    db       PostgreSQL, Redis, an S3 server (moto) and the media server the downloads come from
    lb       nginx in front of api1 and api2 (sticky by client address, WebSocket upgrades passed)
    api1/2   `medianest serve` (they only queue and relay events: Redis is set)
    worker1/2 `medianest worker`, landing downloads in the bucket
    client   this test's HTTP, Socket.IO, Redis, PostgreSQL and S3 clients

Ten downloads are queued through nginx; while they run, one worker host's worker is killed with -9 in the
middle of a download. All ten complete exactly once (one media item each, ten objects in the bucket, whole),
nothing is left behind (no temporary file on the surviving worker, no file outside the bucket, no
unfinished multipart upload, no process of the killed worker), and a Socket.IO client on each API host -
and one through nginx - hears every download event that any process published, progress and completions
included.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from medianest.library.artwork import SHARED as ARTWORK_PREFIX  # thumbnails, shared through the bucket
from tests.conftest import PASSWORD
from tests.downloads.mediaserver import make_video
from tests.multihost import stack
from tests.multihost.hosts import Host, Network, Proc, missing, scratch

# Where namespaces cannot be made (not root, no `ip`) the test is skipped - except in CI, which has both:
# there it runs, and fails if it cannot.
pytestmark = pytest.mark.skipif(missing() is not None and not os.environ.get("CI"), reason=str(missing()))

DOWNLOADS = 10
# Each transfer is throttled so that a download takes a few seconds: the kill lands in the middle of one.
PADDING_BYTES = 2_000_000
BYTES_PER_S = 600_000
MID_DOWNLOAD_BYTES = 200_000  # a `.part` file this big: the download is under way, far from its end
ADMIN = "admin"


@dataclass
class Cluster:
    net: Network
    site: stack.Site
    root: Path  # the MediaNest hosts' data and media folders
    lb: Host
    apis: list[Host]
    worker_hosts: list[Host]
    workers: dict[str, Proc]  # by host name
    urls: list[str]
    source: Path

    @property
    def client(self) -> Host:
        return self.net.hosts["client"]

    @property
    def lb_url(self) -> str:
        return f"http://{self.lb.address}:{stack.LB_PORT}"

    def api_url(self, host: Host) -> str:
        return f"http://{host.address}:{stack.API_PORT}"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if why := missing():
        pytest.fail(f"the multi-host test cannot run here: it {why}")  # CI (not skipped there)
    source = make_video(tmp_path / "source.mp4", seconds=2, padding_bytes=PADDING_BYTES)
    # The scratch folder (PostgreSQL's data, nginx's temporary files) goes after the processes have stopped.
    with scratch() as shared, Network(tmp_path / "logs") as net:
        db, lb, api1, api2, w1, w2, client = (net.host(name) for name in
                                              ("db", "lb", "api1", "api2", "worker1", "worker2", "client"))
        site, root = stack.Site(db, lb), tmp_path / "hosts"
        paths = [f"/media/clip{i}.mp4" for i in range(DOWNLOADS)]
        redis, s3 = stack.start_redis(db), stack.start_s3(db)
        media = stack.start_media(db, source, BYTES_PER_S, paths)
        nginx = stack.start_nginx(lb, shared, [api1, api2])
        pg = stack.start_postgres(db, shared)  # initdb first: the others start meanwhile
        client.call(lambda: _prepare(site, pg, redis, s3, media, nginx))
        first = site.start(api1, "serve", root)  # alone: it migrates the new database
        client.call(lambda: stack.wait_http(f"http://{api1.address}:{stack.API_PORT}/health", first))
        second = site.start(api2, "serve", root)
        workers = {h.name: site.start(h, "worker", root) for h in (w1, w2)}
        client.call(lambda: _ready(f"http://{api2.address}:{stack.API_PORT}/health", second, list(workers.values())))
        yield Cluster(net, site, root, lb, [api1, api2], [w1, w2], workers,
                      [stack.media_url(db, p) for p in paths], source)


def _prepare(site: stack.Site, pg: Proc, redis: Proc, s3: Proc, media: Proc, nginx: Proc) -> None:
    """On the client host: wait for the db host's servers and nginx, then make the database and the bucket."""
    db = site.db.address
    stack.wait_tcp(db, stack.PG_PORT, pg)
    asyncio.run(_create_database(f"postgresql://postgres@{db}:{stack.PG_PORT}/postgres"))
    stack.wait_tcp(db, stack.REDIS_PORT, redis)
    stack.wait_tcp(db, stack.MEDIA_PORT, media)
    stack.wait_tcp(site.proxy.address, stack.LB_PORT, nginx)
    stack.wait_tcp(db, stack.S3_PORT, s3)
    _s3(site).create_bucket(Bucket=stack.S3_BUCKET)


async def _create_database(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{stack.DATABASE}"')
    finally:
        await conn.close()


def _ready(health: str, api: Proc, workers: list[Proc]) -> None:
    stack.wait_http(health, api)
    for proc in workers:
        stack.wait_logged(proc, "medianest worker ready")


def _s3(site: stack.Site) -> Any:
    return boto3.client("s3", endpoint_url=site.s3_endpoint, region_name=stack.S3_REGION,
                        aws_access_key_id=stack.S3_KEY_ID, aws_secret_access_key=stack.S3_SECRET)


def test_ten_downloads_survive_a_killed_worker_land_once_in_s3_and_every_event_reaches_both_api_hosts(
        cluster: Cluster) -> None:
    try:
        cluster.client.call(lambda: asyncio.run(_scenario(cluster)))
    except BaseException as exc:
        exc.add_note(cluster.net.tails())  # every host's log: which one went wrong
        raise


# -- the scenario, on the client host ------------------------------------------------------------------------


Key = tuple[str, str]  # an event: its name and its payload as canonical JSON


def _key(event: str, payload: Any) -> Key:
    return event, json.dumps(payload, sort_keys=True)


@dataclass
class Listener:
    """A Socket.IO client and every download event it received."""

    name: str
    client: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient(reconnection=False))
    events: list[Key] = field(default_factory=list)

    async def connect(self, url: str, token: str, transports: list[str]) -> None:
        async def record(event: str, data: Any) -> None:
            if event.startswith("download:"):
                self.events.append(_key(event, data))

        self.client.on("*", record)
        await self.client.connect(url, auth={"token": token}, transports=transports, wait_timeout=20)


class Published:
    """Every download event any process (an API host, a worker) sent to the Socket.IO servers: what went
    through Redis, read from Redis itself."""

    def __init__(self, url: str) -> None:
        self.redis = aioredis.from_url(url)
        self.pubsub = self.redis.pubsub()
        self.events: list[Key] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.subscribe("socketio")  # python-socketio's channel (AsyncRedisManager's default)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            body = json.loads(message["data"])
            if body.get("method") == "emit" and str(body.get("event", "")).startswith("download:"):
                self.events.append(_key(body["event"], body["data"][0]))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pubsub.aclose()
        await self.redis.aclose()


async def _scenario(c: Cluster) -> None:
    async with httpx.AsyncClient(base_url=c.lb_url, timeout=30) as http:
        token = await _admin(http)
        published = Published(c.site.redis_url)
        await published.start()
        listeners = [Listener(f"{api.name} (direct)") for api in c.apis] + [Listener("through nginx")]
        try:
            for api, listener in zip(c.apis, listeners[:-1], strict=True):
                await listener.connect(c.api_url(api), token, ["websocket"])
            # Through the balancer, as a browser comes: long-polling first, then the upgrade to a WebSocket.
            await listeners[-1].connect(c.lb_url, token, ["polling", "websocket"])
            ids = [await _queue(http, token, url) for url in c.urls]
            victim, interrupted = await _kill_mid_download(c, http, token)
            rows = await _until_all_finished(c, http, token, ids)
            await _check_events(published, listeners, ids, interrupted)
        finally:
            for listener in listeners:
                await listener.client.disconnect()
            await published.close()
        await _check_sticky(c)
        media = await _check_exactly_once(c, http, token, rows, interrupted)
    await _check_bucket(c, media)
    _check_files(c, victim, interrupted)
    for proc in c.net.procs:
        assert proc is c.workers[victim.name] or proc.alive(), f"{proc.name} died\n{proc.tail()}"
    await _check_restart_clears(c, victim)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _admin(http: httpx.AsyncClient) -> str:
    r = await http.post("/api/v1/auth/setup", json={"username": ADMIN, "password": PASSWORD})
    assert r.status_code in (200, 201), r.text
    r = await http.post("/api/v1/auth/login", json={"username": ADMIN, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token: str = r.json()["data"]["access_token"]
    return token


async def _queue(http: httpx.AsyncClient, token: str, url: str) -> str:
    r = await http.post("/api/v1/downloads", json={"url": url}, headers=_bearer(token))
    assert r.status_code == 202, r.text
    download_id: str = r.json()["data"]["id"]
    return str(download_id)


async def _download(http: httpx.AsyncClient, token: str, download_id: str) -> dict[str, Any]:
    r = await http.get(f"/api/v1/downloads/{download_id}", headers=_bearer(token))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def _partial(host: Host, root: Path) -> dict[str, int]:
    """The downloads with temporary files on a worker host: id -> bytes in its `.part` files."""
    tmp = stack.data_dir(host, root) / "downloads-tmp"
    found: dict[str, int] = {}
    for part in tmp.glob("*/**/*.part"):
        with contextlib.suppress(FileNotFoundError):  # finished meanwhile
            download_id = part.relative_to(tmp).parts[0]
            found[download_id] = found.get(download_id, 0) + part.stat().st_size
    return found


def _leftovers(host: Host, root: Path) -> list[Path]:
    return [p for p in (stack.data_dir(host, root) / "downloads-tmp").rglob("*") if p.is_file()]


async def _kill_mid_download(c: Cluster, http: httpx.AsyncClient, token: str) -> tuple[Host, set[str]]:
    """Kill -9 the worker (its process group: the worker and its fork server) of the first worker host seen
    in the middle of a download; the downloads it was running then, as its disk shows them."""
    deadline = time.monotonic() + 120  # the workers' first look at the URLs included
    while True:
        for host in c.worker_hosts:
            under_way = {i for i, size in _partial(host, c.root).items() if size >= MID_DOWNLOAD_BYTES}
            if under_way and await _all_running(http, token, under_way):
                proc = c.workers[host.name]
                proc.kill_group(signal.SIGKILL)
                proc.popen.wait(10)
                await _until_gone(host)
                interrupted = set(_partial(host, c.root))  # the dead host's disk, as it was left
                assert under_way <= interrupted, (under_way, interrupted)
                return host, interrupted
        assert time.monotonic() < deadline, "no download got under way"
        await asyncio.sleep(0.05)


async def _all_running(http: httpx.AsyncClient, token: str, ids: set[str]) -> bool:
    return all([(await _download(http, token, i))["status"] == "running" for i in ids])


async def _until_gone(host: Host, timeout_s: float = 30) -> None:
    """Until nothing runs on the killed worker's host: its yt-dlp children die with it (no orphan goes on
    fetching, or writing files that nobody would clean)."""
    deadline = time.monotonic() + timeout_s
    while pids := host.pids():
        assert time.monotonic() < deadline, f"left running on {host.name} after the kill: {pids}"
        await asyncio.sleep(0.1)


async def _until_all_finished(c: Cluster, http: httpx.AsyncClient, token: str,
                              ids: list[str]) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + 240
    while True:
        r = await http.get("/api/v1/downloads", params={"per_page": 100}, headers=_bearer(token))
        assert r.status_code == 200, r.text
        rows = {str(d["id"]): d for d in r.json()["data"]}
        assert set(ids) <= set(rows), (ids, sorted(rows))
        bad = [rows[i] for i in ids if rows[i]["status"] in ("failed", "canceled")]
        assert not bad, bad
        if all(rows[i]["status"] == "completed" for i in ids):
            return {i: rows[i] for i in ids}
        assert time.monotonic() < deadline, [(i, rows[i]["status"], rows[i]["percent"]) for i in ids]
        await asyncio.sleep(0.25)


async def _check_sticky(c: Cluster) -> None:
    """nginx kept the Socket.IO session that came through it on one API host: its long-polling requests
    and its WebSocket (logged once closed) went to the same one."""
    deadline = time.monotonic() + 10
    while not any("transport=websocket" in request for request, _ in stack.proxied(c.lb)):
        assert time.monotonic() < deadline, stack.proxied(c.lb)
        await asyncio.sleep(0.1)
    session = [(request, upstream) for request, upstream in stack.proxied(c.lb) if "/socket.io/" in request]
    assert any("transport=polling" in request for request, _ in session), session
    assert len({upstream for _, upstream in session}) == 1, session


async def _check_events(published: Published, listeners: list[Listener], ids: list[str],
                        interrupted: set[str]) -> None:
    """Each client heard exactly what was published (the completions arrive last: waited for)."""
    deadline = time.monotonic() + 30
    expected = Counter(published.events)
    while any(Counter(x.events) != expected for x in listeners) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        expected = Counter(published.events)
    for listener in listeners:
        heard = Counter(listener.events)
        assert heard == expected, (listener.name, "missing:", expected - heard, "extra:", heard - expected)
    by_id: dict[str, Counter[str]] = {i: Counter() for i in ids}
    for event, payload in published.events:
        by_id[str(json.loads(payload)["id"])][event] += 1
    for download_id, events in by_id.items():
        assert events["download:queued"] >= 1 and events["download:completed"] == 1, (download_id, events)
        assert events["download:progress"] >= 1 and events["download:failed"] == 0, (download_id, events)
        # An interrupted download started on the killed worker, and again on the other.
        assert events["download:started"] >= (2 if download_id in interrupted else 1), (download_id, events)


async def _check_exactly_once(c: Cluster, http: httpx.AsyncClient, token: str, rows: dict[str, dict[str, Any]],
                              interrupted: set[str]) -> list[asyncpg.Record]:
    """Each download has its one media item, each source is in the library once; the media's rows."""
    for download_id, row in rows.items():
        assert len(row["media_ids"]) == 1, row
        if download_id in interrupted:  # the kill hit it: it ran again
            assert row["attempts"] >= 2, row
    media_ids = {str(row["media_ids"][0]) for row in rows.values()}
    assert len(media_ids) == DOWNLOADS
    r = await http.get("/api/v1/media", headers=_bearer(token))
    assert r.json()["meta"]["total"] == DOWNLOADS, r.json()
    conn = await asyncpg.connect(f"postgresql://postgres@{c.site.db.address}:{stack.PG_PORT}/{stack.DATABASE}")
    try:
        media = await conn.fetch("SELECT id, path, source_url, artwork FROM media WHERE deleted_at IS NULL")
        items = await conn.fetch("SELECT download_id, media_id FROM download_items")
    finally:
        await conn.close()
    assert sorted(m["source_url"] for m in media) == sorted(c.urls)  # one each: none twice, none missing
    assert {str(m["id"]) for m in media} == media_ids
    assert sorted(str(i["download_id"]) for i in items) == sorted(rows)
    assert {str(i["media_id"]) for i in items} == media_ids
    return media


async def _check_bucket(c: Cluster, media: list[asyncpg.Record]) -> None:
    """Ten whole objects under the downloads prefix, each a media item's path; besides them only the items'
    artwork (shared between hosts through the bucket); nothing half uploaded."""
    def look() -> tuple[dict[str, str], list[Any], list[str]]:
        s3 = _s3(c.site)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.S3_BUCKET).get("Contents", [])]
        digests = {k: hashlib.sha256(s3.get_object(Bucket=stack.S3_BUCKET, Key=k)["Body"].read()).hexdigest()
                   for k in keys}
        uploads = s3.list_multipart_uploads(Bucket=stack.S3_BUCKET).get("Uploads", [])
        return digests, uploads, keys

    digests, uploads, keys = await asyncio.to_thread(look)
    assert uploads == []
    downloads = [k for k in keys if k.startswith("downloads/")]
    assert len(downloads) == DOWNLOADS, keys
    assert sorted(m["path"] for m in media) == sorted(f"s3://{stack.S3_BUCKET}/{k}" for k in downloads)
    whole = hashlib.sha256(c.source.read_bytes()).hexdigest()
    assert all(digests[k] == whole for k in downloads), digests
    artwork = {ARTWORK_PREFIX + m["artwork"] for m in media if m["artwork"]}
    assert set(keys) - set(downloads) == artwork, keys


async def _check_restart_clears(c: Cluster, victim: Host) -> None:
    """The killed worker started again on its host removes the partial files of the downloads that another
    host finished meanwhile (its start-up sweep)."""
    restarted = c.site.start(victim, "worker", c.root)
    deadline = time.monotonic() + 90
    while _leftovers(victim, c.root):
        assert restarted.alive(), restarted.tail()
        assert time.monotonic() < deadline, f"left: {_leftovers(victim, c.root)}\n{restarted.tail()}"
        await asyncio.sleep(0.2)


def _check_files(c: Cluster, victim: Host, interrupted: set[str]) -> None:
    """Nothing landed outside the bucket, and the surviving worker left no temporary file. The killed one's
    host keeps the partial files of the downloads it was running, and nothing else: no process was left
    there to remove them (until a worker starts there again: `_check_restart_clears`)."""
    for host in [*c.apis, *c.worker_hosts]:
        landed = [p for p in stack.media_dir(host, c.root).rglob("*") if p.is_file()]
        assert landed == [], (host.name, landed)
    for host in c.worker_hosts:
        if host is not victim:
            assert _leftovers(host, c.root) == [], host.name
    tmp = stack.data_dir(victim, c.root) / "downloads-tmp"
    assert {p.relative_to(tmp).parts[0] for p in _leftovers(victim, c.root)} <= interrupted

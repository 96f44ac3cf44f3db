"""Against a real `medianest serve` process: start-up scan, sign-in, browser-style streaming."""

from __future__ import annotations

import socket

import httpx

from tests.conftest import PG_URL
from tests.server.conftest import LiveServer


def test_start_up_scan_indexed_the_library_and_health_is_ok(live_server: LiveServer) -> None:
    health = httpx.get(f"{live_server.base_url}/health").json()
    assert health["status"] == "ok" and health["checks"]["database"]["status"] == "ok"
    r = httpx.get(f"{live_server.base_url}/api/v1/media", params={"kind": "video"}, headers=live_server.headers())
    assert {i["title"] for i in r.json()["data"]} == {"Bars Clip", "Motion Study", "Matroska Sample"}


def test_stream_url_works_like_an_audio_src(live_server: LiveServer) -> None:
    """A browser's <audio src> sends no Authorization header: the signed URL alone must do."""
    r = httpx.get(f"{live_server.base_url}/api/v1/media", params={"q": "circle"}, headers=live_server.headers())
    item = r.json()["data"][0]
    ranged = httpx.get(live_server.base_url + item["stream_url"], headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206
    assert ranged.content == b"fLaC"
    assert ranged.headers["content-range"] == f"bytes 0-3/{item['size']}"
    assert ranged.headers["content-type"] == "audio/flac"


def test_request_id_is_echoed_and_errors_use_the_envelope(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.base_url}/api/v1/nothing-here", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json()["error"] == {"code": "NOT_FOUND", "message": "Not Found", "details": {},
                                 "request_id": "abc-123"}


def test_metrics_count_requests(live_server: LiveServer) -> None:
    httpx.get(f"{live_server.base_url}/api/v1/version")
    text = httpx.get(f"{live_server.base_url}/metrics").text
    assert 'medianest_http_requests_total{endpoint="version",method="GET",status="200"}' in text


def test_the_server_runs_on_the_configured_database(live_server: LiveServer) -> None:
    version = httpx.get(f"{live_server.base_url}/api/v1/version").json()["data"]
    assert version["database"] == ("postgresql" if PG_URL else "sqlite")


def test_idle_connections_do_not_lock_out_the_next_client(live_server: LiveServer) -> None:
    """Players and browsers keep connections open (keep-alive, WebSockets): 300 idle ones, more than
    Granian's default of 128 per process, and a new client is still answered."""
    host, port = live_server.base_url.removeprefix("http://").rsplit(":", 1)
    idle = []
    try:
        for _ in range(300):
            conn = socket.create_connection((host, int(port)), timeout=20)  # a deadline against a hang
            idle.append(conn)
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200"), len(idle)
        with socket.create_connection((host, int(port)), timeout=20) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for conn in idle:
            conn.close()

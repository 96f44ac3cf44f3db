"""A real `medianest serve` whose output is not a terminal (a file, as under a service manager): every line
it writes - the migrations before the server starts, granian, the app, the access log - is one JSON object,
and no media token is ever written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.liveserver import serve

ENV = {"MEDIANEST_LOG_LEVEL": "INFO", "MEDIANEST_ACCESS_LOG": "true"}


def _records(log: Path) -> list[dict[str, Any]]:
    records = []
    for n, line in enumerate(log.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"line {n} of the server's output is not JSON: {line!r}")
        assert isinstance(record, dict) and {"level", "event", "timestamp"} <= record.keys(), line
        records.append(record)
    return records


def test_every_line_is_json_and_the_access_log_has_each_request(
        tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> None:
    with serve(tmp_path, media_source[0], extra_env=ENV) as server:
        item = httpx.get(f"{server.base_url}/api/v1/media", params={"q": "circle"},
                         headers=server.headers()).json()["data"][0]
        token = parse_qs(urlsplit(item["stream_url"]).query)["token"][0]
        played = httpx.get(server.base_url + item["stream_url"],
                           headers={"Range": "bytes=0-3", "X-Request-ID": "play-1"})
        assert played.status_code == 206
        missing = httpx.get(f"{server.base_url}/api/v1/no-such-thing", params={"token": token},
                            headers={"X-Request-ID": "missing-1"})
        assert missing.status_code == 404
        log = server.log_file
    records = _records(log)  # the server has stopped: its shutdown lines are in too
    text = log.read_text()
    assert token not in text and "token=" not in text
    granian = [r["event"] for r in records if r.get("logger") == "_granian"]
    assert any("Listening at" in e for e in granian) and any("Spawning worker" in e for e in granian)
    assert any(r.get("logger", "").startswith("alembic") for r in records)  # the migrations, before the server
    assert any(r["event"] == "medianest ready" for r in records)  # the app
    access = {r["request_id"]: r for r in records if r.get("logger") == "medianest.access"}
    assert access["play-1"]["status"] == 206 and access["play-1"]["path"] == f"/api/v1/media/{item['id']}/stream"
    assert access["missing-1"]["status"] == 404 and access["missing-1"]["method"] == "GET"
    assert access["missing-1"]["path"] == "/api/v1/no-such-thing"

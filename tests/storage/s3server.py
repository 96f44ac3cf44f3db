"""A real S3-protocol server on 127.0.0.1 for tests and benchmarks: moto's standalone server (the same
HTTP API MinIO and AWS speak: SigV4, ranged and conditional GETs, multipart uploads, listings)."""

from __future__ import annotations

import contextlib
import functools
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from tests.loopback import free_port, stop_process

KEY_ID, SECRET = "medianest-test", "medianest-test-secret"


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]
    log: Path | None = None  # the server's request log, when one was asked for

    def requests(self, method: str, bucket: str, key: str) -> int:
        """How many `method` requests of the object the server has logged."""
        assert self.log is not None, "started without a log"
        line = f'"{method} /{bucket}/{key} '
        return sum(line in entry for entry in self.log.read_text(errors="replace").splitlines())

    @functools.cached_property
    def client(self) -> Any:
        """boto3's S3 client on this server: a plain client beside the code under test, to set up and check."""
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID,
                            aws_secret_access_key=SECRET)

    def new_bucket(self, prefix: str = "media") -> str:
        """A fresh, empty bucket (names must be 3-63 characters: lower-case letters, digits, dashes)."""
        name = f"{prefix}-{secrets.token_hex(6)}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def uploads_in_progress(self, bucket: str) -> int:
        """Multipart uploads begun and never completed or aborted."""
        return len(self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def get(self, bucket: str, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    def delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)

    def settings(self, bucket: str) -> dict[str, object]:
        """The MEDIANEST_S3_* settings for `bucket` on this server."""
        return {"s3_bucket": bucket, "s3_endpoint_url": self.endpoint, "s3_access_key_id": KEY_ID,
                "s3_secret_access_key": SECRET}


@contextlib.contextmanager
def s3_server(log: Path | None = None, host: str = "127.0.0.1") -> Iterator[S3Server]:
    port = free_port()
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
                               stdout=out, stderr=subprocess.STDOUT)
    server = S3Server(f"http://{host}:{port}", process, log)
    try:
        _wait(server)
        yield server
    finally:
        stop_process(process)


def _wait(server: S3Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("the S3 server exited at start")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(server.endpoint, timeout=1)
            return
        time.sleep(0.1)
    raise RuntimeError("the S3 server did not start within 60 s")

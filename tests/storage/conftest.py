"""S3 storage tests: moto's S3 server on 127.0.0.1, a bucket per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.storage.s3server import S3Server, s3_server


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3") / "requests.log") as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server) -> str:
    return s3.new_bucket()

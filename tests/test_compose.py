"""The compose files configure MediaNest with settings that exist and validate (Settings ignores unknown
MEDIANEST_* variables, so a misspelt one would silently do nothing)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from medianest.config import Settings

ROOT = Path(__file__).resolve().parents[1]
# ${NAME:-default} and ${NAME:?message}: compose's substitutions, given test values.
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}")


def environment(file: str, service: str) -> dict[str, str]:
    spec = yaml.safe_load((ROOT / file).read_text())
    env = spec["services"][service]["environment"]
    return {k: _VARIABLE.sub(lambda m: m.group(2) or f"test-{m.group(1).lower()}-value-0123456789abcdef", str(v))
            for k, v in env.items()}


@pytest.mark.parametrize(("file", "service"), [("compose.yaml", "api"), ("compose.yaml", "worker"),
                                               ("compose.single.yaml", "medianest")])
def test_every_medianest_variable_is_a_setting_and_validates(file: str, service: str) -> None:
    env = {k: v for k, v in environment(file, service).items() if k.startswith("MEDIANEST_")}
    fields = {f"MEDIANEST_{name.upper()}" for name in Settings.model_fields}
    assert set(env) - fields == set()
    settings = Settings(**{k.removeprefix("MEDIANEST_").lower(): v for k, v in env.items()})
    if file == "compose.yaml":  # the scaled stack keeps media in MinIO
        assert settings.s3_roots == ["s3://medianest/media", "s3://medianest/downloads"]
        assert settings.s3_endpoint_url == "http://minio:9000" and settings.downloads_storage == "s3"

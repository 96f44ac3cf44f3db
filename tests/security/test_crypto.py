"""`SecretBox`: sealed secrets open only with the right key, the right row, and unaltered; old keys rotate."""

from __future__ import annotations

from pathlib import Path

import pytest

from medianest.config import Settings
from medianest.security.crypto import SecretBox, SecretUnreadable, secret_box

SECRET = "a-server-secret-that-is-long-enough-0123456789"


def test_seal_and_open() -> None:
    box = SecretBox(SECRET)
    blob = box.seal("plex-token-ü", "user:1:plex")
    assert blob[0] == 1 and b"plex-token" not in blob
    assert box.open(blob, "user:1:plex") == "plex-token-ü"
    assert box.seal("plex-token-ü", "user:1:plex") != blob  # a fresh nonce each time


@pytest.mark.parametrize("mutate", [
    lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # the tag
    lambda b: b[:5] + bytes([b[5] ^ 1]) + b[6:],  # the nonce
    lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:],  # the ciphertext
    lambda b: b[:10],  # truncated
    lambda b: b"",
])
def test_an_altered_blob_does_not_open(mutate: object) -> None:
    box = SecretBox(SECRET)
    blob = box.seal("plex-token-value", "user:1:plex")
    with pytest.raises(SecretUnreadable):
        box.open(mutate(blob), "user:1:plex")  # type: ignore[operator]


def test_a_blob_copied_to_another_row_or_another_server_does_not_open() -> None:
    blob = SecretBox(SECRET).seal("plex-token-value", "user:1:plex")
    with pytest.raises(SecretUnreadable):
        SecretBox(SECRET).open(blob, "user:2:plex")
    with pytest.raises(SecretUnreadable):
        SecretBox(SECRET + "-other").open(blob, "user:1:plex")


def test_keys_rotate_by_version() -> None:
    old = SecretBox(SECRET).seal("sealed-before-rotation", "service:3")
    rotated = SecretBox("the-new-secret-after-rotation-0123456789", previous={1: SECRET}, version=2)
    assert rotated.needs_reseal(old)
    assert rotated.open(old, "service:3") == "sealed-before-rotation"
    new = rotated.seal("sealed-after", "service:3")
    assert new[0] == 2 and not rotated.needs_reseal(new)
    with pytest.raises(SecretUnreadable, match="no key for version 2"):
        SecretBox(SECRET).open(new, "service:3")


def test_the_servers_box_reads_what_was_sealed_before_a_rotation(tmp_path: Path) -> None:
    before = secret_box(Settings(data_dir=tmp_path, secret=SECRET))
    blob = before.seal("plex-token-value", "user:1:plex")
    after = secret_box(Settings(data_dir=tmp_path, secret="the-new-secret-after-rotation-0123456789",
                                previous_secrets=SECRET))
    assert after.version == 2 and after.needs_reseal(blob)
    assert after.open(blob, "user:1:plex") == "plex-token-value"
    with pytest.raises(SecretUnreadable):  # without the old secret listed, it stays sealed
        secret_box(Settings(data_dir=tmp_path, secret="the-new-secret-after-rotation-0123456789")).open(
            blob, "user:1:plex")

"""`SecretBox`: encrypts third-party secrets (Plex tokens, service API keys) before they reach the DB.

AES-256-GCM with a key derived from the server secret by HKDF, so no second secret has to be kept.
Each ciphertext starts with a version byte naming the key that sealed it: after a secret rotation
the old key can stay in `previous` to open old rows while every new write uses the current one.

    blob = version (1 byte) || nonce (12 bytes) || ciphertext+tag
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from medianest.config import Settings

NONCE_BYTES = 12
CURRENT_VERSION = 1
_INFO = b"medianest stored secrets v1"


class SecretUnreadable(Exception):
    """The blob was sealed by a key we no longer have, or it was altered."""


def derive_key(server_secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(server_secret.encode())


class SecretBox:
    def __init__(self, server_secret: str, previous: dict[int, str] | None = None,
                 version: int = CURRENT_VERSION) -> None:
        if not 0 < version < 256:
            raise ValueError("key version must fit in one byte")
        self.version = version
        self._keys = {v: AESGCM(derive_key(s)) for v, s in (previous or {}).items()}
        self._keys[version] = AESGCM(derive_key(server_secret))

    def seal(self, plaintext: str, context: str) -> bytes:
        """Encrypt; `context` (e.g. "user:7:plex") is bound in, so a blob copied to another row fails."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.version].encrypt(nonce, plaintext.encode(), context.encode())
        return bytes([self.version]) + nonce + sealed

    def open(self, blob: bytes, context: str) -> str:
        if len(blob) < 1 + NONCE_BYTES + 16:
            raise SecretUnreadable("too short")
        aead = self._keys.get(blob[0])
        if aead is None:
            raise SecretUnreadable(f"no key for version {blob[0]}")
        try:
            return aead.decrypt(blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:], context.encode()).decode()
        except InvalidTag as exc:
            raise SecretUnreadable("altered or sealed for another row") from exc

    def needs_reseal(self, blob: bytes) -> bool:
        """True when the blob was sealed by an older key and should be rewritten with the current one."""
        return bool(blob) and blob[0] != self.version


def secret_box(settings: Settings) -> SecretBox:
    """The box for this server: `MEDIANEST_PREVIOUS_SECRETS` (oldest first) are key versions 1..n and
    the current secret is n+1, so blobs sealed before a rotation still open (and are resealed when
    next written)."""
    previous = [s.get_secret_value() for s in settings.previous_secrets]
    return SecretBox(settings.secret_key, previous=dict(enumerate(previous, start=1)), version=len(previous) + 1)

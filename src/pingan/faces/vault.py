"""Encryption of face data at rest (AES-256-GCM) and keyed hashes of door cards and PINs, both
from the one data key in configuration (PINGAN_DATA_KEY)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
AAD = b"pingan-face-v1"


class KeyMissing(RuntimeError):
    """No data key is configured: face data cannot be stored."""


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def parse_key(text: str) -> bytes:
    if not text:
        raise KeyMissing(
            "PINGAN_DATA_KEY is not set: faces and door credentials need it. "
            "Make one with `pingan keygen` and keep it with your backups"
        )
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyMissing("PINGAN_DATA_KEY is not base64: make one with `pingan keygen`") from exc
    if len(key) != 32:
        raise KeyMissing("PINGAN_DATA_KEY must be 32 bytes (base64): make one with `pingan keygen`")
    return key


class Vault:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        # Separate keys for separate jobs, derived from the one configured.
        self._mac_key = hmac.new(key, b"pingan-credentials", hashlib.sha256).digest()

    @classmethod
    def from_setting(cls, text: str) -> Vault:
        return cls(parse_key(text))

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return VERSION + nonce + self._aead.encrypt(nonce, data, AAD)

    def open(self, blob: bytes) -> bytes:
        if blob[:1] != VERSION:
            raise ValueError("unknown face-data format")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], AAD)
        except InvalidTag as exc:
            raise ValueError("face data does not open with this PINGAN_DATA_KEY") from exc

    def digest(self, kind: str, secret: str) -> str:
        """A keyed hash of a card number or PIN: the database alone cannot reveal them."""
        return hmac.new(self._mac_key, f"{kind}:{secret}".encode(), hashlib.sha256).hexdigest()

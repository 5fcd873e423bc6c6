"""Argon2id password hashing; the cost comes from settings (lowered only in tests)."""

from __future__ import annotations

import secrets
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from pingan.config import get_settings


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    s = get_settings()
    return PasswordHash(
        (Argon2Hasher(time_cost=s.argon2_time_cost, memory_cost=s.argon2_memory_kib),)
    )


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bool(_hasher().verify(password, password_hash))
    except Exception:  # a malformed stored hash is a failed login, not a crash
        return False


def generate_password(length: int = 14) -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))

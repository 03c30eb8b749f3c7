"""Secrets at rest for the wallet API: envelope encryption with KEK rotation, and argon2id hashing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wallet_api.crypto.envelope import (
    EnvelopeError,
    KeyEncryptionKey,
    kek_id_of,
    open_sealed,
    rewrap,
    seal,
)
from wallet_api.crypto.passwords import hash_secret, needs_rehash, verify_secret

SECRET = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
CONTEXT = b"user:42:private-key"


def test_seal_and_open_round_trip_with_fresh_keys_each_time() -> None:
    kek = KeyEncryptionKey.generate()
    first, second = seal(kek, SECRET, CONTEXT), seal(kek, SECRET, CONTEXT)
    assert first != second and SECRET not in first
    assert open_sealed([kek], first, CONTEXT) == SECRET == open_sealed([kek], second, CONTEXT)
    assert open_sealed([kek], seal(kek, "髙砂 太郎".encode(), b"user:42:name"), b"user:42:name") == "髙砂 太郎".encode()


def test_tampering_a_wrong_context_or_kek_never_opens() -> None:
    kek = KeyEncryptionKey.generate()
    blob = seal(kek, SECRET, CONTEXT)
    for position in (5, 20, 50, len(blob) - 1):  # KEK id, wrap nonce, wrapped DEK, ciphertext tag
        tampered = bytearray(blob)
        tampered[position] ^= 1
        with pytest.raises(EnvelopeError):
            open_sealed([kek], bytes(tampered), CONTEXT)
    with pytest.raises(EnvelopeError, match="another context"):
        open_sealed([kek], blob, b"user:43:private-key")
    with pytest.raises(EnvelopeError, match="unknown key-encryption key"):
        open_sealed([KeyEncryptionKey.generate()], blob, CONTEXT)
    with pytest.raises(EnvelopeError, match="truncated"):
        open_sealed([kek], blob[:30], CONTEXT)


def test_rotation_rewraps_only_the_data_key() -> None:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    blob = seal(old, SECRET, CONTEXT)
    rotated = rewrap([old], new, blob, CONTEXT)
    assert kek_id_of(rotated) == new.key_id != kek_id_of(blob)
    assert rotated[-len(SECRET) - 16 :] == blob[-len(SECRET) - 16 :]  # the value's ciphertext is unchanged
    assert open_sealed([new], rotated, CONTEXT) == SECRET
    with pytest.raises(EnvelopeError):
        open_sealed([old], rotated, CONTEXT)
    assert rewrap([old], new, rotated, CONTEXT) == rotated  # already rotated: unchanged


def test_kek_sources_and_no_secret_in_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kek = KeyEncryptionKey.generate()
    assert kek.to_base64() not in repr(kek)
    path = tmp_path / "kek"
    path.write_text(kek.to_base64())
    os.chmod(path, 0o644)
    with pytest.raises(EnvelopeError, match="chmod 600"):
        KeyEncryptionKey.from_file(path)
    os.chmod(path, 0o600)
    assert KeyEncryptionKey.from_file(path).key_id == kek.key_id
    monkeypatch.setenv("TAKASAGO_WALLET_KEK", kek.to_base64())
    assert KeyEncryptionKey.from_env().key_id == kek.key_id
    monkeypatch.setenv("TAKASAGO_WALLET_KEK", "not base64!")
    with pytest.raises(EnvelopeError, match="base64"):
        KeyEncryptionKey.from_env()
    with pytest.raises(EnvelopeError, match="32 bytes"):
        KeyEncryptionKey(b"short")


def test_argon2id_hashes_verify_and_refuse() -> None:
    stored = hash_secret("correct horse battery staple")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert verify_secret(stored, "correct horse battery staple")
    assert not verify_secret(stored, "Correct horse battery staple")
    assert not verify_secret("not a hash", "x")
    assert not needs_rehash(stored) and needs_rehash("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")


def test_the_test_servers_cost_is_opt_in_and_its_hashes_are_rehashed_at_the_standard_cost() -> None:
    """``TAKASAGO_WALLET_INSECURE_TEST_HASHING=1`` (test servers only) lowers the cost; off, those are upgraded."""
    script = "from wallet_api.crypto.passwords import hash_secret; print(hash_secret('correct horse'))"
    weak = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "TAKASAGO_WALLET_INSECURE_TEST_HASHING": "1"},
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    assert weak.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert verify_secret(weak, "correct horse") and needs_rehash(weak)  # this process runs at the standard cost
    assert "m=65536,t=3,p=1" in hash_secret("correct horse")

"""Ed25519 keys that sign evidence packs (``accessward keys create``).

The private key is a PKCS#8 PEM file (mode 0600), named in the settings as a secret reference
(``[reports] signing_key = { file = "accessward.key" }``); the public key is a PEM file to hand to
auditors. A fingerprint (``sha256:`` + hex of the SHA-256 of the raw 32-byte public key) lets an
auditor pin a key without holding the file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyProblem(ValueError):
    """A key file that is missing, unreadable or not an Ed25519 key."""


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def create(private_path: Path, public_path: Path, *, force: bool = False) -> str:
    """Write a new key pair; returns the public key's fingerprint. Never overwrites unless ``force``."""
    for path in (private_path, public_path):
        if path.exists() and not force:
            raise KeyProblem(f"{path} exists; use --force to replace it")
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(public_pem(key.public_key()))
    return fingerprint(key.public_key())


def load_private(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyProblem("the signing key is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem("the signing key is not an Ed25519 key")
    return key


def load_public_bytes(data: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyProblem("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyProblem("not an Ed25519 public key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        return load_public_bytes(path.read_bytes())
    except OSError as exc:
        raise KeyProblem(f"cannot read {path}: {exc.strerror}") from exc

"""Whether pickles in a store may be loaded (`nbrewind trust`).

Restoring a pickle runs code, so a store that came from elsewhere must not
be unpickled until its user says so, in the spirit of Jupyter's notebook
trust.  The model (docs/user-guide.md, "Share with another site"):

* Stores that this user's own audit creates are trusted: trust is checked
  only for stores that `nbrewind unpack` wrote, which carry the marker file
  ``UNTRUSTED``.
* ``nbrewind trust NB.ipynb`` verifies nothing about the content; it signs
  the store as it is now: ``TRUSTED`` holds HMAC-SHA256(secret, identity),
  where the secret is 32 random bytes private to this user and the identity
  covers the store's ``FORMAT`` and every checkpoint manifest (whose object
  ids are content hashes, checked at every read).  It then removes the
  marker.
* A store with the marker and no valid signature is untrusted: its typed
  arrays and modules load, its pickles do not.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _random

from .history import manifest_bytes

DATA_DIR_ENV = "NBREWIND_DATA_DIR"
UNTRUSTED = "UNTRUSTED"
TRUSTED = "TRUSTED"
SECRET_BYTES = 32
UNTRUSTED_TEXT = ("This store came from elsewhere (nbrewind unpack): its pickled values are "
                  "not loaded until you run `nbrewind trust` on its notebook.\n")


class TrustError(Exception):
    """The secret cannot be used (unreadable, wrong size, readable by others)."""


def secret_path() -> str:
    base = os.environ.get(DATA_DIR_ENV) or os.path.join(
        os.path.expanduser("~"), ".local", "share", "nbrewind")
    return os.path.join(base, "secret")


def secret() -> bytes:
    """This user's secret, created (mode 0600) at the first use."""
    path = secret_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(_random.token_bytes(SECRET_BYTES))
            f.flush()
            os.fsync(f.fileno())
    mode = os.stat(path).st_mode
    if mode & 0o077:
        raise TrustError(f"{path}: the nbrewind secret is readable by others "
                         f"(mode {mode & 0o777:o}); `chmod 600` it")
    with open(path, "rb") as f:
        key = f.read()
    if len(key) != SECRET_BYTES:
        raise TrustError(f"{path}: not an nbrewind secret ({len(key)} bytes, expected "
                         f"{SECRET_BYTES}); remove it to make a new one")
    return key


def identity(store_path: str) -> bytes:
    """The canonical identity of a store: its FORMAT file's bytes, then each
    checkpoint manifest's name and SHA-256, sorted by name."""
    with open(os.path.join(store_path, "FORMAT"), "rb") as f:
        fmt = f.read()
    parts = [b"nbrewind-store-identity 1\n", b"%d\n" % len(fmt), fmt]
    directory = os.path.join(store_path, "checkpoints")
    names = sorted(n for n in os.listdir(directory) if n.endswith(".json")) \
        if os.path.isdir(directory) else []
    for name in names:
        digest = hashlib.sha256(manifest_bytes(os.path.join(directory, name))).hexdigest()
        parts.append(f"checkpoints/{name} {digest}\n".encode())
    return b"".join(parts)


def signature(store_path: str) -> str:
    return hmac.new(secret(), identity(store_path), hashlib.sha256).hexdigest()


def mark_untrusted(store_path: str):
    with open(os.path.join(store_path, UNTRUSTED), "w", encoding="utf-8") as f:
        f.write(UNTRUSTED_TEXT)


def is_trusted(store_path: str) -> bool:
    """Trusted unless the store was unpacked and has no valid signature."""
    if not os.path.exists(os.path.join(store_path, UNTRUSTED)):
        return True
    try:
        with open(os.path.join(store_path, TRUSTED), encoding="ascii") as f:
            signed = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return False
    try:
        return hmac.compare_digest(signed, signature(store_path))
    except (OSError, TrustError):
        return False


def trust(store_path: str) -> str:
    """Sign the store as it is now and remove the marker; returns the
    signature's file."""
    if not os.path.isfile(os.path.join(store_path, "FORMAT")):
        raise FileNotFoundError(f"{store_path}: not an nbrewind store (no FORMAT)")
    target = os.path.join(store_path, TRUSTED)
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(signature(store_path) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    try:
        os.unlink(os.path.join(store_path, UNTRUSTED))
    except FileNotFoundError:
        pass
    return target

"""Tokens for the publishing targets, and the one redaction helper every shown text of publish/fetch passes.

A token comes from the environment (the first set of the names given, e.g. ``CURATOR_ZENODO_TOKEN``, then
``ZENODO_TOKEN``) or from the credentials file, a TOML file with one table per service::

    [zenodo]
    token = "..."

at ``~/.config/curator/credentials.toml`` (``CURATOR_CREDENTIALS`` overrides the path). The file is refused
unless only its owner can read it (mode 0600 or stricter): a token readable by others is a leaked token.
Every token read here is remembered, and :func:`redact` replaces each of them in any text with ``***``; the
publish command passes its output, its report and its error messages through it.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import tomllib
from pathlib import Path

__all__ = ["CredentialsError", "credentials_path", "redact", "remember", "token"]

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
MASK = "***"


class CredentialsError(Exception):
    """No usable credential (exit 2): the message says where one was looked for, never a token."""


def remember(secret: str) -> str:
    """Register ``secret`` for redaction and return it."""
    if secret:
        with _LOCK:
            _SECRETS.add(secret)
    return secret


def redact(text: str) -> str:
    """``text`` with every known secret replaced by ``***`` (longest first, so no part of one survives)."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def credentials_path() -> Path:
    override = os.environ.get("CURATOR_CREDENTIALS")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "curator" / "credentials.toml"


def _from_file(service: str, key: str) -> str | None:
    path = credentials_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CredentialsError(f"cannot read the credentials file {path}: {error.strerror}") from None
    if sys.platform != "win32" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"the credentials file {path} is readable by others (mode "
                               f"{stat.S_IMODE(info.st_mode):04o}); make it private: chmod 600 {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # the parser's message may quote the line, which may hold a token: say only where
        raise CredentialsError(f"the credentials file {path} is not valid TOML or not UTF-8") from None
    table = data.get(service)
    value = table.get(key) if isinstance(table, dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(f"[{service}] {key} in {path} is not a non-empty string")
    return value.strip()


def token(service: str, variables: tuple[str, ...], key: str = "token", required: bool = True) -> str | None:
    """The token for ``service``: the first of ``variables`` set in the environment, else ``[service] key`` in
    the credentials file. Raises CredentialsError when ``required`` and none is found (or the file is unsafe)."""
    for name in variables:
        value = os.environ.get(name, "").strip()
        if value:
            return remember(value)
    stored = _from_file(service, key)
    if stored is not None:
        return remember(stored)
    if required:
        raise CredentialsError(f"no {service} token: set {' or '.join(variables)}, or put [{service}] {key} = "
                               f"\"...\" in {credentials_path()} (mode 0600)")
    return None

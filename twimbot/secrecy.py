"""The secrets this process holds, and scrubbing them out of everything it emits.

The access token and password come from the environment; a password login adds the access
token it gets (and a restart the one kept in the database). Every way text leaves twimbot
passes through :func:`scrub`: log records (the filter in ``cli``), the one-line errors the
command line prints, and every event or text file sent to the homeserver (``matrix.py``), so
a secret cannot reach a log, a terminal or a room even if some code or some contributor puts
it into a message.
"""

from __future__ import annotations

import re
from typing import Any

# Shorter values would match ordinary words; no real token or password is this short.
MIN_LENGTH = 4
MASK = "***"

_known: set[str] = set()


def remember(*values: str | None) -> None:
    """Add secrets to scrub from now on (empty and very short values are ignored)."""
    for value in values:
        if value and len(value) >= MIN_LENGTH:
            _known.add(value)


def forget_all() -> None:
    """For tests: start from no known secrets."""
    _known.clear()


# The value of an access_token or password field in JSON, a Python repr or a query string:
# a token the process has not learnt yet (the answer to a login, say) is masked all the same.
_FIELD = re.compile(
    r"""(?P<key>["']?(?:access_token|password)["']?\s*[:=]\s*["']?)(?P<value>[^"'\s,}&]+)"""
)


def scrub(text: str, *, fields: bool = False) -> str:
    """``text`` with every known secret replaced by ``***``.

    With ``fields`` (for logs, not for what people wrote), the value of every access_token
    or password field is masked too.
    """
    for secret in sorted(_known, key=len, reverse=True):  # longest first: one may contain another
        if secret in text:
            text = text.replace(secret, MASK)
    if fields and ("access_token" in text or "password" in text):
        text = _FIELD.sub(lambda m: m["key"] + MASK, text)
    return text


def scrub_json(value: Any) -> Any:
    """A copy of a JSON value with :func:`scrub` applied to every string in it (keys too)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k)): scrub_json(v) for k, v in value.items()}
    return value

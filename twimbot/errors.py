"""The one exception tree of twimbot.

Everything the bot or the CLI reports to a person derives from :class:`TwimbotError`;
its ``str()`` is a one-line reason fit for a terminal or a room, never a traceback.
"""

from __future__ import annotations


class TwimbotError(Exception):
    """Base of every error twimbot reports to a person."""


class ConfigError(TwimbotError):
    """The configuration file is missing, unreadable or invalid.

    ``problems`` lists every problem as ``key.path: reason``.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems or []


class StoreError(TwimbotError):
    """The database cannot be used (corrupt, locked, unreadable)."""


class DatabaseTooNewError(StoreError):
    """The database was written by a newer twimbot than this one."""


class TemplateError(TwimbotError):
    """A draft template failed to load or render; the message names file and line."""


class MatrixError(TwimbotError):
    """The homeserver refused a request or could not be reached."""


class CommandError(TwimbotError):
    """An editor command was malformed; the message is the usage hint."""

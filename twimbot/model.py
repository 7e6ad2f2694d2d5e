"""Plain typed values passed between the pure modules and the store.

Nothing here does I/O. ``store`` produces these, ``classify`` and ``render`` consume them,
so those two can be unit-tested with hand-built values and no database or homeserver.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

MediaKind = Literal["image", "video", "file"]


class Source(StrEnum):
    """Who chose a project or section."""

    EDITOR = "editor"
    AUTO = "auto"


@dataclass(frozen=True)
class Choice:
    """One automatic or editorial choice with its explanation."""

    name: str | None
    source: Source
    reason: str


@dataclass(frozen=True)
class Classification:
    """What the automatic rules chose for a submission (SPEC §5)."""

    project: str | None
    project_reason: str
    section: str
    section_reason: str


@dataclass(frozen=True)
class Assignment:
    """The effective project and section of an entry: editor marks over automation."""

    project: Choice
    section: Choice

    @property
    def unsorted(self) -> bool:
        """True when nothing placed the entry; it renders under the fallback section."""
        return self.section.source == Source.AUTO and self.section.reason.startswith("fallback")


@dataclass(frozen=True)
class MediaItem:
    """A media file attached to an entry, as the post and the bundle name it."""

    event_id: str
    kind: MediaKind
    file_name: str  # name inside the bundle and after url_prefix, e.g. "3f2a….png"
    url: str  # url_prefix + file_name, what the Markdown links to
    mxc: str
    body: str = ""  # the file name the sender gave
    ok: bool = True  # False while not (yet) downloaded


@dataclass(frozen=True)
class Entry:
    """One submission as the draft sees it."""

    number: int  # "post N" within its edition
    event_id: str
    sender: str
    sender_name: str
    text: str  # current Markdown text (trigger and reply fallback already stripped)
    origin_ts: int  # ms since epoch of the original message
    assignment: Assignment
    media: tuple[MediaItem, ...] = ()

    @property
    def project(self) -> str | None:
        return self.assignment.project.name

    @property
    def section(self) -> str:
        name = self.assignment.section.name
        assert name is not None
        return name


@dataclass(frozen=True)
class PingRow:
    """One row of the Dept of Ping table."""

    rank: int
    server: str
    median_ms: float

    @property
    def median_text(self) -> str:
        """``318`` or ``532.5``: halves kept, no trailing ``.0``."""
        value = round(self.median_ms, 1)
        return str(int(value)) if value == int(value) else f"{value:g}"


@dataclass(frozen=True)
class DraftInput:
    """Everything a draft is rendered from; the same value renders the same bytes."""

    edition_id: int
    post_date: date  # the publish day of the edition's week
    timestamp: datetime  # aware, UTC: post_date at post.publish_time in post.timezone
    editor_name: str  # shown as author when post.author is empty
    entries: tuple[Entry, ...]
    pings: tuple[PingRow, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


def stable_index(key: str, modulo: int) -> int:
    """A deterministic choice among ``modulo`` options for ``key`` (verbs, etc.)."""
    if modulo <= 0:
        raise ValueError("modulo must be positive")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % modulo

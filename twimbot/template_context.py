"""The context a draft template sees: the contract between twimbot and templates.

Every template, the built-in one and an operator's, is rendered with one
:class:`TemplateContext`. Its top-level names are hebbot's (``sections``, ``projects``,
``config``, ``editor``, ``timestamp``) plus TWIM's ``ping_table``, so a hebbot MiniJinja
template such as This Week in Matrix's ``template.md`` renders unchanged; the extra names
(``post``, ``ping``, ``edition_id``, ``post_date``) serve the built-in template and anyone who
wants more than hebbot offered. ``docs/templates.md`` documents the same contract for operators.

The objects are frozen and hold only values already fit for the post: contributor text is
sanitised (``message``) or escaped (``reporter_display_name``, media labels, ping host names)
before it gets here, and it is only ever passed as a value, never as template source.
Nothing here does I/O; :mod:`twimbot.render` builds these from a
:class:`~twimbot.model.DraftInput` and a :class:`~twimbot.config.Config`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from twimbot.model import MediaKind


class StrList(tuple[str, ...]):
    """A tuple of strings that prints the way MiniJinja prints a list: ``["a", "b"]``.

    hebbot's example template writes ``tags: {{ projects }}`` into YAML front matter and
    relies on that JSON-like form; Python's ``('a', 'b')`` would break it.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return "[" + ", ".join(json.dumps(item, ensure_ascii=False) for item in self) + "]"


@dataclass(frozen=True, slots=True)
class SectionView:
    """A section as hebbot exposes it (``entry.section``).

    ``emoji`` is ``""`` when the section has none: hebbot's sections always carry a string.
    """

    name: str
    title: str
    emoji: str
    order: int


@dataclass(frozen=True, slots=True)
class ProjectView:
    """A project as hebbot exposes it (``entry.project``).

    ``website`` and ``description`` are ``""`` when not configured; ``default_section`` is
    ``""`` for a project without one. A project an entry names but the config no longer has
    is shown with its name as title.
    """

    name: str
    title: str
    description: str
    website: str
    emoji: str
    default_section: str


@dataclass(frozen=True, slots=True)
class MediaView:
    """One media file of a news item, in the order the sender attached them (twimbot extra).

    ``url`` is ``media.url_prefix`` + ``file``, what the Markdown links to. ``label`` is the
    sender's file name (or ``file``), already escaped for use as link text.
    ``video_markdown`` is ``media.video_markdown`` filled in for a video, else ``""``.
    ``downloaded`` is false while the bot has not stored the file yet.
    """

    kind: MediaKind
    url: str
    file: str
    mxc: str
    label: str
    video_markdown: str
    downloaded: bool


@dataclass(frozen=True, slots=True)
class NewsItem:
    """One entry (hebbot's ``item``).

    hebbot fields:

    * ``reporter_id``: the sender's user id, percent-encoded where a character could end a
      Markdown link destination (ordinary ids are unchanged).
    * ``reporter_display_name``: the display name at submission time on one line, Markdown
      link syntax escaped, so ``[{{ item.reporter_display_name }}](…)`` is always one link.
    * ``timestamp``: when it was first submitted (aware, UTC).
    * ``message``: the body after :func:`twimbot.sanitize.safe_markdown`, without leading or
      trailing blank lines.
    * ``images``, ``videos``: ``(url, mxc)`` pairs; ``url`` is ``media.url_prefix`` + file
      name, so ``> ![]({{ image[0] }})`` gives ``> ![](/blog/img/<file>)``.

    twimbot extras: ``files`` (other attachments, same pairs), ``media`` (all attachments as
    :class:`MediaView`), ``event_id``, ``number`` (``post N``), ``verb`` (the configured verb
    chosen by a stable hash of the event id, what the built-in template prints), ``project``
    and ``section`` (names; ``project`` is ``""`` without one) and ``unsorted``.
    """

    reporter_id: str
    reporter_display_name: str
    timestamp: datetime
    message: str
    images: tuple[tuple[str, str], ...]
    videos: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, str], ...]
    media: tuple[MediaView, ...]
    event_id: str
    number: int
    verb: str
    project: str
    section: str
    unsorted: bool


@dataclass(frozen=True, slots=True)
class ProjectNews:
    """A project's entries within one section (hebbot's ``RenderProject``).

    ``overwritten_section`` is the section name when it is not the project's default
    section, as in hebbot; otherwise ``None``. ``news`` is in order of first submission.
    """

    project: ProjectView
    news: tuple[NewsItem, ...]
    overwritten_section: str | None


@dataclass(frozen=True, slots=True)
class SectionNews:
    """A section with its entries (hebbot's ``RenderSection``, a value of ``sections``).

    ``news`` holds the entries without a project, ``projects`` the projects with entries in
    this section, both in order of first submission.
    """

    section: SectionView
    news: tuple[NewsItem, ...]
    projects: tuple[ProjectNews, ...]


class SectionMap(dict[str, SectionNews]):
    """``sections``: hebbot's map from ``"<order>-<name>"`` to :class:`SectionNews`.

    Only non-empty sections are present. Insertion order is the render order (numeric
    ``order``, then name), and twimbot's ``dictsort`` sorts this map the same way: hebbot's
    string sort put ``1000-…`` before ``200-…``.
    """

    def sort_key(self, key: str) -> tuple[int, str]:
        """The numeric order of ``key``'s section, then its name."""
        section = self[key].section
        return (section.order, section.name)


@dataclass(frozen=True, slots=True)
class ConfigView:
    """``config``: hebbot's configuration names, filled from the twimbot config.

    ``reporting_room_id`` is the first submissions room, ``admin_room_id`` the editors room,
    ``ping_room_id`` the ping room (``""`` if none), ``ack_text`` ``ack.text`` (``""`` if
    none). ``media_url_prefix`` is a twimbot extra. Secrets are never part of it.
    """

    bot_user_id: str
    reporting_room_id: str
    admin_room_id: str
    ping_room_id: str
    notice_emoji: str
    verbs: StrList
    min_length: int
    ack_text: str
    editors: StrList
    sections: tuple[SectionView, ...]
    projects: tuple[ProjectView, ...]
    media_url_prefix: str


@dataclass(frozen=True, slots=True)
class PostView:
    """``post`` (twimbot extra): the framing of the post, from the ``post`` config key.

    ``date`` is the edition's publish day as ``YYYY-MM-DD``; ``title_line`` is
    ``"<title> <date>"``; ``datetime_iso`` the edition timestamp in UTC with ``Z``;
    ``path`` ``"<path_prefix>/YYYY/MM/DD/<slug of title>-YYYY-MM-DD"``; ``author``
    ``post.author`` or the editor's name; ``category`` ``post.category`` or the title.
    ``intro`` and ``outro`` are ``""`` when unset. ``room`` is the room the closing line
    invites to: the first submissions room given as an alias, else the first one.
    These are raw values: front matter must pass them through the ``toml`` filter.
    """

    title: str
    date: str
    title_line: str
    datetime_iso: str
    path: str
    author: str
    category: str
    intro: str
    outro: str
    room: str


@dataclass(frozen=True, slots=True)
class PingRowView:
    """One Dept of Ping row; ``server`` is escaped for a Markdown table cell."""

    rank: int
    server: str
    median: str


@dataclass(frozen=True, slots=True)
class PingView:
    """``ping`` (twimbot extra): the Dept of Ping.

    ``enabled`` when ``ping.room`` or ``ping.stats_url`` is configured; ``room`` is the ping
    room (``""`` if none); ``rows`` the ranking; ``table`` the rows as Markdown table lines,
    the same text as ``ping_table``.
    """

    enabled: bool
    room: str
    rows: tuple[PingRowView, ...]
    table: str


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """Everything a template can name. :meth:`as_mapping` is what the template receives.

    hebbot names: ``sections`` (:class:`SectionMap`), ``projects`` (names of the projects
    with entries, in render order), ``config`` (:class:`ConfigView`), ``editor`` (the
    editor's display name), ``timestamp`` (the edition timestamp, aware UTC; hebbot used the
    time of ``!render``, twimbot the edition's so a draft re-renders identically) and TWIM's
    ``ping_table``. twimbot extras: ``post``, ``ping``, ``edition_id``, ``post_date``.
    """

    sections: SectionMap
    projects: StrList
    config: ConfigView
    editor: str
    timestamp: datetime
    ping_table: str
    post: PostView
    ping: PingView
    edition_id: int
    post_date: date

    def as_mapping(self) -> dict[str, Any]:
        """The template globals, one per field."""
        return {
            "sections": self.sections,
            "projects": self.projects,
            "config": self.config,
            "editor": self.editor,
            "timestamp": self.timestamp,
            "ping_table": self.ping_table,
            "post": self.post,
            "ping": self.ping,
            "edition_id": self.edition_id,
            "post_date": self.post_date,
        }

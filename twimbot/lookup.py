"""Finding a section or project by what an editor types or reacts with (SPEC §6).

Commands take a project's or section's ``name``, its title or its emoji key,
case-insensitively (``!twim project 3 nheko``, ``!twim section 3 Dept of Clients``);
reactions take the emoji key alone (``Synapse ?`` is ``Synapse``, ``⭕️`` is ``⭕``). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from twimbot import names
from twimbot.config import Config, Project, Section, normalize_key

__all__ = ["find_project", "find_section", "is_notice_key", "match_name", "reaction_target"]


def _lookup(query: str, items: Sequence[Section | Project]) -> Section | Project | None:
    """Name, then title, then alias, then emoji, then title letters: the first pass that hits
    decides, and within a pass the first item in config order."""
    key, loose, emoji = names.name_key(query), names.loose_key(query), normalize_key(query)
    if not key and not emoji:
        return None

    def verdicts(item: Section | Project) -> tuple[bool, ...]:
        aliases = item.aliases if isinstance(item, Project) else []
        return (
            names.name_key(item.name) == key,
            names.name_key(item.title) == key,
            any(names.name_key(alias) == key for alias in aliases),
            item.emoji is not None and normalize_key(item.emoji) == emoji,
            bool(loose) and loose in (names.loose_key(item.title), names.loose_key(item.name)),
        )

    judged = [(verdicts(item), item) for item in items]
    for rank in range(5):
        for verdict, item in judged:
            if verdict[rank]:
                return item
    return None


def find_project(query: str, config: Config) -> Project | None:
    """The project ``query`` names: by name, title, alias or emoji key, case-insensitively."""
    found = _lookup(query, config.projects)
    return found if isinstance(found, Project) else None


def find_section(query: str, config: Config) -> Section | None:
    """The section ``query`` names: by name, title (with or without its emoji) or emoji."""
    found = _lookup(query, config.sections)
    return found if isinstance(found, Section) else None


def match_name(query: str, config: Config) -> Section | Project | None:
    """A project or section by name; on the same pass a project wins over a section."""
    return _lookup(query, [*config.projects, *config.sections])


def reaction_target(key: str, config: Config) -> Section | Project | None:
    """The section or project whose emoji is the reaction ``key`` (emoji only).

    Compared with :func:`~twimbot.config.normalize_key`: ``Synapse ?`` and ``Synapse`` are the
    same key, and so are ``⭕️`` and ``⭕``. A key shared by a section and a project means the
    section (hebbot's sections came first); ``check-config`` warns about such configs.
    """
    wanted = normalize_key(key)
    if not wanted:
        return None
    items: list[Section | Project] = [*config.sections, *config.projects]
    for item in items:
        if item.emoji is not None and normalize_key(item.emoji) == wanted:
            return item
    return None


def is_notice_key(key: str, config: Config) -> bool:
    """True when the reaction ``key`` is the notice emoji (``⭕️`` counts as ``⭕``)."""
    return normalize_key(key) == normalize_key(config.notice_emoji)

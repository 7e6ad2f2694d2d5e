"""Learned reporters: who reported what in past posts, and where editors filed it (SPEC §5).

A config's ``usual_reporters`` are written by hand and go stale: TWIM's Element X iOS news
comes weekly from people its config does not list, and rarely names the app ("Join room by
alias has been implemented"). What editors actually published says it better. This module
counts, over published entries:

per sender, how many entries they had, and under which project and which section editors
published them. (Where editors publish a project, when that is not its ``default_section``,
is not counted: SPEC §5 puts a project's entries in its default section.)

The counts are plain data (``twimbot/data/reporters.json``, built from the labelled training
posts of ``bench/data`` by ``bench/train_reporters.py``), so every decision they make is
explainable with its numbers (``@x usually reported Element X iOS news (5 of 6 past
entries)``). A running bot adds the counts of its own published editions to these shipped
TWIM counts (:meth:`ReporterCounts.merged`).

They are keyed by Matrix user id, project name and section name: a sender, project or
section the counts have never seen gets nothing from them, so another community's config is
unaffected by the shipped TWIM counts. A sender the counts do not know by their exact id is
looked up by localpart on another server (:func:`matching_keys`): a replay through a local
homeserver posts ``@andybalaam:localhost`` for ``@andybalaam:matrix.org``. A sender known
neither way whose display name only one known sender had (:meth:`ReporterCounts.by_name`) is
taken for that sender: someone posting from a new account under the name they always used,
or a replay whose accounts are not named like the real ones. That is weaker evidence still,
and the reasons say so. What the classifier does with the counts, and how much they
weigh against the text, is in :mod:`twimbot.classify`.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

__all__ = [
    "DATA_FILE",
    "Habit",
    "ReporterCounts",
    "SenderCounts",
    "by_localpart",
    "default_counts",
    "display_name_key",
    "localpart",
    "matching_keys",
    "sender_key",
]

DATA_FILE: Final = "reporters.json"


def sender_key(user_id: str) -> str:
    """Matrix ids compared case-insensitively (configs and events disagree on case)."""
    return user_id.strip().casefold()


def display_name_key(display_name: str) -> str:
    """Display names compared case-insensitively, whitespace runs as one space; unlike a
    project name's :func:`twimbot.names.name_key`, ``-`` and ``_`` are part of the name."""
    return " ".join(unicodedata.normalize("NFC", display_name).split()).casefold()


def localpart(user_id: str) -> str:
    """``@Andy:matrix.org`` → ``@andy``: the same person's name on any server."""
    return sender_key(user_id).split(":", 1)[0]


def by_localpart(keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Known sender keys grouped by localpart, each group sorted (deterministic merges)."""
    groups: dict[str, set[str]] = {}
    for key in keys:
        groups.setdefault(localpart(key), set()).add(sender_key(key))
    return {lp: tuple(sorted(ids)) for lp, ids in groups.items()}


def matching_keys(
    sender: str, exact: Container[str], localparts: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[str, ...], bool]:
    """The known keys that stand for ``sender``, and whether only by localpart: the exact id
    (case-folded) when it is known, else every known id with the same localpart on another
    server (merged by the caller), else none."""
    key = sender_key(sender)
    if key in exact:
        return (key,), False
    others = localparts.get(localpart(key), ())
    return others, bool(others)


@dataclass(frozen=True, slots=True)
class Habit:
    """The most frequent value among ``total`` past entries, and how often it was chosen."""

    value: str
    count: int
    total: int
    like: str | None = None  # the known id(s) whose habit this is, matched by localpart only

    def share(self) -> float:
        return self.count / self.total if self.total else 0.0

    def of(self) -> str:
        return f"{self.count} of {self.total} past entries"

    def who(self, sender: str) -> str:
        """Whose habit, as a reason's subject: ``@x`` or ``@x:localhost looks like @x:…, who``."""
        return sender if self.like is None else f"{sender} looks like {self.like}, who"


@dataclass(frozen=True, slots=True)
class SenderCounts:
    """One sender's published entries: how many, and per project and per section."""

    entries: int
    projects: Mapping[str, int]  # entries without a project only count in ``entries``
    sections: Mapping[str, int]  # entries of a department the config lacks are left out

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "projects": _sorted(self.projects),
            "sections": _sorted(self.sections),
        }


def _sorted(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _top(
    counts: Mapping[str, int], total: int, allowed: Iterable[str], like: str | None = None
) -> Habit | None:
    """The most frequent of the ``allowed`` values; None when two tie or none was seen."""
    known = [(n, v) for v in allowed if (n := counts.get(v, 0)) > 0]
    if not known:
        return None
    known.sort(key=lambda t: (-t[0], t[1]))
    if len(known) > 1 and known[0][0] == known[1][0]:
        return None
    return Habit(known[0][1], known[0][0], total, like)


def _add(a: SenderCounts, b: SenderCounts) -> SenderCounts:
    return SenderCounts(
        a.entries + b.entries,
        dict(Counter(a.projects) + Counter(b.projects)),
        dict(Counter(a.sections) + Counter(b.sections)),
    )


class ReporterCounts:
    """Counts of published entries per sender; adds up over sources."""

    def __init__(
        self,
        senders: Mapping[str, SenderCounts] | None = None,
        names: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.senders: dict[str, SenderCounts] = {
            sender_key(k): v for k, v in (senders or {}).items()
        }
        self._localparts = by_localpart(self.senders)
        # display name -> the senders who posted under it (only senders counted here)
        named: dict[str, set[str]] = {}
        for name, ids in (names or {}).items():
            named.setdefault(display_name_key(name), set()).update(sender_key(i) for i in ids)
        self.names: dict[str, tuple[str, ...]] = {
            name: tuple(sorted(known))
            for name, ids in named.items()
            if name and (known := ids & self.senders.keys())
        }

    def __bool__(self) -> bool:
        return bool(self.senders)

    @classmethod
    def count(
        cls,
        entries: Iterable[tuple[str, str | None, str | None]],
        names: Iterable[tuple[str, str]] = (),
    ) -> ReporterCounts:
        """Counts from ``(sender, project, section)`` of published entries; ``project`` None
        is an entry without a project, ``section`` None one of a department not counted.
        ``names`` are ``(sender, display name)`` of the same entries."""
        total: Counter[str] = Counter()
        projects: dict[str, Counter[str]] = {}
        sections: dict[str, Counter[str]] = {}
        for sender, project, section in entries:
            key = sender_key(sender)
            total[key] += 1
            if project is not None:
                projects.setdefault(key, Counter())[project] += 1
            if section is not None:
                sections.setdefault(key, Counter())[section] += 1
        named: dict[str, set[str]] = {}
        for sender, name in names:
            named.setdefault(display_name_key(name), set()).add(sender_key(sender))
        return cls(
            {
                k: SenderCounts(n, dict(projects.get(k, {})), dict(sections.get(k, {})))
                for k, n in total.items()
            },
            named,
        )

    def merged(self, other: ReporterCounts | None) -> ReporterCounts:
        """These counts and ``other``'s added up (the shipped prior and a bot's own).

        A sender of ``other`` these counts do not know by their exact id, whose localpart
        senders they do know, is counted with them (under the first): :meth:`find` matches
        them by localpart and adds those senders up anyway, and counted apart, their own few
        entries would be an exact match that hides the many the shipped counts know
        (``@andy:localhost``'s first published week would make ``@andy:matrix.org``'s years
        of entries disappear). Likewise a sender known by neither but posting under a display
        name only one known sender had (:meth:`by_name`)."""
        if not other:
            return self
        if not self:
            return other
        # the display names each sender of ``other`` posted under
        their_names: dict[str, list[str]] = {}
        for name, ids in other.names.items():
            for key in ids:
                their_names.setdefault(key, []).append(name)
        senders = dict(self.senders)
        folded: dict[str, str] = {}  # a sender of ``other`` -> whom they are counted with
        for key, theirs in other.senders.items():
            into = key
            if key not in senders:
                known = self._localparts.get(localpart(key), ())
                named = {k for n in their_names.get(key, ()) if (k := self.by_name(n))}
                # a new account under a known name counts with that sender, as by localpart
                if known:
                    into = known[0]
                elif len(named) == 1:
                    into = named.pop()
            folded[key] = into
            mine = senders.get(into)
            senders[into] = theirs if mine is None else _add(mine, theirs)
        names: dict[str, set[str]] = {name: set(ids) for name, ids in self.names.items()}
        for name, ids in other.names.items():
            names.setdefault(name, set()).update(folded.get(k, k) for k in ids)
        return ReporterCounts(senders, names)

    # -- questions the classifier asks ----------------------------------------------------

    def find(self, sender: str) -> tuple[SenderCounts, str | None] | None:
        """The sender's counts, and the known id(s) they were matched to when only by
        localpart (several ids with that localpart are added up)."""
        keys, loose = matching_keys(sender, self.senders, self._localparts)
        if not keys:
            return None
        counts = self.senders[keys[0]]
        for key in keys[1:]:
            counts = _add(counts, self.senders[key])
        return counts, ", ".join(keys) if loose else None

    def by_name(self, display_name: str) -> str | None:
        """The one known sender who posted under this display name; None when no one or
        several did (a name is not an identity: only an unambiguous one is a clue)."""
        ids = self.names.get(display_name_key(display_name), ())
        return ids[0] if len(ids) == 1 else None

    def usual_project(self, sender: str, allowed: Iterable[str]) -> Habit | None:
        """The project most of the sender's past entries were published under, out of all
        their entries (those without a project count against it)."""
        found = self.find(sender)
        if found is None:
            return None
        counts, like = found
        return _top(counts.projects, counts.entries, allowed, like)

    # -- data file --------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReporterCounts:
        senders = {
            k: SenderCounts(int(v["entries"]), dict(v["projects"]), dict(v["sections"]))
            for k, v in data.get("senders", {}).items()
        }
        return cls(senders, data.get("names", {}))

    def to_json(self) -> dict[str, Any]:
        return {
            "senders": {k: v.to_json() for k, v in sorted(self.senders.items())},
            "names": {k: list(v) for k, v in sorted(self.names.items())},
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n"


@cache
def default_counts() -> ReporterCounts:
    """The counts shipped with twimbot: the labelled TWIM training posts of bench/data."""
    text = resources.files("twimbot").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return ReporterCounts.from_json(json.loads(text))

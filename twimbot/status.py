"""Reports on the open edition and the edition list, shared by ``!twim`` and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from twimbot import chat, draft
from twimbot.config import Config
from twimbot.handlers import resolve_marks
from twimbot.store import Store


@dataclass(frozen=True)
class Report:
    """A title and groups of lines; a group may have a heading ("Unsorted:")."""

    title: str
    groups: list[tuple[str | None, list[str]]]

    @property
    def lines(self) -> list[str]:
        out: list[str] = []
        for heading, lines in self.groups:
            if heading is not None:
                out.append(heading)
            out += lines
        return out

    def text(self) -> str:
        return "\n".join([self.title, *self.lines])


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def edition_status(store: Store, config: Config) -> Report:
    """Entries per section, every unsorted entry, media, and the last sync."""
    edition = await store.open_edition()
    subs = await store.submissions(edition.id)
    active = [s for s in subs if s.active]
    per_section: Counter[str] = Counter()
    unsorted: list[str] = []
    # All marks in one query (a thousand entries must not cost a thousand round trips).
    marks = await store.active_marks(s.id for s in active)
    for sub in active:
        assignment = resolve_marks(sub, config, marks.get(sub.id, {}))
        section = config.section(assignment.section.name or "") or config.fallback
        per_section[section.title] += 1
        if assignment.unsorted:
            unsorted.append(
                f"post {sub.number} by {sub.sender_name}: {chat.one_line(sub.text, 60)}"
            )
    numbers = {s.id: s.number for s in active}
    media = [m for m in await store.media_for_edition(edition.id) if m.submission_id in numbers]
    problems = [
        p
        for m in media
        if m.submission_id is not None
        and (p := draft.media_problem(m, numbers[m.submission_id])) is not None
    ]
    day = await draft.edition_day(store, config, edition)
    title = (
        f"Edition {edition.id} for {day.isoformat()} (opened {_at(edition.opened_at)}):"
        f" {len(active)} entries, {len(unsorted)} unsorted, {len(media)} media"
    )
    order = {s.title: (s.order, s.name) for s in [*config.sections, config.fallback]}
    counts = [
        f"{name}: {count}"
        for name, count in sorted(per_section.items(), key=lambda kv: order.get(kv[0], (0, kv[0])))
    ]
    groups: list[tuple[str | None, list[str]]] = [(None, counts)]
    if unsorted:
        groups.append(("Unsorted:", unsorted))
    lines: list[str] = []
    groups.append((None, lines))
    hidden = len(subs) - len(active)
    if hidden:
        lines.append(f"not in the draft: {hidden} (deleted or dropped)")
    lines += [f"media: {p}" for p in problems]
    synced = await store.get_state("last_sync_at")
    lines.append(f"last sync: {_at(int(synced)) if synced else 'never'}")
    outbox = await store.outbox_count()
    if outbox:
        lines.append(f"messages waiting to be sent: {outbox}")
    return Report(title, groups)


async def edition_lines(store: Store, config: Config) -> list[str]:
    """One line per edition, oldest first: id, post date, entries, media, state."""
    lines = []
    previous = None
    for item in await store.editions():
        ed = item.edition
        day = draft.edition_date(config, ed, previous)
        previous = ed
        state = f"published {_at(ed.published_at)}" if ed.published_at else "open"
        files = len(await store.published_media(ed.id)) if ed.published_at else None
        media = f", {files} media" if files else ""
        lines.append(
            f"{ed.id}: {day.isoformat()} — {item.entries} entries{media} — {state}"
            f" (opened {_at(ed.opened_at)})"
        )
    return lines


def dumps(report: Report) -> str:
    return json.dumps({"title": report.title, "lines": report.lines}, ensure_ascii=False)

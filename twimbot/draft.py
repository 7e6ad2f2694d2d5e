"""From the store to a rendered post: gathers an edition into a :class:`DraftInput`.

Everything the draft depends on comes from the database and the config, never from the
clock, so the same database renders the same bytes (SPEC §7). The post date is the publish
day of the edition's week (see :func:`post_date`), in ``post.timezone``.

A published edition renders from what was pinned when it was published: its entries are
frozen (edits are recorded, not applied; marks, drops and attachments are refused) and its
media are the files the post carried, so ``twimbot draft --edition ID`` gives back the
published text byte for byte as long as the config and template are unchanged.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from twimbot import classify, media, render
from twimbot.classify import Learned
from twimbot.config import WEEKDAYS, Config
from twimbot.errors import TemplateError
from twimbot.model import Assignment, DraftInput, Entry, MediaItem, MediaKind, PingRow
from twimbot.names import text_model_words
from twimbot.store import Edition, Mark, MediaRow, Store, SubmissionRow

MAX_TS = 2**62


# How many recent published editions a running bot learns from (a year of weekly posts).
LEARN_EDITIONS = 52


def post_date(config: Config, opened_at_ms: int, after: date | None = None) -> date:
    """The publish day of an edition: its week's ``publish_weekday``.

    That is the first ``publish_weekday`` on or after the day the edition opened (in
    ``post.timezone``) and after ``after``, the previous edition's post date. The second
    rule matters on the publish day itself: publishing on Friday opens the next edition on
    that same Friday, and its post is the next Friday's, not today's again.
    """
    tz = ZoneInfo(config.post.timezone)
    opened = datetime.fromtimestamp(opened_at_ms / 1000, tz).date()
    target = WEEKDAYS.index(config.post.publish_weekday)
    day = opened + timedelta(days=(target - opened.weekday()) % 7)
    if after is not None and day <= after:
        day += timedelta(days=7 * ((after - day).days // 7 + 1))
    return day


def post_timestamp(config: Config, day: date) -> datetime:
    """The front matter's moment: ``day`` at ``post.publish_time`` in ``post.timezone``."""
    hour, minute = (int(x) for x in config.post.publish_time.split(":"))
    local = datetime.combine(day, time(hour, minute), ZoneInfo(config.post.timezone))
    return local.astimezone(UTC)


def edition_date(config: Config, edition: Edition, previous: Edition | None = None) -> date:
    """The post date of ``edition``: fixed once published, else :func:`post_date`."""
    if edition.post_date:
        return date.fromisoformat(edition.post_date)
    after = date.fromisoformat(previous.post_date) if previous and previous.post_date else None
    return post_date(config, edition.opened_at, after)


async def edition_day(store: Store, config: Config, edition: Edition) -> date:
    """:func:`edition_date`, reading the previous edition from the store when needed."""
    if edition.post_date:
        return date.fromisoformat(edition.post_date)
    return edition_date(config, edition, await store.previous_edition(edition.id))


def file_stem(day: date) -> str:
    return f"twim-{day.isoformat()}"


async def ping_rows(
    store: Store, config: Config, edition: Edition, stamp: datetime
) -> tuple[PingRow, ...]:
    """The Dept of Ping rows of ``edition``.

    With ``ping.stats_url``, the rows last fetched from it for this edition (see
    :func:`refresh_pingstat`) win; otherwise, or before the first successful fetch, the
    bot's own measurements and the pongs of other echo bots it recorded count. Those are
    taken from the edition's window: from when it opened (but at most ``ping.window_days``
    before its post time) until it was published, as pingstat's "last N days" would be at
    publication.
    """
    from twimbot import ping

    pinned = await store.get_state(f"pingstat:{edition.id}")
    if pinned is not None:
        # the table the edition was published with (see keep_pings)
        return tuple(PingRow(int(r[0]), str(r[1]), float(r[2])) for r in json.loads(pinned))
    if config.ping.stats_url:
        cached = await _cached_pingstat(store, config.ping.stats_url, edition)
        if cached is not None:
            return cached
    until = edition.published_at or MAX_TS
    since = max(
        edition.opened_at, int(stamp.timestamp() * 1000 - config.ping.window_days * 86_400_000)
    )
    records = await store.pings_between(since, until)
    samples = [
        ping.PingSample(r.ping_event, r.server, int(r.delay_ms), r.origin_ts, r.reporter)
        for r in records
    ]
    return tuple(ping.ping_table(samples, since_ms=since, until_ms=until, top=config.ping.top))


def _pingstat_key(edition: Edition) -> str:
    # The rows last fetched from ``ping.stats_url`` for the edition, with that URL.
    return f"pingstat-fetch:{edition.id}"


async def _cached_pingstat(store: Store, url: str, edition: Edition) -> tuple[PingRow, ...] | None:
    """The rows last fetched from ``url`` for ``edition``; None if none were (from that URL)."""
    cached = await store.get_state(_pingstat_key(edition))
    data = json.loads(cached) if cached is not None else None
    if not isinstance(data, dict) or data.get("url") != url:
        return None
    return tuple(PingRow(int(r[0]), str(r[1]), float(r[2])) for r in data["rows"])


async def refresh_pingstat(store: Store, config: Config, edition: Edition) -> str | None:
    """Fetch ``ping.stats_url`` and keep the rows with the edition; returns a warning.

    A failing pingstat service never fails a draft: the warning says what went wrong and
    which rows the draft shows instead (an earlier fetch for this edition, else the bot's
    own measurements).
    """
    if not config.ping.stats_url or not edition.is_open:
        return None
    from twimbot import ping

    try:
        rows = await ping.fetch_pingstat(config.ping.stats_url, config.ping.top)
    except ping.PingstatError as err:
        reason = str(err)
    except Exception as err:  # any failure of a third-party service is a warning only
        reason = f"pingstat: {config.ping.stats_url}: {type(err).__name__}"
    else:
        async with store.transaction():
            await store.set_state(
                _pingstat_key(edition),
                json.dumps(
                    {
                        "url": config.ping.stats_url,
                        "rows": [[r.rank, r.server, r.median_ms] for r in rows],
                    }
                ),
            )
        return None
    if await _cached_pingstat(store, config.ping.stats_url, edition) is not None:
        instead = "the rows fetched from it earlier are shown"
    elif config.ping.room:
        instead = "the bot's own measurements are shown"
    else:
        instead = "the table is empty"
    return f"Dept of Ping: {reason}; {instead}"


def media_problem(row: MediaRow, number: int) -> str | None:
    """Why an attached file is not in the post (None: it is), for the editors."""
    if row.status == "done" and row.file_name:
        return None
    what = f"post {number}: {row.label}"
    if row.status == "failed":
        return (
            f"{what} could not be downloaded after {row.attempts} attempts ({row.error});"
            " it is left out of the post and the bundle"
        )
    if row.attempts:
        return (
            f"{what} is not downloaded yet (attempt {row.attempts} failed: {row.error};"
            " retrying); it is left out of this draft"
        )
    return f"{what} is still downloading; it is left out of this draft"


def media_item(config: Config, row: MediaRow) -> MediaItem:
    assert row.file_name is not None
    return MediaItem(
        row.event_id,
        cast(MediaKind, row.kind),
        row.file_name,
        config.media.url_prefix + row.file_name,
        row.mxc,
        row.body,
    )


async def _entries(
    store: Store, edition_id: int
) -> tuple[list[SubmissionRow], dict[int, dict[str, Mark]]]:
    """An edition's live submissions and the editors' marks on them."""
    subs = [s for s in await store.submissions(edition_id) if s.active]
    return subs, await store.active_marks(s.id for s in subs)


def _assignments(
    config: Config, subs: list[SubmissionRow], marks: dict[int, dict[str, Mark]]
) -> list[Assignment]:
    """Each submission's effective project and section: the editors' marks over auto."""
    out = []
    for sub in subs:
        sub_marks = marks.get(sub.id, {})
        pm, sm = sub_marks.get("project"), sub_marks.get("section")
        out.append(
            classify.resolve(
                sub.classification,
                config,
                pm.value if pm else None,
                sm.value if sm else None,
                editor_project_cleared=pm is not None and pm.value is None,
            )
        )
    return out


async def learned(store: Store, config: Config, editions: int = LEARN_EDITIONS) -> Learned:
    """The shipped learned data plus what this bot's own last ``editions`` published editions
    say: per sender, the projects and sections their entries went out under, and per section
    and per project, the words of those entries.

    Published is what the editors let stand (their marks over the automatic choice), the
    same thing the shipped data were counted from, so that a correction teaches the next
    week's guesses; recent editions only, because habits and departments change and a long
    archive must not slow the start. Entries left in the fallback section teach no
    department.
    """
    published: list[tuple[str, str, str | None, str | None, str]] = []
    for edition_id in await store.published_edition_ids(editions):
        subs, marks = await _entries(store, edition_id)
        for sub, assignment in zip(subs, _assignments(config, subs, marks), strict=True):
            published.append(
                (
                    sub.sender,
                    sub.sender_name,
                    assignment.project.name,
                    assignment.section.name,
                    sub.text,
                )
            )
    # Splitting a year of entries into words takes a few hundred milliseconds: off the
    # event loop, so that acknowledgements and commands go on meanwhile.
    return await asyncio.to_thread(_learn, published, config.fallback_section)


def _learn(
    published: list[tuple[str, str, str | None, str | None, str]], fallback_section: str
) -> Learned:
    """:func:`learned` from ``(sender, display name, project, section, text)`` of the
    published entries."""
    return Learned.shipped().plus(
        ((u, n, p, s, text_model_words(text)) for u, n, p, s, text in published),
        fallback_section,
    )


async def gather(
    store: Store, config: Config, edition: Edition, editor_name: str = ""
) -> DraftInput:
    """Read one edition into the typed input of :func:`twimbot.render.render_draft`.

    Only downloaded files go into the post, so every file the Markdown names is in the
    bundle; the others become warnings. A published edition shows exactly the files its
    post carried.
    """
    subs, marks = await _entries(store, edition.id)
    number: dict[int, SubmissionRow] = {s.id: s for s in subs}
    by_sub: dict[int, list[MediaItem]] = {}
    warnings: list[str] = []
    if edition.is_open:
        for row in await store.media_for_edition(edition.id):
            if row.submission_id not in number:
                continue  # the entry was deleted or dropped
            problem = media_problem(row, number[row.submission_id].number)
            if problem is not None:
                warnings.append(problem)
                continue
            by_sub.setdefault(row.submission_id, []).append(media_item(config, row))
    else:
        for row in await store.published_media(edition.id):
            if row.submission_id in number and row.file_name:
                by_sub.setdefault(row.submission_id, []).append(media_item(config, row))
    entries = [
        Entry(
            sub.number,
            sub.event_id,
            sub.sender,
            sub.sender_name,
            sub.text,
            sub.origin_ts,
            assignment,
            tuple(by_sub.get(sub.id, ())),
        )
        for sub, assignment in zip(subs, _assignments(config, subs, marks), strict=True)
    ]
    day = await edition_day(store, config, edition)
    stamp = post_timestamp(config, day)
    pings: tuple[PingRow, ...] = ()
    if config.ping.room or config.ping.stats_url:
        pings = await ping_rows(store, config, edition, stamp)
    return DraftInput(
        edition_id=edition.id,
        post_date=day,
        timestamp=stamp,
        editor_name=editor_name or edition.published_by or "",
        entries=tuple(entries),
        pings=pings,
        warnings=tuple(warnings),
    )


async def keep_pings(store: Store, edition: Edition, rows: tuple[PingRow, ...]) -> None:
    """Pin the Dept of Ping table an edition is published with (late pongs cannot move it)."""
    await store.set_state(
        f"pingstat:{edition.id}", json.dumps([[r.rank, r.server, r.median_ms] for r in rows])
    )


@dataclass(frozen=True)
class Draft:
    """A rendered edition and what goes with it."""

    edition: Edition
    day: date
    result: render.RenderResult
    data: DraftInput

    @property
    def media_events(self) -> list[str]:
        """Every media event the entries show (what publishing pins to the edition)."""
        return [m.event_id for entry in self.data.entries for m in entry.media]

    @property
    def markdown_name(self) -> str:
        return f"{file_stem(self.day)}.md"

    @property
    def bundle_name(self) -> str:
        return f"{file_stem(self.day)}.zip"

    def bundle(self, media_dir: Path) -> media.Bundle:
        """The zip: the Markdown and every file it names (see :func:`twimbot.media.bundle`)."""
        return media.bundle(self.markdown_name, self.result.markdown, self.result.media, media_dir)


TemplateText = tuple[str | None, str]
"""A loaded draft template: its source (``None`` for the built-in one) and its name."""


def load_template(config: Config) -> TemplateText:
    """Read the configured template file (``None`` source: the built-in template)."""
    path = config.template_path
    if path is None:
        return None, "built-in template"
    try:
        return path.read_text(encoding="utf-8"), path.name
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise TemplateError(f"template {path}: cannot read it ({reason})") from None


async def build(
    store: Store,
    config: Config,
    edition: Edition | None = None,
    *,
    editor_name: str = "",
    template: TemplateText | None = None,
) -> Draft:
    """Render ``edition`` (default: the open one).

    ``template`` is what the running bot loaded at start or at ``!twim reload``; without
    it (the command line) the configured file is read now.
    """
    edition = edition or await store.open_edition()
    source, name = template if template is not None else load_template(config)
    data = await gather(store, config, edition, editor_name)
    result = render.render_draft(data, config, source, name)
    return Draft(edition, data.post_date, result, data)

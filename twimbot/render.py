"""Render a draft (a :class:`~twimbot.model.DraftInput`) into the week's Markdown post.

Pure: no I/O beyond reading the built-in template shipped in the package; the caller reads
an operator's template file and passes its text. :func:`render_draft` groups the entries
into sections and projects (SPEC §7: numeric section order, entries without a project
first, projects and entries in order of first submission, unsorted entries under the
fallback section), builds the documented :class:`~twimbot.template_context.TemplateContext`
and renders it with the built-in template or the operator's. The same input renders the
same bytes: verbs and hebbot's ``random`` are stable hashes, and the only time a template
sees is the edition's.

Contributor text reaches the template only as values: bodies through
:func:`twimbot.sanitize.safe_markdown`, names escaped as Markdown text. It is never template
source, so ``{{ config }}`` in a submission is printed (neutralised by the sanitiser), never
executed. Template problems raise :class:`~twimbot.errors.TemplateError` naming file and line.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

from twimbot.config import Config, Ping, Project, Rooms, Section
from twimbot.errors import TemplateError
from twimbot.model import (
    Assignment,
    Choice,
    DraftInput,
    Entry,
    MediaItem,
    PingRow,
    Source,
    stable_index,
)
from twimbot.sanitize import safe_markdown
from twimbot.template_context import (
    ConfigView,
    MediaView,
    NewsItem,
    PingRowView,
    PingView,
    PostView,
    ProjectNews,
    ProjectView,
    SectionMap,
    SectionNews,
    SectionView,
    StrList,
    TemplateContext,
)
from twimbot.template_env import (
    compile_template,
    md_escape,
    run_template,
    slugify,
    url_safe,
)

BUILTIN_TEMPLATE: Final = "twim.md.j2"
# How messages name the built-in template ("built-in template twim.md.j2 line 3: …").
BUILTIN_TEMPLATE_NAME: Final = f"built-in template {BUILTIN_TEMPLATE}"


@dataclass(frozen=True)
class RenderCounts:
    """What the draft holds, for the editors' summary.

    ``per_section`` maps section titles (what editors see) to entry counts, in render order;
    ``by_section_name`` is the same keyed by section name. ``unsorted`` counts entries
    placed by no rule or editor (or in a section the config lacks), which render under the
    fallback section; ``media`` counts the files the Markdown references.
    """

    entries: int
    per_section: Mapping[str, int]
    by_section_name: Mapping[str, int]
    projects: int
    unsorted: int
    media: int


@dataclass(frozen=True)
class RenderResult:
    """A rendered draft.

    ``markdown`` ends with exactly one newline. ``media`` lists every media file the
    Markdown references, in order of appearance, once each (a file not downloaded yet has
    ``ok=False`` and a warning). ``warnings`` are for the editor: unsorted entries,
    projects without website or description, missing media, undefined template values.
    """

    markdown: str
    media: tuple[MediaItem, ...]
    warnings: tuple[str, ...]
    counts: RenderCounts


@cache
def builtin_template_source() -> str:
    """The text of the built-in template (``twimbot/templates/twim.md.j2``)."""
    return (
        resources.files("twimbot")
        .joinpath("templates")
        .joinpath(BUILTIN_TEMPLATE)
        .read_text(encoding="utf-8")
    )


def render_draft(
    draft: DraftInput,
    config: Config,
    template_source: str | None = None,
    template_name: str = "template.md",
) -> RenderResult:
    """Render ``draft``; ``template_source=None`` uses the built-in template.

    Raises :class:`TemplateError` (one line, naming ``template_name`` and the line) when the
    template does not compile or fails while rendering, and for an unusable
    ``media.video_markdown``.
    """
    builtin = template_source is None
    source = builtin_template_source() if template_source is None else template_source
    name = BUILTIN_TEMPLATE_NAME if builtin else template_name
    template = compile_template(source, name, builtin)
    plan = _plan(draft, config)
    text, notices = run_template(
        template,
        plan.context.as_mapping(),
        edition_id=draft.edition_id,
        timestamp=plan.context.timestamp,
    )
    markdown = text.rstrip() + "\n"

    media, unreferenced = _referenced_media(markdown, plan.media)
    warnings = [*plan.warnings, *notices]
    if unreferenced:
        warnings.append(
            f"{len(unreferenced)} attached media file(s) do not appear in the post, the"
            f" template does not show them: {', '.join(unreferenced)}"
        )
    counts = RenderCounts(
        entries=plan.entries,
        per_section={title: n for _, title, n in plan.section_counts},
        by_section_name={key: n for key, _, n in plan.section_counts},
        projects=len(plan.context.projects),
        unsorted=plan.unsorted,
        media=len(media),
    )
    return RenderResult(
        markdown=markdown, media=tuple(media), warnings=tuple(warnings), counts=counts
    )


def _referenced_media(
    markdown: str, candidates: Iterable[MediaItem]
) -> tuple[list[MediaItem], list[str]]:
    """The media the Markdown names (by file name), in order of appearance, once each.

    An operator's template may leave some kinds out (hebbot's show no plain files); the
    bundle should carry what the post shows, and the editor should hear about the rest.
    Templates print media in entry order, so each search starts where the previous match
    ended, which keeps this one pass over the text; a miss falls back to a full search.
    """
    found: list[tuple[int, MediaItem]] = []
    missing: list[str] = []
    seen: set[str] = set()
    cursor = 0
    for item in candidates:
        if item.file_name in seen:
            continue
        seen.add(item.file_name)
        pos = markdown.find(item.file_name, cursor)
        if pos == -1:
            pos = markdown.find(item.file_name)
        if pos == -1:
            missing.append(item.body or item.file_name)
            continue
        cursor = pos + len(item.file_name)
        found.append((pos, item))
    found.sort(key=lambda pair: pair[0])
    return [item for _, item in found], missing


def build_context(draft: DraftInput, config: Config) -> TemplateContext:
    """The context a template sees for ``draft`` (exposed for tests and tooling)."""
    return _plan(draft, config).context


def check_template(
    source: str | None, name: str = "template.md", config: Config | None = None
) -> list[str]:
    """Problems with a template, for ``twimbot check-config``; empty when it is fine.

    Compiles ``source`` (``None``: the built-in template) and renders it once against a
    small sample draft built from ``config`` (or a sample config), so errors that only show
    while rendering (a bad attribute, a bad date format, an unknown filter inside a branch
    the sample reaches) are found before an editor asks for a draft.
    """
    sample_config = config if config is not None else _sample_config()
    try:
        render_draft(_sample_draft(sample_config), sample_config, source, name)
    except TemplateError as err:
        return [str(err)]
    return []


# -- planning: grouping, ordering, context ---------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    context: TemplateContext
    media: tuple[MediaItem, ...]  # in render order, possibly repeated
    warnings: tuple[str, ...]
    entries: int
    unsorted: int
    section_counts: tuple[tuple[str, str, int], ...]  # name, title, entries


def _first_submitted(entry: Entry) -> tuple[int, int]:
    return (entry.origin_ts, entry.number)


class _Bucket:
    """One section's entries while grouping."""

    def __init__(self, section: Section) -> None:
        self.section = section
        self.loose: list[Entry] = []
        self.projects: dict[str, list[Entry]] = {}


def _plan(draft: DraftInput, config: Config) -> _Plan:
    warnings: list[str] = list(draft.warnings)
    sections = {s.name: s for s in config.sections}
    projects = {p.name: p for p in config.projects}
    fallback = config.fallback
    verbs = tuple(config.verbs)

    buckets: dict[str, _Bucket] = {}
    unsorted: list[int] = []
    for entry in sorted(draft.entries, key=_first_submitted):
        section = sections.get(entry.section)
        if section is None:
            if not entry.assignment.unsorted:
                warnings.append(
                    f"post {entry.number}: section {entry.section!r} is not configured;"
                    f" it renders under “{fallback.title}”"
                )
            section = fallback
            unsorted.append(entry.number)
        elif entry.assignment.unsorted:
            unsorted.append(entry.number)
        bucket = buckets.get(section.name)
        if bucket is None:
            bucket = buckets[section.name] = _Bucket(section)
        if entry.project is None:
            bucket.loose.append(entry)
        else:
            bucket.projects.setdefault(entry.project, []).append(entry)
    if unsorted:
        numbers = ", ".join(str(n) for n in unsorted)
        what = "entry renders" if len(unsorted) == 1 else "entries render"
        warnings.append(
            f"{len(unsorted)} unsorted {what} under “{fallback.title}” (post {numbers})"
        )

    video_format = config.media.video_markdown
    media: list[MediaItem] = []
    section_map = SectionMap()
    section_counts: list[tuple[str, str, int]] = []
    project_names: list[str] = []
    warned_projects: set[str] = set()

    def news(entries: Iterable[Entry]) -> tuple[NewsItem, ...]:
        items = []
        for entry in entries:
            items.append(_news_item(entry, verbs, video_format))
            media.extend(entry.media)
            missing = {m.body or m.file_name: None for m in entry.media if not m.ok}
            if missing:
                warnings.append(
                    f"post {entry.number}: media not downloaded yet, the bundle cannot carry"
                    f" it: {', '.join(missing)}"
                )
        return tuple(items)

    for bucket in sorted(buckets.values(), key=lambda b: (b.section.order, b.section.name)):
        section = bucket.section
        loose = news(bucket.loose)
        project_news: list[ProjectNews] = []
        # Every entry list is already in submission order, so a project's first entry is
        # its first submission in this section.
        for project_name, entries in sorted(
            bucket.projects.items(), key=lambda kv: _first_submitted(kv[1][0])
        ):
            project = projects.get(project_name)
            view = _project_view(project_name, project)
            if project_name not in warned_projects:
                warned_projects.add(project_name)
                warnings.extend(_project_warnings(project_name, project, entries))
            if project_name not in project_names:
                project_names.append(project_name)
            overwritten = (
                section.name if project is None or project.default_section != section.name else None
            )
            project_news.append(ProjectNews(view, news(entries), overwritten))
        key = f"{section.order}-{section.name}"
        section_map[key] = SectionNews(_section_view(section), loose, tuple(project_news))
        count = len(bucket.loose) + sum(len(e) for e in bucket.projects.values())
        section_counts.append((section.name, section.title, count))

    ping = _ping_view(config.ping, draft.pings)
    if ping.enabled and not ping.rows:
        warnings.append("Dept of Ping: no measurements in this edition's window")

    timestamp = draft.timestamp if draft.timestamp.tzinfo else draft.timestamp.replace(tzinfo=UTC)
    timestamp = timestamp.astimezone(UTC)
    context = TemplateContext(
        sections=section_map,
        projects=StrList(project_names),
        config=_config_view(config),
        editor=" ".join(draft.editor_name.split()),
        timestamp=timestamp,
        ping_table=ping.table,
        post=_post_view(config, draft, timestamp),
        ping=ping,
        edition_id=draft.edition_id,
        post_date=draft.post_date,
    )
    return _Plan(
        context=context,
        media=tuple(media),
        warnings=tuple(warnings),
        entries=len(draft.entries),
        unsorted=len(unsorted),
        section_counts=tuple(section_counts),
    )


def _news_item(entry: Entry, verbs: tuple[str, ...], video_format: str) -> NewsItem:
    views: list[MediaView] = []
    seen: set[str] = set()
    for item in entry.media:
        if item.file_name in seen:
            continue
        seen.add(item.file_name)
        views.append(
            MediaView(
                kind=item.kind,
                url=item.url,
                file=item.file_name,
                mxc=item.mxc,
                label=md_escape(item.body or item.file_name),
                video_markdown=(
                    format_video(video_format, item.url, item.file_name)
                    if item.kind == "video"
                    else ""
                ),
                downloaded=item.ok,
            )
        )

    def pairs(kind: str) -> tuple[tuple[str, str], ...]:
        return tuple((v.url, v.mxc) for v in views if v.kind == kind)

    name = md_escape(entry.sender_name) or md_escape(entry.sender)
    return NewsItem(
        reporter_id=url_safe(entry.sender),
        reporter_display_name=name,
        timestamp=datetime.fromtimestamp(entry.origin_ts / 1000, UTC),
        message=prepare_body(entry.text),
        images=pairs("image"),
        videos=pairs("video"),
        files=pairs("file"),
        media=tuple(views),
        event_id=entry.event_id,
        number=entry.number,
        verb=verbs[stable_index(entry.event_id, len(verbs))],
        project=entry.project or "",
        section=entry.section,
        unsorted=entry.assignment.unsorted,
    )


def prepare_body(text: str) -> str:
    """The body as the post shows it: sanitised, without blank lines around it."""
    body = safe_markdown(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = body.rstrip().split("\n")
    start = 0
    while start < len(lines) - 1 and not lines[start].strip():
        start += 1
    return "\n".join(lines[start:])


def format_video(fmt: str, url: str, file: str) -> str:
    """Fill ``media.video_markdown``: only ``{url}`` and ``{file}`` are placeholders.

    ``str.format`` would also follow ``{url.__class__}``; the format is the operator's, but
    a config value should not be able to reach object internals.
    """
    out: list[str] = []
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as err:
        raise TemplateError(f"media.video_markdown: {err} (write {{{{ for a literal {{)") from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if field not in ("url", "file") or spec or conversion:
            raise TemplateError(
                f"media.video_markdown: unknown placeholder {{{field}}} (use {{url}} or {{file}})"
            )
        out.append(url if field == "url" else file)
    return "".join(out)


def _section_view(section: Section) -> SectionView:
    return SectionView(section.name, section.title, section.emoji or "", section.order)


def _project_view(name: str, project: Project | None) -> ProjectView:
    if project is None:
        return ProjectView(name, name, "", "", "", "")
    return ProjectView(
        project.name,
        project.title,
        project.description,
        project.website,
        project.emoji or "",
        project.default_section or "",
    )


def _project_warnings(name: str, project: Project | None, entries: list[Entry]) -> list[str]:
    if project is None:
        posts = ", ".join(str(e.number) for e in entries)
        return [f"project {name!r} (post {posts}) is not configured; its name is the heading"]
    missing = [
        what
        for what, value in (("website", project.website), ("description", project.description))
        if not value.strip()
    ]
    if not missing:
        return []
    return [f"project “{project.title}” has no {' or '.join(missing)}"]


def _ping_view(ping: Ping, rows: tuple[PingRow, ...]) -> PingView:
    views = tuple(PingRowView(row.rank, md_escape(row.server), row.median_text) for row in rows)
    table = "\n".join(f"|{r.rank}|{r.server}|{r.median}|" for r in views)
    return PingView(
        enabled=bool(ping.room or ping.stats_url), room=ping.room or "", rows=views, table=table
    )


def _config_view(config: Config) -> ConfigView:
    return ConfigView(
        bot_user_id=config.user_id,
        reporting_room_id=config.rooms.submissions[0],
        admin_room_id=config.rooms.editors,
        ping_room_id=config.ping.room or "",
        notice_emoji=config.notice_emoji,
        verbs=StrList(config.verbs),
        min_length=config.trigger.min_length,
        ack_text=config.ack.text or "",
        editors=StrList(config.editors),
        sections=tuple(_section_view(s) for s in config.sections),
        projects=tuple(_project_view(p.name, p) for p in config.projects),
        media_url_prefix=config.media.url_prefix,
    )


def _post_view(config: Config, draft: DraftInput, timestamp: datetime) -> PostView:
    post = config.post
    day = draft.post_date.isoformat()
    prefix = post.path_prefix.rstrip("/")
    slug = slugify(post.title)
    rooms = config.rooms.submissions
    room = next((r for r in rooms if r.startswith("#")), rooms[0])
    return PostView(
        title=post.title,
        date=day,
        title_line=f"{post.title} {day}",
        datetime_iso=timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        path=f"{prefix}/{draft.post_date:%Y/%m/%d}/{slug}-{day}",
        author=post.author or draft.editor_name,
        category=post.category or post.title,
        intro=post.intro.strip("\n").rstrip(),
        outro=(post.outro or "").strip("\n").rstrip(),
        room=room,
    )


# -- the sample draft check_template renders ------------------------------------------------


def _sample_config() -> Config:
    return Config(
        homeserver="https://example.org",
        user_id="@twimbot:example.org",
        database=Path("twimbot.db"),
        rooms=Rooms(submissions=["#twim:example.org"], editors="#editors:example.org"),
        editors=["@editor:example.org"],
        sections=[
            Section(name="clients", title="Dept of Clients 📱", emoji="📱", order=200),
            Section(name="servers", title="Dept of Servers 🏢", emoji="🏢", order=1000),
        ],
        projects=[
            Project(
                name="nheko",
                title="Nheko",
                description="Desktop client for Matrix using Qt and C++17.",
                website="https://nheko-reborn.github.io",
                default_section="clients",
            )
        ],
        ping=Ping(room="#ping:example.org"),
    )


def _sample_draft(config: Config) -> DraftInput:
    first_section = config.sections[0].name if config.sections else config.fallback.name
    project = config.projects[0] if config.projects else None
    project_section = (project.default_section if project else None) or first_section

    def assignment(project_name: str | None, section: str, reason: str) -> Assignment:
        return Assignment(
            project=Choice(project_name, Source.AUTO, reason),
            section=Choice(section, Source.AUTO, reason),
        )

    def media(kind: str, n: int) -> MediaItem:
        ext = {"image": "png", "video": "mp4"}.get(kind, "pdf")
        name = f"{n:040x}.{ext}"
        return MediaItem(
            event_id=f"$media{n}",
            kind="image" if kind == "image" else "video" if kind == "video" else "file",
            file_name=name,
            url=config.media.url_prefix + name,
            mxc=f"mxc://example.org/{n}",
            body=f"sample.{ext}",
        )

    start = 1_700_000_000_000
    entries = (
        Entry(
            number=1,
            event_id="$sample1",
            sender="@alice:example.org",
            sender_name="Alice",
            text="News without a project.\n\nA *second* paragraph.",
            origin_ts=start,
            assignment=assignment(None, first_section, "usual reporter"),
            media=(media("image", 1),),
        ),
        Entry(
            number=2,
            event_id="$sample2",
            sender="@bob:example.org",
            sender_name="Bob",
            text="News about a project, with a video and a file.",
            origin_ts=start + 60_000,
            assignment=assignment(project.name if project else None, project_section, "tag"),
            media=(media("video", 2), media("file", 3)),
        ),
        Entry(
            number=3,
            event_id="$sample3",
            sender="@carol:example.org",
            sender_name="Carol",
            text="News nothing placed.",
            origin_ts=start + 120_000,
            assignment=assignment(None, config.fallback.name, "fallback: no rule matched"),
        ),
    )
    day = date(2024, 1, 5)
    return DraftInput(
        edition_id=1,
        post_date=day,
        timestamp=datetime(2024, 1, 5, 17, tzinfo=UTC) + timedelta(minutes=7),
        editor_name="Editor",
        entries=entries,
        pings=(PingRow(1, "example.org", 318.0), PingRow(2, "example.com", 532.5)),
    )

"""Editor commands: one table from command word to handler.

Commands are read in the editors room only. Each handler parses its arguments, the
permission is checked once before any handler runs, and every answer is an ``m.notice``
reply (plain body plus HTML). A bad argument is a one-line usage hint, never a traceback.
"""

from __future__ import annotations

import html
import logging
import platform
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from twimbot import chat, draft, lookup
from twimbot.config import Config, Section
from twimbot.draft import Draft
from twimbot.errors import CommandError, ConfigError, MatrixError, TemplateError, TwimbotError
from twimbot.handlers import describe, effective_assignment, is_editor
from twimbot.store import CommandRow, MediaRow, Store, SubmissionRow

if TYPE_CHECKING:
    from twimbot.bot import Bot

log = logging.getLogger(__name__)

REFUSAL_INTERVAL_S = 60.0
# How long !twim draft waits for files that were never tried to download.
DRAFT_MEDIA_WAIT_S = 15.0
PING_HEADER = ("Rank", "Hostname", "Median MS")
Reply = list[dict[str, Any]]
Handler = Callable[["Commands", CommandRow, list[str]], Awaitable[Reply]]


@dataclass(frozen=True)
class Spec:
    usage: str
    help: str
    handler: Handler
    min_args: int = 0
    max_args: int | None = 0


def _text(body: str) -> Reply:
    return [chat.text_notice(body)]


def _quoted(arg: str, limit: int = 40) -> str:
    """An argument quoted back to the editor: repr (control and bidi characters show as
    escapes) and short, however long the original."""
    return repr(arg if len(arg) <= limit else arg[:limit] + "…")


def _argument_text(body: str) -> str:
    """A command's argument as typed (line breaks kept): what follows ``!twim WORD`` or a
    hebbot alias, without the double quotes hebbot's syntax puts around it (``!say "message"``)."""
    words = 1 if body.split()[0].lower() in ALIASES else 2
    rest = re.sub(rf"^\s*(?:\S+\s+){{{words}}}", "", body, count=1).strip()
    if len(rest) >= 2 and rest[0] == rest[-1] == '"':
        rest = rest[1:-1].strip()
    return rest


def _number(arg: str) -> int:
    value = arg.removeprefix("post_").removeprefix("post").removeprefix("#")
    # isascii: str.isdigit() also accepts "²" and other digits int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise CommandError(f"{_quoted(arg)} is not a post number")
    return int(value)


class Commands:
    """Runs queued :class:`CommandRow` s for a :class:`Bot`."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._last_refusal: dict[str, float] = {}

    @property
    def store(self) -> Store:
        return self.bot.store

    @property
    def config(self) -> Config:
        return self.bot.config

    async def run(self, cmd: CommandRow) -> None:
        try:
            replies = await self._dispatch(cmd)
            status, result = "done", "ok"
        except CommandError as err:
            replies, status, result = _text(str(err)), "failed", str(err)
        except TwimbotError as err:
            replies, status, result = _text(f"error: {err}"), "failed", str(err)
        except Exception as err:
            log.exception("command %r failed", cmd.body[:100])
            replies = _text(f"error: the command failed ({type(err).__name__}); see the bot's log")
            status, result = "failed", type(err).__name__
        log.info("command %r from %s: %s", cmd.body[:60], cmd.sender, status)
        async with self.store.transaction():
            for content in replies:
                content.setdefault("m.relates_to", {"m.in_reply_to": {"event_id": cmd.event_id}})
                await self.store.enqueue(cmd.room_id, "m.room.message", content)
            await self.store.finish_command(cmd.event_id, status, result)

    async def _dispatch(self, cmd: CommandRow) -> Reply:
        words = cmd.body.split()
        head = words[0].lower()
        if head in ALIASES or head in HEBBOT_ANSWERS:
            word, args = ALIASES.get(head, head), words[1:]
        elif len(words) == 1:
            word, args = "help", []
        else:
            word, args = words[1].lower(), words[2:]
        if not self._is_editor(cmd.sender):
            now = time.monotonic()
            if now - self._last_refusal.get(cmd.sender, -1e9) < REFUSAL_INTERVAL_S:
                return []
            self._last_refusal[cmd.sender] = now
            return _text("Sorry, only editors can use twimbot commands.")
        if word in HEBBOT_ANSWERS:
            return _text(HEBBOT_ANSWERS[word])
        spec = TABLE.get(word)
        if spec is None:
            raise CommandError(f"unknown command {_quoted(word)}; try !twim help")
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            raise CommandError(f"usage: !twim {spec.usage}")
        return await spec.handler(self, cmd, args)

    def _is_editor(self, user_id: str) -> bool:
        room = self.bot.editors_room or self.config.rooms.editors
        return is_editor(self.config, self.bot.matrix.snapshot(room), user_id)

    async def _post(self, arg: str) -> SubmissionRow:
        number = _number(arg)
        edition = await self.store.open_edition()
        sub: SubmissionRow | None = await self.store.submission_by_number(edition.id, number)
        if sub is None:
            raise CommandError(f"there is no post {number} in the open edition")
        return sub

    async def _line(self, sub: SubmissionRow) -> str:
        assignment = await effective_assignment(self.store, self.config, sub)
        flags = " [deleted]" if sub.redacted else " [dropped]" if sub.dropped else ""
        return (
            f"post {sub.number} by {sub.sender_name} → {describe(self.config, assignment)}"
            f"{flags}: {chat.one_line(sub.text, 60)}"
        )

    # -- handlers --------------------------------------------------------------------

    async def help(self, cmd: CommandRow, args: list[str]) -> Reply:
        lines = [f"!twim {spec.usage} — {spec.help}" for spec in TABLE.values()]
        lines.append("Aliases: " + ", ".join(f"{a} = !twim {w}" for a, w in ALIASES.items()))
        return [chat.lines_notice("twimbot commands:", lines)]

    async def status(self, cmd: CommandRow, args: list[str]) -> Reply:
        from twimbot.status import edition_status

        report = await edition_status(self.store, self.config)
        return [chat.groups_notice(report.title, report.groups)]

    async def list_entries(self, cmd: CommandRow, args: list[str]) -> Reply:
        edition = await self.store.open_edition()
        subs = [s for s in await self.store.submissions(edition.id) if s.active]
        wanted = " ".join(args)
        section = lookup.find_section(wanted, self.config) if wanted else None
        project = lookup.find_project(wanted, self.config) if wanted and not section else None
        if wanted and section is None and project is None:
            raise CommandError(
                f"no section or project called {_quoted(wanted)}; see !twim sections"
            )
        lines = []
        for sub in subs:
            assignment = await effective_assignment(self.store, self.config, sub)
            if section is not None and assignment.section.name != section.name:
                continue
            if project is not None and assignment.project.name != project.name:
                continue
            lines.append(await self._line(sub))
        title = f"{len(lines)} entr{'y' if len(lines) == 1 else 'ies'}" + (
            f" in {wanted}" if wanted else " in the open edition"
        )
        return [chat.lines_notice(title, lines)]

    async def show(self, cmd: CommandRow, args: list[str]) -> Reply:
        sub = await self._post(args[0])
        assignment = await effective_assignment(self.store, self.config, sub)
        media_rows = [
            m
            for m in await self.store.media_for_edition(sub.edition_id)
            if m.submission_id == sub.id
        ]
        revisions = await self.store.revisions(sub.id)
        project = self.config.project(assignment.project.name or "")
        section = self.config.section(assignment.section.name or "") or self.config.fallback
        state = "deleted by its author" if sub.redacted else "dropped" if sub.dropped else "in"
        fields = [
            ("from", f"{sub.sender_name} ({sub.sender})"),
            (
                "project",
                f"{project.title if project else 'none'} — {assignment.project.source.value}:"
                f" {assignment.project.reason}",
            ),
            (
                "section",
                f"{section.title}{' (unsorted)' if assignment.unsorted else ''} —"
                f" {assignment.section.source.value}: {assignment.section.reason}",
            ),
            ("draft", f"{state} the draft; {len(revisions)} revision(s); event {sub.event_id}"),
        ]
        if media_rows:
            for m in media_rows:
                fields.append(("media", f"{m.label} ({m.status}, attached by {m.attach_source})"))
        else:
            fields.append(("media", "none"))
        title = f"post {sub.number}"
        plain = "\n".join([title, *(f"{k}: {v}" for k, v in fields), "", sub.text])
        rows = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in fields)
        quoted = html.escape(sub.text).replace("\n", "<br>")
        formatted = f"<p><b>{title}</b></p><ul>{rows}</ul><blockquote>{quoted}</blockquote>"
        return [chat.notice(plain, formatted)]

    async def _mark(self, cmd: CommandRow, args: list[str], kind: str) -> Reply:
        sub = await self._post(args[0])
        if sub.frozen:
            raise CommandError(f"post {sub.number} belongs to a published edition")
        name = " ".join(args[1:])
        value: str | None
        if name.lower() == "auto":
            # withdraw the editors' choices of this kind: the automatic one applies again
            async with self.store.transaction():
                await self.store.clear_marks(sub.id, kind)
            return _text(await self._line(sub))
        if kind == "project":
            if name.lower() in ("none", "-"):
                value = None
            else:
                found = lookup.find_project(name, self.config)
                if found is None:
                    raise CommandError(f"no project called {_quoted(name)}; see !twim projects")
                value = found.name
        else:
            section = lookup.find_section(name, self.config)
            if section is None:
                raise CommandError(f"no section called {_quoted(name)}; see !twim sections")
            value = section.name
        async with self.store.transaction():
            await self.store.add_mark(sub.id, kind, value, cmd.event_id, cmd.sender)
        return _text(await self._line(sub))

    async def project(self, cmd: CommandRow, args: list[str]) -> Reply:
        return await self._mark(cmd, args, "project")

    async def section(self, cmd: CommandRow, args: list[str]) -> Reply:
        return await self._mark(cmd, args, "section")

    async def _drop(self, args: list[str], dropped: bool) -> Reply:
        sub = await self._post(args[0])
        async with self.store.transaction():
            await self.store.set_dropped(sub.id, dropped)
        state = "dropped from" if dropped else "restored to"
        return _text(f"post {sub.number} by {sub.sender_name} {state} the draft")

    async def drop(self, cmd: CommandRow, args: list[str]) -> Reply:
        return await self._drop(args, True)

    async def restore(self, cmd: CommandRow, args: list[str]) -> Reply:
        return await self._drop(args, False)

    async def _media_arg(self, arg: str) -> MediaRow:
        event_id = media_event_id(arg)
        media = await self.store.media_by_event(event_id) if event_id else None
        if media is not None and media.published_in is not None:
            raise CommandError(
                f"{media.label} is in the published post of edition {media.published_in};"
                " a published post does not change"
            )
        if media is None or media.redacted:
            raise CommandError(
                f"{arg[:100]!r} is not an image, video or file in a submissions room"
                " (give its event id, $…, or its matrix.to link)"
            )
        return media

    async def attach(self, cmd: CommandRow, args: list[str]) -> Reply:
        sub = await self._post(args[0])
        media = await self._media_arg(args[1])
        async with self.store.transaction():
            await self.store.attach_media(media.id, sub.id, "editor", cmd.event_id)
            await self.store.retry_media(media.id)
        self.bot._wake_media.set()
        return _text(f"{media.label} attached to post {sub.number}")

    async def detach(self, cmd: CommandRow, args: list[str]) -> Reply:
        media = await self._media_arg(args[0])
        async with self.store.transaction():
            await self.store.attach_media(media.id, None, "editor", cmd.event_id)
        return _text(f"{media.label} is attached to no post now")

    def _template(self) -> draft.TemplateText:
        if self.bot.template is None:
            raise CommandError(
                f"the template cannot be used: {self.bot.template_problem};"
                " fix it, then send !twim reload"
            )
        return self.bot.template

    async def draft(self, cmd: CommandRow, args: list[str]) -> Reply:
        template = self._template()
        edition = await self.store.open_edition()
        untried = await self.bot.settle_media(edition.id, DRAFT_MEDIA_WAIT_S)
        warning = await draft.refresh_pingstat(self.store, self.config, edition)
        name = self.bot.matrix.snapshot(cmd.room_id).names.get(cmd.sender, "")
        try:
            result = await draft.build(
                self.store,
                self.config,
                edition,
                editor_name=self.config.post.author or name,
                template=template,
            )
        except TemplateError as err:
            raise CommandError(
                f"the template failed: {err}; fix it, then send !twim reload"
            ) from None
        replies, extra = await self._upload(result)
        if warning:
            extra.append(warning)
        if untried:
            extra.append(
                f"{untried} media file(s) were still downloading after"
                f" {DRAFT_MEDIA_WAIT_S:.0f} s; run !twim draft again later"
            )
        summary = draft_summary(result, extra)
        replies.append(chat.lines_notice(summary[0], summary[1:]))
        return replies

    async def _upload(self, result: Draft) -> tuple[Reply, list[str]]:
        """Upload the Markdown and the zip; one ``m.file`` message each, and warnings."""
        markdown = result.result.markdown.encode("utf-8")
        zipped = result.bundle(self.config.media_dir)
        replies: Reply = []
        for fname, data, mime in (
            (result.markdown_name, markdown, "text/markdown"),
            (result.bundle_name, zipped.data, "application/zip"),
        ):
            try:
                mxc = await self.bot.matrix.upload(data, mime, fname)
            except MatrixError as err:
                raise CommandError(f"uploading {fname} failed: {err}") from None
            replies.append(chat.file_message(fname, mxc, mime, len(data)))
        return replies, [
            f"{name} is named by the post but missing from media.dir; the zip lacks it"
            for name in zipped.missing
        ]

    async def publish(self, cmd: CommandRow, args: list[str]) -> Reply:
        edition = await self.store.open_edition()
        subs = [s for s in await self.store.submissions(edition.id) if s.active]
        day = await draft.edition_day(self.store, self.config, edition)
        if args and args[0].lower() != "confirm":
            raise CommandError("usage: !twim publish, then !twim publish confirm")
        if not subs:
            raise CommandError(f"edition {edition.id} has no entries; there is nothing to publish")
        if not args:
            return _text(
                f"This closes edition {edition.id} ({day.isoformat()}, {len(subs)}"
                " entries), keeps its post as it is now, and starts an empty edition;"
                " nothing is deleted. Send !twim publish confirm to do it."
            )
        name = self.bot.matrix.snapshot(cmd.room_id).names.get(cmd.sender, cmd.sender)
        author = self.config.post.author or name
        # Render and close in one transaction: nothing the sync loop stores in between can
        # join the edition without being in its published text.
        async with self.store.transaction():
            edition = await self.store.open_edition()
            try:
                result = await draft.build(
                    self.store,
                    self.config,
                    edition,
                    editor_name=author,
                    template=self._template(),
                )
            except TemplateError as err:
                raise CommandError(
                    f"not published, the template failed: {err}; fix it, then send !twim reload"
                ) from None
            if self.config.ping.room or self.config.ping.stats_url:
                await draft.keep_pings(self.store, edition, result.data.pings)
            new = await self.store.publish_edition(
                edition.id,
                post_date=result.day.isoformat(),
                rendered=result.result.markdown,
                by=author,
                media_events=result.media_events,
            )
            # Done in the same transaction: a crash before the reply is stored must not
            # run this command again after the restart, publishing the next edition too.
            await self.store.finish_command(cmd.event_id, "done", f"published {edition.id}")
        next_day = await draft.edition_day(self.store, self.config, new)
        done = (
            f"Edition {edition.id} ({result.day.isoformat()}) is published with"
            f" {result.result.counts.entries} entries and {len(result.result.media)} media"
            f" files. Edition {new.id} ({next_day.isoformat()}) is open."
        )
        try:
            replies, extra = await self._upload(result)
        except CommandError as err:
            return _text(f"{done} {err}; twimbot draft --edition {edition.id} writes it again.")
        summary = draft_summary(result, extra)
        replies.append(chat.lines_notice(done, summary[1:]))
        return replies

    async def projects(self, cmd: CommandRow, args: list[str]) -> Reply:
        def section_title(name: str | None) -> str:
            section = self.config.section(name or "")
            return section.title if section is not None else "no default section"

        lines = [
            f"{p.title} — name {p.name}"
            + (f", key {p.emoji}" if p.emoji and p.emoji not in (p.name, p.title) else "")
            + f" → {section_title(p.default_section)}"
            for p in self.config.projects
        ]
        return [chat.lines_notice(f"{len(lines)} projects", lines)]

    async def sections(self, cmd: CommandRow, args: list[str]) -> Reply:
        ordered = sorted(self.config.sections, key=lambda s: (s.order, s.name))
        lines = [
            f"{s.title} — name {s.name}"
            + (f", key {s.emoji}" if s.emoji and s.emoji not in s.title else "")
            for s in ordered
        ]
        return [chat.lines_notice(f"{len(lines)} sections", lines)]

    async def details(self, cmd: CommandRow, args: list[str]) -> Reply:
        query = _argument_text(cmd.body)
        found = lookup.match_name(query, self.config)
        if found is None:
            raise CommandError(f"no project or section is called {_quoted(query)}")
        config = self.config
        if isinstance(found, Section):
            members = [p.title for p in config.projects if p.default_section == found.name]
            lines = [
                f"name: {found.name}",
                f"key: {found.emoji or '(none)'}",
                f"order: {found.order}",
                f"usual reporters: {', '.join(found.usual_reporters) or '(none)'}",
                f"projects: {', '.join(members) or '(none)'}",
            ]
            return [chat.lines_notice(f"Section {found.title}", lines)]
        section = config.section(found.default_section or "")
        lines = [
            f"name: {found.name}",
            f"key: {found.emoji or '(none)'}",
            f"website: {found.website or '(none)'}",
            f"default section: {section.title if section else '(none)'}",
            f"usual reporters: {', '.join(found.usual_reporters) or '(none)'}",
            f"aliases: {', '.join(found.aliases) or '(none)'}",
            f"description: {found.description or '(none)'}",
        ]
        return [chat.lines_notice(f"Project {found.title}", lines)]

    async def say(self, cmd: CommandRow, args: list[str]) -> Reply:
        text = _argument_text(cmd.body)
        if not text:
            raise CommandError("usage: !twim say TEXT")
        rooms = self.config.rooms.submissions
        async with self.store.transaction():
            for room in rooms:
                await self.store.enqueue(room, "m.room.message", chat.text_notice(text))
        where = "the submissions room" if len(rooms) == 1 else f"{len(rooms)} submissions rooms"
        return _text(f"Said in {where}.")

    async def about(self, cmd: CommandRow, args: list[str]) -> Reply:
        from twimbot import __version__

        return _text(
            f"twimbot {__version__} (Python {platform.python_version()},"
            f" matrix-nio {version('matrix-nio')}); !twim help lists the commands."
        )

    async def show_config(self, cmd: CommandRow, args: list[str]) -> Reply:
        c = self.config
        power = "not set" if c.editor_power_level is None else str(c.editor_power_level)
        lines = [
            f"homeserver: {c.homeserver}",
            f"user_id: {c.user_id}",
            f"submissions rooms: {', '.join(c.rooms.submissions)}",
            f"editors room: {c.rooms.editors}",
            f"ping room: {c.ping.room or '(none)'}",
            f"editors: {', '.join(c.editors) or '(none)'}; editor_power_level: {power}",
            f"trigger: {', '.join(c.trigger.prefixes)}, at least {c.trigger.min_length}"
            f" characters; notice emoji {c.notice_emoji}",
            f"sections: {len(c.sections)}, projects: {len(c.projects)},"
            f" fallback section: {c.fallback_section}",
            f"template: {c.template_path or 'built-in'}",
            f"database: {c.database_path}",
        ]
        return [chat.lines_notice("Configuration (no secrets are kept in it)", lines)]

    async def pings(self, cmd: CommandRow, args: list[str]) -> Reply:
        config = self.config
        if not (config.ping.room or config.ping.stats_url):
            raise CommandError("the Dept of Ping is off: set ping.room or ping.stats_url")
        edition = await self.store.open_edition()
        warning = await draft.refresh_pingstat(self.store, config, edition)
        stamp = draft.post_timestamp(config, draft.edition_date(config, edition))
        rows = await draft.ping_rows(self.store, config, edition, stamp)
        source = "pingstat" if config.ping.stats_url and warning is None else "measured"
        title = (
            f"Dept of Ping of edition {edition.id} ({source}):"
            f" {len(rows)} server{'' if len(rows) == 1 else 's'}"
        )
        lines = [f"warning: {warning}"] if warning else []
        return [
            chat.table_notice(
                title, PING_HEADER, [(r.rank, r.server, r.median_text) for r in rows], lines
            )
        ]

    async def editions(self, cmd: CommandRow, args: list[str]) -> Reply:
        from twimbot.status import edition_lines

        lines = await edition_lines(self.store, self.config)
        return [chat.lines_notice("Editions", lines)]

    async def reload(self, cmd: CommandRow, args: list[str]) -> Reply:
        from twimbot.render import check_template

        if self.bot.reload_config is None:
            raise CommandError("this bot was started without a config file to reload")
        refused = "The new config is refused; the old config and template stay:"
        try:
            new = self.bot.reload_config()
        except ConfigError as err:
            return [chat.lines_notice(refused, err.problems or [str(err)])]
        old = self.config
        fixed = [
            f"{key}: {before} → {after} needs a restart of the bot"
            for key, before, after in (
                ("homeserver", old.homeserver, new.homeserver),
                ("user_id", old.user_id, new.user_id),
                ("database", old.database_path.resolve(), new.database_path.resolve()),
            )
            if before != after
        ]
        if fixed:
            return [chat.lines_notice(refused, fixed)]
        try:
            template = draft.load_template(new)
        except TemplateError as err:
            return [chat.lines_notice(refused, [str(err)])]
        problems = check_template(template[0], template[1], new)
        if problems:
            return [chat.lines_notice(refused, problems)]
        await self.bot.apply_config(new, template)
        lines = [
            f"{len(new.sections)} sections, {len(new.projects)} projects, template: {template[1]}"
        ]
        for kind, before_names, after_names in (
            ("sections", [s.name for s in old.sections], [s.name for s in new.sections]),
            ("projects", [p.name for p in old.projects], [p.name for p in new.projects]),
        ):
            added = [n for n in after_names if n not in before_names]
            removed = [n for n in before_names if n not in after_names]
            if added:
                lines.append(f"{kind} added: {', '.join(added)}")
            if removed:
                lines.append(f"{kind} removed: {', '.join(removed)}")
        return [chat.lines_notice("Reloaded the config and template.", lines)]


def draft_summary(result: Draft, extra: list[str]) -> list[str]:
    """The editors' summary: totals, then per section, then every warning."""
    counts = result.result.counts
    lines = [
        f"Draft of edition {result.edition.id} for {result.day.isoformat()}:"
        f" {counts.entries} entries in {len(counts.per_section)} sections,"
        f" {counts.unsorted} unsorted, {len(result.result.media)} media files"
    ]
    lines += [f"{title}: {n}" for title, n in counts.per_section.items()]
    lines += [f"warning: {w}" for w in [*result.result.warnings, *extra]]
    return lines


def media_event_id(arg: str) -> str | None:
    """The event id in ``$abc`` or in a matrix.to / Element link to the event."""
    found = re.search(r"(\$[A-Za-z0-9_+/=.:-]+)", unquote(arg))
    return found[1] if found else None


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


TABLE: dict[str, Spec] = {
    "help": Spec("help", "this list", Commands.help),
    "status": Spec("status", "totals, per section, and every unsorted entry", Commands.status),
    "list": Spec(
        "list [SECTION|PROJECT]",
        "the entries, or those of one section or project",
        Commands.list_entries,
        0,
        None,
    ),
    "show": Spec(
        "show N", "one entry with its text, sender, project, section and media", Commands.show, 1, 1
    ),
    "project": Spec(
        "project N NAME",
        "set the project of post N: a name, title or emoji key; none; or auto to undo",
        Commands.project,
        2,
        None,
    ),
    "section": Spec(
        "section N NAME",
        "set the section of post N: a name, title or emoji key; or auto to undo",
        Commands.section,
        2,
        None,
    ),
    "drop": Spec("drop N", "leave post N out of the draft", Commands.drop, 1, 1),
    "restore": Spec("restore N", "put a dropped post back", Commands.restore, 1, 1),
    "attach": Spec(
        "attach N MEDIA_EVENT", "attach an image, video or file to post N", Commands.attach, 2, 2
    ),
    "detach": Spec(
        "detach MEDIA_EVENT", "take an image, video or file off its post", Commands.detach, 1, 1
    ),
    "draft": Spec("draft", "render the post: Markdown, zip with media, summary", Commands.draft),
    "publish": Spec(
        "publish [confirm]", "close this edition and start the next", Commands.publish, 0, 1
    ),
    "projects": Spec("projects", "the configured projects", Commands.projects),
    "sections": Spec("sections", "the configured sections", Commands.sections),
    "pings": Spec("pings", "the current Dept of Ping table", Commands.pings),
    "editions": Spec("editions", "open and published editions", Commands.editions),
    "reload": Spec("reload", "re-read the config and template", Commands.reload),
    "details": Spec(
        "details NAME",
        "everything configured for one project or section",
        Commands.details,
        1,
        None,
    ),
    "say": Spec("say TEXT", "the bot says TEXT in the submissions room", Commands.say, 1, None),
    "config": Spec("config", "the running configuration", Commands.show_config),
    "about": Spec("about", "twimbot's version", Commands.about),
}

# hebbot's commands, for editors' habits (ingest.COMMAND_ALIASES must list them all).
ALIASES = {
    "!render": "draft",
    "!status": "status",
    "!list-projects": "projects",
    "!list-sections": "sections",
    "!details": "details",
    "!say": "say",
    "!list-config": "config",
    "!about": "about",
    "!restart": "reload",
}
# hebbot's commands twimbot does differently: the answer says how.
HEBBOT_ANSWERS = {
    "!clear": "twimbot deletes no news: !twim publish archives this edition and opens the next,"
    " and !twim drop N leaves one post out.",
    "!update-config": "twimbot runs no shell hook: edit the config file (or run"
    " twimbot import-hebbot again) and send !twim reload.",
}

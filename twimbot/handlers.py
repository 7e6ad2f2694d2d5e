"""Applying intents to the store, inside the sync batch's transaction.

Each handler is idempotent: the event id is recorded first and a replayed event finds it
and changes nothing. Whatever the bot owes a room because of an event (the ✅ reaction, a
notice, the editors-room line) goes into the outbox in the same transaction, so the
acknowledgement can only ever be sent for something that is stored.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twimbot import chat, classify, ingest, lookup, ping
from twimbot.classify import Learned
from twimbot.config import Config, Project, Section, normalize_key
from twimbot.ingest import (
    BotIdentity,
    Candidate,
    Command,
    Edit,
    Ignore,
    Intent,
    Malformed,
    Media,
    Message,
    PingRequest,
    PongSeen,
    Reaction,
    Redaction,
    RoomRoles,
    make_candidate,
    match_trigger,
)
from twimbot.model import Assignment, Source
from twimbot.store import (
    CommandRow,
    Mark,
    MediaRow,
    MessageRow,
    PingRecord,
    ReactionRow,
    Store,
    SubmissionRow,
)

if TYPE_CHECKING:  # at runtime only the bot needs nio; `twimbot status` must not load it
    from twimbot.matrix import RoomSnapshot

log = logging.getLogger(__name__)

POST_N_RE = re.compile(r"^post[_ ]?(\d{1,6})$", re.IGNORECASE)
# Pings older than this are history, not a measurement worth answering.
PING_MAX_AGE_MS = 10 * 60 * 1000


def is_editor(config: Config, editors_room: RoomSnapshot | None, user_id: str) -> bool:
    """SPEC §6: the users in ``editors``, and, only when ``editor_power_level`` is set, the
    members of the editors room at or above it (room creators of room version 12 and later
    have unlimited power, which the snapshot shows as a huge level)."""
    if user_id in config.editors:
        return True
    threshold = config.editor_power_level
    if threshold is None or editors_room is None:
        return False
    return editors_room.level(user_id) >= threshold


@dataclass
class Context:
    """What handlers know besides the store: config, identity, rooms, the clock."""

    config: Config
    bot: BotIdentity
    roles: dict[str, RoomRoles]
    editors_room: str
    rooms: dict[str, RoomSnapshot] = field(default_factory=dict)
    profile_names: dict[str, str] = field(default_factory=dict)
    now_ms: int = 0
    first_sync: bool = False
    # Rooms the bot joined in this batch, with the join's timestamp: their timeline starts
    # with history from before the bot was there, which it must not answer as live.
    joined_at: dict[str, int] = field(default_factory=dict)
    # Learned data, the bot's own published editions included (None: the shipped data).
    learned: Learned | None = None

    def is_editor(self, user_id: str) -> bool:
        return is_editor(self.config, self.rooms.get(self.editors_room), user_id)

    def name_of(self, room_id: str, user_id: str) -> str:
        snap = self.rooms.get(room_id)
        name = (snap.names.get(user_id) if snap else None) or self.profile_names.get(user_id)
        return " ".join((name or user_id).split()) or user_id

    def can_redact(self, room_id: str, user_id: str) -> bool:
        snap = self.rooms.get(room_id)
        return snap is not None and snap.level(user_id) >= snap.redact_level


async def effective_assignment(store: Store, config: Config, sub: SubmissionRow) -> Assignment:
    marks = (await store.active_marks([sub.id])).get(sub.id, {})
    return resolve_marks(sub, config, marks)


def resolve_marks(sub: SubmissionRow, config: Config, marks: dict[str, Mark]) -> Assignment:
    """A submission's project and section given its live editor marks (by kind)."""
    project_mark = marks.get("project")
    section_mark = marks.get("section")
    return classify.resolve(
        sub.classification,
        config,
        project_mark.value if project_mark else None,
        section_mark.value if section_mark else None,
        editor_project_cleared=project_mark is not None and project_mark.value is None,
    )


def describe(config: Config, assignment: Assignment) -> str:
    """``Synapse / Dept of Servers 🏢 (auto)`` for the editors room."""
    project = config.project(assignment.project.name) if assignment.project.name else None
    section = config.section(assignment.section.name or "") or config.fallback
    if assignment.unsorted:
        how = "unsorted"
    elif Source.EDITOR in (assignment.project.source, assignment.section.source):
        how = "editor"
    else:
        how = "auto"
    return f"{project.title if project else 'no project'} / {section.title} ({how})"


async def commit_batch(handlers: Handlers, events: Sequence[Any], next_batch: str) -> None:
    """Apply one sync batch and store its token, all in one transaction.

    Each event runs in its own savepoint: one that fails is logged with its event id and
    leaves no trace, and the others are kept. The token is written last, in the same
    transaction, so it is never ahead of what is stored (DESIGN invariant 1): if anything
    here raises, nothing of the batch is kept and the same batch comes again.
    """
    store = handlers.store
    roles = handlers.ctx.roles
    last: dict[str, tuple[str, int]] = {}
    async with store.transaction():
        for event in events:
            room_id = event.get("room_id") if isinstance(event, dict) else None
            room_roles = roles.get(room_id) if isinstance(room_id, str) else None
            if room_roles is None:
                continue
            await handlers.apply_event(event, room_roles)
            eid, ts = event.get("event_id"), event.get("origin_server_ts")
            if isinstance(room_id, str) and isinstance(eid, str) and ingest.is_timestamp(ts):
                last[room_id] = (eid, ts)
        markers = {f"room_last:{rid}": json.dumps([eid, ts]) for rid, (eid, ts) in last.items()}
        # In the same transaction as the events: the token never runs ahead of the data.
        await store.set_states(
            {**markers, "last_sync_at": str(handlers.ctx.now_ms), "sync_token": next_batch}
        )


class Handlers:
    """Dispatches each intent to the handler that applies it."""

    def __init__(self, store: Store, ctx: Context) -> None:
        self.store = store
        self.ctx = ctx
        self.config = ctx.config

    async def apply_event(self, event: Any, roles: RoomRoles) -> bool:
        """Interpret and apply one raw event in a savepoint; False if it failed.

        A failure is logged with the event id and rolled back to the savepoint, so a bad
        event can neither stop the sync loop nor be half applied.
        """
        try:
            async with self.store.savepoint():
                await self.apply(ingest.interpret(event, roles, self.config, self.ctx.bot))
        except Exception:
            event_id = event.get("event_id") if isinstance(event, dict) else None
            log.exception("event %s could not be applied; skipped", str(event_id)[:100])
            return False
        return True

    async def apply(self, intent: Intent) -> None:
        match intent:
            case Message():
                await self._message(intent)
            case Edit():
                await self._edit(intent)
            case Redaction():
                await self._redaction(intent)
            case Reaction():
                await self._reaction(intent)
            case Media():
                await self._media(intent)
            case Command():
                await self._command(intent)
            case PingRequest():
                await self._ping(intent)
            case PongSeen():
                await self._pong(intent)
            case Malformed():
                log.warning("ignored malformed event %s: %s", intent.event_id, intent.reason)
            case Ignore():
                pass

    # -- submissions -----------------------------------------------------------------

    async def _message(self, msg: Message) -> None:
        new = await self.store.record_message(
            MessageRow(
                msg.event_id,
                msg.room_id,
                msg.sender,
                msg.msgtype,
                msg.body,
                msg.origin_ts,
                msg.reply_to,
                False,
            )
        )
        if not new or msg.candidate is None:
            return
        if msg.candidate.refusal is not None:
            await self._refuse(msg.room_id, msg.event_id, msg.sender, msg.candidate.refusal)
            return
        await self._submit(
            msg.event_id,
            msg.room_id,
            msg.sender,
            msg.origin_ts,
            msg.candidate,
            submitted_by=msg.sender,
        )

    async def _refuse(self, room_id: str, event_id: str, sender: str, reason: str) -> None:
        name = self.ctx.name_of(room_id, sender)
        await self.store.enqueue(
            room_id,
            "m.room.message",
            chat.reply_notice(
                f"{name}: not stored, {reason}.", in_reply_to=event_id, mention=sender
            ),
        )

    async def _submit(
        self,
        event_id: str,
        room_id: str,
        sender: str,
        origin_ts: int,
        candidate: Candidate,
        *,
        submitted_by: str,
        first_revision: tuple[str, int] | None = None,
    ) -> SubmissionRow | None:
        if await self.store.submission_by_event(event_id) is not None:
            return None
        edition = await self.store.open_edition()
        sender_name = self.ctx.name_of(room_id, sender)
        auto = classify.classify(
            candidate.text,
            sender,
            self.config,
            await self.store.last_editor_project(sender),
            self.ctx.learned,
            sender_name,
        )
        sub = await self.store.create_submission(
            edition_id=edition.id,
            event_id=event_id,
            room_id=room_id,
            sender=sender,
            sender_name=sender_name,
            origin_ts=origin_ts,
            text=candidate.text,
            via=candidate.via,
            submitted_by=submitted_by,
            auto=auto,
            first_revision=first_revision,
        )
        await self._adopt_media(sub)
        # The acknowledgement is queued first and sent first: it means "stored".
        await self.store.enqueue(
            room_id, "m.reaction", chat.reaction(event_id, self.config.ack.reaction), priority=0
        )
        if self.config.ack.text:
            text = self.config.ack.text.replace("{user}", sub.sender_name)
            await self.store.enqueue(
                room_id, "m.room.message", chat.reply_notice(text, in_reply_to=event_id)
            )
        # A submission made just now has no editor marks yet: no need to look them up.
        assignment = classify.resolve(sub.classification, self.config, None, None)
        log.info(
            "stored post %d of edition %d from %s (%s, via %s): %s",
            sub.number,
            edition.id,
            sender,
            event_id,
            candidate.via,
            describe(self.config, assignment),
        )
        await self.store.enqueue(
            self.ctx.editors_room,
            "m.room.message",
            chat.notice(
                f"post {sub.number} by {sub.sender_name} → "
                f"{describe(self.config, assignment)}: {chat.one_line(sub.text, 60)}"
            ),
            priority=2,
        )
        return sub

    async def _edit(self, edit: Edit) -> None:
        original = await self.store.get_message(edit.target)
        if original is None or original.sender != edit.sender or original.redacted:
            # Only the author may edit a submission (SPEC §4); unknown targets predate us; a
            # deleted message stays deleted (an edit must not bring it back as a submission).
            return
        sub = await self.store.submission_by_event(edit.target)
        if sub is None:
            await self.store.update_message_body(edit.target, edit.body)
            if edit.candidate is not None and edit.candidate.refusal is None:
                # The edit is the submission's first revision, so a replay finds it.
                await self._submit(
                    edit.target,
                    original.room_id,
                    original.sender,
                    original.origin_ts,
                    edit.candidate,
                    submitted_by=edit.sender,
                    first_revision=(edit.event_id, edit.origin_ts),
                )
            return
        first = await self.store.first_revision(sub.id)
        if first is not None and first[0] != sub.event_id and edit.origin_ts <= first[1]:
            # The submission was made by a later edit: this one edited a plain message and is
            # already in the message's body. Recording it now would make a replay differ.
            return
        text = edit.candidate.text if edit.candidate is not None else edit.body.strip()
        if not text:
            return
        too_long = len(text) > self.config.trigger.max_length
        newest = await self.store.latest_applied_revision_ts(sub.id)
        # A published entry keeps its archived text; edits arriving out of order (backfill)
        # never overwrite a newer revision; an edit past the length limit is kept on record
        # but not applied, as a new submission that long would be refused.
        applies = not sub.frozen and edit.origin_ts >= newest and not too_long
        if not await self.store.add_revision(
            sub.id, edit.event_id, text, edit.origin_ts, applied=applies
        ):
            return
        if too_long:
            limit = self.config.trigger.max_length
            await self._refuse(
                edit.room_id,
                edit.event_id,
                edit.sender,
                f"the edit is too long: {len(text)} characters, at most {limit} are accepted;"
                " the previous text stays",
            )
            return
        if applies:
            await self.store.update_message_body(edit.target, edit.body)
            auto = classify.classify(
                text,
                sub.sender,
                self.config,
                await self.store.last_editor_project(sub.sender),
                self.ctx.learned,
                sub.sender_name,
            )
            await self.store.update_submission_text(sub.id, text, auto)

    async def _redaction(self, red: Redaction) -> None:
        reaction = await self.store.reaction(red.target)
        if reaction is not None:
            if reaction.redacted:
                return
            if red.sender != reaction.sender and not self.ctx.can_redact(red.room_id, red.sender):
                return
            await self.store.redact_reaction(red.target)
            target_sub = await self.store.submission_by_event(reaction.target)
            if target_sub is not None and target_sub.frozen:
                return  # a published entry stays as it was published
            mark = await self.store.remove_mark(red.target)
            key = normalize_key(reaction.key)
            if mark is None and lookup.is_notice_key(reaction.key, self.config):
                await self._undo_notice(reaction)
                await self._undo_attach(reaction)
            elif mark is None and POST_N_RE.match(key):
                await self._undo_attach(reaction)
            return
        message = await self.store.get_message(red.target)
        media = await self.store.media_by_event(red.target)
        author = message.sender if message else (media.sender if media else None)
        if author is None:
            return
        if red.sender != author and not self.ctx.can_redact(red.room_id, red.sender):
            log.info(
                "ignored redaction of %s by %s: neither author nor moderator",
                red.target,
                red.sender,
            )
            return
        if media is not None:
            await self.store.redact_media(red.target)
            return
        await self.store.redact_message(red.target)
        sub = await self.store.submission_by_event(red.target)
        if sub is not None and sub.frozen and not sub.redacted:
            await self.store.enqueue(
                self.ctx.editors_room,
                "m.room.message",
                chat.notice(
                    f"post {sub.number} by {sub.sender_name} of published edition"
                    f" {sub.edition_id} was deleted by"
                    f" {self.ctx.name_of(red.room_id, red.sender)}; the published post"
                    " keeps it"
                ),
                priority=2,
            )
            return
        if sub is not None and not sub.redacted:
            await self.store.set_redacted(sub.id)
            await self.store.enqueue(
                self.ctx.editors_room,
                "m.room.message",
                chat.notice(
                    f"post {sub.number} by {sub.sender_name} was deleted by"
                    f" {self.ctx.name_of(red.room_id, red.sender)}; it left the draft"
                ),
                priority=2,
            )

    async def _undo_notice(self, reaction: ReactionRow) -> None:
        sub = await self.store.submission_by_event(reaction.target)
        if (
            sub is not None
            and not sub.frozen
            and sub.via == "notice"
            and sub.submitted_by == reaction.sender
        ):
            await self.store.set_dropped(sub.id, True)

    async def _undo_attach(self, reaction: ReactionRow) -> None:
        """Removing a ``post_N`` (or ``notice_emoji``) reaction undoes the attachment it made.

        The file goes back to an earlier editor's ``post_N`` reaction that still stands,
        else to where the automatic rules put it.
        """
        media = await self.store.media_by_event(reaction.target)
        if media is None or media.redacted or media.attach_event != reaction.event_id:
            return
        edition = await self.store.open_edition()
        for other in await self.store.reactions_on(reaction.target):
            found = POST_N_RE.match(normalize_key(other.key))
            if found is None or other.redacted or not self.ctx.is_editor(other.sender):
                continue
            sub = await self.store.submission_by_number(edition.id, int(found[1]))
            if sub is not None:
                await self.store.attach_media(media.id, sub.id, "editor", other.event_id)
                return
        target, source = await self._auto_target(media.sender, media.origin_ts, media.reply_to)
        await self.store.attach_media(media.id, target.id if target else None, source)

    # -- reactions -------------------------------------------------------------------

    async def _reaction(self, r: Reaction) -> None:
        if not await self.store.record_reaction(
            ReactionRow(r.event_id, r.room_id, r.target, r.sender, r.key, False)
        ):
            return
        key = normalize_key(r.key)
        editor = self.ctx.is_editor(r.sender)
        if lookup.is_notice_key(r.key, self.config):
            media = await self.store.media_by_event(r.target)
            if media is not None:
                await self._notice_attach(r, media, editor)
            else:
                await self._notice_submit(r, editor)
            return
        if not editor:
            return
        post_n = POST_N_RE.match(key)
        if post_n:
            await self._attach_by_reaction(r, int(post_n[1]))
            return
        target = lookup.reaction_target(r.key, self.config)
        if target is None:
            return
        sub = await self.store.submission_by_event(r.target)
        if sub is None:
            return
        if sub.frozen:
            await self._refuse_published(sub, r.sender)
            return
        kind = "section" if isinstance(target, Section) else "project"
        assert isinstance(target, Section | Project)
        await self.store.add_mark(sub.id, kind, target.name, r.event_id, r.sender)

    async def _notice_submit(self, r: Reaction, editor: bool) -> None:
        message = await self.store.get_message(r.target)
        if message is None or message.redacted:
            return
        if not editor and r.sender != message.sender:
            return
        if message.msgtype != "m.text" and not (editor and message.msgtype == "m.notice"):
            return
        existing = await self.store.submission_by_event(r.target)
        if existing is not None:
            if existing.dropped and existing.via == "notice" and not existing.frozen:
                await self.store.set_dropped(existing.id, False)
            return
        found = match_trigger(message.body, self.config, self.ctx.bot)
        raw = found[0] if found else message.body
        candidate = make_candidate(raw, "notice", self.config)
        if candidate.refusal is not None:
            too_short = len(candidate.text) < self.config.trigger.min_length
            if not (editor and too_short and candidate.text):
                await self._refuse(message.room_id, message.event_id, r.sender, candidate.refusal)
                return
            candidate = Candidate(candidate.text, "notice")
        await self._submit(
            message.event_id,
            message.room_id,
            message.sender,
            message.origin_ts,
            candidate,
            submitted_by=r.sender,
        )

    async def _notice_attach(self, r: Reaction, media: MediaRow, editor: bool) -> None:
        """hebbot's way to put a picture in the post: ``notice_emoji`` on it, by an editor or
        by whoever posted it, attaches it to that sender's submission of the open edition
        nearest in time (before or after it, as hebbot does), however long apart."""
        if media.redacted or not (editor or r.sender == media.sender):
            return
        who = self.ctx.name_of(r.room_id, r.sender)
        if media.published_in is not None:
            await self._editors_notice(
                f"{who}: {media.label} is in the published post of edition"
                f" {media.published_in}; it stays there"
            )
            return
        edition = await self.store.open_edition()
        sub = await self.store.nearest_submission(edition.id, media.sender, media.origin_ts)
        if sub is None:
            await self._editors_notice(
                f"{who}: {self.ctx.name_of(media.room_id, media.sender)} has no submission in the"
                f" open edition; {media.label} is not attached"
            )
            return
        await self.store.attach_media(media.id, sub.id, "editor", r.event_id)
        await self.store.retry_media(media.id)

    async def _attach_by_reaction(self, r: Reaction, number: int) -> None:
        media = await self.store.media_by_event(r.target)
        if media is None or media.redacted:
            return
        edition = await self.store.open_edition()
        sub = await self.store.submission_by_number(edition.id, number)
        if sub is None:
            await self._editors_notice(
                f"{self.ctx.name_of(r.room_id, r.sender)}: there is no post {number} in the"
                f" open edition; {media.label} is not attached"
            )
            return
        if media.published_in is not None:
            await self._editors_notice(
                f"{media.label} is in the published post of edition {media.published_in};"
                f" it stays there and is not attached to post {number}"
            )
            return
        await self.store.attach_media(media.id, sub.id, "editor", r.event_id)
        await self.store.retry_media(media.id)

    async def _refuse_published(self, sub: SubmissionRow, editor: str) -> None:
        await self._editors_notice(
            f"{self.ctx.name_of(sub.room_id, editor)}: post {sub.number} belongs to published"
            f" edition {sub.edition_id}; the published post does not change"
        )

    async def _editors_notice(self, text: str) -> None:
        await self.store.enqueue(
            self.ctx.editors_room, "m.room.message", chat.notice(text), priority=2
        )

    # -- media -----------------------------------------------------------------------

    async def _auto_target(
        self, sender: str, origin_ts: int, reply_to: str | None
    ) -> tuple[SubmissionRow | None, str | None]:
        """Where the automatic rules put a media event, and by which rule.

        A reply to a submission goes to that submission; any other media goes to the
        sender's nearest earlier submission within ``media.attach_window_minutes`` (by
        origin_server_ts, so the order events are processed in does not matter). Nothing
        is ever attached to an entry of a published edition.
        """
        if reply_to is not None:
            replied = await self.store.submission_by_event(reply_to)
            if replied is not None:
                return (None, None) if replied.frozen else (replied, "reply")
        window = int(self.config.media.attach_window_minutes * 60_000)
        nearest = await self.store.latest_submission_before(sender, origin_ts, origin_ts - window)
        if nearest is None or nearest.frozen:
            return None, None
        return nearest, "window"

    async def _media(self, m: Media) -> None:
        target, source = await self._auto_target(m.sender, m.origin_ts, m.reply_to)
        new = await self.store.record_media(
            MediaRow(
                0,
                m.event_id,
                m.room_id,
                m.sender,
                m.kind,
                m.mxc,
                m.body,
                m.mimetype,
                m.origin_ts,
                m.reply_to,
                target.id if target else None,
                source,
                None,
                "pending",
                0,
                None,
                False,
            )
        )
        if not new or target is not None or m.reply_to is None:
            return
        replied = await self.store.submission_by_event(m.reply_to)
        if replied is not None and replied.frozen:
            name = self.ctx.name_of(m.room_id, m.sender)
            await self._editors_notice(
                f"{m.kind} {m.body or m.mxc} from {name} replies to post {replied.number} of"
                f" published edition {replied.edition_id}; it is not attached. To use it: !twim"
                f" attach N {m.event_id}"
            )

    async def _adopt_media(self, sub: SubmissionRow) -> None:
        """Attach media that belong to a submission created after they arrived.

        That happens when a message becomes a submission later (an edit adds the trigger,
        or someone reacts with the notice emoji) and when events reach the bot out of
        order (several rooms in one sync, backfill): replies to the message, and the
        sender's media in the window after it whose nearest earlier submission it now is.
        An editor's choice is never overridden.
        """
        for media in await self.store.media_replying_to(sub.event_id):
            if media.attach_source != "editor" and media.submission_id != sub.id:
                await self.store.attach_media(media.id, sub.id, "reply")
        window = int(self.config.media.attach_window_minutes * 60_000)
        for media in await self.store.media_from(sub.sender, sub.origin_ts, sub.origin_ts + window):
            if media.attach_source in ("editor", "reply") or media.submission_id == sub.id:
                continue
            if (
                media.reply_to is not None
                and media.reply_to != sub.event_id
                and await self.store.submission_by_event(media.reply_to) is not None
            ):
                continue  # it replies to another entry
            target, source = await self._auto_target(media.sender, media.origin_ts, None)
            if target is not None and target.id == sub.id:
                await self.store.attach_media(media.id, sub.id, source)

    # -- commands and pings ----------------------------------------------------------

    async def _command(self, cmd: Command) -> None:
        if self.ctx.first_sync:
            # The first sync after a fresh start replays old history; answering old
            # commands then would surprise the editors.
            return
        await self.store.enqueue_command(
            CommandRow(cmd.event_id, cmd.room_id, cmd.sender, cmd.body, cmd.origin_ts, "pending")
        )

    async def _ping(self, p: PingRequest) -> None:
        event = p.event
        sent = int(event["origin_server_ts"])
        delay = self.ctx.now_ms - sent
        if self.ctx.first_sync or delay > PING_MAX_AGE_MS:
            return
        if sent < self.ctx.joined_at.get(event["room_id"], -1):
            # Sent before the bot was in the room: its "delay" would be how late the bot
            # joined, not how long the ping took to arrive.
            return
        sample = ping.own_sample(event, self.ctx.now_ms, self.ctx.bot.user_id)
        if sample is not None and not await self.store.add_ping(
            PingRecord(
                sample.ping_event_id,
                sample.ping_event_id,
                sample.server,
                sample.delay_ms,
                sample.origin_ts,
                sample.reporter,
            )
        ):
            return
        await self.store.enqueue(
            event["room_id"],
            "m.room.message",
            ping.pong_content(event, self.ctx.now_ms),
            priority=0,
        )

    async def _pong(self, p: PongSeen) -> None:
        sample = ping.parse_pong(p.event)
        if sample is None:
            return
        await self.store.add_ping(
            PingRecord(
                p.event["event_id"],
                sample.ping_event_id,
                sample.server,
                sample.delay_ms,
                sample.origin_ts,
                sample.reporter,
            )
        )

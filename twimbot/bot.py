"""The running bot: login, the sync loop, and the workers that act after each commit.

One sync batch is one database transaction: every event of the batch is applied (each in
its own savepoint, so one bad event cannot spoil the others) and the sync token is written
last, in the same transaction. Only after the commit do the workers send what the outbox
holds, run queued editor commands and download media, so the sync loop never waits on them
and nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from twimbot import classify, draft, secrecy
from twimbot.classify import Learned
from twimbot.config import Config, Secrets
from twimbot.errors import ConfigError, MatrixError, TemplateError, TwimbotError
from twimbot.handlers import Context, Handlers, commit_batch
from twimbot.ingest import BotIdentity, RoomRoles
from twimbot.matrix import MatrixPort, RateLimited, Refused, SyncBatch, Unreachable
from twimbot.store import OutboxRow, Store

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
OUTBOX_MAX_ATTEMPTS = 8
# The media worker looks for due downloads at least this often (seconds).
MEDIA_IDLE_S = 60.0
# How long lower-priority messages wait after an acknowledgement was sent (see _send_rows).
# Measured in bench/ (SPEC §10): sent at once, the ack text and the editors-room line reach
# the homeserver while it is still delivering the ack, and the sender sees the ack later.
ACK_HEADSTART = 0.1


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` at most ``seconds``; True if it was set.

    ``asyncio.timeout`` rather than ``wait_for``: on Python 3.11 ``wait_for`` can swallow a
    cancellation that races with the event being set, leaving a worker running after stop.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


def own_joins(events: list[dict[str, Any]], user_id: str) -> dict[str, int]:
    """Rooms ``user_id`` joined in these events (not a profile change), with the join's time."""
    joins: dict[str, int] = {}
    for event in events:
        if event.get("type") != "m.room.member" or event.get("state_key") != user_id:
            continue
        content, unsigned = event.get("content"), event.get("unsigned")
        room_id, ts = event.get("room_id"), event.get("origin_server_ts")
        if not isinstance(content, dict) or content.get("membership") != "join":
            continue
        prev = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
        if isinstance(prev, dict) and prev.get("membership") == "join":
            continue  # a display name or avatar change
        if isinstance(room_id, str) and isinstance(ts, int):
            joins[room_id] = ts
    return joins


class Backoff:
    """Exponential backoff with jitter, capped, so an outage never makes the bot spin."""

    def __init__(self, base: float = 0.5, cap: float = 10.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        delay = min(self.cap, self.base * 2 ** (self.failures - 1))
        return float(delay * (0.75 + random.random() / 2))

    def reset(self) -> None:
        self.failures = 0


class Bot:
    """Ties the store, a :class:`MatrixPort` and the handlers together."""

    def __init__(
        self,
        config: Config,
        store: Store,
        matrix: MatrixPort,
        *,
        reload_config: Callable[[], Config] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.matrix = matrix
        self.reload_config = reload_config
        self.roles: dict[str, RoomRoles] = {}
        self.editors_room: str | None = None
        self.bot = BotIdentity(config.user_id)
        self._wake_outbox = asyncio.Event()
        self._wake_commands = asyncio.Event()
        self._wake_media = asyncio.Event()
        self._media_progress = asyncio.Event()  # set after each round of downloads
        self._stopping = asyncio.Event()
        self.synced = asyncio.Event()  # set after the first stored batch (tests, demo)
        self.batches = 0
        self._commands: Any = None  # twimbot.commands.Commands, built in start()
        self._closing = False
        self._run_stop: asyncio.Event | None = None
        # The draft template is read at start and at `!twim reload`, never behind the
        # editors' back: a refused reload keeps the template that was checked before.
        self.template: draft.TemplateText | None = None
        self.template_problem: str | None = None
        self._load_template(config)
        # Learned data with this bot's own published editions, and what they were
        # counted from (the newest published edition and the config), to recount on change.
        self._learned: Learned | None = None
        self._learned_from: tuple[int | None, Config] | None = None

    # -- configuration ---------------------------------------------------------------

    def _load_template(self, config: Config) -> None:
        try:
            self.template = draft.load_template(config)
            self.template_problem = None
        except TemplateError as err:
            self.template, self.template_problem = None, str(err)

    def check_template(self) -> list[str]:
        """Problems of the loaded template (rendered once against a sample draft)."""
        from twimbot.render import check_template

        if self.template is None:
            return [self.template_problem or "no template loaded"]
        source, name = self.template
        return check_template(source, name, self.config)

    async def apply_config(self, config: Config, template: draft.TemplateText) -> None:
        """Switch to an already validated config and template (``!twim reload``).

        Rooms are resolved and joined again when they changed; identity, homeserver and
        database are the caller's to keep unchanged (they need a restart).
        """
        old = self.config
        self.config = config
        self.template, self.template_problem = template, None
        if (old.rooms, old.ping.room) != (config.rooms, config.ping.room):
            await self.resolve_rooms()

    # -- start-up --------------------------------------------------------------------

    async def login(self, secrets: Secrets, stop: asyncio.Event | None = None) -> bool:
        """Authenticate from the environment; a password login is kept in the database.

        A homeserver that is down or rate limiting is waited for, with backoff, until ``stop``
        is set (then False is returned); only a refusal (a bad token or password) is fatal.
        """
        from twimbot.matrix import NioMatrix

        assert isinstance(self.matrix, NioMatrix)
        matrix = self.matrix
        stop = stop or self._stopping
        if secrets.access_token:
            token = secrets.access_token
            try:
                return await self._patiently("whoami", lambda: matrix.use_token(token), stop)
            except Refused as err:
                raise TwimbotError(f"the homeserver refused TWIMBOT_ACCESS_TOKEN ({err})") from None
        if not secrets.password:
            raise ConfigError(
                "no credentials: set TWIMBOT_ACCESS_TOKEN, or TWIMBOT_PASSWORD for a one-time login"
            )
        password = secrets.password
        saved = await self.store.get_state("session")
        device_id: str | None = None
        if saved:
            session = json.loads(saved)
            if session.get("user_id") == self.config.user_id:
                device_id = session.get("device_id")
                stored_token = str(session["access_token"])
                secrecy.remember(stored_token)
                try:
                    return await self._patiently(
                        "whoami", lambda: matrix.use_token(stored_token), stop
                    )
                except Refused as err:
                    if err.errcode != "M_UNKNOWN_TOKEN":
                        raise TwimbotError(
                            f"the homeserver refused the stored access token ({err})"
                        ) from None
                    log.warning("the stored access token was revoked; logging in again")
        answer: tuple[str, str] | None = None

        async def password_login() -> None:
            nonlocal answer
            answer = await matrix.login_password(password, device_id)

        try:
            if not await self._patiently("login", password_login, stop):
                return False
        except Refused as err:
            raise TwimbotError(f"the homeserver refused TWIMBOT_PASSWORD ({err})") from None
        assert answer is not None
        token, device = answer
        secrecy.remember(token)
        async with self.store.transaction():
            await self.store.set_state(
                "session",
                json.dumps(
                    {"user_id": self.config.user_id, "access_token": token, "device_id": device}
                ),
            )
        return await self._patiently("whoami", lambda: matrix.use_token(token), stop)

    async def _patiently(
        self, what: str, call: Callable[[], Awaitable[object]], stop: asyncio.Event
    ) -> bool:
        """Run ``call`` until it succeeds, waiting out outages and 429s; False if stopped.

        :class:`Refused` (the homeserver answered and said no) is raised to the caller.
        """
        backoff = Backoff()
        while not stop.is_set():
            try:
                await call()
                return True
            except RateLimited as err:
                delay = err.retry_after
                log.warning("%s rate limited; waiting %.1f s", what, delay)
            except Refused:
                raise
            except MatrixError as err:
                delay = backoff.next()
                log.warning("%s: homeserver unreachable (%s); retrying in %.1f s", what, err, delay)
            await wait_event(stop, delay)
        return False

    async def resolve_rooms(self) -> None:
        """Resolve configured aliases and join every configured room we can."""
        cfg = self.config
        wanted: list[tuple[str, str]] = [(r, "submissions") for r in cfg.rooms.submissions]
        wanted.append((cfg.rooms.editors, "editors"))
        if cfg.ping.room:
            wanted.append((cfg.ping.room, "ping"))
        roles: dict[str, dict[str, bool]] = {}
        stop = self._run_stop or self._stopping
        for ref, role in wanted:
            resolved: list[str] = []

            async def resolve(ref: str = ref, out: list[str] = resolved) -> None:
                out.append(await self.matrix.resolve_alias(ref))

            # A homeserver that is down or busy is waited for: a room left out here would
            # have its events ignored, and the sync token would move past them.
            try:
                if not await self._patiently(f"resolve {ref}", resolve, stop):
                    return
            except Refused as err:
                log.warning("cannot resolve room %s (%s); will join when invited", ref, err)
                continue
            room_id = resolved[0]
            roles.setdefault(room_id, {})[role] = True
            if role == "editors":
                self.editors_room = room_id
            try:
                if not await self._patiently(
                    f"join {ref}", functools.partial(self.matrix.join, room_id), stop
                ):
                    return
            except Refused as err:
                log.warning("cannot join %s (%s); will join when invited", ref, err)
                continue
            log.info("in %s (%s) as the %s room", ref, room_id, role)
        self.roles = {rid: RoomRoles(**flags) for rid, flags in roles.items()}

    # -- the loop --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set: sync, store, act. Returns after a graceful stop."""
        stop = stop or self._stopping
        self._run_stop = stop
        from twimbot.commands import Commands

        self._commands = Commands(self)
        # Compile the classifier now (~0.3 s for TWIM's 132 projects), not on the first
        # submission, whose acknowledgement would wait for it.
        classify.classifier_for(self.config)
        for problem in self.check_template():
            # Not fatal: submissions must still be collected. `!twim draft` reports it too.
            log.warning("draft template problem (fix it, then !twim reload): %s", problem)
        await self.store.open_edition()
        await self.resolve_rooms()
        if stop.is_set():
            return
        workers = [
            asyncio.create_task(self._guard("outbox", self._outbox_loop), name="outbox"),
            asyncio.create_task(self._guard("commands", self._command_loop), name="commands"),
            asyncio.create_task(self._guard("media", self._media_loop), name="media"),
        ]
        backoff = Backoff()
        try:
            while not stop.is_set():
                token = await self.store.get_state("sync_token")
                # The first sync of a run returns at once: catching up after a restart must
                # not wait for the next message to end a long poll.
                timeout_ms = SYNC_TIMEOUT_MS if token and self.batches else 0
                sync = asyncio.create_task(self.matrix.sync(token, timeout_ms))
                stopper = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({sync, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if sync not in done:
                    sync.cancel()
                    with contextlib.suppress(BaseException):
                        await sync
                    break
                try:
                    batch = sync.result()
                except RateLimited as err:
                    log.warning("sync rate limited; waiting %.1f s", err.retry_after)
                    await self._sleep(err.retry_after, stop)
                    continue
                except Refused as err:
                    if err.errcode == "M_UNKNOWN_TOKEN":
                        raise TwimbotError(
                            f"the homeserver rejected the access token ({err})"
                        ) from None
                    delay = backoff.next()
                    log.warning("sync refused (%s); retrying in %.1f s", err, delay)
                    await self._sleep(delay, stop)
                    continue
                except (Unreachable, MatrixError) as err:
                    delay = backoff.next()
                    log.warning("homeserver unreachable (%s); retrying in %.1f s", err, delay)
                    await self._sleep(delay, stop)
                    continue
                try:
                    await self.process(batch)
                except RateLimited as err:
                    # Backfilling the batch's gap was rate limited: nothing of the batch
                    # was stored and the token did not move, so the same sync comes again.
                    log.warning("backfill rate limited; waiting %.1f s", err.retry_after)
                    await self._sleep(err.retry_after, stop)
                    continue
                except MatrixError as err:
                    delay = backoff.next()
                    log.warning("backfill failed (%s); retrying the batch in %.1f s", err, delay)
                    await self._sleep(delay, stop)
                    continue
                except Exception:
                    # The batch's transaction rolled back (disk full, database locked, a
                    # bug): the token did not move, so retrying loses nothing.
                    delay = backoff.next()
                    log.exception("could not store a sync batch; retrying in %.1f s", delay)
                    await self._sleep(delay, stop)
                    continue
                backoff.reset()
        finally:
            self._closing = True
            for task in workers:
                task.cancel()
            await asyncio.wait(workers, timeout=10)

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        await wait_event(stop, seconds)

    def stop(self) -> None:
        self._stopping.set()

    async def _learned_data(self) -> Learned | None:
        """The shipped learned data plus the bot's own published editions, recounted only
        when an edition was published or the config reloaded since the last count."""
        newest = await self.store.published_edition_ids(1)
        newest_id = newest[0] if newest else None
        counted = self._learned_from
        if counted is None or counted[0] != newest_id or counted[1] is not self.config:
            self._learned = await draft.learned(self.store, self.config) if newest else None
            self._learned_from = (newest_id, self.config)
        return self._learned

    async def process(self, batch: SyncBatch) -> None:
        """Store one sync batch and its token in one transaction, then wake the workers."""
        await self._accept_invites(batch)
        events = await self._with_backfill(batch)
        ctx = Context(
            config=self.config,
            bot=self.bot,
            roles=self.roles,
            editors_room=self.editors_room or self.config.rooms.editors,
            rooms={rid: batch.rooms.get(rid) or self.matrix.snapshot(rid) for rid in self.roles},
            now_ms=int(time.time() * 1000),
            first_sync=batch.first,
            joined_at=own_joins(events, self.config.user_id),
            learned=await self._learned_data(),
        )
        await self._profile_names(events, ctx)
        await commit_batch(Handlers(self.store, ctx), events, batch.next_batch)
        self.batches += 1
        self.synced.set()
        self._wake_outbox.set()
        self._wake_commands.set()
        self._wake_media.set()

    async def _accept_invites(self, batch: SyncBatch) -> None:
        configured = set(self.config.rooms.submissions) | {self.config.rooms.editors}
        if self.config.ping.room:
            configured.add(self.config.ping.room)
        for room_id, aliases in batch.invites:
            if room_id not in configured and not configured.intersection(aliases):
                log.info("ignoring invite to %s: not a configured room", room_id)
                continue
            try:
                await self.matrix.join(room_id)
            except MatrixError as err:
                log.warning("cannot join %s after invite: %s", room_id, err)
                continue
            await self.resolve_rooms()

    async def _with_backfill(self, batch: SyncBatch) -> list[dict[str, Any]]:
        events = list(batch.events)
        for room_id, prev in batch.limited.items():
            if room_id not in self.roles or batch.first:
                continue
            marker = await self.store.get_state(f"room_last:{room_id}")
            if marker is None:
                continue
            last_id, last_ts = json.loads(marker)

            def reached(
                event: dict[str, Any], last_id: str = last_id, last_ts: int = last_ts
            ) -> bool:
                ts = event.get("origin_server_ts")
                return event.get("event_id") == last_id or (isinstance(ts, int) and ts < last_ts)

            try:
                missed = await self.matrix.backfill(room_id, prev, reached)
            except Refused as err:
                # The homeserver will not show this history (left room, no permission):
                # retrying cannot help, so the gap is reported and skipped.
                log.error(
                    "backfill of %s refused (%s); messages in the gap are missed", room_id, err
                )
                continue
            # Unreachable and RateLimited propagate: the batch is not stored, its token is
            # not saved, and the same gap is backfilled on the next attempt.
            log.info("backfilled %d events of %s", len(missed), room_id)
            first_index = next(
                (i for i, e in enumerate(events) if e.get("room_id") == room_id), len(events)
            )
            events[first_index:first_index] = missed
        return events

    async def _profile_names(self, events: list[dict[str, Any]], ctx: Context) -> None:
        """Fetch profile names for senders whose member name the room does not show."""
        missing = set()
        for event in events:
            room_id, sender = event.get("room_id"), event.get("sender")
            if not isinstance(room_id, str) or not isinstance(sender, str):
                continue
            roles = self.roles.get(room_id)
            if roles is None or not roles.submissions or event.get("type") != "m.room.message":
                continue
            snap = ctx.rooms.get(room_id)
            if snap is None or sender not in snap.names:
                missing.add(sender)
        for sender in sorted(missing)[:50]:
            name = await self.matrix.display_name(sender)
            if name:
                ctx.profile_names[sender] = name

    # -- workers ---------------------------------------------------------------------

    async def _guard(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Keep a worker alive: an unexpected error is logged and the loop restarts."""
        while not self._closing:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._closing:
                    return
                log.exception("%s worker failed; restarting in 1 s", name)
                await asyncio.sleep(1)

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        await wait_event(event, seconds)
        event.clear()

    async def _outbox_loop(self) -> None:
        """Send what the outbox holds, in order, each row with its own transaction id.

        A homeserver that is down or rate limiting pauses the whole queue (everything would
        fail alike). A row the homeserver refuses (403 in a room where the bot may not
        react, say) only waits itself, with growing delays, so it never holds up the
        acknowledgements behind it; it is given up after ``OUTBOX_MAX_ATTEMPTS``.
        """
        backoff = Backoff()
        acked_at: float | None = None  # when the latest acknowledgement went out
        not_before: dict[int, float] = {}  # refused row id -> monotonic time of its next try
        while True:
            now = time.monotonic()
            for row_id in [r for r, t in not_before.items() if t <= now]:
                del not_before[row_id]
            rows = await self.store.outbox_pending(50, exclude=not_before)
            if not rows:
                idle = min(not_before.values(), default=now + 30) - now
                await self._wait(self._wake_outbox, max(0.05, idle))
                continue
            sent: list[tuple[int, str]] = []
            try:
                acked_at, pause = await self._send_rows(rows, sent, backoff, acked_at, not_before)
            finally:
                # Marked sent together, one commit per round instead of one per message. A
                # crash before this resends these rows with their txn ids, which the
                # homeserver recognises as already sent.
                if sent:
                    async with self.store.transaction():
                        await self.store.outbox_sent_many(sent)
            if pause > 0:
                await asyncio.sleep(pause)

    async def _send_rows(
        self,
        rows: list[OutboxRow],
        sent: list[tuple[int, str]],
        backoff: Backoff,
        acked_at: float | None,
        not_before: dict[int, float],
    ) -> tuple[float | None, float]:
        """Send ``rows`` in order, noting each in ``sent``, until one must wait.

        Returns when the latest ack went out and how long to wait before the next round. A
        refused row gets its next try time in ``not_before`` and the others go on.
        """
        for row in rows:
            if row.priority > 0 and acked_at is not None:
                # Give the homeserver a moment to deliver the acks before the chatter (ack
                # text, editors-room lines) competes with them for its CPU; then look again,
                # so acks of submissions that came in meanwhile go first.
                pause = ACK_HEADSTART - (time.monotonic() - acked_at)
                if pause > 0:
                    return None, pause
                acked_at = None
            try:
                event_id = await self.matrix.send(
                    row.room_id, row.event_type, row.content, row.txn_id
                )
            except RateLimited as err:
                log.warning("sending rate limited; waiting %.1f s", err.retry_after)
                return acked_at, err.retry_after
            except Refused as err:
                if err.errcode == "M_DUPLICATE_ANNOTATION":
                    # This reaction is already there (sent from another device of the bot's
                    # account, or before a new login): what we owed is done.
                    sent.append((row.id, ""))
                    continue
                give_up = row.attempts + 1 >= OUTBOX_MAX_ATTEMPTS
                log.warning(
                    "sending %s to %s refused (%s)%s",
                    row.event_type,
                    row.room_id,
                    err,
                    "; giving up" if give_up else "",
                )
                async with self.store.transaction():
                    await self.store.outbox_failed(row.id, str(err), give_up=give_up)
                if not give_up:
                    not_before[row.id] = time.monotonic() + min(300.0, 2.0**row.attempts)
                continue
            except MatrixError as err:
                delay = backoff.next()
                log.warning("sending failed (%s); retrying in %.1f s", err, delay)
                return acked_at, delay
            backoff.reset()
            if row.priority == 0:
                acked_at = time.monotonic()
            sent.append((row.id, event_id))
        return acked_at, 0.0

    async def _command_loop(self) -> None:
        while True:
            pending = await self.store.pending_commands()
            if not pending:
                await self._wait(self._wake_commands, 30)
                continue
            for cmd in pending:
                try:
                    await self._commands.run(cmd)
                except Exception:
                    # Its answer could not be stored. Running it again would repeat what it
                    # did (an upload, a publish) at every retry, so it is given up, loudly.
                    log.exception("command %s could not be completed; not retried", cmd.event_id)
                    async with self.store.transaction():
                        await self.store.abandon_command(cmd.event_id, "internal error")
                self._wake_outbox.set()

    async def _media_loop(self) -> None:
        from twimbot import media

        while True:
            await media.download_due(self.store, self.matrix, self.config)
            self._media_progress.set()
            due = await self.store.next_media_attempt(media.max_attempts())
            wait = MEDIA_IDLE_S
            if due is not None:
                wait = min(MEDIA_IDLE_S, max(0.0, due / 1000 - time.time()))
            if wait > 0:
                await self._wait(self._wake_media, wait)

    async def settle_media(self, edition_id: int, timeout: float) -> int:
        """Let the media worker try every file of the edition it has not tried yet.

        ``!twim draft`` waits here, at most ``timeout`` seconds, so a screenshot posted a
        moment ago is in the draft; a file whose download failed is not waited for (it is
        retried later and the draft says so). Returns how many files are still untried.
        """
        deadline = time.monotonic() + timeout
        while (left := await self.store.untried_media(edition_id)) and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._media_progress.clear()
            self._wake_media.set()
            await wait_event(self._media_progress, min(remaining, 1.0))
        return left

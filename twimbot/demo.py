"""``twimbot demo``: the newcomer's first run, end to end on a throwaway local homeserver.

It starts a Synapse on 127.0.0.1 (``twimbot.devserver``), registers the bot, an editor and
contributors named after the reporters of a real post, creates a submissions room and an
editors room, runs the bot in this process, posts sample submissions taken from the published
post of 2022-10-28 (one with a screenshot, one edited, one too short, one sorted by the
editor's reaction), shows the bot's acknowledgements and its lines in the editors room, asks
for ``!twim draft``, downloads the Markdown and the zip the bot uploaded, prints where they
are and how the draft begins, and stops everything it started, also on Ctrl-C or SIGTERM.

Everything is kept in one work directory (a new temporary directory unless ``--workdir`` is
given) so the files can be opened afterwards, and ``twimbot status`` / ``twimbot draft`` can be
tried on the demo's database without any homeserver.

The sample data ships inside the package (``twimbot/demo_data``): the demo works from an
installed wheel, not only from a source checkout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml

from twimbot.actor import Actor, ActorError, JsonDict
from twimbot.chat import one_line
from twimbot.devserver import RegisteredUser, Synapse, SynapseError
from twimbot.errors import TwimbotError

log = logging.getLogger(__name__)

SERVER_NAME = "localhost"
BOT_LOCALPART = "twim-bot"
BOT_NAME = "This Week in Matrix"
EDITOR_LOCALPART = "thib"
EDITOR_NAME = "Thib"
# Generous: the machine may be busy (the demo runs next to test suites on 2 shared cores).
WAIT = 30.0
DRAFT_LINES = 24


@dataclass(frozen=True)
class Sample:
    """One sample submission (see ``demo_data/submissions.yaml``)."""

    user: str
    name: str
    text: str
    first_text: str | None = None
    screenshot: str | None = None
    editor_reaction: str | None = None


def _data(name: str) -> bytes:
    return (resources.files("twimbot") / "demo_data" / name).read_bytes()


def load_samples() -> list[Sample]:
    raw = yaml.safe_load(_data("submissions.yaml").decode("utf-8"))
    return [Sample(**item) for item in raw]


def demo_config(
    homeserver: str, bot: str, editor: str, submissions: str, editors_room: str
) -> dict[str, Any]:
    """The packaged demo config with this run's homeserver, users and rooms filled in."""
    data: dict[str, Any] = yaml.safe_load(_data("config.yaml").decode("utf-8"))
    data.update(
        homeserver=homeserver,
        user_id=bot,
        rooms={"submissions": [submissions], "editors": editors_room},
        editors=[editor],
    )
    return data


# -- the progress display ---------------------------------------------------------------


class Progress:
    """Numbered steps on the terminal: ``[3/8] Creating the rooms … ok (0.6 s)``.

    A step that prints details gets them indented under its title, and its result on a line
    of its own.
    """

    def __init__(self, total: int, out: TextIO = sys.stdout) -> None:
        self.total = total
        self.out = out
        self.number = 0
        self._open = False  # the current step's title line is still waiting for its result
        self._started = 0.0

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self._write(f"[{self.number}/{self.total}] {title} …")
        self._open = True
        self._started = time.monotonic()
        try:
            yield
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._result("interrupted")
            raise
        except BaseException:
            self._result("failed")
            raise
        self._result("ok")

    def _result(self, word: str) -> None:
        elapsed = f"{word} ({time.monotonic() - self._started:.1f} s)"
        self._write(f" {elapsed}\n" if self._open else f"      {elapsed}\n")
        self._open = False

    def detail(self, line: str) -> None:
        if self._open:
            self._write("\n")
            self._open = False
        self._write(f"      {line}\n")

    def say(self, line: str = "") -> None:
        self._write(f"{line}\n")


# -- the run --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rooms:
    submissions: str  # room ids, for the actors
    editors: str
    submissions_alias: str  # aliases, for the config, as a real deployment would write it
    editors_alias: str


@dataclass
class _People:
    bot: RegisteredUser
    editor: Actor
    contributors: dict[str, Actor]


class Demo:
    """One demo run in ``workdir``; :meth:`run` cleans up whatever it started."""

    STEPS = 8

    def __init__(self, workdir: Path, out: TextIO = sys.stdout) -> None:
        self.workdir = workdir
        self.progress = Progress(self.STEPS, out)
        self.samples = load_samples()
        self.synapse: Synapse | None = None
        self.actors: list[Actor] = []
        self.bot_task: asyncio.Task[None] | None = None
        self.bot_stop = asyncio.Event()
        self._bot: Any = None  # twimbot.bot.Bot once started
        self.config_path = workdir / "twimbot.yaml"
        self.markdown_path: Path | None = None
        self.bundle_path: Path | None = None

    async def run(self) -> None:
        p = self.progress
        p.say(f"twimbot demo: everything goes into {self.workdir}")
        try:
            with p.step("Starting a throwaway Synapse on 127.0.0.1"):
                self._start_synapse()
            assert self.synapse is not None
            with p.step(f"Registering the bot, an editor and {len(self.samples)} contributors"):
                people = await self._register()
            with p.step("Creating #twim (submissions) and #twim-editors"):
                rooms = await self._rooms(people)
            with p.step("Writing twimbot.yaml and starting the bot"):
                await self._start_bot(people, rooms)
            with p.step(f"Posting {len(self.samples)} submissions from the 2022-10-28 post"):
                accepted = await self._post(people, rooms.submissions)
            with p.step("What the bot told the editors room"):
                await self._editor_lines(people, rooms.editors, accepted)
            with p.step(f"{EDITOR_NAME} sends !twim draft in the editors room"):
                await self._draft(people, rooms.editors)
            with p.step("Stopping the bot and Synapse"):
                await self._shutdown()
        finally:
            await self._shutdown()
        self._report()

    # -- steps ---------------------------------------------------------------------

    def _start_synapse(self) -> None:
        server = Synapse(self.workdir / "synapse", server_name=SERVER_NAME)
        self.synapse = server
        # Started here, in the main thread and outside the event loop on purpose: the kernel
        # then stops Synapse if this process dies without cleaning up (PR_SET_PDEATHSIG is
        # per thread). Ctrl-C during the wait must interrupt it, so the default handler is
        # back for the duration (asyncio's only schedules a cancellation for later).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            server.start()
        except SynapseError as err:
            first = str(err).splitlines()[0]
            raise TwimbotError(f"Synapse did not start: {first}") from None
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)
        self.progress.detail(f"listening on {server.url}, log in {server.log_path}")

    async def _actor(self, user: RegisteredUser) -> Actor:
        actor = Actor.from_user(user)
        self.actors.append(actor)
        await actor.__aenter__()
        return actor

    async def _register(self) -> _People:
        assert self.synapse is not None
        server = self.synapse
        bot = server.register(BOT_LOCALPART, displayname=BOT_NAME)
        editor = await self._actor(server.register(EDITOR_LOCALPART, displayname=EDITOR_NAME))
        contributors: dict[str, Actor] = {}
        for sample in self.samples:
            if sample.user not in contributors:
                user = server.register(sample.user, displayname=sample.name)
                contributors[sample.user] = await self._actor(user)
        names = ", ".join(s.name for s in self.samples)
        self.progress.detail(f"bot {bot.user_id}, editor {editor.user_id} ({EDITOR_NAME})")
        self.progress.detail(f"contributors: {names}")
        return _People(bot, editor, contributors)

    async def _rooms(self, people: _People) -> _Rooms:
        editor = people.editor
        submissions = await editor.create_room(
            name="This Week in Matrix", alias_localpart="twim", preset="public_chat"
        )
        editors_room = await editor.create_room(
            name="TWIM editors",
            alias_localpart="twim-editors",
            invite=[people.bot.user_id],
            preset="private_chat",
        )
        await asyncio.gather(*(a.join(submissions) for a in people.contributors.values()))
        return _Rooms(
            submissions, editors_room, f"#twim:{SERVER_NAME}", f"#twim-editors:{SERVER_NAME}"
        )

    async def _start_bot(self, people: _People, rooms: _Rooms) -> None:
        from twimbot.bot import Bot
        from twimbot.config import load_config
        from twimbot.matrix import NioMatrix
        from twimbot.store import Store

        assert self.synapse is not None
        data = demo_config(
            self.synapse.url,
            people.bot.user_id,
            people.editor.user_id,
            rooms.submissions_alias,
            rooms.editors_alias,
        )
        header = (
            "# Written by `twimbot demo` from twimbot/demo_data/config.yaml.\n"
            "# Try: twimbot status -c twimbot.yaml   and   twimbot draft -c twimbot.yaml -o -\n"
        )
        self.config_path.write_text(
            header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        config = load_config(self.config_path)
        store = await Store.open(config.database_path)
        matrix = NioMatrix(config.homeserver, config.user_id)
        try:
            await matrix.use_token(people.bot.access_token)
        except BaseException:
            await matrix.close()
            await store.close()
            raise
        bot = Bot(config, store, matrix, reload_config=lambda: load_config(self.config_path))
        self._bot = bot
        self.bot_task = asyncio.create_task(bot.run(self.bot_stop), name="twimbot")
        synced = asyncio.create_task(bot.synced.wait())
        done, _ = await asyncio.wait(
            {synced, self.bot_task}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
        )
        synced.cancel()
        if self.bot_task in done:
            self.bot_task.result()  # raises what stopped the bot
            raise TwimbotError("the bot stopped before its first sync")
        if not done:
            raise TwimbotError(f"the bot did not sync within {WAIT:.0f} s")
        self.progress.detail(f"config {self.config_path}")
        self.progress.detail(f"bot log {self.workdir / 'twimbot.log'}")

    async def _post(self, people: _People, room_id: str) -> list[Sample]:
        bot_id = people.bot.user_id
        accepted: list[Sample] = []
        for sample in self.samples:
            actor = people.contributors[sample.user]
            started = time.monotonic()
            event_id = await actor.send_text(room_id, f"TWIM: {sample.first_text or sample.text}")

            def answered(event: JsonDict, eid: str = event_id) -> bool:
                return event.get("sender") == bot_id and _relates_to(event) == eid

            answer = await actor.wait_for(answered, timeout=WAIT, rooms=room_id)
            elapsed = time.monotonic() - started
            if answer.get("type") != "m.reaction":
                body = one_line(str(answer.get("content", {}).get("body", "")), 90)
                self.progress.detail(f"✋ {sample.name}: not stored; the bot answered: {body}")
                continue
            accepted.append(sample)
            key = answer["content"]["m.relates_to"].get("key", "")
            self.progress.detail(
                f"{key} {sample.name}, acknowledged in {elapsed * 1000:.0f} ms:"
                f" {one_line(sample.first_text or sample.text, 50)}"
            )
            if sample.first_text is not None:
                await actor.edit(room_id, event_id, f"TWIM: {sample.text}")
                self.progress.detail(f"   ✏️  {sample.name} edits it: {one_line(sample.text, 50)}")
            if sample.screenshot is not None:
                await actor.send_image(
                    room_id, _data(sample.screenshot), sample.screenshot, reply_to=event_id
                )
                self.progress.detail(f"   🖼️  {sample.name} adds {sample.screenshot} as a reply")
            if sample.editor_reaction is not None:
                await people.editor.react(room_id, event_id, sample.editor_reaction)
                self.progress.detail(
                    f"   🏷️  {EDITOR_NAME} reacts {sample.editor_reaction!r} to sort it"
                )
        return accepted

    async def _editor_lines(self, people: _People, room_id: str, accepted: list[Sample]) -> None:
        bot_id = people.bot.user_id
        lines = await people.editor.wait_for_all(
            lambda e: (
                e.get("sender") == bot_id
                and str(e.get("content", {}).get("body", "")).startswith("post ")
            ),
            len(accepted),
            timeout=WAIT,
            rooms=room_id,
        )
        for event in lines:
            self.progress.detail(one_line(str(event["content"]["body"]), 110))

    async def _draft(self, people: _People, room_id: str) -> None:
        editor = people.editor
        bot_id = people.bot.user_id
        command = await editor.send_text(room_id, "!twim draft")
        replies = await editor.wait_for_all(
            lambda e: e.get("sender") == bot_id and _reply_to(e) == command,
            3,
            timeout=WAIT * 2,
            rooms=room_id,
        )
        files = [e for e in replies if e["content"].get("msgtype") == "m.file"]
        notices = [e for e in replies if e["content"].get("msgtype") == "m.notice"]
        if len(files) != 2:
            bodies = "; ".join(one_line(str(e["content"].get("body", "")), 80) for e in replies)
            raise TwimbotError(f"the bot did not upload the draft: {bodies}")
        for event in files:
            name = Path(str(event["content"]["body"])).name
            target = self.workdir / name
            target.write_bytes(await editor.download(str(event["content"]["url"])))
            if name.endswith(".md"):
                self.markdown_path = target
            elif name.endswith(".zip"):
                self.bundle_path = target
            self.progress.detail(f"📄 {name} uploaded by the bot, saved as {target}")
        for event in notices:
            for line in str(event["content"]["body"]).splitlines():
                self.progress.detail(f"   {line}")

    async def _shutdown(self) -> None:
        """Stop the bot, close the clients, stop Synapse. Safe to call more than once."""
        if self.bot_task is not None:
            self.bot_stop.set()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.bot_task, 20)
            self.bot_task = None
        if self._bot is not None:
            bot, self._bot = self._bot, None
            with contextlib.suppress(Exception):
                await bot.matrix.close()
            with contextlib.suppress(Exception):
                await bot.store.close()
        actors, self.actors = self.actors, []
        for actor in actors:
            with contextlib.suppress(Exception):
                await actor.close()
        if self.synapse is not None:
            self.synapse.stop()

    # -- the result ----------------------------------------------------------------

    def _report(self) -> None:
        p = self.progress
        if self.markdown_path is None or self.bundle_path is None:
            return
        markdown = self.markdown_path.read_text(encoding="utf-8")
        with zipfile.ZipFile(self.bundle_path) as bundle:
            members = bundle.namelist()
        p.say()
        p.say(f"Draft:  {self.markdown_path}")
        p.say(f"Bundle: {self.bundle_path} ({', '.join(members)})")
        p.say()
        lines = markdown.splitlines()
        for line in lines[:DRAFT_LINES]:
            p.say(f"  │ {line if len(line) <= 100 else line[:99] + '…'}")
        if len(lines) > DRAFT_LINES:
            p.say(f"  │ … {len(lines) - DRAFT_LINES} more lines")
        p.say()
        p.say("Everything the demo started is stopped. Its files stay; try:")
        p.say(f"  twimbot status -c {self.config_path}")
        p.say(f"  twimbot draft -c {self.config_path} -o -")
        p.say("Next, in the twimbot source: docs/editors.md (an editor's week) and")
        p.say("docs/operating.md (running it for real).")


def _relates_to(event: JsonDict) -> str | None:
    """The event a reaction annotates or a notice replies to."""
    rel = event.get("content", {}).get("m.relates_to")
    if not isinstance(rel, dict):
        return None
    if isinstance(rel.get("event_id"), str):
        return str(rel["event_id"])
    reply = rel.get("m.in_reply_to")
    if isinstance(reply, dict) and isinstance(reply.get("event_id"), str):
        return str(reply["event_id"])
    return None


def _reply_to(event: JsonDict) -> str | None:
    rel = event.get("content", {}).get("m.relates_to")
    reply = rel.get("m.in_reply_to") if isinstance(rel, dict) else None
    return str(reply["event_id"]) if isinstance(reply, dict) and "event_id" in reply else None


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _log_to_file(path: Path) -> None:
    """The bot's log goes to a file: the terminal is for the demo's own story."""
    from twimbot.cli import _Formatter

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    for old in root.handlers:
        old.setLevel(logging.ERROR)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("nio").setLevel(logging.WARNING)


def _prepare(workdir: Path | None) -> Path:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="twimbot-demo-"))
    workdir = workdir.resolve()
    if workdir.exists() and any(workdir.iterdir()):
        raise TwimbotError(f"{workdir} is not empty; give the demo a new or empty directory")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


async def run_demo(workdir: Path | None) -> int:
    """Run the demo; 0 when the draft was made, 130 when interrupted (see module doc)."""
    where = _prepare(workdir)
    _log_to_file(where / "twimbot.log")
    demo = Demo(where)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupted: list[int] = []

    def interrupt(signum: int) -> None:
        if not interrupted:
            task.cancel()
        interrupted.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        await demo.run()
    except (asyncio.CancelledError, KeyboardInterrupt):
        if isinstance(sys.exc_info()[1], asyncio.CancelledError) and not interrupted:
            raise
        if interrupted:
            task.uncancel()
        print(f"\ninterrupted: everything the demo started is stopped; files in {where}")
        return 130
    except (ActorError, TimeoutError) as err:
        raise TwimbotError(
            f"the demo failed: {one_line(str(err), 200)} (logs in {where})"
        ) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


__all__ = ["Demo", "Progress", "Sample", "demo_config", "load_samples", "run_demo"]

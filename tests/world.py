"""A small TWIM world on the real Synapse: a bot, an editor, contributors and their rooms.

``world`` (fixture) registers fresh users, creates a submissions room, an editors room and a
ping room, writes a real YAML config and can start the bot in this process
(:meth:`World.start_bot`) or as a ``twimbot run`` subprocess (:meth:`World.spawn_bot`) for
tests that kill it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from twimbot.actor import Actor, match
from twimbot.bot import Bot
from twimbot.config import Config, load_config
from twimbot.devserver import RegisteredUser, Synapse
from twimbot.matrix import NioMatrix
from twimbot.store import Store, SubmissionRow

NEWS = "we released version 2.0 with a brand new timeline, threads and a faster start-up"

SECTIONS: list[dict[str, Any]] = [
    {"name": "todo", "title": "TODO UNKNOWN SECTION", "emoji": "🗂️", "order": 1000},
    {"name": "spec", "title": "Dept of Spec 📜", "emoji": "📜", "order": 1030},
    {"name": "servers", "title": "Dept of Servers 🏢", "emoji": "🏢", "order": 1060},
    {"name": "clients", "title": "Dept of Clients 📱", "emoji": "📱", "order": 1100},
    {
        "name": "bridges",
        "title": "Dept of Bridges 🌉",
        "emoji": "🌉",
        "order": 1090,
        "hints": ["bridge", "bridging"],
    },
]
PROJECTS: list[dict[str, Any]] = [
    {
        "name": "nheko",
        "title": "Nheko",
        "emoji": "Nheko",
        "website": "https://nheko-reborn.github.io",
        "description": "Desktop client for Matrix using Qt and C++17.",
        "default_section": "clients",
    },
    {
        "name": "synapse",
        "title": "Synapse",
        "emoji": "Synapse",
        "website": "https://github.com/element-hq/synapse/",
        "description": "Synapse is a Matrix homeserver.",
        "default_section": "servers",
    },
    {
        "name": "conduit",
        "title": "Conduit",
        "emoji": "Conduit",
        "website": "https://conduit.rs",
        "description": "Conduit is a simple, fast and reliable chat server.",
        "default_section": "servers",
    },
]


@dataclass
class World:
    synapse: Synapse
    dir: Path
    bot_user: RegisteredUser
    editor: Actor
    alice: Actor
    bob: Actor
    submissions: str
    editors_room: str
    ping_room: str
    config_path: Path
    bot: Bot | None = None
    task: asyncio.Task[None] | None = None
    stop_event: asyncio.Event | None = None
    process: subprocess.Popen[bytes] | None = None
    _store: Store | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def write_config(self, **overrides: Any) -> None:
        data: dict[str, Any] = {
            "homeserver": self.synapse.url,
            "user_id": self.bot_user.user_id,
            "database": "twimbot.db",
            "rooms": {"submissions": [self.submissions], "editors": self.editors_room},
            "editors": [self.editor.user_id],
            "ping": {"room": self.ping_room},
            "media": {"dir": "media", "attach_window_minutes": 5},
            "sections": SECTIONS,
            "projects": PROJECTS,
            "post": {"author": "Test Editor"},
        }
        data.update(overrides)
        self.config_path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))

    # -- the bot in this process -----------------------------------------------------

    async def start_bot(self) -> Bot:
        config = self.config
        store = await Store.open(config.database_path)
        matrix = NioMatrix(config.homeserver, config.user_id)
        await matrix.use_token(self.bot_user.access_token)
        self.bot = Bot(config, store, matrix, reload_config=lambda: load_config(self.config_path))
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(self.bot.run(self.stop_event))
        await asyncio.wait_for(self.bot.synced.wait(), 20)
        return self.bot

    async def stop_bot(self) -> None:
        if self.bot is None or self.task is None or self.stop_event is None:
            return
        self.stop_event.set()
        try:
            await asyncio.wait_for(self.task, 20)
        finally:
            await self.bot.matrix.close()
            await self.bot.store.close()
            self.bot = None
            self.task = None

    # -- the bot as a process --------------------------------------------------------

    def spawn_bot(
        self, *, env: dict[str, str] | None = None, log_level: str = "INFO"
    ) -> subprocess.Popen[bytes]:
        """Run ``twimbot run`` with the bot's token in the environment (``env`` replaces the
        TWIMBOT_* variables when given); its output goes to ``bot.log``."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("TWIMBOT_")}
        secrets = {"TWIMBOT_ACCESS_TOKEN": self.bot_user.access_token} if env is None else env
        env = {**base, **secrets}
        log = open(self.dir / "bot.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "twimbot",
                "run",
                "-c",
                str(self.config_path),
                "--log-level",
                log_level,
            ],
            env=env,
            stdout=log,
            stderr=log,
            cwd=self.dir,
        )
        return self.process

    def kill_bot(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate_bot(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        return self.process.returncode

    # -- reading what the bot stored ---------------------------------------------------

    async def store(self) -> Store:
        """The bot's store when it runs here, else a reader of its database file."""
        if self.bot is not None:
            return self.bot.store
        if self._store is None:
            self._store = await Store.open(self.config.database_path)
        return self._store

    async def close_reader(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def submission(self, event_id: str, timeout: float = 10.0) -> SubmissionRow:
        return await until(lambda: self._sub(event_id), timeout, f"submission {event_id}")

    async def _sub(self, event_id: str) -> SubmissionRow | None:
        return await (await self.store()).submission_by_event(event_id)

    async def submit(self, actor: Actor, text: str = NEWS, *, prefix: str = "TWIM: ") -> str:
        """Post a submission and wait for the bot's ✅ on it; returns the event id."""
        event_id = await actor.send_text(self.submissions, prefix + text)
        await actor.wait_for(
            match(event_type="m.reaction", sender=self.bot_user.user_id, relates_to=event_id),
            timeout=15,
        )
        return event_id

    async def command(
        self,
        body: str,
        *,
        actor: Actor | None = None,
        timeout: float = 15,
        notice: bool = True,
    ) -> dict[str, Any]:
        """Send a command in the editors room and return the bot's reply to it.

        With ``notice`` (the default) the reply is the bot's text answer, not the files
        that ``!twim draft`` or ``publish`` upload before it.
        """
        actor = actor or self.editor
        event_id = await actor.send_text(self.editors_room, body)
        return await actor.wait_for(
            lambda e: (
                e.get("sender") == self.bot_user.user_id
                and e.get("content", {})
                .get("m.relates_to", {})
                .get("m.in_reply_to", {})
                .get("event_id")
                == event_id
                and (not notice or e["content"].get("msgtype") != "m.file")
            ),
            timeout=timeout,
        )


@dataclass
class DraftReply:
    """What ``!twim draft`` answered: the Markdown file, the zip bundle and the summary."""

    markdown: str
    markdown_name: str
    bundle: bytes
    summary: str


async def request_draft(world: World, timeout: float = 30) -> DraftReply:
    """Send ``!twim draft`` as the editor; download the files the bot uploads in reply."""
    sent = await world.editor.send_text(world.editors_room, "!twim draft")

    def answer(event: dict[str, Any]) -> bool:
        rel = event.get("content", {}).get("m.relates_to", {})
        return (
            event.get("sender") == world.bot_user.user_id
            and isinstance(rel, dict)
            and rel.get("m.in_reply_to", {}).get("event_id") == sent
        )

    first = await world.editor.wait_for(answer, timeout=timeout)
    if first["content"].get("msgtype") != "m.file":
        raise AssertionError(f"!twim draft failed: {first['content'].get('body')!r}")
    md, zipped, summary = [first, *await world.editor.wait_for_all(answer, 2, timeout=timeout)]
    assert md["content"]["body"].endswith(".md") and zipped["content"]["body"].endswith(".zip")
    return DraftReply(
        markdown=(await world.editor.download(md["content"]["url"])).decode("utf-8"),
        markdown_name=md["content"]["body"],
        bundle=await world.editor.download(zipped["content"]["url"]),
        summary=summary["content"]["body"],
    )


async def until(
    probe: Callable[[], Awaitable[Any]], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def world(
    synapse: Synapse, new_user: Callable[..., RegisteredUser], tmp_path: Path
) -> AsyncIterator[World]:
    bot_user = new_user("TWIM Bot", prefix="bot")
    actors: list[Actor] = []

    async def actor(name: str, prefix: str) -> Actor:
        a = Actor.from_user(new_user(name, prefix=prefix))
        actors.append(a)
        await a.__aenter__()
        return a

    editor = await actor("Ed Itor", "editor")
    alice = await actor("Alice", "alice")
    bob = await actor("Bob [the builder](x)", "bob")
    members = [bot_user.user_id, alice.user_id, bob.user_id]
    submissions = await editor.create_room(name="TWIM", invite=members)
    editors_room = await editor.create_room(
        name="TWIM editors", invite=[bot_user.user_id], preset="private_chat"
    )
    ping_room = await editor.create_room(name="ping", invite=members)
    for a in (alice, bob):
        await a.join(submissions)
        await a.join(ping_room)
    w = World(
        synapse,
        tmp_path,
        bot_user,
        editor,
        alice,
        bob,
        submissions,
        editors_room,
        ping_room,
        tmp_path / "twimbot.yaml",
    )
    w.write_config()
    try:
        yield w
    finally:
        # Every step is bounded: a teardown that hangs would stall the whole session.
        steps: list[tuple[str, Awaitable[Any]]] = [
            ("stop the bot", w.stop_bot()),
            ("close the reader", w.close_reader()),
        ]
        steps += [(f"close {a.user_id}", a.close()) for a in actors]
        for what, step in steps:
            try:
                await asyncio.wait_for(step, 30)
            except Exception as err:
                print(f"teardown: {what} failed: {err!r}", file=sys.stderr)
                for task in asyncio.all_tasks():
                    print(" ", task.get_name(), file=sys.stderr)
                    task.print_stack(limit=30, file=sys.stderr)
        w.kill_bot()

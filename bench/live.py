"""SPEC §10 (a), (b) and (d) against one fresh Synapse on loopback, in one run.

(a) Acknowledgement latency: a sender posts a submission in the bot's room and measures until
    the bot's ack reaction arrives in the sender's own ``/sync``; it does the same in a second
    room where a bare matrix-nio client (:mod:`bench.reactor`) reacts to each message the
    moment it receives it. The sender syncs continuously (a long poll always open), sends are
    one at a time and alternate between the rooms (bot first in even rounds, nio first in odd
    ones), so both see the same server in the same state. Reported: p50, p99, and the ratio
    bot/nio at p50 (goal ≤ 1.25).
(b) A burst of 500 submissions from 5 contributors, 10 sends in flight: time until every ack
    is seen, each stored exactly once (read from the bot's database), each acknowledged once,
    and the CPU seconds the bot, Synapse and the reactor used meanwhile.
(d) The bot's peak RSS (``VmHWM``) over its whole life, (a) and (b) included (goal < 100 MB).

The bot runs as ``python -m twimbot run`` in its own process with This Week in Matrix's real
config (:mod:`bench.twimconfig`), exactly as an operator runs it; CPU and memory come from
``/proc/<pid>``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.twimconfig import ROOT, sample_texts, twim_config
from twimbot.actor import Actor
from twimbot.devserver import RegisteredUser, Synapse

CLK_TCK = os.sysconf("SC_CLK_TCK")
# After the bot's outbox is empty, how long to let Synapse deliver what it sent before the next
# round starts.
QUIET_SETTLE = 0.15
# The sender's sync: reactions only (what it measures), a long timeline so nothing is limited.
WATCH_FILTER = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "timeline": {"limit": 1000, "types": ["m.reaction"]},
        "state": {"types": []},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}


# -- /proc ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# -- the sender's continuous sync --------------------------------------------------------


class Watcher:
    """Keeps a ``/sync`` long poll open for one user and notes when each reaction arrives."""

    def __init__(self, homeserver: str, token: str) -> None:
        self.homeserver = homeserver
        self.token = token
        self.arrivals: dict[str, list[tuple[str, float]]] = {}  # target -> [(sender, t)]
        self._waiters: dict[tuple[str, str], asyncio.Future[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.syncs = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=aiohttp.ClientTimeout(total=90),
        )
        since = (await self._sync(None, 0))["next_batch"]
        self._task = asyncio.create_task(self._loop(since))

    async def _sync(self, since: str | None, timeout_ms: int) -> dict[str, Any]:
        assert self._session is not None
        params = {"timeout": str(timeout_ms), "filter": json.dumps(WATCH_FILTER)}
        if since:
            params["since"] = since
        async with self._session.get(
            f"{self.homeserver}/_matrix/client/v3/sync", params=params
        ) as resp:
            resp.raise_for_status()
            data: dict[str, Any] = await resp.json()
            return data

    async def _loop(self, since: str) -> None:
        while True:
            answer = await self._sync(since, 30_000)
            now = time.perf_counter()
            self.syncs += 1
            for room in answer.get("rooms", {}).get("join", {}).values():
                for event in room.get("timeline", {}).get("events", []):
                    rel = event.get("content", {}).get("m.relates_to", {})
                    target = rel.get("event_id") if isinstance(rel, dict) else None
                    if event.get("type") != "m.reaction" or not isinstance(target, str):
                        continue
                    sender = str(event.get("sender"))
                    self.arrivals.setdefault(target, []).append((sender, now))
                    waiter = self._waiters.pop((target, sender), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(now)
            since = answer["next_batch"]

    async def reaction(self, target: str, sender: str, timeout: float) -> float:
        """When ``sender``'s first reaction to ``target`` arrived (perf_counter seconds)."""
        for who, when in self.arrivals.get(target, []):
            if who == sender:
                return when
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[(target, sender)] = future
        return await asyncio.wait_for(future, timeout)

    def count(self, target: str, sender: str) -> int:
        return sum(1 for who, _ in self.arrivals.get(target, []) if who == sender)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


# -- results ----------------------------------------------------------------------------


@dataclass
class LiveResult:
    rounds: int = 0
    warmup: int = 0
    bot_ms: list[float] = field(default_factory=list)
    nio_ms: list[float] = field(default_factory=list)
    burst: int = 0
    burst_senders: int = 0
    burst_in_flight: int = 0
    burst_elapsed_s: float = 0.0
    burst_stored: int = 0
    burst_stored_distinct: int = 0
    burst_acked: int = 0
    burst_ack_duplicates: int = 0
    burst_missing_acks: int = 0
    burst_cpu_bot_s: float = 0.0
    burst_cpu_synapse_s: float = 0.0
    burst_cpu_reactor_s: float = 0.0
    bot_rss_ready_mb: float = 0.0
    bot_rss_end_mb: float = 0.0
    bot_rss_peak_mb: float = 0.0
    bot_cpu_total_s: float = 0.0
    synapse_start_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def bot_p50(self) -> float:
        return statistics.median(self.bot_ms)

    @property
    def nio_p50(self) -> float:
        return statistics.median(self.nio_ms)

    @property
    def bot_p99(self) -> float:
        return percentile(self.bot_ms, 99)

    @property
    def nio_p99(self) -> float:
        return percentile(self.nio_ms, 99)

    @property
    def ratio_p50(self) -> float:
        return self.bot_p50 / self.nio_p50

    @property
    def ratio_p99(self) -> float:
        return self.bot_p99 / self.nio_p99


# -- the run ----------------------------------------------------------------------------


@dataclass
class _Setup:
    synapse: Synapse
    workdir: Path
    bot: RegisteredUser
    reactor: RegisteredUser
    sender: Actor
    burst_senders: list[Actor]
    bot_room: str
    nio_room: str
    editors_room: str
    config_path: Path
    database: Path
    bot_proc: subprocess.Popen[bytes] | None = None
    reactor_proc: subprocess.Popen[bytes] | None = None
    actors: list[Actor] = field(default_factory=list)


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


async def _actor(user: RegisteredUser, actors: list[Actor]) -> Actor:
    actor = Actor.from_user(user, sync_on_enter=False)
    await actor.open()
    actors.append(actor)
    return actor


async def _setup(workdir: Path, n_burst_senders: int) -> _Setup:
    workdir = workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    synapse = Synapse(workdir / "synapse", log_level="WARNING")
    synapse.start()
    hs = synapse
    bot = hs.register("twimbot", displayname="This Week in Matrix")
    reactor = hs.register("nio-reactor", displayname="bare nio reactor")
    actors: list[Actor] = []
    sender = await _actor(hs.register("sender", displayname="Sender"), actors)
    editor = await _actor(hs.register("editor", displayname="Editor"), actors)
    burst = [
        await _actor(hs.register(f"contributor{i}", displayname=f"Contributor {i}"), actors)
        for i in range(n_burst_senders)
    ]
    reactor_actor = await _actor(reactor, actors)
    bot_room = await sender.create_room(name="TWIM", preset="public_chat")
    nio_room = await sender.create_room(name="nio", preset="public_chat")
    editors_room = await editor.create_room(
        name="TWIM editors", invite=[bot.user_id], preset="private_chat"
    )
    await reactor_actor.join(nio_room)
    for actor in burst:
        await actor.join(bot_room)
    config_path = workdir / "twimbot.yaml"
    data = twim_config(
        homeserver=hs.url,
        user_id=bot.user_id,
        submissions=bot_room,
        editors_room=editors_room,
        editors=[editor.user_id],
        database="twimbot.db",
    )
    config_path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return _Setup(
        synapse,
        workdir,
        bot,
        reactor,
        sender,
        burst,
        bot_room,
        nio_room,
        editors_room,
        config_path,
        workdir / "twimbot.db",
        actors=actors,
    )


def _env(extra: dict[str, str]) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT), **extra}


async def _start_processes(s: _Setup) -> None:
    log = open(s.workdir / "bot.log", "wb")  # noqa: SIM115 - closed when the process ends
    s.bot_proc = subprocess.Popen(
        [sys.executable, "-m", "twimbot", "run", "-c", str(s.config_path)],
        env=_env({"TWIMBOT_ACCESS_TOKEN": s.bot.access_token}),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=s.workdir,
    )
    log.close()
    s.reactor_proc = subprocess.Popen(
        [sys.executable, "-m", "bench.reactor"],
        env=_env(
            {
                "REACTOR_HOMESERVER": s.synapse.url,
                "REACTOR_USER": s.reactor.user_id,
                "REACTOR_TOKEN": s.reactor.access_token,
                "REACTOR_ROOM": s.nio_room,
            }
        ),
        stdout=subprocess.PIPE,
        stderr=open(s.workdir / "reactor.log", "wb"),  # noqa: SIM115
        cwd=ROOT,
    )
    assert s.reactor_proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(s.reactor_proc.stdout.readline), 60)
    if line.strip() != b"ready":
        raise RuntimeError(f"the reactor did not start: {line!r}; see {s.workdir}/reactor.log")
    # The bot is ready when it has stored its first sync token.
    deadline = time.monotonic() + 60
    while True:
        if s.bot_proc.poll() is not None:
            raise RuntimeError(f"the bot exited; see {s.workdir}/bot.log")
        if s.database.exists():
            try:
                with sqlite3.connect(f"file:{s.database}?mode=ro", uri=True) as db:
                    if db.execute("SELECT 1 FROM state WHERE key = 'sync_token'").fetchone():
                        break
            except sqlite3.Error:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bot did not sync within 60 s; see {s.workdir}/bot.log")
        await asyncio.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _timed(
    watcher: Watcher, send: Callable[[], Awaitable[str]], reactor: str, timeout: float = 30
) -> float:
    started = time.perf_counter()
    event_id = await send()
    seen = await watcher.reaction(event_id, reactor, timeout)
    return (seen - started) * 1000


def _outbox_pending(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(row[0])


async def _quiet(s: _Setup, settle: float = QUIET_SETTLE) -> None:
    """Wait until the bot has sent everything it owes, then a little longer, so the bot's
    trailing messages (the ack text, the editors-room line) never land in the next round's
    measurement, whichever client that round measures."""
    deadline = time.monotonic() + 30
    while _outbox_pending(s.database) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(settle)


async def latency(
    s: _Setup, watcher: Watcher, rounds: int, warmup: int, result: LiveResult
) -> None:
    texts = [e["text"] for e in sample_texts()]
    bot_id, nio_id = s.bot.user_id, s.reactor.user_id
    for i in range(warmup + rounds):
        text = f"TWIM: {texts[i % len(texts)]}"

        def to_bot(text: str = text) -> Awaitable[str]:
            return s.sender.send_text(s.bot_room, text)

        def to_nio(text: str = text) -> Awaitable[str]:
            return s.sender.send_text(s.nio_room, text)

        if i % 2 == 0:
            await _quiet(s)
            bot = await _timed(watcher, to_bot, bot_id)
            await _quiet(s)
            nio = await _timed(watcher, to_nio, nio_id)
        else:
            await _quiet(s)
            nio = await _timed(watcher, to_nio, nio_id)
            await _quiet(s)
            bot = await _timed(watcher, to_bot, bot_id)
        if i >= warmup:
            result.bot_ms.append(bot)
            result.nio_ms.append(nio)
        if (i + 1) % 50 == 0:
            _progress(f"latency: {i + 1}/{warmup + rounds} rounds")
    result.rounds, result.warmup = rounds, warmup


async def burst(s: _Setup, watcher: Watcher, n: int, in_flight: int, result: LiveResult) -> None:
    assert s.bot_proc is not None
    assert s.reactor_proc is not None
    synapse_pid = s.synapse.pid
    assert synapse_pid is not None
    texts = [e["text"] for e in sample_texts()]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    sent: list[str] = []
    cpu_before = (
        cpu_seconds(s.bot_proc.pid),
        cpu_seconds(synapse_pid),
        cpu_seconds(s.reactor_proc.pid),
    )

    async def worker(actor: Actor) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            sent.append(
                await actor.send_text(s.bot_room, f"TWIM: burst {i}: {texts[i % len(texts)]}")
            )

    started = time.perf_counter()
    senders = [s.burst_senders[i % len(s.burst_senders)] for i in range(in_flight)]
    await asyncio.gather(*(worker(a) for a in senders))
    bot_id = s.bot.user_id
    last = started
    missing = 0
    for event_id in sent:
        try:
            last = max(last, await watcher.reaction(event_id, bot_id, 120))
        except TimeoutError:
            missing += 1
    elapsed = last - started
    cpu_after = (
        cpu_seconds(s.bot_proc.pid),
        cpu_seconds(synapse_pid),
        cpu_seconds(s.reactor_proc.pid),
    )
    await asyncio.sleep(2)  # a doubled ack would arrive by now
    with sqlite3.connect(f"file:{s.database}?mode=ro", uri=True) as db:
        marks = ",".join("?" * len(sent))
        stored, distinct = db.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT event_id) FROM submissions WHERE event_id IN ({marks})",
            sent,
        ).fetchone()
    counts = [watcher.count(e, bot_id) for e in sent]
    result.burst = n
    result.burst_senders = len(s.burst_senders)
    result.burst_in_flight = in_flight
    result.burst_elapsed_s = elapsed
    result.burst_stored = int(stored)
    result.burst_stored_distinct = int(distinct)
    result.burst_acked = sum(1 for c in counts if c >= 1)
    result.burst_ack_duplicates = sum(c - 1 for c in counts if c > 1)
    result.burst_missing_acks = missing
    result.burst_cpu_bot_s = cpu_after[0] - cpu_before[0]
    result.burst_cpu_synapse_s = cpu_after[1] - cpu_before[1]
    result.burst_cpu_reactor_s = cpu_after[2] - cpu_before[2]


async def run(
    workdir: Path, *, rounds: int = 200, warmup: int = 10, burst_n: int = 500, in_flight: int = 10
) -> LiveResult:
    result = LiveResult()
    s: _Setup | None = None
    watcher: Watcher | None = None
    try:
        _progress("starting a fresh Synapse, users and rooms")
        s = await _setup(workdir, n_burst_senders=5)
        result.synapse_start_s = s.synapse.last_start_seconds or 0.0
        await _start_processes(s)
        assert s.bot_proc is not None
        result.bot_rss_ready_mb = memory_kb(s.bot_proc.pid)["VmRSS"] / 1024
        watcher = Watcher(s.synapse.url, s.sender.access_token)
        await watcher.start()
        _progress(f"latency: {warmup} warm-up and {rounds} measured rounds per client")
        await latency(s, watcher, rounds, warmup, result)
        _progress(f"burst: {burst_n} submissions, {in_flight} in flight")
        await burst(s, watcher, burst_n, in_flight, result)
        mem = memory_kb(s.bot_proc.pid)
        result.bot_rss_end_mb = mem["VmRSS"] / 1024
        result.bot_rss_peak_mb = mem["VmHWM"] / 1024
        result.bot_cpu_total_s = cpu_seconds(s.bot_proc.pid)
    finally:
        if watcher is not None:
            await watcher.close()
        if s is not None:
            _stop(s.reactor_proc)
            _stop(s.bot_proc)
            for actor in s.actors:
                await actor.close()
            s.synapse.stop()
    return result

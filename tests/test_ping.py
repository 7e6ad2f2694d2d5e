"""Dept of Ping: echo-compatible pongs, pingstat-compatible statistics."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from twimbot import ping
from twimbot.model import PingRow
from twimbot.ping import (
    PONG_REL_TYPE,
    PingSample,
    PingstatError,
    fetch_pingstat,
    format_delay,
    is_ping,
    own_sample,
    parse_pingstat_json,
    parse_pong,
    ping_table,
    pong_content,
)

DATA = Path(__file__).resolve().parent / "data"
STATS_FILE = DATA / "pingstat-stats.json"

# The Dept of Ping of the reference post (twim-2022-10-28.md), #ping:maunium.net table.
REFERENCE_TABLE = [
    (1, "neko.dev", "318"),
    (2, "keks.club", "474"),
    (3, "alemann.dev", "531"),
    (4, "trygve.me", "532.5"),
    (5, "utzutzutz.net", "588"),
    (6, "justinruiter.nl", "680.5"),
    (7, "mozilla.org", "1290"),
    (8, "kittenface.studio", "1702"),
    (9, "rom4nik.pl", "1894"),
    (10, "matrix.cirk2.de", "2523"),
]

PING_TS = 1_666_000_000_000


def make_ping(body: str = "!ping", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "m.room.message",
        "event_id": "$pingAbC123",
        "room_id": "!ping:maunium.net",
        "sender": "@alice:neko.dev",
        "origin_server_ts": PING_TS,
        "content": {"msgtype": "m.text", "body": body},
    }
    event.update(overrides)
    return event


def make_pong(**overrides: Any) -> dict[str, Any]:
    """A pong as maubot/echo on maunium.net sends it."""
    event: dict[str, Any] = {
        "type": "m.room.message",
        "event_id": "$pongXyZ",
        "room_id": "!ping:maunium.net",
        "sender": "@echo:maunium.net",
        "origin_server_ts": PING_TS + 400,
        "content": {
            "msgtype": "m.notice",
            "format": "org.matrix.custom.html",
            "body": "@alice:neko.dev: Pong! (ping took 318 ms to arrive)",
            "formatted_body": "…",
            "m.relates_to": {
                "rel_type": PONG_REL_TYPE,
                "event_id": "$pingAbC123",
                "from": "neko.dev",
                "ms": 318,
            },
            "pong": {"ms": 318, "from": "neko.dev", "ping": "$pingAbC123"},
        },
    }
    event.update(overrides)
    return event


# -- answering like echo ----------------------------------------------------------------------


def test_pong_content_matches_echo() -> None:
    content = pong_content(make_ping(), PING_TS + 318)
    assert content == {
        "msgtype": "m.notice",
        "format": "org.matrix.custom.html",
        "body": "@alice:neko.dev: Pong! (ping took 318 ms to arrive)",
        "formatted_body": (
            "<a href='https://matrix.to/#/@alice:neko.dev'>@alice:neko.dev</a>: Pong!"
            " (<a href='https://matrix.to/#/!ping:maunium.net/$pingAbC123'>ping</a>"
            " took 318 ms to arrive)"
        ),
        "m.relates_to": {
            "rel_type": "xyz.maubot.pong",
            "event_id": "$pingAbC123",
            "from": "neko.dev",
            "ms": 318,
        },
        "pong": {"ms": 318, "from": "neko.dev", "ping": "$pingAbC123"},
    }


def test_pong_content_with_message_and_port_and_no_room() -> None:
    event = make_ping("!ping   <b>hello</b> there friend of mine ", sender="@bob:example.org:8448")
    del event["room_id"]
    content = pong_content(event, PING_TS + 12_345)
    # echo quotes the first 20 characters of the stripped argument
    assert content["body"] == (
        '@bob:example.org:8448: Pong! (ping "<b>hello</b> there f" took 12.3 seconds to arrive)'
    )
    assert '"&lt;b&gt;hello&lt;/b&gt; there f" took' in content["formatted_body"]
    assert "matrix.to/#/!" not in content["formatted_body"]  # no room: no ping link
    assert content["pong"]["from"] == "example.org:8448"
    with_room = pong_content(event, PING_TS + 1, room_id="!r:example.org")
    assert "https://matrix.to/#/!r:example.org/$pingAbC123" in with_room["formatted_body"]


def test_our_pong_is_one_pingstat_records() -> None:
    event = make_ping("!ping hi")
    content = pong_content(event, PING_TS + 700)
    pong_event = {
        "type": "m.room.message",
        "event_id": "$ours",
        "sender": "@twim:matrix.org",
        "origin_server_ts": PING_TS + 700,
        "content": content,
    }
    assert ping._PONG_BODY_RE.fullmatch(content["body"])
    assert parse_pong(pong_event) == own_sample(event, PING_TS + 700, "@twim:matrix.org")


@pytest.mark.parametrize(
    ("diff", "text"),
    [
        (1, "1 ms"),
        (-5, "-5 ms"),
        (9_999, "9999 ms"),
        (10_000, "10.0 seconds"),
        (12_345, "12.3 seconds"),
        (59_999, "60.0 seconds"),
        (60_000, "1 minute and 0 seconds"),
        (61_500, "1 minute and 2 seconds"),
        (125_000, "2 minutes and 5 seconds"),
        (3_600_000, "1 hour, 0 minutes and 0 seconds"),
        (90_061_000, "1 day, 1 hour, 1 minute and 1 second"),
    ],
)
def test_format_delay_like_echo(diff: int, text: str) -> None:
    assert format_delay(diff) == text


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (make_ping("!ping"), True),
        (make_ping("!PING some text"), True),
        (make_ping("!ping\tx"), False),  # maubot splits at the first space only
        (make_ping("!pingpong"), False),
        (make_ping("!ping\nhello"), False),
        (make_ping(" !ping"), False),
        (make_ping("ping"), False),
        (make_ping("", content={"msgtype": "m.notice", "body": "!ping"}), False),
        (make_ping("", content={"msgtype": "m.text", "body": 5}), False),
        (make_ping("", content="!ping"), False),
        (make_ping(sender="alice"), False),
        (make_ping(sender=None), False),
        (make_ping(event_id=5), False),
        (make_ping(origin_server_ts="1"), False),
        (make_ping(origin_server_ts=True), False),
        (make_ping(type="m.reaction"), False),
        (
            make_ping(
                "",
                content={
                    "msgtype": "m.text",
                    "body": "!ping",
                    "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"},
                },
            ),
            False,
        ),
        (make_ping("", content={"msgtype": "m.text", "body": "!ping", "m.relates_to": 3}), False),
        (None, False),
        ([], False),
    ],
)
def test_is_ping(event: Any, expected: bool) -> None:
    assert is_ping(event) is expected


def test_is_ping_custom_prefix_and_refusals() -> None:
    assert is_ping(make_ping("!p now"), prefix="!p")
    assert not is_ping(make_ping("!ping"), prefix="!p")
    with pytest.raises(ValueError, match="not a ping"):
        pong_content(make_ping("hello"), PING_TS)
    with pytest.raises(ValueError, match="not a ping"):
        own_sample(make_ping("hello"), PING_TS, "@twim:matrix.org")
    with pytest.raises(ValueError, match="user id"):
        own_sample(make_ping(), PING_TS, "twim")


def test_own_sample() -> None:
    sample = own_sample(make_ping(), PING_TS + 250, "@twim:matrix.org")
    assert sample == PingSample("$pingAbC123", "neko.dev", 250, PING_TS + 250, "@twim:matrix.org")
    assert sample.reporter_server == "matrix.org"


# -- reading pongs ------------------------------------------------------------------------------


def test_parse_pong_valid() -> None:
    assert parse_pong(make_pong()) == PingSample(
        ping_event_id="$pingAbC123",
        server="neko.dev",
        delay_ms=318,
        origin_ts=PING_TS + 400,
        reporter="@echo:maunium.net",
    )


def test_parse_pong_accepts_other_echo_shapes() -> None:
    # in a thread echo's relation is replaced by the thread one; pingstat only reads `pong`
    event = make_pong()
    event["content"]["m.relates_to"] = {"rel_type": "m.thread", "event_id": "$root"}
    assert parse_pong(event) is not None
    del event["content"]["m.relates_to"]
    event["content"]["body"] = (
        '@alice:neko.dev: Pong! (ping "hi" took 1 minute and 2 seconds to arrive)'
    )
    assert parse_pong(event) is not None
    # clock skew: kept as pingstat keeps it, left out of the table later
    event["content"]["pong"]["ms"] = -42
    sample = parse_pong(event)
    assert sample is not None
    assert sample.delay_ms == -42


def _mutate(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    event = make_pong()
    target: Any = event
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


_DELETE = object()
HOSTILE: list[tuple[tuple[str, ...], Any]] = [
    (("type",), "m.reaction"),
    (("content",), "pong"),
    (("content",), ["pong"]),
    (("content", "msgtype"), "m.text"),
    (("content", "msgtype"), None),
    (("content", "body"), 318),
    (("content", "body"), "Pong!"),
    (("content", "body"), "@a:b: Pong! (ping took 1 ms to arrive)\n| evil |"),
    (("content", "body"), "@a:b: Pong! (ping took " + "9" * 5000 + " ms to arrive)"),
    (("content", "body"), "@a:b" + ': Pong! (ping " took ' * 100),
    (("content", "pong"), _DELETE),
    (("content", "pong"), "318"),
    (("content", "pong"), [318, "neko.dev", "$p"]),
    (("content", "pong", "ms"), _DELETE),
    (("content", "pong", "ms"), "318"),
    (("content", "pong", "ms"), 318.0),
    (("content", "pong", "ms"), float("nan")),
    (("content", "pong", "ms"), True),
    (("content", "pong", "ms"), None),
    (("content", "pong", "ms"), [318]),
    (("content", "pong", "ms"), 2**63),
    (("content", "pong", "ms"), -(2**60)),
    (("content", "pong", "ms"), 10**400),
    (("content", "pong", "from"), _DELETE),
    (("content", "pong", "from"), 5),
    (("content", "pong", "from"), ""),
    (("content", "pong", "from"), "evil.org|1|"),
    (("content", "pong", "from"), "<img src=x>"),
    (("content", "pong", "from"), "neko.dev\n"),
    (("content", "pong", "from"), "a b"),
    (("content", "pong", "from"), "x" * 300),
    (("content", "pong", "from"), {"server": "neko.dev"}),
    (("content", "pong", "ping"), 5),
    (("content", "pong", "ping"), "pingAbC123"),
    (("content", "pong", "ping"), "$a b"),
    (("content", "pong", "ping"), ""),
    (("content", "pong", "ping"), "$" + "x" * 300),
    (("sender",), None),
    (("sender",), 7),
    (("sender",), "echo"),
    (("sender",), "@echo"),
    (("sender",), "@echo:maunium.net extra"),
    (("origin_server_ts",), _DELETE),
    (("origin_server_ts",), "1666000000400"),
    (("origin_server_ts",), 1.5),
    (("origin_server_ts",), -1),
    (("origin_server_ts",), 2**60),
    (("content", "m.relates_to"), "xyz.maubot.pong"),
    (("content", "m.relates_to"), ["$pingAbC123"]),
    (("content", "m.relates_to", "event_id"), "$someOtherPing"),
    (("content", "m.relates_to", "event_id"), 12),
]


@pytest.mark.parametrize(("path", "value"), HOSTILE)
def test_parse_pong_rejects_hostile_input(path: tuple[str, ...], value: Any) -> None:
    assert parse_pong(_mutate(path, value)) is None


@pytest.mark.parametrize("event", [None, 5, "pong", [], {}, {"content": None}, {"content": {}}])
def test_parse_pong_rejects_non_events(event: Any) -> None:
    assert parse_pong(event) is None


def test_parse_pong_body_check_is_fast_on_crafted_bodies() -> None:
    # pingstat's own pattern takes ~0.4 s on this one; the event loop must not stall
    event = make_pong()
    event["content"]["body"] = ("@" + ': Pong! (ping " took ' * 100)[:1000]
    started = time.perf_counter()
    for _ in range(10):
        assert parse_pong(event) is None
    assert time.perf_counter() - started < 0.1


def test_parse_pong_never_raises_on_random_input() -> None:
    rng = random.Random(20221028)
    values: list[Callable[[], Any]] = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.random() * 1e300,
        lambda: float(rng.choice(["nan", "inf", "-inf"])),
        lambda: "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 8))),
        lambda: [1, "a"],
        lambda: {"nested": {"deep": []}},
    ]
    base = make_pong()
    paths = [
        ("type",),
        ("sender",),
        ("origin_server_ts",),
        ("content",),
        ("content", "msgtype"),
        ("content", "body"),
        ("content", "pong"),
        ("content", "pong", "ms"),
        ("content", "pong", "from"),
        ("content", "pong", "ping"),
        ("content", "m.relates_to"),
    ]
    for _ in range(3000):
        event = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(paths)
            target: Any = event
            for key in path[:-1]:
                target = target.get(key) if isinstance(target, dict) else None
            if isinstance(target, dict):
                target[path[-1]] = rng.choice(values)()
        sample = parse_pong(event)
        assert sample is None or isinstance(sample, PingSample)


# -- the table ----------------------------------------------------------------------------------


def sample(
    server: str,
    delay: int,
    *,
    ping_id: str | None = None,
    ts: int = 1_000,
    reporter: str = "@echo:maunium.net",
) -> PingSample:
    sample.counter += 1  # type: ignore[attr-defined]
    ping_id = ping_id or f"$ping{sample.counter}"  # type: ignore[attr-defined]
    return PingSample(ping_id, server, delay, ts, reporter)


sample.counter = 0  # type: ignore[attr-defined]


def table(samples: list[PingSample], top: int = 10) -> list[tuple[int, str, str]]:
    rows = ping_table(samples, since_ms=0, until_ms=10_000, top=top)
    return [(row.rank, row.server, row.median_text) for row in rows]


def test_medians_keep_halves() -> None:
    samples = [
        sample("trygve.me", 500),
        sample("trygve.me", 565),
        sample("neko.dev", 318),
        sample("neko.dev", 200),
        sample("neko.dev", 900),
        sample("justinruiter.nl", 680),
        sample("justinruiter.nl", 681),
    ]
    assert table(samples) == [
        (1, "neko.dev", "318"),
        (2, "trygve.me", "532.5"),
        (3, "justinruiter.nl", "680.5"),
    ]
    rows = ping_table(samples, since_ms=0, until_ms=10_000, top=10)
    assert rows[1] == PingRow(rank=2, server="trygve.me", median_ms=532.5)


def test_window_is_half_open_on_pong_time() -> None:
    samples = [
        sample("a.org", 100, ts=-1),
        sample("b.org", 200, ts=0),
        sample("c.org", 300, ts=9_999),
        sample("d.org", 400, ts=10_000),
    ]
    assert [server for _, server, _ in table(samples)] == ["b.org", "c.org"]


def test_delays_from_10_ms_to_10_minutes() -> None:
    samples = [
        sample("neg.org", -50),
        sample("nine.org", 9),
        sample("ten.org", 10),
        sample("tenmin.org", 600_000),
        sample("over.org", 600_001),
        # a server's out-of-range samples do not count towards its median either
        sample("mixed.org", 5),
        sample("mixed.org", 700),
        sample("mixed.org", 900_000),
    ]
    assert table(samples) == [
        (1, "ten.org", "10"),
        (2, "mixed.org", "700"),
        (3, "tenmin.org", "600000"),
    ]


def test_one_sample_per_ping_and_measuring_server() -> None:
    samples = [
        # two bots on maunium.net answer the same ping: pingstat keeps the first
        sample("x.org", 900, ping_id="$p1", ts=2_000, reporter="@echo2:maunium.net"),
        sample("x.org", 100, ping_id="$p1", ts=1_500, reporter="@echo:maunium.net"),
        # a bot on another server answering the same ping is another sample
        sample("x.org", 300, ping_id="$p1", ts=1_600, reporter="@echo:neko.dev"),
    ]
    assert table(samples) == [(1, "x.org", "200")]
    # the bot's own measurement and its own pong coming back through sync count once
    event = make_ping(origin_server_ts=1_000)
    mine = own_sample(event, 1_400, "@twim:matrix.org")
    content = pong_content(event, 1_400)
    echoed = parse_pong(
        {"sender": "@twim:matrix.org", "origin_server_ts": 1_450, "content": content}
    )
    assert echoed is not None
    assert table([mine, echoed, mine]) == [(1, "neko.dev", "400")]


def test_ranking_top_and_ties() -> None:
    samples = [sample(f"s{i:02}.org", 100 + (i // 2)) for i in range(12)]
    rows = table(samples, top=5)
    assert rows == [
        (1, "s00.org", "100"),
        (2, "s01.org", "100"),
        (3, "s02.org", "101"),
        (4, "s03.org", "101"),
        (5, "s04.org", "102"),
    ]
    assert table(list(reversed(samples)), top=5) == rows  # input order does not matter
    assert len(table(samples, top=50)) == 12
    assert table([]) == []
    with pytest.raises(ValueError, match="top"):
        ping_table(samples, since_ms=0, until_ms=1, top=0)


# -- pingstat's stats.json ----------------------------------------------------------------------


def load_stats() -> Any:
    return json.loads(STATS_FILE.read_text(encoding="utf-8"))


def test_parse_pingstat_json_example() -> None:
    rows = parse_pingstat_json(load_stats(), 10)
    assert [(r.rank, r.server, r.median_text) for r in rows] == REFERENCE_TABLE
    assert len(parse_pingstat_json(load_stats(), 50)) == 12
    assert [r.server for r in parse_pingstat_json(load_stats(), 2)] == ["neko.dev", "keks.club"]


def test_ping_table_agrees_with_pingstat_on_its_own_data() -> None:
    samples = [
        PingSample(ping_id, ping_server, diff, PING_TS, f"@echo:{pong_server}")
        for ping_server, info in load_stats()["pings"].items()
        for pong_server, pong in info["pongs"].items()
        for ping_id, diff in pong["diffs"].items()
    ]
    ours = ping_table(samples, since_ms=PING_TS, until_ms=PING_TS + 1, top=10)
    assert ours == parse_pingstat_json(load_stats(), 10)


def test_parse_pingstat_json_skips_bad_entries() -> None:
    data = {
        "pings": {
            "good.org": {"median": 20},
            "pipe|evil.org": {"median": 1},
            "<b>x</b>": {"median": 1},
            "str.org": {"median": "1"},
            "bool.org": {"median": True},
            "nan.org": {"median": float("nan")},
            "inf.org": {"median": float("inf")},
            "neg.org": {"median": -3},
            "list.org": [1],
            "none.org": {},
            "half.org": {"median": 12.5},
        }
    }
    rows = parse_pingstat_json(data, 10)
    assert [(r.server, r.median_text) for r in rows] == [("half.org", "12.5"), ("good.org", "20")]


@pytest.mark.parametrize("data", [None, [], "x", {}, {"pings": []}, {"pings": "a"}])
def test_parse_pingstat_json_rejects_other_documents(data: Any) -> None:
    with pytest.raises(ValueError, match="pingstat"):
        parse_pingstat_json(data, 10)


# -- fetching from a real local HTTP server ----------------------------------------------------


@pytest.fixture
async def pingstat_server() -> AsyncIterator[str]:
    seen_accept: list[str] = []
    release = asyncio.Event()

    async def stats(request: web.Request) -> web.Response:
        seen_accept.append(request.headers.get("Accept", ""))
        return web.Response(body=STATS_FILE.read_bytes(), content_type="application/json")

    async def slow(request: web.Request) -> web.Response:
        # held until teardown, far longer than the client's timeout
        await release.wait()
        return web.Response(text="{}")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="<html>not json</html>", content_type="text/html")

    async def wrong(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b" " * 4096 + STATS_FILE.read_bytes())

    app = web.Application()
    app.router.add_get("/!ping:maunium.net/stats.json", stats)
    app.router.add_get("/slow", slow)
    app.router.add_get("/text", text)
    app.router.add_get("/wrong", wrong)
    app.router.add_get("/big", big)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        await runner.cleanup()
    assert all(a == "application/json" for a in seen_accept)


async def test_fetch_pingstat(pingstat_server: str) -> None:
    rows = await fetch_pingstat(f"{pingstat_server}/!ping:maunium.net/stats.json", 10)
    assert [(r.rank, r.server, r.median_text) for r in rows] == REFERENCE_TABLE


async def test_fetch_pingstat_with_own_session(pingstat_server: str) -> None:
    async with aiohttp.ClientSession() as session:
        rows = await fetch_pingstat(f"{pingstat_server}/!ping:maunium.net/stats.json", 3, session)
        assert not session.closed  # the caller's session stays the caller's
    assert [r.server for r in rows] == ["neko.dev", "keks.club", "alemann.dev"]


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/missing", "HTTP 404"),
        ("/text", "did not send JSON"),
        ("/wrong", "no 'pings' object"),
    ],
)
async def test_fetch_pingstat_errors(pingstat_server: str, path: str, match: str) -> None:
    with pytest.raises(PingstatError, match=match):
        await fetch_pingstat(pingstat_server + path, 10)


async def test_fetch_pingstat_timeout(pingstat_server: str) -> None:
    with pytest.raises(PingstatError, match=r"did not answer within 0\.2 s"):
        await fetch_pingstat(pingstat_server + "/slow", 10, timeout_s=0.2)


async def test_fetch_pingstat_size_limit(
    pingstat_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ping, "MAX_STATS_BYTES", 1024)
    with pytest.raises(PingstatError, match="more than 1024 bytes"):
        await fetch_pingstat(pingstat_server + "/big", 10)


async def test_fetch_pingstat_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(PingstatError, match="cannot fetch"):
        await fetch_pingstat(f"http://127.0.0.1:{port}/stats.json", 10)


async def test_fetch_pingstat_rejects_bad_top() -> None:
    with pytest.raises(ValueError, match="top"):
        await fetch_pingstat("http://127.0.0.1:1/stats.json", 0)


# -- the edition window over a real store (draft.ping_rows) -------------------------------------


async def test_edition_window_and_pingstat_cache(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from twimbot import draft
    from twimbot.config import parse_config
    from twimbot.store import Edition, PingRecord, Store

    day = 86_400_000
    stamp = datetime(2024, 1, 5, 18, tzinfo=UTC)
    post = int(stamp.timestamp() * 1000)
    base = {
        "homeserver": "https://example.org",
        "user_id": "@bot:example.org",
        "database": "db.sqlite",
        "rooms": {"submissions": ["!s:example.org"], "editors": "!e:example.org"},
        "editors": ["@ed:example.org"],
    }
    config = parse_config({**base, "ping": {"room": "!p:example.org"}}, tmp_path)
    store = await Store.open(tmp_path / "db.sqlite")
    try:
        samples = [  # (server, delay, pong time)
            ("old.example", 100, post - 8 * day),  # before the 7-day window
            ("in.example", 200, post - 6 * day),
            ("in.example", 301, post - 1 * day),
            ("late.example", 50, post + 2 * day),  # after the post time, still open
            ("fast.example", 9, post - day),  # under 10 ms
            ("slow.example", 600_001, post - day),  # over 10 minutes
            ("edge.example", 10, post - day),  # both limits are kept
            ("edge.example", 600_000, post - day),
        ]
        async with store.transaction():
            for n, (server, delay, ts) in enumerate(samples):
                await store.add_ping(
                    PingRecord(f"$pong{n}", f"$ping{n}", server, delay, ts, "@bot:example.org")
                )

        def edition(opened: int, published: int | None = None) -> Edition:
            return Edition(7, opened, published, None, None, None)

        def rows(found: tuple[PingRow, ...]) -> list[tuple[int, str, str]]:
            return [(r.rank, r.server, r.median_text) for r in found]

        # opened long ago: the window is window_days before the post time, open-ended
        got = await draft.ping_rows(store, config, edition(post - 20 * day), stamp)
        assert rows(got) == [
            (1, "late.example", "50"),
            (2, "in.example", "250.5"),
            (3, "edge.example", "300005"),
        ]
        # opened two days before: what came before the opening is another edition's
        got = await draft.ping_rows(store, config, edition(post - 2 * day), stamp)
        assert rows(got) == [
            (1, "late.example", "50"),
            (2, "in.example", "301"),
            (3, "edge.example", "300005"),
        ]
        # published: nothing after the publication counts
        got = await draft.ping_rows(store, config, edition(post - 20 * day, post), stamp)
        assert rows(got) == [(1, "in.example", "250.5"), (2, "edge.example", "300005")]
        short = parse_config(
            {**base, "ping": {"room": "!p:example.org", "window_days": 2, "top": 1}}, tmp_path
        )
        got = await draft.ping_rows(store, short, edition(post - 20 * day), stamp)
        assert rows(got) == [(1, "late.example", "50")]

        # stats_url: rows fetched from that URL for this edition win, from another URL never
        url = "http://127.0.0.1:9/stats.json"
        with_url = parse_config({**base, "ping": {"stats_url": url}}, tmp_path)
        cached = {"url": url, "rows": [[1, "neko.dev", 318], [2, "trygve.me", 532.5]]}
        async with store.transaction():
            await store.set_state("pingstat-fetch:7", json.dumps(cached))
        got = await draft.ping_rows(store, with_url, edition(post - 20 * day), stamp)
        assert rows(got) == [(1, "neko.dev", "318"), (2, "trygve.me", "532.5")]
        other = parse_config({**base, "ping": {"stats_url": url + "?x"}}, tmp_path)
        got = await draft.ping_rows(store, other, edition(post - 20 * day), stamp)
        assert rows(got)[0] == (1, "late.example", "50")
        # without stats_url the cache is not used at all
        got = await draft.ping_rows(store, config, edition(post - 20 * day), stamp)
        assert rows(got)[0] == (1, "late.example", "50")
        # a failing fetch says why and that the earlier rows stay
        warning = await draft.refresh_pingstat(store, with_url, edition(post - 20 * day))
        assert warning is not None and warning.startswith(
            f"Dept of Ping: pingstat: cannot fetch {url}"
        )
        assert warning.endswith("; the rows fetched from it earlier are shown")
        warning = await draft.refresh_pingstat(store, other, edition(post - 20 * day))
        assert warning is not None and warning.endswith("; the table is empty")
    finally:
        await store.close()

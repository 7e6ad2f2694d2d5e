"""Property-based tests of the event handlers against a real SQLite store (DESIGN invariants 1, 2).

Hypothesis generates sync batches: events of every kind the bot reads (messages, edits,
replies, media, reactions, redactions, commands, pings), with their fields sometimes right,
sometimes of the wrong type, sometimes absent, and event ids drawn from a small pool so that
relations, duplicates and replays meet each other. Each batch goes through the very code the
bot runs (``ingest.interpret`` and ``Handlers.apply`` via ``commit_batch``) into a real
database file. Whatever the input:

* no exception escapes a handler, and no event is logged as failed;
* the database is consistent: ``post N`` numbers are 1..n in each edition, every submission
  has its message and its first revision, stored text carries no control or bidi characters,
  and exactly one ✅ is owed per submission;
* replaying the same events changes nothing (invariant 2);
* a batch whose commit fails leaves the database exactly as it was, token included
  (invariant 1).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twimbot.config import Config, parse_config
from twimbot.handlers import Context, Handlers, commit_batch
from twimbot.ingest import BotIdentity, RoomRoles, interpret
from twimbot.matrix import RoomSnapshot
from twimbot.sanitize import strip_controls
from twimbot.store import Store

BOT = BotIdentity("@twimbot:example.org", "TWIM Bot")
SUB, ED, PING, OTHER = "!sub:x", "!ed:x", "!ping:x", "!other:x"
ALICE, BOB, EDITOR, MOD = "@alice:x", "@bob:x", "@editor:x", "@mod:x"
ROLES = {
    SUB: RoomRoles(submissions=True),
    ED: RoomRoles(editors=True),
    PING: RoomRoles(ping=True),
}
EVENT_IDS = [f"$e{i}" for i in range(12)]
NOW = 1_700_000_000_000

CONFIG: Config = parse_config(
    {
        "homeserver": "http://127.0.0.1:8008",
        "user_id": BOT.user_id,
        "database": "twimbot.db",
        "rooms": {"submissions": [SUB], "editors": ED},
        "editors": [EDITOR],
        "ping": {"room": PING},
        "ack": {"text": "thanks {user}"},
        "sections": [
            {"name": "todo", "title": "Unsorted", "emoji": "🗂️", "order": 1},
            {"name": "clients", "title": "Clients", "emoji": "📱", "order": 2},
        ],
        "projects": [
            {"name": "nheko", "title": "Nheko", "emoji": "Nheko", "default_section": "clients"}
        ],
    },
    Path("."),
)

# -- strategies -------------------------------------------------------------------------
#
# Mostly well-formed events, so that submissions, edits, reactions and redactions really meet
# (an event's relations point at earlier events of the run), with any field now and then of
# the wrong type or missing, and now and then an event that comes twice.

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws.

    The middle of the range, not 0: Hypothesis draws the bounds of an integer range far more
    often than the values between them.
    """
    return st.integers(0, n - 1).map(lambda k: k == n // 2)


def rarely_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``strategy``, now and then a value of any JSON type."""
    return one_in(40).flatmap(lambda odd: junk if odd else strategy)


news = st.text(max_size=60).map(lambda t: t + " and some news that is long enough")
triggered = st.one_of(
    news.map(lambda t: "TWIM: " + t),
    news.map(lambda t: "@twimbot: " + t),
    news.map(lambda t: "> <@bob:x> quoted\n\nTWIM: " + t),
)
body = st.one_of(
    news.map(lambda t: "TWIM: " + t),
    news.map(lambda t: "@twimbot: " + t),
    news.map(lambda t: "> <@bob:x> quoted\n\nTWIM: " + t),
    news,
    st.sampled_from(
        [
            "TWIM: short",
            "!ping",
            "TWIM:\u202e\x00\x07" + "x" * 40,
            "TWIM: " + "y" * 20_001,
            "!twim help",
            "!twim drop 1",
            "!twim project 1 nheko",
            "!twim show ²",
            "!render",
        ]
    ),
    st.text(max_size=40),
)
KEYS = ["✅", "⭕", "📱", "🗂️", "Nheko", "nheko ?", "post_1", "post_2", "x" * 1000]
reaction_key = one_in(5).flatmap(lambda odd: st.text(max_size=8) if odd else st.sampled_from(KEYS))
# Who does what: mostly the people who would, sometimes anyone (the bot itself included).
SENDERS = {
    "author": [ALICE, BOB, ALICE, BOB, ALICE],
    "react": [EDITOR, ALICE, EDITOR, BOB, MOD, EDITOR],
    "redact": [ALICE, MOD, BOB, EDITOR, ALICE],
    "command": [EDITOR, BOB, EDITOR],
}
anyone = st.sampled_from([ALICE, BOB, EDITOR, MOD, BOT.user_id])


def sender_for(action: str) -> st.SearchStrategy[Any]:
    kind = {"react": "react", "redact": "redact", "unreact": "redact", "command": "command"}
    usual = st.sampled_from(SENDERS[kind.get(action, "author")])
    return one_in(10).flatmap(lambda odd: anyone if odd else usual)


ACTIONS = [
    "submit",
    "submit",
    "submit",
    "plain",
    "edit",
    "edit",
    "reply",
    "media",
    "react",
    "react",
    "unreact",
    "redact",
    "command",
    "ping",
    "pong",
    "odd",
    "again",
]


@st.composite
def batches(draw: st.DrawFn) -> list[list[Any]]:
    """A run of events split into one to three sync batches."""
    actions = draw(st.lists(st.sampled_from(ACTIONS), min_size=10, max_size=40))
    made: list[Any] = []
    for i, action in enumerate(actions):
        dicts = [e for e in made if isinstance(e, dict) and isinstance(e.get("event_id"), str)]
        # Relations point at recent events first, mostly messages of the submissions room.
        ids = [e["event_id"] for e in reversed(dicts)]
        messages = [
            e["event_id"]
            for e in reversed(dicts)
            if e.get("type") == "m.room.message" and e.get("room_id") == SUB
        ]
        reactions = [e["event_id"] for e in reversed(dicts) if e.get("type") == "m.reaction"]
        pool = messages if messages and not draw(one_in(5)) else ids
        target = rarely_junk(st.sampled_from(pool)) if pool else junk
        room = SUB
        etype = "m.room.message"
        content: Any
        if action == "again" and made:
            made.append(draw(st.sampled_from(made)))  # the same event comes twice
            continue
        if action in ("submit", "plain", "again"):
            text = draw(triggered if action == "submit" else body if action == "again" else news)
            content = {
                "msgtype": draw(rarely_junk(st.just("m.text"))),
                "body": draw(rarely_junk(st.just(text))),
            }
            if draw(one_in(5)):
                content["m.mentions"] = draw(rarely_junk(st.just({"user_ids": [BOT.user_id]})))
        elif action == "edit":
            new_body = draw(body)
            content = {
                "msgtype": "m.text",
                "body": "* " + new_body,
                "m.new_content": draw(
                    rarely_junk(st.just({"msgtype": "m.text", "body": new_body}))
                ),
                "m.relates_to": draw(
                    rarely_junk(
                        st.fixed_dictionaries(
                            {"rel_type": st.just("m.replace"), "event_id": target}
                        )
                    )
                ),
            }
        elif action in ("reply", "media"):
            content = {
                "msgtype": draw(rarely_junk(st.sampled_from(["m.image", "m.file", "m.video"]))),
                "body": "screenshot.png",
                "url": draw(rarely_junk(st.sampled_from(["mxc://x/abc", "https://evil/x"]))),
                "info": draw(rarely_junk(st.just({"mimetype": "image/png"}))),
            }
            if action == "reply":
                content["m.relates_to"] = draw(
                    rarely_junk(
                        st.fixed_dictionaries(
                            {"m.in_reply_to": st.fixed_dictionaries({"event_id": target})}
                        )
                    )
                )
        elif action == "react":
            etype = "m.reaction"
            content = {
                "m.relates_to": draw(
                    rarely_junk(
                        st.fixed_dictionaries(
                            {
                                "rel_type": rarely_junk(st.just("m.annotation")),
                                "event_id": target,
                                "key": rarely_junk(reaction_key),
                            }
                        )
                    )
                )
            }
        elif action in ("redact", "unreact"):
            etype = "m.room.redaction"
            if action == "unreact" and reactions:
                content = {"redacts": draw(rarely_junk(st.sampled_from(reactions)))}
            else:
                content = {"redacts": draw(target)}
        elif action == "command":
            room = ED
            content = {"msgtype": "m.text", "body": draw(body)}
        elif action in ("ping", "pong"):
            room = PING
            content = {"msgtype": "m.text", "body": "!ping"}
            if action == "pong":
                content["pong"] = draw(
                    rarely_junk(
                        st.fixed_dictionaries(
                            {"ms": st.integers(), "from": st.text(max_size=8), "ping": target}
                        )
                    )
                )
        else:  # odd: anything at all
            etype = draw(
                st.sampled_from(["m.room.message", "m.reaction", "m.room.redaction"]) | junk
            )
            content = draw(junk)
            room = draw(st.sampled_from([SUB, ED, PING, OTHER]))
        if draw(one_in(80)):
            made.append(draw(junk))  # not even an object
            continue
        event: dict[str, Any] = {
            "type": etype,
            "event_id": f"$e{i}",
            "room_id": room,
            "sender": draw(rarely_junk(sender_for(action))),
            "origin_server_ts": draw(rarely_junk(st.just(NOW + i * 1000))),
            "content": draw(rarely_junk(st.just(content))),
        }
        if draw(one_in(60)):
            del event[draw(st.sampled_from(sorted(event)))]  # a field missing altogether
        made.append(event)
    cuts = sorted(draw(st.sets(st.integers(0, len(made)), max_size=2)))
    bounds = [0, *cuts, len(made)]
    return [made[a:b] for a, b in itertools.pairwise(bounds)]


# -- the harness ------------------------------------------------------------------------


class FailureLog(logging.Handler):
    """Collects records of events that failed to apply."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.failures.append(
            record.getMessage() + "\n" + (self.format(record) if record.exc_info else "")
        )


def context() -> Context:
    snapshot = RoomSnapshot(SUB, names={ALICE: "Alice", BOB: "Bob"}, levels={MOD: 50, EDITOR: 100})
    return Context(
        config=CONFIG,
        bot=BOT,
        roles=ROLES,
        editors_room=ED,
        rooms={SUB: snapshot, ED: RoomSnapshot(ED), PING: RoomSnapshot(PING)},
        now_ms=NOW,
    )


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}


def differences(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> str:
    """Which rows a replay added or changed, table by table, for the failure message."""
    lines = []
    for table in sorted(set(before) | set(after)):
        old, new = set(before.get(table, [])), set(after.get(table, []))
        for row in sorted(old - new, key=repr):
            lines.append(f"{table} - {row!r:.200}")
        for row in sorted(new - old, key=repr):
            lines.append(f"{table} + {row!r:.200}")
    return "\n".join(lines)


def without_sync_state(
    tables: dict[str, list[tuple[Any, ...]]],
) -> dict[str, list[tuple[Any, ...]]]:
    out = dict(tables)
    out["state"] = [r for r in tables["state"] if r[0] not in ("sync_token", "last_sync_at")]
    return out


def check_consistent(path: Path) -> None:
    with sqlite3.connect(path) as db:
        for (edition,) in db.execute("SELECT DISTINCT edition_id FROM submissions"):
            numbers = [
                n
                for (n,) in db.execute(
                    "SELECT number FROM submissions WHERE edition_id = ? ORDER BY number",
                    (edition,),
                )
            ]
            assert numbers == list(range(1, len(numbers) + 1)), numbers
        subs = db.execute("SELECT id, event_id, text FROM submissions").fetchall()
        for sub_id, sub_event, text in subs:
            assert db.execute("SELECT 1 FROM messages WHERE event_id = ?", (sub_event,)).fetchone()
            first = db.execute(
                "SELECT event_id FROM revisions WHERE submission_id = ? ORDER BY id LIMIT 1",
                (sub_id,),
            ).fetchone()
            assert first is not None, "a submission without its first revision"
            assert strip_controls(text) == text, "control characters were stored"
        for (text,) in db.execute("SELECT text FROM revisions"):
            assert strip_controls(text) == text, "control characters were stored in a revision"
        for (text,) in db.execute("SELECT body FROM messages"):
            assert strip_controls(text) == text, "control characters were stored in a message"
        acks: dict[str, int] = {}
        for (content,) in db.execute("SELECT content FROM outbox WHERE event_type = 'm.reaction'"):
            import json

            rel = json.loads(content)["m.relates_to"]
            if rel["key"] == CONFIG.ack.reaction:
                acks[rel["event_id"]] = acks.get(rel["event_id"], 0) + 1
        assert acks == {event: 1 for _, event, _ in subs}, "not exactly one ✅ per submission"
        problems = db.execute("PRAGMA foreign_key_check").fetchall()
        assert not problems, problems


_template: list[bytes] = []


async def fresh_store(path: Path) -> Store:
    """A migrated database, copied from one made once (migrating each time is slow)."""
    if not _template:
        made = path.with_name("template.db")
        store = await Store.open(made)
        await store.close()
        _template.append(made.read_bytes())
    path.write_bytes(_template[0])
    return await Store.open(path)


async def run_batches(path: Path, generated: list[list[Any]]) -> None:
    store = await fresh_store(path)
    failures = FailureLog()
    logging.getLogger("twimbot").addHandler(failures)
    try:
        handlers = Handlers(store, context())
        everything = [e for batch in generated for e in batch]
        # No exception escapes interpretation, whatever the input.
        for event in everything:
            room_id = event.get("room_id") if isinstance(event, dict) else None
            interpret(event, ROLES.get(room_id, RoomRoles()), CONFIG, BOT)  # type: ignore[arg-type]
        for n, batch in enumerate(generated):
            await commit_batch(handlers, batch, f"t{n}")
            assert await store.get_state("sync_token") == f"t{n}"
        assert not failures.failures, failures.failures[0]
        check_consistent(path)

        # Invariant 2: the same events again (as after a crash before the token was saved)
        # change nothing.
        before = without_sync_state(dump(path))
        await commit_batch(handlers, everything, "replayed")
        assert not failures.failures, failures.failures[0]
        after = without_sync_state(dump(path))
        assert after == before, "the replay changed:\n" + differences(before, after)

        # Invariant 1: a batch whose commit fails leaves no trace, token included.
        before = dump(path)
        async with store.transaction():
            await store._db.execute(
                "CREATE TEMP TRIGGER fail_token BEFORE UPDATE ON main.state"
                " WHEN NEW.key = 'sync_token' BEGIN SELECT RAISE(ABORT, 'injected'); END"
            )
        fresh = [
            {**e, "event_id": f"{e['event_id']}-new"}
            if isinstance(e, dict) and isinstance(e.get("event_id"), str)
            else e
            for e in everything
        ]
        try:
            await commit_batch(handlers, fresh, "never")
        except sqlite3.IntegrityError:
            pass
        else:
            raise AssertionError("the injected failure did not happen")
        assert dump(path) == before
        assert await store.get_state("sync_token") == "replayed"
    finally:
        logging.getLogger("twimbot").removeHandler(failures)
        await store.close()


@settings(
    # 75 examples keep the suite fast; TWIMBOT_PROPERTY_EXAMPLES=2000 for a deep run.
    max_examples=int(os.environ.get("TWIMBOT_PROPERTY_EXAMPLES", "75")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batches())
def test_any_events_keep_the_store_consistent_and_replays_change_nothing(
    generated: list[list[Any]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run_batches(Path(tmp) / "t.db", generated))

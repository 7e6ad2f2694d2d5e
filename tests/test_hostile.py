"""Hostile and broken input: each gets a clear outcome, and nothing else changes.

End to end on the real Synapse, a raw client sends whatever the homeserver accepts: wrong
types in ``m.relates_to``, unknown msgtypes, a body near Synapse's 64 KB event limit, control
and bidi characters, edits and deletions by someone else, reactions by non-editors,
commands from non-editors and commands with garbage arguments. What Synapse itself refuses
(a non-string ``body`` or ``msgtype``, a reaction key of 1,000 characters, someone else's
redaction) is covered at the handler level against a real store, as the same event could
still arrive over federation. Then the operator's side: a corrupt, truncated, empty or
foreign database file, a config with wrong types, a template with a syntax error.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_bot import download_draft
from test_reliability import db_rows
from world import NEWS, World

from twimbot.actor import ActorError, match
from twimbot.config import parse_config
from twimbot.handlers import Context, Handlers, commit_batch
from twimbot.ingest import BotIdentity, RoomRoles
from twimbot.matrix import RoomSnapshot
from twimbot.store import Store

STATE_TABLES = ("editions", "submissions", "revisions", "marks", "media")


def state(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """What an editor's draft is made of: every row of the tables that hold the news."""
    return {t: db_rows(world, f"SELECT * FROM {t} ORDER BY rowid") for t in STATE_TABLES}


def one_line_reply(reply: dict[str, Any]) -> str:
    body = str(reply["content"]["body"])
    assert "\n" not in body and "Traceback" not in body, body
    return body


async def test_hostile_events_end_to_end(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.write_config(
        rooms={"submissions": [world.submissions], "editors": world.editors_room},
        trigger={"max_length": 20_000},
    )
    await world.start_bot()
    alice, bob, editor, room = world.alice, world.bob, world.editor, world.submissions
    entry = await world.submit(alice, f"### Nheko\n\n{NEWS}")
    plain = await alice.send_text(room, f"just chatting, not news: {NEWS}")
    before = state(world)

    # -- each hostile event, with what must come of it -----------------------------------
    malformed: dict[str, str] = {}
    for name, content in {
        "m.relates_to is a string": {
            "msgtype": "m.text",
            "body": f"TWIM: {NEWS}",
            "m.relates_to": "x",
        },
        "m.relates_to is a list": {
            "msgtype": "m.text",
            "body": f"TWIM: {NEWS}",
            "m.relates_to": [1],
        },
        "m.in_reply_to is a string": {
            "msgtype": "m.text",
            "body": f"TWIM: {NEWS}",
            "m.relates_to": {"m.in_reply_to": entry},
        },
        "m.replace with a numeric target": {
            "msgtype": "m.text",
            "body": f"* TWIM: {NEWS}",
            "m.new_content": {"msgtype": "m.text", "body": f"TWIM: {NEWS}"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": 42},
        },
        "image with an https url": {
            "msgtype": "m.image",
            "body": "x.png",
            "url": "https://evil.example/x.png",
        },
    }.items():
        malformed[name] = await alice.send(room, "m.room.message", content)
    for name, content in {
        "reaction with a string relation": {"m.relates_to": "x"},
        "reaction with a list target": {
            "m.relates_to": {"rel_type": "m.annotation", "event_id": [entry], "key": "📱"}
        },
    }.items():
        malformed[name] = await editor.send(room, "m.reaction", content)
    unknown_msgtype = await alice.send_text(room, f"TWIM: {NEWS}", msgtype="org.example.custom")
    location = await alice.send_text(
        room, f"TWIM: {NEWS}", msgtype="m.location", extra_content={"geo_uri": "geo:0,0"}
    )
    # Synapse takes events up to 64 KB; this body is three times the length limit.
    huge = await alice.send_text(room, "TWIM: " + "x" * 60_000)
    controls = await bob.send_text(
        room, f"TWIM: \u202eevil\u202c \x1b[31mred\x1b[0m\x07 \u2066isolate\u2069 {NEWS}\x00"
    )
    long_key = await editor.react(room, entry, "📱" + "x" * 150)
    await bob.react(room, entry, "🌉")  # a section emoji from a non-editor
    await bob.react(room, plain, "⭕")  # a contributor may submit only their own message
    await bob.edit(room, entry, f"TWIM: hijacked by bob {NEWS}")
    too_long_edit = await alice.edit(room, entry, "TWIM: " + "y" * 25_000)
    with pytest.raises(ActorError) as refused:  # Synapse refuses someone else's redaction
        await bob.redact(room, entry)
    assert refused.value.status == 403
    await editor.send_text(room, "!twim drop 1")  # commands count in the editors room only

    # A last ordinary submission: once it is acknowledged, everything above was processed.
    last = await world.submit(alice, f"the last one {NEWS}")

    refusal = await alice.wait_for(match(sender=world.bot_user.user_id, in_reply_to=huge))
    assert "too long: 60000 characters, at most 20000" in one_line_reply(refusal)
    edit_refusal = await alice.wait_for(
        match(sender=world.bot_user.user_id, in_reply_to=too_long_edit)
    )
    assert "the previous text stays" in one_line_reply(edit_refusal)
    for name, event_id in malformed.items():
        assert any(
            f"ignored malformed event {event_id}" in r.getMessage() for r in caplog.records
        ), f"{name}: no log line saying why it was ignored"

    # -- and nothing else changed ---------------------------------------------------------
    after = state(world)
    assert after["editions"] == before["editions"]
    assert after["marks"] == [], "a non-editor's or an overlong reaction became a mark"
    subs = {r[3]: r for r in db_rows(world, "SELECT * FROM submissions")}  # by event id
    assert set(subs) == {entry, controls, last}
    cleaned = subs[controls][8]
    assert cleaned == f"evil [31mred[0m isolate {NEWS}", repr(cleaned)
    original = db_rows(
        world, "SELECT text, redacted, dropped FROM submissions WHERE event_id = ?", (entry,)
    )
    assert original == [(f"### Nheko\n\n{NEWS}", 0, 0)]
    applied = db_rows(
        world,
        "SELECT r.event_id FROM revisions r JOIN submissions s ON s.id = r.submission_id"
        " WHERE s.event_id = ? AND r.applied = 1",
        (entry,),
    )
    assert applied == [(entry,)], "an edit by someone else, or an overlong one, was applied"
    assert db_rows(world, "SELECT event_id FROM media") == [], "a non-mxc image was recorded"
    for event_id in (unknown_msgtype, location, long_key, plain):
        assert event_id not in subs
    # No acknowledgement for anything refused or ignored.
    acked = db_rows(world, "SELECT content FROM outbox WHERE event_type = 'm.reaction'")
    assert len(acked) == 3


GARBAGE_COMMANDS = [
    ("!twim show abc", "'abc' is not a post number"),
    ("!twim show ²", "'²' is not a post number"),
    ("!twim show -1", "is not a post number"),
    ("!twim show 99999999999", "is not a post number"),
    ("!twim show 1 2 3", "usage: !twim show N"),
    ("!twim project 1 ../../etc/passwd", "no project called"),
    ("!twim section 1 <script>alert(1)</script>", "no section called"),
    ("!twim attach 1 not-an-event", "is not an image, video or file"),
    ("!twim list no-such-section", "no section or project called"),
    ("!twim \u202eshow 1", "unknown command"),
    ("!twim " + "x" * 3000, "unknown command"),
    ("!twim project", "usage: !twim project N NAME"),
    ("!twim publish now please", "usage: !twim publish"),
]


async def test_commands_from_non_editors_and_garbage_arguments(world: World) -> None:
    await world.start_bot()
    await world.submit(world.alice, f"### Nheko\n\n{NEWS}")
    before = state(world)
    await world.editor.invite(world.editors_room, world.bob.user_id)
    await world.bob.join(world.editors_room)
    refusal = await world.command("!twim publish confirm", actor=world.bob)
    assert one_line_reply(refusal) == "Sorry, only editors can use twimbot commands."
    for body, expected in GARBAGE_COMMANDS:
        reply = one_line_reply(await world.command(body))
        assert expected in reply, (body, reply)
        assert len(reply) < 400, "the reply echoes a huge argument"
    assert state(world) == before
    # The bot is still fine, and bob's drop in between did nothing.
    await world.bob.send_text(world.editors_room, "!twim drop 1")
    reply = await world.command("!twim show 1")
    assert "draft: in the draft" in reply["content"]["body"], reply["content"]["body"]


async def test_a_broken_template_is_reported_with_its_line_and_the_bot_goes_on(
    world: World,
) -> None:
    template = world.dir / "template.md"
    template.write_text("+++\ntitle = 'x'\n+++\n{% for s in sections %}\n{{ s.title }\n")
    world.write_config(template=str(template))
    await world.start_bot()
    await world.submit(world.alice)
    reply = one_line_reply(await world.command("!twim draft"))
    assert "the template failed" in reply and "line 5" in reply, reply
    # A fixed template, then a broken one again: reload keeps the good one.
    template.write_text("{% for s in sections %}{{ s.title }}\n{% endfor %}")
    reloaded = await world.command("!twim reload")
    assert reloaded["content"]["body"].startswith("Reloaded"), reloaded["content"]
    template.write_text("{% if %}")
    reload = await world.command("!twim reload")
    assert "refused; the old config and template stay" in reload["content"]["body"]
    assert "Traceback" not in reload["content"]["body"]
    drafted = (await world.command("!twim draft"))["content"]
    assert drafted["body"].startswith("Draft of edition") or drafted["msgtype"] == "m.file"


# -- what Synapse refuses, at the handler level with a real store ---------------------------

BOT = BotIdentity("@twimbot:x")
SUB, ED = "!sub:x", "!ed:x"
CONFIG = parse_config(
    {
        "homeserver": "http://127.0.0.1:8008",
        "user_id": BOT.user_id,
        "database": "t.db",
        "rooms": {"submissions": [SUB], "editors": ED},
        "editors": ["@editor:x"],
        "sections": [{"name": "clients", "title": "Clients", "emoji": "📱"}],
    },
    Path("."),
)
ENTRY = {
    "type": "m.room.message",
    "event_id": "$entry",
    "room_id": SUB,
    "sender": "@alice:x",
    "origin_server_ts": 1_700_000_000_000,
    "content": {"msgtype": "m.text", "body": f"TWIM: {NEWS}"},
}


def message(content: Any, **fields: Any) -> dict[str, Any]:
    return {
        **ENTRY,
        "event_id": "$hostile",
        "origin_server_ts": 1_700_000_001_000,
        "content": content,
        **fields,
    }


HANDLER_LEVEL: list[tuple[str, dict[str, Any]]] = [
    ("body is a number", message({"msgtype": "m.text", "body": 5})),
    ("body is missing", message({"msgtype": "m.text"})),
    ("body is an object", message({"msgtype": "m.text", "body": {"text": "TWIM: x"}})),
    ("msgtype is a number", message({"msgtype": 7, "body": f"TWIM: {NEWS}"})),
    ("content is a list", message([1, 2])),
    (
        "timestamp beyond Matrix's integers",
        message({"msgtype": "m.text", "body": "hi"}, origin_server_ts=2**70),
    ),
    (
        "sender is not a string",
        message({"msgtype": "m.text", "body": f"TWIM: {NEWS}"}, sender=["@a:x"]),
    ),
    (
        "m.new_content body is a number",
        message(
            {
                "msgtype": "m.text",
                "body": "* x",
                "m.new_content": {"msgtype": "m.text", "body": 3},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$entry"},
            }
        ),
    ),
    (
        "a 1,000-character reaction key from an editor",
        {
            **message(
                {
                    "m.relates_to": {
                        "rel_type": "m.annotation",
                        "event_id": "$entry",
                        "key": "📱" * 1000,
                    }
                }
            ),
            "type": "m.reaction",
            "sender": "@editor:x",
        },
    ),
    (
        "a redaction by someone who is neither author nor moderator",
        {**message({"redacts": "$entry"}), "type": "m.room.redaction", "sender": "@bob:x"},
    ),
    (
        "an edit by someone else",
        message(
            {
                "msgtype": "m.text",
                "body": "* TWIM: mine now",
                "m.new_content": {"msgtype": "m.text", "body": f"TWIM: mine now {NEWS}"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$entry"},
            },
            sender="@bob:x",
        ),
    ),
]


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in (*STATE_TABLES, "outbox")
        }


@pytest.mark.parametrize(("name", "event"), HANDLER_LEVEL, ids=[n for n, _ in HANDLER_LEVEL])
async def test_what_synapse_refuses_changes_nothing_here_either(
    tmp_path: Path, name: str, event: dict[str, Any]
) -> None:
    path = tmp_path / "t.db"
    store = await Store.open(path)
    try:
        ctx = Context(
            config=CONFIG,
            bot=BOT,
            roles={SUB: RoomRoles(submissions=True), ED: RoomRoles(editors=True)},
            editors_room=ED,
            rooms={SUB: RoomSnapshot(SUB, levels={"@editor:x": 100}, redact_level=50)},
            now_ms=1_700_000_002_000,
        )
        handlers = Handlers(store, ctx)
        await commit_batch(handlers, [ENTRY], "t1")
        before = dump(path)
        assert len(before["submissions"]) == 1
        assert await handlers.apply_event(event, RoomRoles(submissions=True)), "it raised"
        assert dump(path) == before, name
    finally:
        await store.close()


# -- the operator's side ----------------------------------------------------------------------


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWIMBOT_")}
    env["TWIMBOT_ACCESS_TOKEN"] = "syt_not_used_before_the_database_opens"
    return subprocess.run(
        [sys.executable, "-m", "twimbot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def config_file(tmp_path: Path, **overrides: Any) -> Path:
    data: dict[str, Any] = {
        # Nothing listens here: a bot that got past the database would wait, not exit.
        "homeserver": "http://127.0.0.1:9",
        "user_id": "@bot:example.org",
        "database": "twimbot.db",
        "rooms": {"submissions": ["!s:example.org"], "editors": "!e:example.org"},
        "editors": ["@ed:example.org"],
        **overrides,
    }
    path = tmp_path / "twimbot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def healthy_database(path: Path) -> bytes:
    """A real twimbot database with some rows, its WAL folded in; returns its bytes."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.read_bytes()


@pytest.fixture
async def database(tmp_path: Path) -> bytes:
    store = await Store.open(tmp_path / "twimbot.db")
    edition = await store.open_edition()
    async with store.transaction():
        for i in range(200):
            await store.enqueue("!r:x", "m.room.message", {"body": "x" * 300, "n": i})
        await store.set_state("sync_token", "s1")
    assert edition.id == 1
    await store.close()
    return healthy_database(tmp_path / "twimbot.db")


@pytest.mark.parametrize(
    "damage",
    [
        "garbage",
        "zero bytes",
        "cut to 100 bytes",
        "cut after the header page",
        "cut in half",
        "flipped bytes",
    ],
)
def test_a_damaged_database_is_refused_at_start_and_never_overwritten(
    tmp_path: Path, database: bytes, damage: str
) -> None:
    db = tmp_path / "twimbot.db"
    damaged = {
        "garbage": b"not a database at all\n" * 50,
        "zero bytes": b"",
        "cut to 100 bytes": database[:100],
        "cut after the header page": database[:4096],
        "cut in half": database[: len(database) // 2],
        "flipped bytes": database[:8192]
        + bytes(b ^ 0xFF for b in database[8192:12288])
        + database[12288:],
    }[damage]
    db.write_bytes(damaged)
    config = config_file(tmp_path)
    for verb in ("run", "draft"):
        result = run([verb, "-c", str(config)], tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 1, (verb, output)
        assert "left untouched" in output and "Traceback" not in output, output
        assert len(output.strip().splitlines()) == 1, output
        assert db.read_bytes() == damaged, f"{verb} changed the damaged file"


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "twimbot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('alice')")
    data = db.read_bytes()
    result = run(["run", "-c", str(config_file(tmp_path))], tmp_path)
    assert result.returncode == 1
    assert "another program" in result.stderr and "Traceback" not in result.stderr
    assert db.read_bytes() == data


def test_a_config_with_wrong_types_lists_every_problem(tmp_path: Path) -> None:
    config = config_file(
        tmp_path,
        editors="@ed:example.org",  # a single string is accepted as a list of one
        trigger={"min_length": "thirty", "prefixes": "TWIM", "mention": "sometimes"},
        sections={"name": "x"},
        projects=[{"name": 5, "title": ["t"]}],
        media={"attach_window_minutes": -3},
        ping={"room": 42},
    )
    for verb in ("check-config", "run"):
        result = run([verb, "-c", str(config)], tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        for key in (
            "trigger.min_length",
            "trigger.mention",
            "sections",
            "projects[0].name",
            "projects[0].title",
            "media.attach_window_minutes",
            "ping.room",
        ):
            assert key in result.stderr, (verb, key, result.stderr)
    assert not (tmp_path / "twimbot.db").exists()


def test_a_template_syntax_error_is_named_by_check_config(tmp_path: Path) -> None:
    (tmp_path / "t.md").write_text("ok\n{{ sections | }}\n")
    result = run(["check-config", "-c", str(config_file(tmp_path, template="t.md"))], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "template" in result.stderr and "line 2" in result.stderr, result.stderr


async def test_the_bot_waits_for_a_database_someone_else_is_writing(tmp_path: Path) -> None:
    # A write lock held by another process (a backup tool, say) makes the bot wait for it
    # (busy_timeout), not fail the batch.
    path = tmp_path / "t.db"
    store = await Store.open(path)
    other = sqlite3.connect(path, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO state (key, value) VALUES ('x', 'y')")

    async def release() -> None:
        await asyncio.sleep(1)
        other.commit()

    task = asyncio.create_task(release())
    try:
        async with store.transaction():
            await store.set_state("sync_token", "s9")
        await task
        assert await store.get_state("x") == "y"
        assert await store.get_state("sync_token") == "s9"
    finally:
        other.close()
        await store.close()


HOSTILE_NEWS = (
    "TWIM: shipped it. {{ config }} and {% for s in sections %}{{ s }}{% endfor %}\n\n"
    '{{ youtube(id="dQw4w9WgXcQ") }} {% raw %}raw{% endraw %} {{< hugo-shortcode >}}\n\n'
    "<script>alert(1)</script> <img src=x onerror=alert(2)> <br> <sub>fine</sub>\n\n"
    "[click](javascript:alert(3)) ![pic](data:text/html;base64,PHNjcmlwdD4=) "
    '[docs](https://example.org/docs)\n\n+++\ntitle = "injected"\n+++'
)


async def test_contributor_text_and_names_cannot_break_the_post(world: World) -> None:
    world.write_config(post={"author": ""})  # the editor's display name goes into the post
    await world.alice.set_displayname('Al"ice\n+++\ntitle = "pwned"\n[extra]')
    await world.editor.set_displayname('Ed "+++" \n[taxonomies]\nauthor = ["x"]')
    await world.start_bot()
    event_id = await world.alice.send_text(world.submissions, HOSTILE_NEWS)
    await world.alice.wait_for(
        match(event_type="m.reaction", sender=world.bot_user.user_id, relates_to=event_id),
        timeout=15,
    )
    markdown = await download_draft(world)
    lines = markdown.split("\n")
    # The front matter is exactly the first block between two +++ lines, and it is TOML
    # with the configured title.
    assert lines[0] == "+++"
    end = lines.index("+++", 1)
    front = tomllib.loads("\n".join(lines[1:end]))
    assert front["title"].startswith(world.config.post.title + " 20")
    assert "extra" not in front and set(front["taxonomies"]) <= {"author", "category"}
    assert all(line != "+++" for line in lines[end + 1 :]), "a +++ line in the body"
    body = "\n".join(lines[end + 1 :])
    # Template code in the news is text: never run by twimbot, never by Zola or Hugo.
    assert "{{" not in markdown and "{%" not in markdown
    assert "{\u200b{ config }}" in body and "{\u200b% for s in sections %}" in body
    assert world.synapse.url not in markdown and "Config(" not in markdown
    # Raw HTML is escaped but for the safe list; dangerous link targets are gone.
    assert "<script" not in markdown and "<img" not in markdown
    assert "&lt;script>" in body and "<br>" in body and "<sub>fine</sub>" in body
    assert "javascript:" not in markdown.lower() and "data:text" not in markdown
    assert "click" in body and "(https://example.org/docs)" in body
    # The hostile display name is one line of plain text in the attribution.
    attribution = next(line for line in lines if world.alice.user_id in line)
    assert attribution.startswith("[Al") and attribution.endswith(")" + attribution.split(")")[-1])
    assert "pwned" in attribution and attribution.count("](https://matrix.to/#/") == 1

"""The editors' controls end to end on the real Synapse (SPEC §5, §6): every ``!twim`` command
and hebbot alias, refusals for non-editors (the ``editors`` list and ``editor_power_level``,
room creators included), and an editor's choice winning over automation across edits.

Worlds cost about a second each, so each test walks through several commands in one world.
"""

from __future__ import annotations

import asyncio
from typing import Any

from world import NEWS, World, until

from twimbot.handlers import effective_assignment
from twimbot.model import Assignment, Source

NHEKO_NEWS = f"### Nheko\n\n{NEWS}"
# nothing in it names a project or a department, and no word of it is one the learned
# section words know (even ordinary prose leans towards some department): it stays unsorted
PLAIN_NEWS = "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip."
SYNAPSE_NEWS = f"Synapse 1.99 is out. {NEWS}"


def body(event: dict[str, Any]) -> str:
    return str(event["content"]["body"])


def reply_to(event: dict[str, Any]) -> str | None:
    rel = event.get("content", {}).get("m.relates_to", {})
    return rel.get("m.in_reply_to", {}).get("event_id") if isinstance(rel, dict) else None


def assert_readable_notice(event: dict[str, Any]) -> None:
    """SPEC §6: replies are notices with an HTML body and a plain-text fallback."""
    content = event["content"]
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"].startswith("<")
    assert content["body"] and "<" not in content["body"].split("\n", 1)[0]


async def assignment_of(world: World, event_id: str) -> Assignment:
    store = await world.store()
    sub = await store.submission_by_event(event_id)
    assert sub is not None
    return await effective_assignment(store, world.config, sub)


async def no_reply_to(world: World, event_id: str) -> bool:
    """True when the editor, having synced past it, saw no reply to ``event_id``."""
    return not [e for e in world.editor.pending_events if reply_to(e) == event_id]


async def test_every_command_and_alias(world: World) -> None:
    await world.start_bot()
    nheko = await world.submit(world.alice, NHEKO_NEWS)
    plain = await world.submit(world.bob, PLAIN_NEWS)
    synapse = await world.submit(world.alice, SYNAPSE_NEWS)

    reply = await world.command("!twim help")
    assert_readable_notice(reply)
    for word in ("help", "status", "list", "show N", "project N NAME", "section N NAME"):
        assert f"!twim {word}" in body(reply)
    assert "!render = !twim draft" in body(reply)
    assert body(await world.command("!twim")) == body(reply)  # a bare !twim is help

    # status: totals, per section, and every unsorted entry with its number and first words
    reply = await world.command("!twim status")
    assert_readable_notice(reply)
    text = body(reply)
    assert "3 entries, 1 unsorted" in text
    assert "Dept of Clients 📱: 1" in text and "Dept of Servers 🏢: 1" in text
    assert "Unsorted:\npost 2 by Bob [the builder](x): Ut enim ad minim veniam" in text
    html_body = reply["content"]["formatted_body"]
    assert (
        "<p><b>Unsorted:</b></p><ul><li>post 2 by Bob [the builder](x): Ut enim ad minim"
        in html_body
    )
    assert body(await world.command("!status")) == text  # hebbot's alias

    # list: all, or by section / project name, title or emoji key, any case
    reply = await world.command("!twim list")
    assert_readable_notice(reply)
    assert body(reply).splitlines()[0] == "3 entries in the open edition"
    # first words without Markdown marks
    assert "post 1 by Alice → Nheko / Dept of Clients 📱 (auto): Nheko we released" in body(reply)
    for query in ("clients", "DEPT OF CLIENTS", "📱", "nheko", "NHEKO"):
        listed = body(await world.command(f"!twim list {query}"))
        assert listed.splitlines()[0] == f"1 entry in {query}", listed
        assert "post 1 by Alice" in listed
    assert "post 3 by Alice" in body(await world.command("!twim list Synapse"))
    reply = await world.command("!twim list nowhere")
    assert body(reply) == "no section or project called 'nowhere'; see !twim sections"

    # show: text, sender, project and section with source and reason, media
    reply = await world.command("!twim show 1")
    assert_readable_notice(reply)
    text = body(reply)
    assert text.startswith("post 1\nfrom: Alice (" + world.alice.user_id + ")")
    assert 'project: Nheko — auto: tagged "### Nheko" on the first line' in text
    assert "section: Dept of Clients 📱 — auto: default section of project Nheko" in text
    assert "media: none" in text
    assert text.endswith(NHEKO_NEWS)
    assert "<blockquote>### Nheko<br><br>we released" in reply["content"]["formatted_body"]
    assert "section: TODO UNKNOWN SECTION (unsorted) — auto: fallback" in body(
        await world.command("!twim show post_2")
    )

    # project and section: by name, title or emoji key; the editor's choice shows as such
    reply = await world.command("!twim project 2 CONDUIT")
    assert_readable_notice(reply)
    assert body(reply).startswith("post 2 by Bob [the builder](x) → Conduit / Dept of Servers")
    assert "(editor)" in body(reply)
    got = await assignment_of(world, plain)
    assert (got.project.name, got.project.source) == ("conduit", Source.EDITOR)
    assert got.section.name == "servers"
    reply = await world.command("!twim section 2 📱")
    got = await assignment_of(world, plain)
    assert (got.project.name, got.section.name, got.section.source) == (
        "conduit",
        "clients",
        Source.EDITOR,
    )
    await world.command("!twim section 3 dept of bridges")
    assert (await assignment_of(world, synapse)).section.name == "bridges"
    await world.command("!twim project 1 none")
    got = await assignment_of(world, nheko)
    assert (got.project.name, got.project.source, got.section.name) == (
        None,
        Source.EDITOR,
        "clients",
    )
    # auto withdraws the editors' choices of that kind
    await world.command("!twim project 1 auto")
    assert (await assignment_of(world, nheko)).project.name == "nheko"

    # drop and restore
    reply = await world.command("!twim drop 3")
    assert body(reply) == "post 3 by Alice dropped from the draft"
    assert "2 entries, 0 unsorted" in body(await world.command("!twim status"))
    reply = await world.command("!twim restore 3")
    assert body(reply) == "post 3 by Alice restored to the draft"

    # the configured projects and sections, and their hebbot aliases
    reply = await world.command("!twim projects")
    assert_readable_notice(reply)
    assert body(reply).splitlines()[0] == "3 projects"
    assert "Nheko — name nheko → Dept of Clients 📱" in body(reply)
    assert body(await world.command("!list-projects")) == body(reply)
    reply = await world.command("!twim sections")
    assert body(reply).splitlines()[0] == "5 sections"
    assert "Dept of Bridges 🌉 — name bridges" in body(reply)
    assert "TODO UNKNOWN SECTION — name todo, key 🗂️" in body(reply)
    assert body(await world.command("!list-sections")) == body(reply)

    # bad arguments: a one-line usage hint
    for command, answer in [
        ("!twim project 2", "usage: !twim project N NAME"),
        ("!twim project 2 nosuch", "no project called 'nosuch'; see !twim projects"),
        ("!twim section 2 nosuch", "no section called 'nosuch'; see !twim sections"),
        ("!twim show abc", "'abc' is not a post number"),
        ("!twim drop 9", "there is no post 9 in the open edition"),
        ("!twim status now", "usage: !twim status"),
    ]:
        reply = await world.command(command)
        assert body(reply) == answer
        assert_readable_notice(reply)

    # !render is the draft: an unsorted entry is in it, under the fallback section, and the
    # summary counts it
    await world.command("!twim section 2 auto")
    await world.command("!twim project 2 auto")
    sent = await world.editor.send_text(world.editors_room, "!render")
    summary = await world.editor.wait_for(
        lambda e: reply_to(e) == sent and e["content"].get("msgtype") == "m.notice", timeout=20
    )
    assert "3 entries in 3 sections, 1 unsorted" in body(summary)
    files = [e for e in world.editor.pending_events if reply_to(e) == sent]
    md = next(e for e in files if body(e).endswith(".md"))
    markdown = (await world.editor.download(md["content"]["url"])).decode("utf-8")
    assert "## TODO UNKNOWN SECTION" in markdown
    assert f"> {PLAIN_NEWS}" in markdown


async def test_editor_choice_wins_over_auto_across_edits(world: World) -> None:
    await world.start_bot()
    event_id = await world.submit(world.alice, SYNAPSE_NEWS)
    store = await world.store()
    assert (await world.submission(event_id)).auto_project == "synapse"

    await world.command("!twim project 1 nheko")
    reaction = await world.editor.react(world.submissions, event_id, "🌉")
    await until(
        lambda: _section_is(world, event_id, "bridges"), 10, "the editor's section by reaction"
    )

    # the author rewrites the entry about another project: automation changes its mind,
    # the editor's choices stay
    await world.alice.edit(world.submissions, event_id, f"TWIM: Conduit 0.7 is out. {NEWS}")

    async def reclassified() -> bool:
        sub = await store.submission_by_event(event_id)
        return sub is not None and sub.auto_project == "conduit"

    await until(reclassified, 10, "re-classification after the edit")
    got = await assignment_of(world, event_id)
    assert (got.project.name, got.project.source) == ("nheko", Source.EDITOR)
    assert (got.section.name, got.section.source) == ("bridges", Source.EDITOR)
    assert "Nheko / Dept of Bridges 🌉 (editor)" in body(await world.command("!twim list"))

    # removing the reaction takes back only that choice: the editor's project brings its
    # default section
    await world.editor.redact(world.submissions, reaction)
    await until(lambda: _section_is(world, event_id, "clients"), 10, "the reaction's removal")
    assert (await assignment_of(world, event_id)).project.name == "nheko"

    # withdrawing the command's choice too: the automatic choice of the edited text is back
    await world.command("!twim project 1 auto")
    got = await assignment_of(world, event_id)
    assert (got.project.name, got.project.source, got.section.name) == (
        "conduit",
        Source.AUTO,
        "servers",
    )
    text = body(await world.command("!twim show 1"))
    assert "project: Conduit — auto: " in text and "Conduit 0.7 is out" in text

    # the editor's project for this sender guides the classification of her next entry
    await world.command("!twim project 1 nheko")
    second = await world.submit(world.alice, NEWS)
    got = await assignment_of(world, second)
    assert (got.project.name, got.project.source) == ("nheko", Source.AUTO)
    assert got.project.reason == "editor assigned Nheko to this sender before"


async def _section_is(world: World, event_id: str, name: str) -> bool:
    return (await assignment_of(world, event_id)).section.name == name


async def test_who_may_command(world: World) -> None:
    # bob is an editor by the list; the room's creator (the editor) only by power level
    world.write_config(editors=[world.bob.user_id], editor_power_level=50)
    for actor in (world.alice, world.bob):
        await world.editor.invite(world.editors_room, actor.user_id)
        await actor.join(world.editors_room)
    await world.start_bot()

    # the creator of a room version 12 room has unlimited power, above any threshold
    assert "entries" in body(await world.command("!twim status"))
    assert "entries" in body(await world.command("!twim status", actor=world.bob))

    reply = await world.command("!twim status", actor=world.alice)
    assert body(reply) == "Sorry, only editors can use twimbot commands."
    assert_readable_notice(reply)
    # at most one refusal a minute: her next command gets no answer at all
    ignored = await world.alice.send_text(world.editors_room, "!twim drop 1")

    # a power level at the threshold makes her an editor
    await world.editor.set_power_level(world.editors_room, world.alice.user_id, 50)
    await asyncio.sleep(0.5)  # the power level reaches the bot before her next command
    assert "5 sections" in body(await world.command("!twim sections", actor=world.alice))

    # commands in a submissions room are not commands
    elsewhere = await world.bob.send_text(world.submissions, "!twim status")

    # without editor_power_level, power levels make nobody an editor
    world.write_config(editors=[world.bob.user_id])
    assert body(await world.command("!twim reload", actor=world.bob)).startswith("Reloaded")
    reply = await world.command("!twim status")
    assert body(reply) == "Sorry, only editors can use twimbot commands."
    assert "entries" in body(await world.command("!twim status", actor=world.bob))

    assert await no_reply_to(world, ignored)
    assert not [e for e in world.bob.pending_events if reply_to(e) == elsewhere]
    store = await world.store()
    assert await store.pending_commands() == []  # the ignored one was handled, not left over
    edition = await store.open_edition()
    assert await store.submissions(edition.id) == []


def test_every_hebbot_command_is_recognised_and_answered() -> None:
    # ingest recognises a command by its first word; commands answers it: the two lists
    # must agree, or a hebbot command would be taken for chat or answered "unknown"
    from twimbot.commands import ALIASES, HEBBOT_ANSWERS, TABLE
    from twimbot.ingest import COMMAND_ALIASES, is_command

    assert set(COMMAND_ALIASES) == set(ALIASES) | set(HEBBOT_ANSWERS)
    assert set(ALIASES.values()) <= set(TABLE)
    hebbot = ["!about", "!clear", '!details "term"', "!list-config", "!list-projects"]
    hebbot += ["!list-sections", "!render", "!restart", '!say "message"', "!status"]
    hebbot += ["!update-config"]
    assert all(is_command(c) for c in hebbot)
    assert not is_command("!sayonara")

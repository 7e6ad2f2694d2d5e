"""End to end on the real Synapse: submissions in, acknowledgements, edits, redactions,
editor reactions, the draft, and a restart with messages sent while the bot was down."""

from __future__ import annotations

import asyncio
from typing import Any

from world import NEWS, World, until

from twimbot.actor import match


def reply_to(event: dict[str, Any]) -> str | None:
    rel = event.get("content", {}).get("m.relates_to", {})
    return rel.get("m.in_reply_to", {}).get("event_id") if isinstance(rel, dict) else None


async def test_submission_is_stored_acknowledged_and_announced(world: World) -> None:
    await world.start_bot()
    event_id = await world.alice.send_text(world.submissions, f"TWIM: ### Nheko\n\n{NEWS}")
    ack = await world.alice.wait_for(
        match(event_type="m.reaction", sender=world.bot_user.user_id, relates_to=event_id),
        timeout=10,
    )
    assert ack["content"]["m.relates_to"]["key"] == "✅"
    sub = await world.submission(event_id)
    assert (sub.number, sub.sender, sub.sender_name) == (1, world.alice.user_id, "Alice")
    assert sub.text == f"### Nheko\n\n{NEWS}"
    line = await world.editor.wait_for(
        match(
            room_id=world.editors_room,
            sender=world.bot_user.user_id,
            body_contains="post 1 by Alice",
        ),
        timeout=10,
    )
    assert "Nheko / Dept of Clients 📱 (auto)" in line["content"]["body"]


async def test_too_short_gets_one_notice_and_nothing_is_stored(world: World) -> None:
    await world.start_bot()
    event_id = await world.alice.send_text(world.submissions, "TWIM: too short")
    notice = await world.alice.wait_for(
        lambda e: e.get("sender") == world.bot_user.user_id and reply_to(e) == event_id,
        timeout=10,
    )
    assert notice["content"]["msgtype"] == "m.notice"
    assert "too short" in notice["content"]["body"] and "30" in notice["content"]["body"]
    store = await world.store()
    assert await store.submission_by_event(event_id) is None
    edition = await store.open_edition()
    assert await store.submissions(edition.id) == []


async def test_edit_by_sender_replaces_text_and_keeps_history(world: World) -> None:
    await world.start_bot()
    event_id = await world.submit(world.alice)
    await world.alice.edit(world.submissions, event_id, f"TWIM: {NEWS} (now with Synapse)")
    # an edit by someone else is ignored
    await world.bob.edit(world.submissions, event_id, "TWIM: hijacked text that is long enough!")
    store = await world.store()

    async def edited() -> bool:
        sub = await store.submission_by_event(event_id)
        return sub is not None and sub.text.endswith("(now with Synapse)")

    await until(edited, 10, "the edit")
    await asyncio.sleep(0.5)  # let the intruder's edit arrive too
    sub = await world.submission(event_id)
    assert sub.text == f"{NEWS} (now with Synapse)"
    revisions = await store.revisions(sub.id)
    assert [r[1] for r in revisions] == [NEWS, f"{NEWS} (now with Synapse)"]


async def test_edit_that_adds_the_trigger_makes_a_submission(world: World) -> None:
    await world.start_bot()
    event_id = await world.alice.send_text(world.submissions, NEWS)
    await world.alice.edit(world.submissions, event_id, f"TWIM: {NEWS}")
    await world.alice.wait_for(
        match(event_type="m.reaction", sender=world.bot_user.user_id, relates_to=event_id),
        timeout=10,
    )
    sub = await world.submission(event_id)
    assert sub.text == NEWS and sub.via == "prefix"


async def test_redaction_by_sender_or_moderator_leaves_the_draft(world: World) -> None:
    await world.start_bot()
    first = await world.submit(world.alice)
    second = await world.submit(world.bob)
    await world.alice.redact(world.submissions, first)
    await world.editor.redact(world.submissions, second)  # the room creator may redact
    store = await world.store()

    async def both_redacted() -> bool:
        subs = [await store.submission_by_event(e) for e in (first, second)]
        return all(s is not None and s.redacted for s in subs)

    await until(both_redacted, 10, "both redactions")
    markdown = await download_draft(world)
    assert NEWS not in markdown


async def test_editor_reaction_sets_section_and_removal_restores_auto(world: World) -> None:
    await world.start_bot()
    event_id = await world.submit(world.alice, f"Synapse 1.99 is out. {NEWS}")
    store = await world.store()
    sub = await world.submission(event_id)
    assert sub.auto_project == "synapse"
    # a non-editor's reaction does nothing
    await world.bob.react(world.submissions, event_id, "🌉")
    reaction = await world.editor.react(world.submissions, event_id, "🌉")

    async def section_is(name: str) -> bool:
        from twimbot.handlers import effective_assignment

        current = await store.submission_by_event(event_id)
        assert current is not None
        return (await effective_assignment(store, world.config, current)).section.name == name

    await until(lambda: section_is("bridges"), 10, "editor section")
    # The editor's section wins; the auto project (default section servers) is dropped.
    from twimbot.handlers import effective_assignment

    current = await store.submission_by_event(event_id)
    assert current is not None
    assignment = await effective_assignment(store, world.config, current)
    assert assignment.project.name is None
    assert assignment.section.source == "editor"
    await world.editor.redact(world.submissions, reaction)
    await until(lambda: section_is("servers"), 10, "auto section back")


async def test_editor_project_reaction_with_text_key(world: World) -> None:
    await world.start_bot()
    event_id = await world.submit(world.alice)
    await world.editor.react(world.submissions, event_id, "Conduit ?")
    store = await world.store()
    from twimbot.handlers import effective_assignment

    async def conduit() -> bool:
        sub = await store.submission_by_event(event_id)
        assert sub is not None
        a = await effective_assignment(store, world.config, sub)
        return a.project.name == "conduit" and a.section.name == "servers"

    await until(conduit, 10, "project by reaction")


async def test_non_editor_commands_are_refused_once_a_minute(world: World) -> None:
    await world.start_bot()
    # alice is not in the editors room: invite her so she can speak there
    await world.editor.invite(world.editors_room, world.alice.user_id)
    await world.alice.join(world.editors_room)
    reply = await world.command("!twim draft", actor=world.alice)
    assert "only editors" in reply["content"]["body"]
    second = await world.alice.send_text(world.editors_room, "!twim draft")
    # the second refusal within a minute is suppressed: the editor's command is answered
    # and no reply to alice's second command arrives in between
    answer = await world.command("!twim help")
    assert "!twim draft" in answer["content"]["body"]
    assert not [e for e in world.alice.pending_events if reply_to(e) == second]
    store = await world.store()
    edition = await store.open_edition()
    assert await store.submissions(edition.id) == []


async def test_unknown_command_gets_usage_hint(world: World) -> None:
    await world.start_bot()
    reply = await world.command("!twim frobnicate 7")
    assert reply["content"]["body"] == "unknown command 'frobnicate'; try !twim help"
    reply = await world.command("!twim show")
    assert reply["content"]["body"] == "usage: !twim show N"
    reply = await world.command("!twim show 99")
    assert "no post 99" in reply["content"]["body"]


async def download_draft(world: World) -> str:
    """Run ``!twim draft`` and return the uploaded Markdown file's text."""
    sent = await world.editor.send_text(world.editors_room, "!twim draft")
    md = await world.editor.wait_for(
        lambda e: (
            e.get("sender") == world.bot_user.user_id
            and e.get("content", {}).get("msgtype") == "m.file"
            and str(e["content"].get("body", "")).endswith(".md")
            and reply_to(e) == sent
        ),
        timeout=20,
    )
    data = await world.editor.download(md["content"]["url"])
    return data.decode("utf-8")


async def test_draft_uploads_markdown_and_zip(world: World) -> None:
    await world.start_bot()
    await world.submit(world.alice, f"### Nheko\n\n{NEWS}")
    markdown = await download_draft(world)
    assert markdown.startswith("+++\n")
    assert "## Dept of Clients 📱" in markdown
    assert "### Nheko ([website](https://nheko-reborn.github.io))" in markdown
    assert f"[Alice](https://matrix.to/#/{world.alice.user_id})" in markdown
    assert f"> {NEWS}" in markdown


async def test_restart_processes_messages_sent_while_down_exactly_once(world: World) -> None:
    await world.start_bot()
    before = await world.submit(world.alice, f"first {NEWS}")
    await world.stop_bot()
    missed = [
        await world.bob.send_text(world.submissions, f"TWIM: while down {i} {NEWS}")
        for i in range(3)
    ]
    await world.start_bot()
    for event_id in missed:
        await world.bob.wait_for(
            match(event_type="m.reaction", sender=world.bot_user.user_id, relates_to=event_id),
            timeout=15,
        )
    store = await world.store()
    edition = await store.open_edition()
    subs = await store.submissions(edition.id)
    assert [s.event_id for s in subs] == [before, *missed]
    assert [s.number for s in subs] == [1, 2, 3, 4]
    # exactly one ack per submission, none doubled by the restart
    await asyncio.sleep(1)
    acks = [
        e
        for e in (await world.editor.room_messages(world.submissions, limit=100))["chunk"]
        if e.get("type") == "m.reaction" and e.get("sender") == world.bot_user.user_id
    ]
    targets = [e["content"]["m.relates_to"]["event_id"] for e in acks]
    assert sorted(targets) == sorted([before, *missed])


async def test_joins_configured_rooms_on_invite_and_ignores_others(world: World) -> None:
    late = await world.editor.create_room(name="late submissions", preset="private_chat")
    other = await world.editor.create_room(name="unrelated", preset="private_chat")
    world.write_config(
        rooms={"submissions": [world.submissions, late], "editors": world.editors_room}
    )
    bot = await world.start_bot()  # cannot join `late` yet: a warning, not a failure
    await world.editor.invite(other, world.bot_user.user_id)
    await world.editor.invite(late, world.bot_user.user_id)
    await world.editor.wait_for(
        match(
            event_type="m.room.member",
            room_id=late,
            state_key=world.bot_user.user_id,
            where=lambda e: e["content"].get("membership") == "join",
        ),
        timeout=15,
    )
    await world.editor.invite(late, world.alice.user_id)
    await world.alice.join(late)
    event_id = await world.alice.send_text(late, f"TWIM: {NEWS}")
    await world.alice.wait_for(
        match(event_type="m.reaction", sender=bot.bot.user_id, relates_to=event_id), timeout=15
    )
    members = await world.editor.joined_members(other)
    assert world.bot_user.user_id not in members.get("joined", {})


async def test_password_login_keeps_one_device_across_restarts(world: World) -> None:
    import json

    from twimbot.bot import Bot
    from twimbot.config import Secrets
    from twimbot.matrix import NioMatrix
    from twimbot.store import Store

    config = world.config
    devices = []
    for _ in range(2):
        store = await Store.open(config.database_path)
        matrix = NioMatrix(config.homeserver, config.user_id)
        try:
            bot = Bot(config, store, matrix)
            await bot.login(Secrets(access_token=None, password=world.bot_user.password))
            devices.append(matrix.device_id)
            session = json.loads(await store.get_state("session") or "{}")
            assert session["device_id"] == matrix.device_id
            assert world.bot_user.password not in json.dumps(session)
        finally:
            await matrix.close()
            await store.close()
    assert devices[0] == devices[1]
    listed = world.synapse.request(
        "GET", "/_matrix/client/v3/devices", access_token=world.bot_user.access_token
    )
    names = [d for d in listed["devices"] if d.get("display_name") == "twimbot"]
    assert len(names) == 1

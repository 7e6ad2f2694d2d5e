"""The golden replay: the 19 entries of a real published TWIM post go through a real Synapse.

Each entry is posted by a user with the reporter's display name, the editor sorts them as the
post does (by reactions and by commands), ``!twim draft`` renders, and the uploaded Markdown is
compared with the published post entry by entry: sections and their order, projects with
website and description, reporter names, bodies and images. Verbs and dates may differ.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

from reference_post import REFERENCE_POST, PostEntry, parse_post, slug, unescape
from world import World

from twimbot.actor import Actor, match

EMOJI = ["📜", "🏢", "📥", "📱", "🎛️", "🧰", "🗣️", "🛰️", "🌉", "🔐", "🤖", "💡"]


def tiny_png(seed: int) -> bytes:
    """A valid 1×1 PNG whose pixel depends on ``seed``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00" + bytes([seed % 256, 80, 160])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def config_for(post: Any) -> dict[str, Any]:
    """Sections and projects as the post shows them (the post predates today's TWIM config)."""
    sections = [
        # orders that sort wrongly as strings (1050 before 150): numeric order must hold
        {"name": slug(title), "title": title, "emoji": EMOJI[i], "order": 150 * (i + 1)}
        for i, title in enumerate(post.sections)
    ]
    projects: dict[str, dict[str, Any]] = {}
    for e in post.entries:
        if e.project and e.project not in projects:
            projects[e.project] = {
                "name": slug(e.project),
                "title": e.project,
                "emoji": e.project,
                "website": e.website,
                "description": e.description,
                "default_section": slug(e.section),
            }
    return {
        "sections": sections,
        "projects": list(projects.values()),
        "verbs": ["says", "explains", "announces", "reports"],
        "post": {"intro": post.intro, "author": "Thib"},
        "trigger": {"min_length": 30},
    }


def comparable(entries: list[PostEntry]) -> list[tuple[Any, ...]]:
    return [
        (
            e.section,
            e.project,
            e.website if e.project else "",
            e.description,
            unescape(e.name),
            e.body,
            len(e.images),
        )
        for e in entries
    ]


async def test_reference_post_replayed_through_synapse(world: World, new_user: Any) -> None:
    post = parse_post(REFERENCE_POST.read_text(encoding="utf-8"))
    assert len(post.entries) == 19
    world.write_config(**config_for(post))
    bot = await world.start_bot()

    # one account per reporter, with the reporter's display name
    reporters: dict[str, Actor] = {}
    for e in post.entries:
        if e.user not in reporters:
            user = new_user(unescape(e.name), prefix="reporter")
            actor = Actor.from_user(user)
            await actor.__aenter__()
            await world.editor.invite(world.submissions, user.user_id)
            await actor.join(world.submissions)
            reporters[e.user] = actor
    try:
        event_ids: list[str] = []
        for e in post.entries:
            actor = reporters[e.user]
            event_id = await actor.send_text(world.submissions, f"TWIM: {e.body}")
            event_ids.append(event_id)
            await actor.wait_for(
                match(event_type="m.reaction", sender=bot.bot.user_id, relates_to=event_id),
                timeout=20,
            )
            for n, _ in enumerate(e.images):
                await actor.send_image(
                    world.submissions,
                    tiny_png(n + len(event_ids)),
                    "screenshot.png",
                    reply_to=event_id,
                )

        # the editor sorts every entry as the post does: reactions for some, commands for others
        store = await world.store()
        for number, (e, event_id) in enumerate(zip(post.entries, event_ids, strict=True), 1):
            sub = await store.submission_by_event(event_id)
            assert sub is not None and sub.number == number
            if number % 2:
                key = e.project or EMOJI[post.sections.index(e.section)]
                await world.editor.react(world.submissions, event_id, key)
            elif e.project:
                reply = await world.command(f"!twim project {number} {e.project}")
                assert f"post {number}" in reply["content"]["body"]
            else:
                reply = await world.command(f"!twim section {number} {e.section}")
                assert f"post {number}" in reply["content"]["body"]
        await asyncio.sleep(1)  # the last reactions reach the bot

        sent = await world.editor.send_text(world.editors_room, "!twim draft")
        files = await world.editor.wait_for_all(
            lambda ev: (
                ev.get("sender") == bot.bot.user_id
                and ev.get("content", {}).get("msgtype") == "m.file"
                and ev["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
                == sent
            ),
            count=2,
            timeout=30,
        )
        names = sorted(f["content"]["body"] for f in files)
        assert names[0].endswith(".md") and names[1].endswith(".zip")
        md_event = next(f for f in files if f["content"]["body"].endswith(".md"))
        markdown = (await world.editor.download(md_event["content"]["url"])).decode("utf-8")
    finally:
        for actor in reporters.values():
            await actor.close()

    rendered = parse_post(markdown)
    assert rendered.sections == post.sections
    assert comparable(rendered.entries) == comparable(post.entries)
    assert rendered.intro == post.intro
    assert markdown.startswith('+++\ntitle = "This Week in Matrix ')
    assert "\n## Dept of Ping\n" in markdown
    assert "\n## That's all I know\n" in markdown
    # the verbs are the configured ones, chosen per entry by a stable hash
    assert {e.verb for e in rendered.entries} <= {"says", "explains", "announces", "reports"}

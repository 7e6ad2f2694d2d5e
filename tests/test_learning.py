"""A running bot learns its reporters' habits from its own published editions.

The shipped learned reporters know TWIM's senders; another community's bot starts with
nothing and learns from what its editors publish (``draft.learned_reporters``), recounted
when an edition is published. Counted on real SQLite files, and end to end on the real
Synapse: entries published under a project teach the bot where that sender's next entry
goes, when the text names nothing.
"""

from __future__ import annotations

from pathlib import Path

from world import PROJECTS, SECTIONS, World, until

from twimbot import classify, draft
from twimbot.config import Config, parse_config
from twimbot.model import Classification
from twimbot.store import Store

AUTO_NHEKO = Classification("nheko", "named", "clients", "default section")
UNSORTED = Classification(None, "no project named", "todo", "fallback: no rule matched")
ANON = "a quiet week: we fixed a few crashes and tidied the settings screen"


def config() -> Config:
    return parse_config(
        {
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:example.org",
            "database": "twimbot.db",
            "rooms": {"submissions": ["!s:example.org"], "editors": "!e:example.org"},
            "editors": ["@ed:example.org"],
            "sections": SECTIONS,
            "projects": PROJECTS,
        },
        Path("."),
    )


async def add(store: Store, edition_id: int, n: int, sender: str, auto: Classification) -> int:
    async with store.transaction():
        sub = await store.create_submission(
            edition_id=edition_id,
            event_id=f"${sender}-{edition_id}-{n}",
            room_id="!s:example.org",
            sender=sender,
            sender_name=sender,
            origin_ts=n,
            text=f"news {n}",
            via="prefix",
            submitted_by=sender,
            auto=auto,
        )
    return sub.id


async def carols_three_nheko_entries(store: Store) -> int:
    """The open edition, where @carol posted three entries sorted under Nheko."""
    edition = await store.open_edition()
    for n in range(3):
        await add(store, edition.id, n, "@carol:example.org", AUTO_NHEKO)
    return edition.id


async def test_published_entries_count_with_the_editors_marks_over_auto(tmp_path: Path) -> None:
    cfg = config()
    store = await Store.open(tmp_path / "twimbot.db")
    try:
        first = await carols_three_nheko_entries(store)
        # an editor moved one of dave's unsorted entries to Conduit; the other stays unsorted
        moved = await add(store, first, 10, "@dave:example.org", UNSORTED)
        await add(store, first, 11, "@dave:example.org", UNSORTED)
        async with store.transaction():
            await store.add_mark(moved, "project", "conduit", "$mark", "@ed:example.org")
        # nothing is learned from an edition that is still open
        assert (await draft.learned_reporters(store, cfg)).find("@carol:example.org") is None

        await store.publish_edition(first, post_date="2026-11-27", rendered="", by="Ed")
        learned = await draft.learned_reporters(store, cfg)
        carol = learned.find("@carol:example.org")
        assert carol is not None and carol[0].entries == 3
        assert dict(carol[0].projects) == {"nheko": 3}
        assert dict(carol[0].sections) == {"clients": 3}
        dave = learned.find("@dave:example.org")
        assert dave is not None and dave[0].entries == 2
        assert dict(dave[0].projects) == {"conduit": 1}
        # the editor's project brought its default section; the unsorted entry counts for
        # nothing (the fallback section is not a department)
        assert dict(dave[0].sections) == {"servers": 1}
        # the shipped counts are still there
        assert learned.find("@mauro.romito:element.io") is not None

        # only the most recent published editions are read
        second = await store.open_edition()
        await add(store, second.id, 0, "@erin:example.org", AUTO_NHEKO)
        await store.publish_edition(second.id, post_date="2026-12-04", rendered="", by="Ed")
        recent = await draft.learned_reporters(store, cfg, editions=1)
        assert recent.find("@erin:example.org") is not None
        assert recent.find("@carol:example.org") is None
    finally:
        await store.close()


async def test_what_was_learned_sorts_the_senders_next_entry(tmp_path: Path) -> None:
    cfg = config()
    store = await Store.open(tmp_path / "twimbot.db")
    try:
        edition = await carols_three_nheko_entries(store)
        await store.publish_edition(edition, post_date="2026-11-27", rendered="", by="Ed")
        learned = await draft.learned_reporters(store, cfg)
    finally:
        await store.close()
    before = classify.classify(ANON, "@carol:example.org", cfg)
    assert before.project is None
    after = classify.classify(ANON, "@carol:example.org", cfg, reporters=learned)
    assert after.project == "nheko" and after.section == "clients"
    assert "usually reported Nheko news (3 of 3 past entries)" in after.project_reason
    # someone else's entry is not affected
    assert classify.classify(ANON, "@dave:example.org", cfg, reporters=learned).project is None


async def test_the_bot_learns_from_the_edition_it_published(world: World) -> None:
    await world.start_bot()
    for n in range(3):
        await world.submit(world.bob, f"Nheko {n}.0 is out: {ANON}")
    before = await world.submission(await world.submit(world.bob, ANON))
    assert before.auto_project is None
    await world.command("!twim publish")
    await world.command("!twim publish confirm")
    store = await world.store()
    await until(lambda: store.published_edition_ids(1), 15, "the publish")

    after = await world.submission(await world.submit(world.bob, f"{ANON} again"))
    assert after.auto_project == "nheko", after.classification
    assert "usually reported Nheko news (3 of 4 past entries)" in after.auto_project_reason
    # someone who published nothing is not affected
    alice = await world.submission(await world.submit(world.alice, ANON))
    assert alice.auto_project is None

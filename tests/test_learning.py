"""A running bot learns from its own published editions: its reporters' habits, and the
words of each department and project.

The shipped learned data know TWIM's senders and words; another community's bot starts with
nothing and learns from what its editors publish (``draft.learned``), recounted when an
edition is published. Counted on real SQLite files, and end to end on the real Synapse:
entries published under a project teach the bot where that sender's next entry goes, when
the text names nothing, and entries an editor moved to a department teach it that
department's words, for anyone's next entry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from world import PROJECTS, SECTIONS, World, until

from twimbot import classify, draft
from twimbot.config import Config, parse_config
from twimbot.model import Classification
from twimbot.reporters import ReporterCounts, default_counts
from twimbot.section_model import SectionModel, count_words, default_model, model_words
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


async def add(
    store: Store,
    edition_id: int,
    n: int,
    sender: str,
    auto: Classification,
    text: str | None = None,
) -> int:
    async with store.transaction():
        sub = await store.create_submission(
            edition_id=edition_id,
            event_id=f"${sender}-{edition_id}-{n}",
            room_id="!s:example.org",
            sender=sender,
            sender_name=sender,
            origin_ts=n,
            text=text or f"news {n}",
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
        # an editor moved one of dora's unsorted entries to Conduit; the other stays unsorted
        moved = await add(store, first, 10, "@dora:example.org", UNSORTED)
        await add(store, first, 11, "@dora:example.org", UNSORTED)
        async with store.transaction():
            await store.add_mark(moved, "project", "conduit", "$mark", "@ed:example.org")
        # nothing is learned from an edition that is still open
        assert (await draft.learned(store, cfg)).reporters.find("@carol:example.org") is None

        await store.publish_edition(first, post_date="2026-11-27", rendered="", by="Ed")
        learned = (await draft.learned(store, cfg)).reporters
        carol = learned.find("@carol:example.org")
        assert carol is not None and carol[0].entries == 3
        assert dict(carol[0].projects) == {"nheko": 3}
        assert dict(carol[0].sections) == {"clients": 3}
        dora = learned.find("@dora:example.org")
        assert dora is not None and dora[0].entries == 2
        assert dict(dora[0].projects) == {"conduit": 1}
        # the editor's project brought its default section; the unsorted entry counts for
        # nothing (the fallback section is not a department)
        assert dict(dora[0].sections) == {"servers": 1}
        # the shipped counts are still there
        assert learned.find("@mauro.romito:element.io") is not None

        # only the most recent published editions are read
        second = await store.open_edition()
        await add(store, second.id, 0, "@erin:example.org", AUTO_NHEKO)
        await store.publish_edition(second.id, post_date="2026-12-04", rendered="", by="Ed")
        recent = (await draft.learned(store, cfg, editions=1)).reporters
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
        learned = await draft.learned(store, cfg)
    finally:
        await store.close()
    before = classify.classify(ANON, "@carol:example.org", cfg)
    assert before.project is None
    after = classify.classify(ANON, "@carol:example.org", cfg, learned=learned)
    assert after.project == "nheko" and after.section == "clients"
    assert "usually reported Nheko news (3 of 3 past entries)" in after.project_reason
    # someone else's entry is not affected
    assert classify.classify(ANON, "@dora:example.org", cfg, learned=learned).project is None


async def test_the_bot_learns_from_the_edition_it_published(world: World) -> None:
    await world.start_bot()
    for n in range(3):
        await world.submit(world.bob, f"Nheko {n}.0 is out: {ANON}")
    before = await world.submission(await world.submit(world.bob, ANON))
    assert before.auto_project is None
    # news in words no TWIM post used: unsorted, until an editor moves it to Spec
    for n in range(3):
        sub = await world.submission(
            await world.submit(world.editor, f"Part {n}: {NEW_WORDS}, and more of it.")
        )
        assert sub.auto_section == "todo", sub.classification
        reply = await world.command(f"!twim section {sub.number} spec")
        assert "Spec" in reply["content"]["body"], reply["content"]["body"]
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
    # but the words the editor's corrections published now sort anyone's news
    words = await world.submission(await world.submit(world.alice, STRANGER_NEWS))
    assert words.auto_section == "spec", words.classification
    assert '"zorblax"' in words.auto_section_reason


async def test_a_sender_nothing_knows_is_known_by_their_display_name(world: World) -> None:
    # Alice's account is new to the shipped counts, but "Nico" posted TWIM's Nheko news for
    # years (@deepbluev7:neko.dev, the one sender of that name): a new account, or a replay
    # with accounts of its own, under the name everyone knows
    text = "We fixed a crash when scrolling back and sped up the timeline quite a lot."
    await world.start_bot()
    before = await world.submission(await world.submit(world.alice, text))
    assert before.auto_project is None, before.classification
    await world.alice.set_displayname("Nico")
    await until(
        lambda: _member_name_is(world, world.alice.user_id, "Nico"), 15, "the new display name"
    )
    after = await world.submission(await world.submit(world.alice, text))
    assert after.auto_project == "nheko", after.classification
    assert '@deepbluev7:neko.dev (same display name "Nico")' in after.auto_project_reason


async def _member_name_is(world: World, user_id: str, name: str) -> bool:
    members = await world.editor.joined_members(world.submissions)
    return bool(members.get(user_id, {}).get("display_name") == name)


# Words no TWIM post ever used: only what this bot published can teach them.
NEW_WORDS = "zorblax quibbit flummox"
STRANGER_NEWS = f"More {NEW_WORDS} this time, as promised."


def test_merged_counts_as_training_on_both_would() -> None:
    def texts(*rows: tuple[str, str]) -> list[tuple[str, frozenset[str]]]:
        return [(label, model_words(text)) for label, text in rows]

    old = texts(
        ("spec", "spec proposal review"),
        ("spec", "spec proposal review"),
        ("clients", "client timeline release"),
        ("clients", "client timeline release"),
    )
    new = texts(
        ("spec", "another proposal review"),
        ("clients", "timeline threads"),
        ("clients", "threads client"),
    )
    shipped = SectionModel.from_words(old)
    merged = shipped.merged(count_words(new))
    both = SectionModel.from_words(old + new)
    assert merged.docs == both.docs == {"spec": 3, "clients": 4}
    assert merged.counts == both.counts
    for text in ("proposal review", "timeline threads", "spec timeline proposal another"):
        got, want = merged.scores(model_words(text)), both.scores(model_words(text))
        assert got is not None and want is not None
        assert got == {k: pytest.approx(v) for k, v in want.items()}
    # a word the model does not know joins once two new entries use it, as in training:
    # "threads" does, "another" (one entry) does not
    assert merged.counts["clients"]["threads"] == 2
    assert not any("another" in words for words in merged.counts.values())
    # the shipped model is left as it was, and nothing new gives the same model back
    assert shipped.docs == {"spec": 2, "clients": 2}
    assert shipped.merged(count_words(())) is shipped


async def test_published_departments_teach_their_words(tmp_path: Path) -> None:
    cfg = config()
    store = await Store.open(tmp_path / "twimbot.db")
    try:
        edition = await store.open_edition()
        # three senders' entries the bot could not sort; an editor moved each to Spec
        for n, who in enumerate(("@frank", "@grace", "@heidi")):
            text = f"This week: {NEW_WORDS}, and then some more {who[1:]} work."
            sub = await add(store, edition.id, n, f"{who}:example.org", UNSORTED, text)
            async with store.transaction():
                await store.add_mark(sub, "section", "spec", f"$m{n}", "@ed:example.org")
        # two more left unsorted (the fallback section teaches no department), and two
        # published under Nheko, whose words the project words learn
        for n in (10, 11):
            await add(store, edition.id, n, "@ivan:example.org", UNSORTED, "glorpish glorpish")
        for n in (20, 21):
            await add(store, edition.id, n, "@carol:example.org", AUTO_NHEKO, "nhekoish build")
        # nothing is learned from an edition that is still open
        still = await draft.learned(store, cfg)
        assert "zorblax" not in still.section_model.counts.get("spec", {})
        await store.publish_edition(edition.id, post_date="2026-11-27", rendered="", by="Ed")
        learned = await draft.learned(store, cfg)
    finally:
        await store.close()

    shipped = default_model()
    assert learned.section_model.docs["spec"] == shipped.docs["spec"] + 3
    assert learned.section_model.counts["spec"]["zorblax"] == 3
    assert learned.section_model.docs.get("todo", 0) == shipped.docs.get("todo", 0)
    assert not any("glorpish" in words for words in learned.section_model.counts.values())
    assert learned.project_model.counts["nheko"]["nhekoish"] == 2
    # the shipped data are untouched
    assert "zorblax" not in shipped.counts["spec"]

    stranger = "@judy:example.org"  # published nothing: only the words can tell
    before = classify.classify(STRANGER_NEWS, stranger, cfg)
    assert before.section == "todo", before
    after = classify.classify(STRANGER_NEWS, stranger, cfg, learned=learned)
    assert after.section == "spec", after
    assert '"zorblax"' in after.section_reason and "Dept of Spec" in after.section_reason


def test_a_bots_own_entries_join_the_shipped_sender_of_their_localpart() -> None:
    # a replay through a local server posts @andybalaam:localhost; counted apart, their first
    # published week would be an exact match hiding the shipped @andybalaam:matrix.org
    shipped = default_counts()
    known = shipped.find("@andybalaam:matrix.org")
    assert known is not None
    own = ReporterCounts.count([("@andybalaam:localhost", None, "spec")])
    merged = shipped.merged(own)
    found = merged.find("@andybalaam:localhost")
    assert found is not None
    counts, like = found
    assert like == "@andybalaam:matrix.org"
    assert counts.entries == known[0].entries + 1
    assert counts.sections.get("spec", 0) == known[0].sections.get("spec", 0) + 1
    # a sender no shipped id shares a localpart with keeps their own key
    new = shipped.merged(ReporterCounts.count([("@nobody-known:localhost", "nheko", None)]))
    assert new.find("@nobody-known:localhost") == (
        new.senders["@nobody-known:localhost"],
        None,
    )
    # several shipped ids with that localpart: find adds them all up, and the bot's own
    # entries with them
    two = ReporterCounts.count([("@sam:a.org", None, "spec"), ("@sam:b.org", None, "bridges")])
    merged_two = two.merged(ReporterCounts.count([("@sam:localhost", None, "clients")]))
    assert set(merged_two.senders) == {"@sam:a.org", "@sam:b.org"}
    sam = merged_two.find("@sam:localhost")
    assert sam is not None and sam[1] == "@sam:a.org, @sam:b.org"
    assert sam[0].entries == 3
    assert dict(sam[0].sections) == {"spec": 1, "bridges": 1, "clients": 1}


def test_a_bots_own_entries_join_the_shipped_sender_of_their_display_name() -> None:
    # a replay whose accounts are its own (@replay-…) under the real display names: counted
    # apart, the replayed sender's first published week would be all the bot knows of them
    shipped = default_counts()
    thib = shipped.by_name("Thib (m.org)")
    assert thib == "@thibaultmartin:matrix.org"
    known = shipped.senders[thib]
    own = ReporterCounts.count(
        [("@replay-1:localhost", None, "status")], [("@replay-1:localhost", "Thib (m.org)")]
    )
    merged = shipped.merged(own)
    assert "@replay-1:localhost" not in merged.senders
    assert merged.senders[thib].entries == known.entries + 1
    assert merged.senders[thib].sections.get("status", 0) == known.sections.get("status", 0) + 1
    assert merged.by_name("Thib (m.org)") == thib
    # an unknown name keeps its own sender, and its name leads to them from then on
    new = shipped.merged(
        ReporterCounts.count(
            [("@replay-2:localhost", "nheko", None)], [("@replay-2:localhost", "Nobody Known")]
        )
    )
    assert new.senders["@replay-2:localhost"].entries == 1
    assert new.by_name("nobody known") == "@replay-2:localhost"

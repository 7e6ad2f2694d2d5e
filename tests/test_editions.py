"""Editions on the real Synapse: ``!twim publish`` (and its confirmation), what a published
edition keeps, re-rendering it byte for byte after people touched its entries, the next
edition, post dates, and the offline ``twimbot draft --bundle`` / ``twimbot editions``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from media_kit import check_bundle, png, run_draft
from world import NEWS, World, until

from twimbot.actor import match
from twimbot.config import WEEKDAYS, Config
from twimbot.draft import edition_date, post_date, post_timestamp
from twimbot.store import Edition

PREFIX = "/blog/img/"


def hashed(data: bytes) -> str:
    return f"{hashlib.blake2b(data, digest_size=20).hexdigest()}.png"


def cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """``twimbot VERB -c CONFIG ARGS`` as a separate process, from the world's directory."""
    verb, *rest = args
    return subprocess.run(
        [sys.executable, "-m", "twimbot", verb, "-c", str(world.config_path), *rest],
        cwd=world.dir,
        env={**os.environ, "TWIMBOT_ACCESS_TOKEN": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def editors_notice(world: World, contains: str) -> str:
    event = await world.editor.wait_for(
        match(room_id=world.editors_room, sender=world.bot_user.user_id, body_contains=contains),
        timeout=20,
    )
    return str(event["content"]["body"])


async def test_publish_asks_for_confirmation_and_changes_nothing_until_then(
    world: World,
) -> None:
    await world.start_bot()
    reply = await world.command("!twim publish confirm")
    assert "no entries" in reply["content"]["body"]
    await world.submit(world.alice)
    reply = await world.command("!twim publish")
    body = reply["content"]["body"]
    assert "!twim publish confirm" in body and "1 entries" in body
    reply = await world.command("!twim publish now")
    assert reply["content"]["body"].startswith("usage:")
    store = await world.store()
    editions = await store.editions()
    assert [(e.edition.id, e.edition.published_at, e.entries) for e in editions] == [(1, None, 1)]
    subs = await store.submissions(1)
    assert [s.frozen for s in subs] == [False]
    reply = await world.command("!twim editions")
    assert "1: " in reply["content"]["body"] and "open" in reply["content"]["body"]


async def test_published_edition_rerenders_identically_whatever_happens_to_its_entries(
    world: World,
) -> None:
    await world.start_bot()
    one = await world.submit(world.alice, f"### Nheko\n\n{NEWS}")
    image = png(21, 40)
    img = await world.alice.send_image(world.submissions, image, "shot.png", reply_to=one)
    two = await world.submit(world.bob, f"Synapse 1.99 is out. {NEWS}")
    mark = await world.editor.react(world.submissions, two, "🌉")
    draft = await run_draft(world)
    assert hashed(image) in draft.markdown
    # after the draft, before publish: it is in the published edition
    three = await world.submit(world.alice, f"after the draft {NEWS}")
    published = await run_draft(world, "!twim publish confirm")
    assert "after the draft" in published.markdown
    assert "Edition 1" in published.summary and "is published with 3 entries" in published.summary
    check_bundle(published, PREFIX, {hashed(image): image})
    store = await world.store()
    edition = await store.get_edition(1)
    assert edition is not None and edition.rendered == published.markdown
    assert edition.post_date is not None and published.markdown_name == (
        f"twim-{edition.post_date}.md"
    )

    # a submission after publish lands in the new edition, as post 1
    four = await world.submit(world.bob, f"### Conduit\n\nnext week {NEWS}")
    sub4 = await world.submission(four)
    assert (sub4.edition_id, sub4.number) == (2, 1)

    # now everybody touches the published entries
    await world.editor.react(world.submissions, one, "📜")  # a section mark
    await editors_notice(world, "belongs to published edition 1")
    await world.editor.redact(world.submissions, mark)  # undo a mark
    await world.alice.edit(world.submissions, one, f"TWIM: ### Nheko\n\nrewritten {NEWS}")
    await world.alice.redact(world.submissions, img)  # the published image
    await world.bob.redact(world.submissions, two)  # a published entry
    await editors_notice(world, "the published post keeps it")
    late = await world.bob.send_image(world.submissions, png(22, 8), "late.png", reply_to=three)
    await editors_notice(world, "replies to post 3 of published edition 1")
    await world.editor.react(world.submissions, late, "post_1")  # to the open edition's post 1
    reply = await world.command(f"!twim attach 1 {img}")
    assert "published post of edition 1" in reply["content"]["body"]
    reply = await world.command("!twim drop 3")
    assert "no post 3 in the open edition" in reply["content"]["body"]

    sub1 = await world.submission(one)

    async def edit_recorded() -> bool:
        return len(await store.revisions(sub1.id)) == 2

    await until(edit_recorded, 15, "the edit of a published entry to be recorded")
    revisions = await store.revisions(sub1.id)
    assert [applied for *_, applied in revisions] == [True, False]

    async def late_attached() -> bool:
        row = await store.media_by_event(late)
        return row is not None and row.submission_id == sub4.id

    await until(late_attached, 15, "post_1 on the new image to reach the open edition")
    old_image = await store.media_by_event(img)
    assert old_image is not None and old_image.redacted and old_image.published_in == 1
    assert (await world.submission(one)).text == f"### Nheko\n\n{NEWS}"
    assert not (await world.submission(two)).redacted

    await world.stop_bot()
    again = cli(world, "draft", "--edition", "1", "-o", "-")
    assert again.returncode == 0, again.stderr
    assert again.stdout == published.markdown
    assert "not the text edition 1 was published with" not in again.stderr

    # the open edition has its own entries only
    current = cli(world, "draft", "-o", "-")
    assert "next week" in current.stdout and "after the draft" not in current.stdout
    assert hashed(png(22, 8)) in current.stdout

    listing = cli(world, "editions")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"1: {edition.post_date} — 3 entries, 1 media — published ")
    assert lines[1].startswith("2: ") and "1 entries" in lines[1] and "— open" in lines[1]


async def test_post_dates_follow_the_time_zone_and_the_publish_weekday(world: World) -> None:
    # Kiritimati is UTC+14: its date is often not the UTC date.
    tz = "Pacific/Kiritimati"
    today = datetime.now(ZoneInfo(tz)).date()
    tomorrow = today + timedelta(days=1)
    world.write_config(
        post={
            "author": "Test Editor",
            "timezone": tz,
            "publish_weekday": WEEKDAYS[tomorrow.weekday()],
            "publish_time": "09:30",
        }
    )
    await world.start_bot()
    await world.submit(world.alice)
    files = await run_draft(world, "!twim publish confirm")
    if datetime.now(ZoneInfo(tz)).date() != today:
        return  # midnight passed in Kiritimati during the test; the dates moved with it
    day = tomorrow.isoformat()
    assert files.markdown_name == f"twim-{day}.md" and files.zip_name == f"twim-{day}.zip"
    front = files.markdown.split("+++")[1]
    stamp = datetime.combine(tomorrow, datetime.min.time().replace(hour=9, minute=30))
    utc = (stamp - timedelta(hours=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'title = "This Week in Matrix {day}"' in front
    assert f'date = "{utc}"' in front
    assert f'path = "/blog/{tomorrow:%Y/%m/%d}/this-week-in-matrix-{day}"' in front
    # the next edition opened today; its post is the next week's, not tomorrow's again
    assert f"Edition 2 ({(tomorrow + timedelta(days=7)).isoformat()}) is open" in files.summary
    status = await world.command("!twim status")
    assert (
        f"Edition 2 for {(tomorrow + timedelta(days=7)).isoformat()}" in (status["content"]["body"])
    )
    # publishing on the publish day itself: the next post is a week later
    world.write_config(
        post={"author": "Test Editor", "timezone": tz, "publish_weekday": WEEKDAYS[today.weekday()]}
    )
    reply = await world.command("!twim reload")
    assert reply["content"]["body"].startswith("Reloaded"), reply["content"]["body"]
    await world.submit(world.bob)
    files = await run_draft(world, "!twim publish confirm")
    if datetime.now(ZoneInfo(tz)).date() != today:
        return
    second = today + timedelta(days=7)  # the publish weekday after edition 1's post date
    assert files.markdown_name == f"twim-{second.isoformat()}.md"
    assert f"Edition 3 ({(second + timedelta(days=7)).isoformat()}) is open" in files.summary


async def test_offline_draft_bundle_matches_the_bots_draft(world: World, tmp_path: Path) -> None:
    await world.start_bot()
    sub = await world.submit(world.alice, f"### Nheko\n\n{NEWS}")
    images = [png(31, 50), png(32, 20)]
    for n, data in enumerate(images):
        await world.alice.send_image(world.submissions, data, f"s{n}.png", reply_to=sub)
    store = await world.store()

    async def both_done() -> bool:
        rows = await store.media_for_edition(1)
        return len(rows) == 2 and all(r.status == "done" for r in rows)

    await until(both_done, 20, "both downloads")
    online = await run_draft(world)
    await world.stop_bot()

    out = tmp_path / "bundle"
    result = cli(world, "draft", "--bundle", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [online.markdown_name, online.zip_name]
    markdown = (out / online.markdown_name).read_text(encoding="utf-8")
    assert markdown == online.markdown
    assert (out / online.zip_name).read_bytes() == online.zip_bytes
    assert f"wrote {out / online.zip_name}" in result.stderr
    assert "Draft of edition 1" in result.stderr and "2 media files" in result.stderr
    with zipfile.ZipFile(out / online.zip_name) as zf:
        names = zf.namelist()
        assert names == [online.markdown_name, hashed(images[0]), hashed(images[1])]
        assert [zf.read(n) for n in names[1:]] == images
    # in the quote, in the order they were sent
    assert f"> ![]({PREFIX}{hashed(images[0])})\n> ![]({PREFIX}{hashed(images[1])})\n" in markdown

    # files missing from media.dir are said, not silently left out
    (world.dir / "media" / hashed(images[1])).unlink()
    result = cli(world, "draft", "--bundle", str(out))
    assert result.returncode == 0
    assert f"{hashed(images[1])} is named by the post but missing from" in result.stderr

    bad = cli(world, "draft", "--edition", "7")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "twimbot: there is no edition 7; see twimbot editions"


# -- the pure rules of post dates ------------------------------------------------------------


def config_with(**post: str) -> Config:
    return Config.model_validate(
        {
            "homeserver": "https://example.org",
            "user_id": "@bot:example.org",
            "database": "x.db",
            "rooms": {"submissions": ["!s:example.org"], "editors": "!e:example.org"},
            "editors": ["@ed:example.org"],
            "post": post,
        }
    )


def ms(text: str, tz: str = "UTC") -> int:
    """Milliseconds since the epoch of a local time like ``2026-11-27 17:00`` in ``tz``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


@pytest.mark.parametrize(
    ("opened", "weekday", "expected"),
    [
        ("2026-11-23 08:00", "friday", "2026-11-27"),  # Monday -> that Friday
        ("2026-11-27 08:00", "friday", "2026-11-27"),  # on the day itself
        ("2026-11-28 08:00", "friday", "2026-12-04"),  # Saturday -> next Friday
        ("2026-11-29 23:59", "monday", "2026-11-30"),
        ("2026-12-28 10:00", "saturday", "2027-01-02"),  # across the year
    ],
)
def test_post_date_is_the_publish_weekday_of_the_week_the_edition_opened(
    opened: str, weekday: str, expected: str
) -> None:
    config = config_with(publish_weekday=weekday)
    assert post_date(config, ms(opened)).isoformat() == expected


def test_post_date_follows_the_configured_time_zone() -> None:
    # Thursday 2026-11-26 20:00 UTC is already Friday in Auckland and still Thursday in
    # Honolulu; with publish day Thursday the two zones date the same moment a week apart.
    moment = ms("2026-11-26 20:00")
    assert post_date(config_with(publish_weekday="thursday"), moment) == date(2026, 11, 26)
    auckland = config_with(publish_weekday="thursday", timezone="Pacific/Auckland")
    assert post_date(auckland, moment) == date(2026, 12, 3)
    honolulu = config_with(publish_weekday="thursday", timezone="Pacific/Honolulu")
    assert post_date(honolulu, moment) == date(2026, 11, 26)


def test_the_edition_opened_by_publishing_is_dated_a_week_later() -> None:
    config = config_with(publish_weekday="friday", timezone="Europe/Berlin")
    friday = date(2026, 11, 27)
    # published on the Friday itself (any hour), on Thursday (early) or on Saturday (late)
    for opened in ("2026-11-27 09:00", "2026-11-27 23:30", "2026-11-26 18:00", "2026-11-28 01:00"):
        assert post_date(config, ms(opened, "Europe/Berlin"), after=friday) == date(2026, 12, 4)
    # a previous post dated far ahead (a holiday special) pushes past it
    assert post_date(config, ms("2026-11-23 10:00"), after=date(2026, 12, 11)) == date(2026, 12, 18)
    # an older previous post changes nothing
    assert post_date(config, ms("2026-11-23 10:00"), after=date(2026, 11, 20)) == friday


def test_edition_date_is_fixed_once_published() -> None:
    config = config_with(publish_weekday="friday")
    published = Edition(1, ms("2026-11-20 19:00"), ms("2026-11-28 10:00"), "2026-11-27", "Ed", "x")
    assert edition_date(config, published) == date(2026, 11, 27)
    nxt = Edition(2, ms("2026-11-28 10:00"), None, None, None, None)
    assert edition_date(config, nxt, published) == date(2026, 12, 4)


def test_front_matter_moment_is_the_publish_time_in_the_time_zone() -> None:
    config = config_with(timezone="America/New_York", publish_time="18:00")
    # 18:00 in New York is 23:00 UTC in winter and 22:00 UTC in summer
    assert post_timestamp(config, date(2026, 11, 27)).isoformat() == "2026-11-27T23:00:00+00:00"
    assert post_timestamp(config, date(2026, 7, 3)).isoformat() == "2026-07-03T22:00:00+00:00"

"""Media on the real Synapse: which submission an image, video or file attaches to, editors'
``post_N`` reactions and ``!twim attach``, redactions, downloads through the authenticated
media API, failed downloads, and the zip that carries exactly what the Markdown names."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import zipfile
from pathlib import Path

import pytest
from media_kit import check_bundle, png, reply_to, run_draft
from world import NEWS, World, until

from twimbot import media as media_module
from twimbot.actor import match
from twimbot.store import MediaRow

PREFIX = "/blog/img/"


def hashed(data: bytes, ext: str = "png") -> str:
    return f"{hashlib.blake2b(data, digest_size=20).hexdigest()}.{ext}"


async def media_row(world: World, event_id: str, what: str = "media") -> MediaRow:
    store = await world.store()
    return await until(lambda: store.media_by_event(event_id), 15, what)


async def attached_to(world: World, media_event: str, sub_event: str | None) -> MediaRow:
    """Wait until ``media_event`` is attached to the submission ``sub_event`` (None: none)."""
    store = await world.store()
    want = None
    if sub_event is not None:
        sub = await world.submission(sub_event)
        want = sub.id

    async def probe() -> MediaRow | None:
        row = await store.media_by_event(media_event)
        return row if row is not None and row.submission_id == want else None

    return await until(probe, 15, f"{media_event} attached to {sub_event}")


async def downloaded(world: World, media_event: str) -> MediaRow:
    store = await world.store()

    async def probe() -> MediaRow | None:
        row = await store.media_by_event(media_event)
        return row if row is not None and row.status == "done" else None

    return await until(probe, 20, f"download of {media_event}")


async def test_image_replying_to_a_submission_lands_in_its_entry_and_the_zip(world: World) -> None:
    await world.start_bot()
    first = await world.submit(world.alice, f"### Nheko\n\n{NEWS}")
    second = await world.submit(world.bob, f"Conduit 0.9 is out. {NEWS}")
    big = png(1, side=200)  # ~120 kB: the download arrives in many chunks
    small = png(2, side=8)
    # bob's screenshot replies to alice's entry: a reply always names its target
    img_a = await world.bob.send_image(world.submissions, big, "timeline.png", reply_to=first)
    img_b = await world.bob.send_image(world.submissions, small, "conduit.png", reply_to=second)
    row_a = await attached_to(world, img_a, first)
    assert row_a.attach_source == "reply"
    assert (await attached_to(world, img_b, second)).attach_source == "reply"
    for event_id in (img_a, img_b):
        await downloaded(world, event_id)
    files = await run_draft(world)
    name_a, name_b = hashed(big), hashed(small)
    assert (world.dir / "media" / name_a).read_bytes() == big
    # inside the entry's quote, right after its text
    nheko = files.markdown.split("### Nheko", 1)[1].split("\n### ", 1)[0]
    assert f"> {NEWS}\n> ![]({PREFIX}{name_a})\n" in nheko
    conduit = files.markdown.split("### Conduit", 1)[1]
    assert f"> ![]({PREFIX}{name_b})\n" in conduit
    check_bundle(files, PREFIX, {name_a: big, name_b: small})
    assert files.markdown_name == files.zip_name.replace(".zip", ".md")
    assert "2 media files" in files.summary


async def test_image_within_the_window_attaches_to_the_nearest_earlier_submission(
    world: World,
) -> None:
    world.write_config(media={"dir": "media", "attach_window_minutes": 0.1})  # 6 s
    await world.start_bot()
    await world.submit(world.alice, f"older {NEWS}")
    newer = await world.submit(world.alice, f"newer {NEWS}")
    inside = await world.alice.send_image(world.submissions, png(3, 8), "in.png")
    by_bob = await world.bob.send_image(world.submissions, png(4, 8), "bob.png")
    row = await attached_to(world, inside, newer)
    assert row.attach_source == "window"
    # another sender's image in the window is not alice's
    assert (await media_row(world, by_bob)).submission_id is None
    sub_newer = await world.submission(newer)
    await asyncio.sleep(max(0.0, sub_newer.origin_ts / 1000 + 6.5 - time.time()))
    outside = await world.alice.send_image(world.submissions, png(5, 8), "late.png")
    late = await media_row(world, outside)
    assert late.submission_id is None and late.attach_source is None
    await downloaded(world, inside)
    files = await run_draft(world)
    assert files.image_targets() == [PREFIX + hashed(png(3, 8))]
    assert files.markdown.index(f"newer {NEWS}") < files.markdown.index(hashed(png(3, 8)))


async def test_media_and_submission_processed_in_one_batch_at_start(world: World) -> None:
    # Sent while the bot is not running: the bot's first sync brings both in one batch.
    sub = await world.alice.send_text(world.submissions, f"TWIM: {NEWS}")
    img = await world.alice.send_image(world.submissions, png(6, 8), "batch.png")
    reply = await world.bob.send_image(world.submissions, png(7, 8), "reply.png", reply_to=sub)
    await world.start_bot()
    assert (await attached_to(world, img, sub)).attach_source == "window"
    assert (await attached_to(world, reply, sub)).attach_source == "reply"


async def test_image_replying_to_a_message_that_later_becomes_a_submission(world: World) -> None:
    world.write_config(media={"dir": "media", "attach_window_minutes": 0})
    await world.start_bot()
    plain = await world.alice.send_text(world.submissions, NEWS)
    img = await world.bob.send_image(world.submissions, png(8, 8), "later.png", reply_to=plain)
    row = await media_row(world, img)
    assert row.submission_id is None
    await world.alice.edit(world.submissions, plain, f"TWIM: {NEWS}")
    row = await attached_to(world, img, plain)
    assert row.attach_source == "reply"


async def test_window_media_moves_to_a_message_that_becomes_a_nearer_submission(
    world: World,
) -> None:
    await world.start_bot()
    first = await world.submit(world.alice, f"first {NEWS}")
    plain = await world.alice.send_text(world.submissions, f"second {NEWS}")
    img = await world.alice.send_image(world.submissions, png(9, 8), "second.png")
    await attached_to(world, img, first)  # nearest earlier submission so far
    # an editor submits the plain message with the notice emoji: it is nearer the image
    await world.editor.react(world.submissions, plain, "⭕")
    row = await attached_to(world, img, plain)
    assert row.attach_source == "window"


async def test_image_in_a_thread_attaches_to_the_threads_root(world: World) -> None:
    world.write_config(media={"dir": "media", "attach_window_minutes": 0})
    await world.start_bot()
    root = await world.submit(world.alice)
    chat = await world.bob.send_text(
        world.submissions,
        "nice!",
        extra_content={"m.relates_to": {"rel_type": "m.thread", "event_id": root}},
    )
    mxc = await world.bob.upload(png(15, 8), "image/png", "thread.png")
    img = await world.bob.send_text(
        world.submissions,
        "thread.png",
        msgtype="m.image",
        extra_content={
            "url": mxc,
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": chat},
            },
        },
    )
    assert (await attached_to(world, img, root)).attach_source == "reply"


async def test_post_n_reaction_by_an_editor_attaches_and_its_removal_undoes(world: World) -> None:
    world.write_config(media={"dir": "media", "attach_window_minutes": 0})
    await world.start_bot()
    one = await world.submit(world.alice, f"one {NEWS}")
    two = await world.submit(world.alice, f"two {NEWS}")
    img = await world.bob.send_image(world.submissions, png(10, 8), "loose.png")
    assert (await media_row(world, img)).submission_id is None
    await world.bob.react(world.submissions, img, "post_1")  # not an editor: nothing
    reaction = await world.editor.react(world.submissions, img, "post_2")
    row = await attached_to(world, img, two)
    assert (row.attach_source, row.attach_event) == ("editor", reaction)
    await world.editor.redact(world.submissions, reaction)
    row = await attached_to(world, img, None)
    assert row.attach_source is None
    # !twim attach with the event's matrix.to link
    link = f"https://matrix.to/#/{world.submissions}/{img}?via=localhost"
    reply = await world.command(f"!twim attach 1 {link}")
    assert "attached to post 1" in reply["content"]["body"], reply["content"]["body"]
    row = await attached_to(world, img, one)
    assert (row.attach_source, row.attach_event) == ("editor", reply_to(reply))
    reply = await world.command("!twim attach 9 $nothing:here")
    assert "no post 9" in reply["content"]["body"]
    reply = await world.command("!twim detach $unknown:x")
    assert "not an image, video or file" in reply["content"]["body"]
    reply = await world.command(f"!twim detach {img}")
    await attached_to(world, img, None)


async def test_notice_emoji_on_a_picture_attaches_it_as_hebbot_does(world: World) -> None:
    # hebbot's way to put a picture in the post: ⭕ on it, however long after the news, by
    # an editor or by its sender; it goes to the sender's submission nearest in time
    world.write_config(media={"dir": "media", "attach_window_minutes": 0})
    await world.start_bot()
    store = await world.store()
    await world.submit(world.alice, f"first {NEWS}")
    second = await world.submit(world.alice, f"second {NEWS}")
    img = await world.alice.send_image(world.submissions, png(21, 8), "late.png")
    assert (await media_row(world, img)).submission_id is None  # no window: nothing yet
    by_bob = await world.bob.react(world.submissions, img, "⭕")  # neither editor nor sender
    await until(lambda: store.reaction(by_bob), 15, "bob's reaction stored")
    assert (await media_row(world, img)).submission_id is None
    reaction = await world.editor.react(world.submissions, img, "⭕")
    row = await attached_to(world, img, second)
    assert (row.attach_source, row.attach_event) == ("editor", reaction)
    # removing it undoes it
    await world.editor.redact(world.submissions, reaction)
    row = await attached_to(world, img, None)
    assert row.attach_source is None
    # its sender may do it too
    own = await world.alice.react(world.submissions, img, "⭕")
    row = await attached_to(world, img, second)
    assert row.attach_event == own
    # a picture of someone with nothing in the open edition: the editors are told why
    lone = await world.bob.send_image(world.submissions, png(22, 8), "lone.png")
    await media_row(world, lone)
    await world.editor.react(world.submissions, lone, "⭕")
    told = await world.editor.wait_for(
        match(
            room_id=world.editors_room,
            sender=world.bot_user.user_id,
            body_contains="has no submission in the open edition",
        ),
        timeout=15,
    )
    assert "lone.png" in told["content"]["body"] or lone in told["content"]["body"]
    assert (await media_row(world, lone)).submission_id is None
    await downloaded(world, img)
    files = await run_draft(world)
    assert files.image_targets() == [PREFIX + hashed(png(21, 8))]
    assert files.markdown.index(f"second {NEWS}") < files.markdown.index(hashed(png(21, 8)))


async def test_redacting_the_media_detaches_it(world: World) -> None:
    await world.start_bot()
    sub = await world.submit(world.alice)
    img = await world.alice.send_image(world.submissions, png(11, 8), "oops.png", reply_to=sub)
    await attached_to(world, img, sub)
    await downloaded(world, img)
    await world.alice.redact(world.submissions, img)
    store = await world.store()

    async def redacted() -> bool:
        row = await store.media_by_event(img)
        return row is not None and row.redacted and row.submission_id is None

    await until(redacted, 15, "media redaction")
    files = await run_draft(world)
    assert files.image_targets() == []
    assert files.zip.namelist() == [files.markdown_name]


async def test_video_and_file_render_inside_the_quote_and_travel_in_the_zip(
    world: World,
) -> None:
    world.write_config(
        media={
            "dir": "media",
            "url_prefix": "/img/",
            "video_markdown": '> {{{{< video src="{url}" >}}}}',
        }
    )
    await world.start_bot()
    sub = await world.submit(world.alice)
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8
    pdf = b"%PDF-1.4\n" + b"x" * 3000
    mxc_v = await world.alice.upload(video, "video/mp4", "demo.mp4")
    mxc_f = await world.alice.upload(pdf, "application/octet-stream", "slides.pdf")
    ev_v = await world.alice.send_text(
        world.submissions,
        "demo.mp4",
        msgtype="m.video",
        extra_content={"url": mxc_v, "info": {"mimetype": "video/mp4"}},
    )
    ev_f = await world.alice.send_text(
        world.submissions, "slides.pdf", msgtype="m.file", extra_content={"url": mxc_f}
    )
    for event_id in (ev_v, ev_f):
        await attached_to(world, event_id, sub)
        await downloaded(world, event_id)
    files = await run_draft(world)
    name_v, name_f = hashed(video, "mp4"), hashed(pdf, "pdf")
    assert f'> {{{{< video src="/img/{name_v}" >}}}}\n> [slides.pdf](/img/{name_f})\n' in (
        files.markdown
    )
    zf = files.zip
    assert sorted(zf.namelist()) == sorted([files.markdown_name, name_v, name_f])
    assert zf.read(name_v) == video and zf.read(name_f) == pdf


async def test_failed_downloads_are_retried_reported_and_never_block_the_sync_loop(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_module, "RETRY_DELAYS_S", (0.3, 0.3))
    world.write_config(media={"dir": "media", "max_bytes": 2000})
    await world.start_bot()
    sub = await world.submit(world.alice)
    server = world.bot_user.user_id.split(":", 1)[1]
    unknown = await world.alice.send_text(
        world.submissions,
        "gone.png",
        msgtype="m.image",
        extra_content={
            "url": f"mxc://{server}/NoSuchMediaHere",
            "info": {"mimetype": "image/png"},
            "m.relates_to": {"m.in_reply_to": {"event_id": sub}},
        },
    )
    too_big = await world.alice.send_image(world.submissions, png(12, 60), "big.png", reply_to=sub)
    fine = await world.alice.send_image(world.submissions, png(13, 4), "fine.png", reply_to=sub)
    store = await world.store()

    async def gave_up(event_id: str) -> MediaRow | None:
        row = await store.media_by_event(event_id)
        return row if row is not None and row.status == "failed" else None

    # meanwhile the bot keeps acknowledging submissions
    await world.submit(world.bob, f"still here {NEWS}")
    gone = await until(lambda: gave_up(unknown), 20, "giving up on the unknown mxc")
    big = await until(lambda: gave_up(too_big), 20, "giving up on the big file")
    assert gone.attempts == 3 and "404" in (gone.error or "")
    assert big.attempts == 3 and "max_bytes" in (big.error or "")
    await downloaded(world, fine)
    files = await run_draft(world)
    assert files.image_targets() == [PREFIX + hashed(png(13, 4))]
    check_bundle(files, PREFIX, {hashed(png(13, 4)): png(13, 4)})
    assert "image gone.png could not be downloaded after 3 attempts" in files.summary
    assert "image big.png could not be downloaded" in files.summary
    status = await world.command("!twim status")
    assert "media: post 1: image gone.png could not be downloaded" in status["content"]["body"]
    # an editor attaching it again gives it fresh attempts
    await world.command(f"!twim attach 1 {unknown}")
    row = await until(lambda: gave_up(unknown), 20, "the retried download to fail again")
    assert row.attempts == 3


async def test_draft_waits_briefly_for_a_screenshot_sent_just_before(world: World) -> None:
    await world.start_bot()
    sub = await world.submit(world.alice)
    await world.stop_bot()
    # The image and the command reach the bot in one sync batch: the command runs while
    # the (fresh) media worker has only just started on the download.
    data = png(14, 700)  # ~1.5 MB
    await world.alice.send_image(world.submissions, data, "now.png", reply_to=sub)
    sent = await world.editor.send_text(world.editors_room, "!twim draft")
    await world.start_bot()
    files = await run_draft(world, sent=sent)
    check_bundle(files, PREFIX, {hashed(data): data})


# -- pure parts: file names, retries, the bundle, event ids -----------------------------------


def test_extension_prefers_the_bytes_then_the_declared_types_then_the_name() -> None:
    from twimbot.media import extension, sniff

    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 20
    assert sniff(png(1, 2)) == "png" and sniff(jpeg) == "jpg"
    assert sniff(b"GIF89a....") == "gif" and sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert (
        sniff(b"\x00\x00\x00\x18ftypisom") == "mp4" and sniff(b"\x00\x00\x00\x18ftypqt  ") == "mov"
    )
    assert sniff(b"\x1a\x45\xdf\xa3") == "webm" and sniff(b"%PDF-1.7") == "pdf"
    # a JPEG the client called image/png is a .jpg
    assert extension("image/png", "x.png", jpeg) == "jpg"
    assert extension("image/jpeg", "x", b"??") == "jpg"  # not .jpe
    assert extension("application/octet-stream", "notes.TXT", b"??", "text/plain") == "txt"
    assert extension(None, "clip.MKV", b"??") == "mkv"
    assert extension(None, "archive.tar.evil/../x", b"??") == "bin"
    assert extension(None, "no-suffix", b"??") == "bin"
    assert extension("text/x-weird; charset=utf-8", "a.md", b"??") == "md"


def test_content_name_is_the_hash_of_the_bytes() -> None:
    from twimbot.media import content_name

    data = png(5, 3)
    name = content_name(data, "image/png", "a.png")
    assert name == hashed(data)
    assert content_name(data, None, "other name.bin") == name  # same bytes, same file
    assert content_name(png(6, 3), "image/png", "a.png") != name


def test_retries_follow_the_schedule_then_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_module, "RETRY_DELAYS_S", (10.0, 60.0))
    assert media_module.max_attempts() == 3
    assert media_module.retry_at(1, 1_000) == 11_000
    assert media_module.retry_at(2, 1_000) == 61_000
    assert media_module.retry_at(3, 1_000) is None


def test_bundle_holds_each_file_once_under_the_markdown_name(tmp_path: Path) -> None:
    from twimbot.media import bundle
    from twimbot.model import MediaItem

    a, b = png(7, 4), png(8, 4)
    for data in (a, b):
        (tmp_path / hashed(data)).write_bytes(data)
    items = [
        MediaItem("$1", "image", hashed(a), PREFIX + hashed(a), "mxc://s/1"),
        MediaItem("$2", "image", hashed(b), PREFIX + hashed(b), "mxc://s/2"),
        MediaItem("$3", "image", hashed(a), PREFIX + hashed(a), "mxc://s/3"),  # same bytes
        MediaItem("$4", "image", "gone.png", PREFIX + "gone.png", "mxc://s/4"),
    ]
    out = bundle("twim-2026-11-27.md", "# post\n", items, tmp_path)
    assert out.missing == ("gone.png",)
    with zipfile.ZipFile(io.BytesIO(out.data)) as zf:
        assert zf.namelist() == ["twim-2026-11-27.md", hashed(a), hashed(b)]
        assert zf.read(hashed(b)) == b
        assert all((i.external_attr >> 16) & 0o777 == 0o644 for i in zf.infolist())
    # deterministic: the same input gives the same bytes
    assert bundle("twim-2026-11-27.md", "# post\n", items, tmp_path).data == out.data


def test_media_event_ids_from_ids_and_links() -> None:
    from twimbot.commands import media_event_id

    assert media_event_id("$abc_DEF-123") == "$abc_DEF-123"
    assert media_event_id("$old:example.org") == "$old:example.org"
    link = "https://matrix.to/#/!room:example.org/%24abc_DEF-123?via=example.org"
    assert media_event_id(link) == "$abc_DEF-123"
    element = "https://app.element.io/#/room/!room:example.org/$xyz"
    assert media_event_id(element) == "$xyz"
    assert media_event_id("post_3") is None

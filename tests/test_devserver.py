"""The real-homeserver harness itself: twimbot.devserver (Synapse) and twimbot.actor (Actor).

Everything runs against the session's real Synapse; only the error-path tests avoid starting
one (they must stay fast).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import time
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from twimbot.actor import Actor, ActorError, match
from twimbot.devserver import RegisteredUser, Synapse, SynapseError

# The factories of conftest.py (conftest is not imported: pytest loads it under its own name).
NewUser = Callable[..., RegisteredUser]
NewActor = Callable[..., Awaitable[Actor]]


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG, built by hand so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes([200, 30, 90]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def make_pair(new_actor: NewActor) -> tuple[Actor, Actor, str]:
    """Alice creates a room and invites Bob, who joins from the invite he syncs."""
    alice = await new_actor("Alice", prefix="alice")
    bob = await new_actor("Bob", prefix="bob")
    room_id = await alice.create_room(name="Harness", invite=[bob.user_id])
    assert await bob.wait_for_invite() == room_id
    assert await bob.join(room_id) == room_id
    await alice.wait_for(match(event_type="m.room.member", state_key=bob.user_id), rooms=room_id)
    return alice, bob, room_id


def test_server_basics(synapse: Synapse, new_user: NewUser) -> None:
    assert synapse.running
    assert synapse.url == f"http://127.0.0.1:{synapse.port}"
    assert synapse.server_name == "localhost"
    user = new_user("Carol")
    assert user.user_id.endswith(":localhost")
    assert user.homeserver == synapse.url
    assert user.access_token not in repr(user)
    whoami = synapse.request(
        "GET", "/_matrix/client/v3/account/whoami", access_token=user.access_token
    )
    assert whoami["user_id"] == user.user_id
    assert whoami["device_id"] == user.device_id
    profile = synapse.request("GET", f"/_matrix/client/v3/profile/{user.user_id}")
    assert profile["displayname"] == "Carol"
    # Rate limits are lifted: many password logins from one IP (default burst: 5).
    for _ in range(8):
        assert synapse.login(user.localpart, user.password).user_id == user.user_id


def test_existing_workdir_reuses_config(synapse: Synapse) -> None:
    again = Synapse(synapse.workdir)
    assert (again.port, again.server_name, again.url) == (
        synapse.port,
        synapse.server_name,
        synapse.url,
    )
    with pytest.raises(SynapseError, match="uses port"):
        Synapse(synapse.workdir, port=synapse.port + 1)
    with pytest.raises(SynapseError, match="already in use"):
        again.start()  # the session's server holds the port: refused before spawning


async def test_invite_join_send_and_wait(new_actor: NewActor) -> None:
    alice, bob, room_id = await make_pair(new_actor)
    first = await bob.send_text(room_id, "first")
    second = await bob.send_text(room_id, "second", msgtype="m.notice")
    # Waits can be written in any order: unmatched events stay buffered.
    got_second = await alice.wait_for(match(sender=bob.user_id, body="second"))
    got_first = await alice.wait_for(match(sender=bob.user_id, msgtype="m.text"), rooms=room_id)
    assert (got_first["event_id"], got_second["event_id"]) == (first, second)
    assert got_first["room_id"] == room_id
    assert got_second["content"]["msgtype"] == "m.notice"
    # An event is returned once; the history is still there to read.
    with pytest.raises(TimeoutError, match="body='first'"):
        await alice.wait_for(match(body="first"), timeout=0.3)
    history = await alice.room_messages(room_id, limit=2)
    assert [e["event_id"] for e in history["chunk"]] == [second, first]
    assert (await alice.get_event(room_id, first))["content"]["body"] == "first"
    members = await alice.joined_members(room_id)
    assert members[bob.user_id]["display_name"] == "Bob"


async def test_reply_edit_react_redact_round_trip(new_actor: NewActor) -> None:
    alice, bob, room_id = await make_pair(new_actor)
    original = await alice.send_text(room_id, "TWIM: line one\nline two")
    await bob.wait_for(match(event_type="m.room.message"))

    reply_id = await bob.reply(room_id, original, "nice")
    reply = await alice.wait_for(match(in_reply_to=original))
    assert reply["event_id"] == reply_id
    assert reply["content"]["body"] == f"> <{alice.user_id}> TWIM: line one\n> line two\n\nnice"
    assert reply["content"]["formatted_body"].startswith("<mx-reply><blockquote>")
    assert reply["content"]["m.mentions"] == {"user_ids": [alice.user_id]}

    edit_id = await alice.edit(room_id, original, "TWIM: line one, edited")
    edit = await bob.wait_for(match(rel_type="m.replace", relates_to=original))
    assert edit["event_id"] == edit_id
    assert edit["content"]["body"] == "* TWIM: line one, edited"
    assert edit["content"]["m.new_content"] == {
        "msgtype": "m.text",
        "body": "TWIM: line one, edited",
    }

    reaction_id = await bob.react(room_id, original, "✅")
    reaction = await alice.wait_for(match(event_type="m.reaction", key="✅"))
    assert reaction["event_id"] == reaction_id
    assert reaction["content"]["m.relates_to"]["event_id"] == original

    redaction_id = await bob.redact(room_id, reaction_id, reason="oops")
    redaction = await alice.wait_for(match(event_type="m.room.redaction", redacts=reaction_id))
    assert redaction["event_id"] == redaction_id
    assert (await alice.get_event(room_id, reaction_id))["content"] == {}


async def test_malformed_content_is_sent_as_is(new_actor: NewActor) -> None:
    alice, bob, room_id = await make_pair(new_actor)
    # Synapse insists on string "body" and "msgtype" in m.room.message; everything else goes.
    weird = {
        "msgtype": "x.unknown",
        "body": "",
        "format": 7,
        "formatted_body": ["<b>"],
        "m.relates_to": "nonsense",
        "m.new_content": [1, 2],
    }
    event_id = await alice.send(room_id, "m.room.message", weird)
    got = await bob.wait_for(match(sender=alice.user_id, event_type="m.room.message"))
    assert (got["event_id"], got["content"]) == (event_id, weird)
    bad_reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": 5, "key": None}}
    reaction_id = await alice.send(room_id, "m.reaction", bad_reaction)
    got = await bob.wait_for(match(event_type="m.reaction"))
    assert (got["event_id"], got["content"]) == (reaction_id, bad_reaction)
    with pytest.raises(ActorError, match="'body' not a string type") as refused:
        await alice.send(room_id, "m.room.message", {"msgtype": "m.text", "body": 12})
    assert refused.value.status == 400


async def test_upload_image_and_authenticated_download(
    synapse: Synapse, new_actor: NewActor
) -> None:
    alice, bob, room_id = await make_pair(new_actor)
    text_id = await alice.send_text(room_id, "TWIM: screenshot follows")
    png = tiny_png()
    image_id = await alice.send_image(room_id, png, "shot.png", reply_to=text_id)
    image = await bob.wait_for(match(msgtype="m.image"))
    assert image["event_id"] == image_id
    content = image["content"]
    assert content["info"] == {"mimetype": "image/png", "size": len(png), "w": 3, "h": 2}
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": text_id}}
    mxc = content["url"]
    assert mxc.startswith(f"mxc://{synapse.server_name}/")

    assert await bob.download(mxc) == png
    # The same endpoint by hand, as the bot will call it: the token is required.
    url = synapse.media_download_url(mxc)
    assert "/_matrix/client/v1/media/download/" in url
    async with aiohttp.ClientSession() as http:
        token = {"Authorization": f"Bearer {bob.access_token}"}
        async with http.get(url, headers=token) as response:
            assert response.status == 200
            assert await response.read() == png
        async with http.get(url) as response:
            assert response.status == 401


async def test_restart_keeps_port_tokens_and_waiters(synapse: Synapse, new_actor: NewActor) -> None:
    alice, bob, room_id = await make_pair(new_actor)
    url = synapse.url
    # Alice is waiting while the server goes down and comes back: her wait rides it out.
    waiter = asyncio.create_task(alice.wait_for(match(body="after restart"), timeout=30))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await asyncio.to_thread(synapse.stop)
    with pytest.raises(ActorError) as refused:
        await bob.whoami()
    assert refused.value.status is None
    await asyncio.to_thread(synapse.start)
    restart_seconds = time.monotonic() - started
    assert synapse.url == url
    assert (await bob.whoami())["user_id"] == bob.user_id
    event_id = await bob.send_text(room_id, "after restart")
    assert (await waiter)["event_id"] == event_id
    print(f"restart took {restart_seconds:.2f} s")


async def test_wait_for_timeout_names_what_was_seen(new_actor: NewActor) -> None:
    alice, bob, room_id = await make_pair(new_actor)
    await bob.send_text(room_id, "something else")
    with pytest.raises(TimeoutError) as timed_out:
        await alice.wait_for(match(body="never sent"), timeout=0.3)
    message = str(timed_out.value)
    assert "body='never sent'" in message
    assert "'something else'" in message
    # Two at once, and a count that is not reached keeps what it saw.
    await bob.send_text(room_id, "one")
    await bob.send_text(room_id, "two")
    with pytest.raises(TimeoutError, match="3 of 4"):
        await alice.wait_for_all(match(sender=bob.user_id, msgtype="m.text"), 4, timeout=0.3)
    both = await alice.wait_for_all(match(sender=bob.user_id, msgtype="m.text"), 3, timeout=5)
    assert [e["content"]["body"] for e in both] == ["something else", "one", "two"]


async def test_errors_carry_status_and_errcode(new_actor: NewActor) -> None:
    alice = await new_actor()
    with pytest.raises(ActorError) as not_found:
        await alice.join("#no-such-room:localhost")
    assert not_found.value.status == 404
    assert not_found.value.errcode == "M_NOT_FOUND"
    bad = Actor(alice.homeserver_url, alice.user_id, "not-a-token", sync_on_enter=False)
    async with bad:
        with pytest.raises(ActorError) as unknown:
            await bad.whoami()
    assert unknown.value.errcode == "M_UNKNOWN_TOKEN"
    assert "not-a-token" not in str(unknown.value)


def test_start_failure_quotes_the_log(tmp_path: Path) -> None:
    # A stand-in "python" that fails like Synapse on a bad config, without the 2 s import.
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho 'Error in configuration at database: boom' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = Synapse(tmp_path / "hs", python=str(fake), startup_timeout=10)
    with pytest.raises(SynapseError, match=r"exited with code 3[\s\S]*database: boom"):
        server.start()
    assert not server.running


def test_busy_port_is_refused_before_spawning(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = Synapse(tmp_path / "hs", port=port, python=sys.executable)
        with pytest.raises(SynapseError, match=f"127.0.0.1:{port} is already in use"):
            server.start()
    assert server.pid is None

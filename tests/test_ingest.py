"""Unit tests for recognising submissions and other intents (SPEC §4), no server needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from twimbot.config import Config, parse_config
from twimbot.ingest import (
    BotIdentity,
    Command,
    Edit,
    Ignore,
    Malformed,
    Media,
    Message,
    PingRequest,
    Reaction,
    Redaction,
    RoomRoles,
    interpret,
    strip_reply_fallback,
)

BOT = BotIdentity("@twimbot:example.org", "TWIM Bot")
SUBMIT = RoomRoles(submissions=True)
EDITORS = RoomRoles(editors=True)
NEWS = "we released version 2.0 with a brand new timeline and threads support"


def make_config(**extra: Any) -> Config:
    data: dict[str, Any] = {
        "homeserver": "http://127.0.0.1:8008",
        "user_id": BOT.user_id,
        "database": "twimbot.db",
        "rooms": {"submissions": ["!sub:example.org"], "editors": "!ed:example.org"},
        "editors": ["@editor:example.org"],
    }
    data.update(extra)
    return parse_config(data, Path("."))


CONFIG = make_config()


def event(
    body: Any = None,
    *,
    content: Any = None,
    etype: str = "m.room.message",
    sender: str = "@alice:example.org",
    **extra: Any,
) -> dict[str, Any]:
    if content is None:
        content = {"msgtype": "m.text", "body": body}
    return {
        "event_id": "$e1",
        "room_id": "!sub:example.org",
        "sender": sender,
        "type": etype,
        "origin_server_ts": 1_700_000_000_000,
        "content": content,
        **extra,
    }


def candidate_of(body: str, **kw: Any) -> Any:
    intent = interpret(event(body), SUBMIT, kw.get("config", CONFIG), BOT)
    assert isinstance(intent, Message)
    return intent.candidate


@pytest.mark.parametrize(
    "body",
    [f"TWIM: {NEWS}", f"twim {NEWS}", f"TWIM:{NEWS}", f"  Twim - {NEWS}", f"TWIM\n{NEWS}"],
)
def test_prefix_is_matched_case_insensitively_with_word_boundary(body: str) -> None:
    cand = candidate_of(body)
    assert cand is not None and cand.refusal is None
    assert cand.text == NEWS
    assert cand.via == "prefix"


@pytest.mark.parametrize("body", [f"TWIMBOT {NEWS}", f"twim_ {NEWS}", f"I saw TWIM: {NEWS}"])
def test_prefix_needs_a_non_word_character_after_it_and_must_lead(body: str) -> None:
    assert candidate_of(body) is None


@pytest.mark.parametrize(
    "body", [f"@twimbot:example.org: {NEWS}", f"@twimbot {NEWS}", f"TWIM Bot: {NEWS}"]
)
def test_mention_of_the_bot_submits(body: str) -> None:
    cand = candidate_of(body)
    assert cand is not None and cand.via == "mention" and cand.text == NEWS


def test_mention_disabled_by_config() -> None:
    config = make_config(trigger={"mention": False})
    assert candidate_of(f"@twimbot {NEWS}", config=config) is None


def test_mention_pill_with_another_display_name() -> None:
    content = {
        "msgtype": "m.text",
        "body": f"Old Bot Name: {NEWS}",
        "format": "org.matrix.custom.html",
        "formatted_body": f'<a href="https://matrix.to/#/@twimbot:example.org">Old Bot Name</a>: {NEWS}',
        "m.mentions": {"user_ids": ["@twimbot:example.org"]},
    }
    intent = interpret(event(content=content), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Message)
    assert intent.candidate is not None and intent.candidate.text == NEWS


def test_too_short_is_refused_with_the_limit() -> None:
    cand = candidate_of("TWIM: tiny news")
    assert cand is not None
    assert cand.refusal is not None and "30" in cand.refusal


def test_too_long_is_refused_with_the_limit() -> None:
    cand = candidate_of("TWIM: " + "x" * 20_001)
    assert cand is not None and cand.refusal is not None and "20000" in cand.refusal


def test_custom_prefixes_and_min_length() -> None:
    config = make_config(trigger={"prefixes": ["TWIG", "News"], "min_length": 5})
    assert candidate_of("TWIG: short", config=config).text == "short"
    assert candidate_of("news: short", config=config).text == "short"
    assert candidate_of("TWIM: short but not ours", config=config) is None


def test_controls_and_bidi_are_removed_from_stored_text() -> None:
    cand = candidate_of(f"TWIM: {NEWS}\u202e\u0007 more\u2066")
    assert cand is not None
    assert "\u202e" not in cand.text and "\u0007" not in cand.text and "\u2066" not in cand.text


def test_reply_fallback_is_stripped() -> None:
    body = f"> <@bob:example.org> earlier message\n> second line\n\nTWIM: {NEWS}"
    content = {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}},
    }
    intent = interpret(event(content=content), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Message)
    assert intent.reply_to == "$earlier"
    assert intent.candidate is not None and intent.candidate.text == NEWS
    assert strip_reply_fallback("> quoting without a reply") == "> quoting without a reply"


def test_markdown_body_is_kept_verbatim() -> None:
    text = "### Nheko\n\n* one\n* two\n\n**bold** and `code`"
    cand = candidate_of("TWIM: " + text)
    assert cand is not None and cand.text == text


def test_notice_messages_do_not_submit_by_prefix() -> None:
    content = {"msgtype": "m.notice", "body": f"TWIM: {NEWS}"}
    intent = interpret(event(content=content), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Message) and intent.candidate is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ({"msgtype": "m.text", "body": 42}, "body"),
        ({"msgtype": "m.text"}, "body"),
        ({"msgtype": 3, "body": "x"}, "msgtype"),
        ({"msgtype": "m.text", "body": "x", "m.relates_to": "nope"}, "m.relates_to"),
        (
            {"msgtype": "m.text", "body": "x", "m.relates_to": {"m.in_reply_to": {"event_id": 5}}},
            "m.in_reply_to",
        ),
        (
            {
                "msgtype": "m.text",
                "body": "* x",
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$a"},
            },
            "m.new_content",
        ),
        ({"msgtype": "m.image", "body": "x.png"}, "url"),
    ],
)
def test_wrong_types_are_malformed_not_partly_applied(content: Any, why: str) -> None:
    intent = interpret(event(content=content), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Malformed)
    assert why.split(".")[0] in intent.reason or why in intent.reason


@pytest.mark.parametrize("bad", [None, "text", 5, [], {"event_id": "$x"}])
def test_garbage_events_never_raise(bad: Any) -> None:
    intent = interpret(bad, SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Malformed | Ignore)


def test_own_events_are_ignored() -> None:
    intent = interpret(event(f"TWIM: {NEWS}", sender=BOT.user_id), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Ignore)


def test_edit_carries_new_text_and_trigger() -> None:
    content = {
        "msgtype": "m.text",
        "body": f"* TWIM: {NEWS}",
        "m.new_content": {"msgtype": "m.text", "body": f"TWIM: {NEWS}"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
    }
    intent = interpret(event(content=content), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Edit)
    assert intent.target == "$orig"
    assert intent.candidate is not None and intent.candidate.text == NEWS


def test_redaction_in_both_room_versions() -> None:
    old = interpret(event(content={}, etype="m.room.redaction", redacts="$x"), SUBMIT, CONFIG, BOT)
    new = interpret(event(content={"redacts": "$y"}, etype="m.room.redaction"), SUBMIT, CONFIG, BOT)
    assert isinstance(old, Redaction) and old.target == "$x"
    assert isinstance(new, Redaction) and new.target == "$y"


def test_reactions() -> None:
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$t", "key": "Synapse"}}
    intent = interpret(event(content=content, etype="m.reaction"), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Reaction) and intent.key == "Synapse" and intent.target == "$t"
    huge = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$t", "key": "x" * 1000}}
    assert isinstance(
        interpret(event(content=huge, etype="m.reaction"), SUBMIT, CONFIG, BOT), Ignore
    )
    bad = {"m.relates_to": {"rel_type": "m.annotation", "event_id": ["$t"], "key": "x"}}
    assert isinstance(
        interpret(event(content=bad, etype="m.reaction"), SUBMIT, CONFIG, BOT), Malformed
    )


def test_media_in_submissions_room() -> None:
    content = {
        "msgtype": "m.image",
        "body": "shot.png",
        "url": "mxc://example.org/abc",
        "info": {"mimetype": "image/png"},
        "m.relates_to": {"m.in_reply_to": {"event_id": "$sub"}},
    }
    intent = interpret(event(content=content), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Media)
    assert (intent.kind, intent.mxc, intent.mimetype, intent.reply_to) == (
        "image",
        "mxc://example.org/abc",
        "image/png",
        "$sub",
    )
    # a caption: body is the text, filename the file's name
    captioned = {**content, "body": "look at this!", "filename": "shot.png"}
    intent = interpret(event(content=captioned), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Media) and intent.body == "shot.png"
    # in a thread the media belongs to the thread's root, not the fallback reply target
    threaded = {
        **content,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": "$root",
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": "$latest"},
        },
    }
    intent = interpret(event(content=threaded), SUBMIT, CONFIG, BOT)
    assert isinstance(intent, Media) and intent.reply_to == "$root"


def test_commands_only_in_the_editors_room() -> None:
    for body in ("!twim draft", "!twim", "!render", "!list-projects"):
        intent = interpret(event(body), EDITORS, CONFIG, BOT)
        assert isinstance(intent, Command), body
    assert not isinstance(interpret(event("!twim draft"), SUBMIT, CONFIG, BOT), Command)
    assert isinstance(interpret(event("!twimmy"), EDITORS, CONFIG, BOT), Ignore)


def test_ping_in_ping_room() -> None:
    intent = interpret(event("!ping"), RoomRoles(ping=True), CONFIG, BOT)
    assert isinstance(intent, PingRequest)

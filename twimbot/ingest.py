"""What an event means: a pure function from a raw event dict to an intent.

Every rule of SPEC §4 about recognising submissions lives here (trigger prefix or mention,
word boundary, reply fallback, length limits, edits, redactions, reactions, media) together
with the recognition of editor commands and pings. No I/O, no nio: the input is the event's
JSON as the homeserver sent it, and anything of the wrong shape becomes :class:`Malformed`
rather than being partly applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from twimbot.config import Config
from twimbot.model import MediaKind
from twimbot.ping import is_ping
from twimbot.sanitize import strip_controls

# hebbot's commands (twimbot.commands answers each: an alias, or how twimbot does it).
COMMAND_ALIASES = (
    "!render",
    "!status",
    "!list-projects",
    "!list-sections",
    "!details",
    "!say",
    "!list-config",
    "!about",
    "!restart",
    "!clear",
    "!update-config",
)
MEDIA_MSGTYPES: dict[str, MediaKind] = {"m.image": "image", "m.video": "video", "m.file": "file"}
# Separators people put between the trigger and their news ("TWIM: …", "@bot, …").
_SEPARATORS = re.compile(r"^[\s:,;.\-–—>]*")
# mxc://<server name>/<media id>, as the spec restricts both parts.
_MXC = re.compile(r"^mxc://[A-Za-z0-9.\-:\[\]]{1,255}/[A-Za-z0-9_\-]{1,255}$")
_REPLY_FALLBACK = re.compile(r"^(?:> ?[^\n]*\n)+\n?")


@dataclass(frozen=True)
class RoomRoles:
    """Which configured roles a room id plays (a room may play several)."""

    submissions: bool = False
    editors: bool = False
    ping: bool = False


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    display_name: str | None = None

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


# -- intents --------------------------------------------------------------------------


@dataclass(frozen=True)
class Ignore:
    """Nothing to do (not for us, or not a kind of event we act on)."""

    reason: str


@dataclass(frozen=True)
class Malformed:
    """The event has the wrong shape; it is logged and nothing is applied."""

    event_id: str
    reason: str


@dataclass(frozen=True)
class Candidate:
    """Text recognised as a submission, or refused with a reason for the sender."""

    text: str
    via: str  # prefix | mention
    refusal: str | None = None


@dataclass(frozen=True)
class Message:
    """A text message in a submissions room (recorded whether or not it submits)."""

    event_id: str
    room_id: str
    sender: str
    msgtype: str
    body: str
    origin_ts: int
    reply_to: str | None
    candidate: Candidate | None


@dataclass(frozen=True)
class Edit:
    event_id: str
    room_id: str
    sender: str
    target: str
    body: str
    origin_ts: int
    candidate: Candidate | None


@dataclass(frozen=True)
class Redaction:
    event_id: str
    room_id: str
    sender: str
    target: str


@dataclass(frozen=True)
class Reaction:
    event_id: str
    room_id: str
    sender: str
    target: str
    key: str
    origin_ts: int


@dataclass(frozen=True)
class Media:
    event_id: str
    room_id: str
    sender: str
    kind: MediaKind
    mxc: str
    body: str
    mimetype: str | None
    origin_ts: int
    reply_to: str | None


@dataclass(frozen=True)
class Command:
    event_id: str
    room_id: str
    sender: str
    body: str
    origin_ts: int


@dataclass(frozen=True)
class PingRequest:
    event: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class PongSeen:
    event: dict[str, Any] = field(hash=False)


Intent = (
    Ignore
    | Malformed
    | Message
    | Edit
    | Redaction
    | Reaction
    | Media
    | Command
    | PingRequest
    | PongSeen
)


# -- parsing helpers ------------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# Matrix restricts integers in events to the range IEEE doubles hold exactly (canonical JSON).
MAX_SAFE_INT = 2**53 - 1


def is_timestamp(value: Any) -> TypeGuard[int]:
    """A plausible ``origin_server_ts``: an int (not a bool) in Matrix's integer range."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SAFE_INT


def strip_reply_fallback(body: str) -> str:
    """Remove the ``> <@user> …`` quote a client puts before a reply's own text."""
    if not body.startswith("> <"):
        return body
    match = _REPLY_FALLBACK.match(body)
    return body[match.end() :] if match else body


def _starts_with_word(text: str, word: str) -> int | None:
    """Length of ``word`` at the start of ``text`` (case-insensitive) if a non-word follows."""
    if not word or len(text) < len(word) or text[: len(word)].casefold() != word.casefold():
        return None
    rest = text[len(word) :]
    if rest and (rest[0].isalnum() or rest[0] == "_"):
        return None
    return len(word)


def match_trigger(
    body: str,
    config: Config,
    bot: BotIdentity,
    *,
    mentions_bot: bool = False,
    pill_name: str | None = None,
) -> tuple[str, str] | None:
    """If ``body`` starts with a trigger, return (text after it, via) else None."""
    text = body.lstrip()
    words: list[tuple[str, str]] = [(p, "prefix") for p in config.trigger.prefixes]
    if config.trigger.mention:
        names = [bot.user_id, "@" + bot.localpart]
        if bot.display_name:
            names.append(bot.display_name)
        if mentions_bot and pill_name:
            names.append(pill_name)
        words += [(n, "mention") for n in names]
    # Longest first: a bot named "TWIM Bot" is a mention, not the prefix "TWIM".
    for word, via in sorted(words, key=lambda w: len(w[0]), reverse=True):
        n = _starts_with_word(text, word)
        if n is not None:
            return _SEPARATORS.sub("", text[n:], count=1), via
    return None


def make_candidate(raw_text: str, via: str, config: Config) -> Candidate:
    text = strip_controls(raw_text).strip()
    limits = config.trigger
    if len(text) < limits.min_length:
        return Candidate(
            text,
            via,
            refusal=f"too short to be a submission: {len(text)} characters, at least"
            f" {limits.min_length} are needed after the trigger",
        )
    if len(text) > limits.max_length:
        return Candidate(
            text,
            via,
            refusal=f"too long: {len(text)} characters, at most {limits.max_length} are accepted",
        )
    return Candidate(text, via)


def _pill_name(content: dict[str, Any], bot: BotIdentity) -> str | None:
    """The link text of a leading mention pill of the bot in ``formatted_body``."""
    formatted = _str(content.get("formatted_body"))
    if not formatted:
        return None
    match = re.match(
        r'^\s*<a href="https://matrix\.to/#/' + re.escape(bot.user_id) + r'">([^<]{1,100})</a>',
        formatted,
    )
    return match[1] if match else None


def _mentions_bot(content: dict[str, Any], bot: BotIdentity) -> bool:
    mentions = content.get("m.mentions")
    if not isinstance(mentions, dict):
        return False
    ids = mentions.get("user_ids")
    return isinstance(ids, list) and bot.user_id in ids


def recognise(
    content: dict[str, Any], body: str, config: Config, bot: BotIdentity, *, is_reply: bool
) -> Candidate | None:
    """The submission candidate in a message body, if it carries a trigger."""
    if is_reply:
        body = strip_reply_fallback(body)
    found = match_trigger(
        body,
        config,
        bot,
        mentions_bot=_mentions_bot(content, bot),
        pill_name=_pill_name(content, bot),
    )
    if found is None:
        return None
    return make_candidate(found[0], found[1], config)


def is_command(body: str) -> bool:
    head = body.lstrip()
    return any(_starts_with_word(head, w) is not None for w in ("!twim", *COMMAND_ALIASES))


# -- the interpreter ------------------------------------------------------------------


def interpret(event: Any, roles: RoomRoles, config: Config, bot: BotIdentity) -> Intent:
    """Turn one timeline event (its raw JSON, with ``room_id``) into an intent."""
    if not isinstance(event, dict):
        return Malformed("?", "event is not an object")
    event_id = _str(event.get("event_id"))
    room_id = _str(event.get("room_id"))
    sender = _str(event.get("sender"))
    etype = _str(event.get("type"))
    if event_id is None or room_id is None or sender is None or etype is None:
        return Malformed(
            str(event.get("event_id", "?"))[:100], "missing event_id/room_id/sender/type"
        )
    if sender == bot.user_id:
        return Ignore("own event")
    ts = event.get("origin_server_ts")
    origin_ts = ts if is_timestamp(ts) else 0
    content = event.get("content")
    if not isinstance(content, dict):
        return Malformed(event_id, "content is not an object")
    if etype == "m.room.redaction":
        # room v11 moved "redacts" into content; older rooms have it at the top level
        target = _str(content.get("redacts")) or _str(event.get("redacts"))
        if target is None:
            return Malformed(event_id, "redaction without a string 'redacts'")
        return Redaction(event_id, room_id, sender, target)
    relates = content.get("m.relates_to")
    if relates is not None and not isinstance(relates, dict):
        return Malformed(event_id, "m.relates_to is not an object")
    if etype == "m.reaction":
        if relates is None:
            return Malformed(event_id, "reaction without m.relates_to")
        target = _str(relates.get("event_id"))
        key = _str(relates.get("key"))
        if target is None or key is None or relates.get("rel_type") != "m.annotation":
            return Malformed(event_id, "reaction without an m.annotation event_id and key")
        if len(key) > 200:
            return Ignore("reaction key longer than any emoji or name we know")
        return Reaction(event_id, room_id, sender, target, key, origin_ts)
    if etype != "m.room.message":
        return Ignore(f"event type {etype}")
    return _message(event_id, room_id, sender, origin_ts, content, relates, roles, config, bot)


def _message(
    event_id: str,
    room_id: str,
    sender: str,
    origin_ts: int,
    content: dict[str, Any],
    relates: dict[str, Any] | None,
    roles: RoomRoles,
    config: Config,
    bot: BotIdentity,
) -> Intent:
    msgtype = content.get("msgtype")
    body = content.get("body")
    if not isinstance(msgtype, str):
        return Malformed(event_id, "msgtype is not a string")
    if not isinstance(body, str):
        return Malformed(event_id, "body is not a string")
    reply_to: str | None = None
    if relates is not None:
        in_reply = relates.get("m.in_reply_to")
        if in_reply is not None:
            if not isinstance(in_reply, dict) or not isinstance(in_reply.get("event_id"), str):
                return Malformed(event_id, "m.in_reply_to has no string event_id")
            reply_to = in_reply["event_id"]
        if relates.get("rel_type") == "m.replace":
            target = _str(relates.get("event_id"))
            new = content.get("m.new_content")
            if target is None or not isinstance(new, dict) or not isinstance(new.get("body"), str):
                return Malformed(event_id, "edit without a target or a string m.new_content.body")
            if not roles.submissions:
                return Ignore("edit outside a submissions room")
            new_body = strip_controls(new["body"])
            candidate = None
            if new.get("msgtype", "m.text") in ("m.text", "m.notice"):
                candidate = recognise(new, new_body, config, bot, is_reply=False)
            return Edit(event_id, room_id, sender, target, new_body, origin_ts, candidate)

    if roles.ping and isinstance(content.get("pong"), dict):
        return PongSeen(_event_copy(event_id, room_id, sender, origin_ts, content))
    if roles.ping:
        copy = _event_copy(event_id, room_id, sender, origin_ts, content)
        if is_ping(copy):
            return PingRequest(copy)
    if roles.editors and msgtype in ("m.text", "m.notice") and is_command(body):
        return Command(event_id, room_id, sender, body.strip(), origin_ts)
    if not roles.submissions:
        return Ignore("not a submissions room")
    if msgtype in MEDIA_MSGTYPES:
        url = _str(content.get("url"))
        if url is None:
            file_info = content.get("file")
            if isinstance(file_info, dict):
                return Ignore("encrypted media is not supported")
            return Malformed(event_id, "media without a string url")
        if not _MXC.match(url):
            return Malformed(event_id, "media url is not an mxc:// URI")
        info = content.get("info")
        mimetype = _str(info.get("mimetype")) if isinstance(info, dict) else None
        # With a caption (Matrix 1.10) ``body`` is the caption and ``filename`` the name.
        name = _str(content.get("filename")) or body
        # In a thread the root is what the media belongs to; m.in_reply_to there is only
        # the client's fallback to the thread's latest event.
        if relates is not None and relates.get("rel_type") == "m.thread":
            reply_to = _str(relates.get("event_id")) or reply_to
        return Media(
            event_id,
            room_id,
            sender,
            MEDIA_MSGTYPES[msgtype],
            url,
            strip_controls(name)[:300],
            mimetype,
            origin_ts,
            reply_to,
        )
    if msgtype not in ("m.text", "m.notice"):
        return Ignore(f"msgtype {msgtype}")
    candidate = None
    if msgtype == "m.text":
        candidate = recognise(content, body, config, bot, is_reply=reply_to is not None)
    stored_body = strip_controls(strip_reply_fallback(body) if reply_to else body)
    return Message(event_id, room_id, sender, msgtype, stored_body, origin_ts, reply_to, candidate)


def _event_copy(
    event_id: str, room_id: str, sender: str, origin_ts: int, content: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room_id,
        "sender": sender,
        "origin_server_ts": origin_ts,
        "content": content,
        "type": "m.room.message",
    }

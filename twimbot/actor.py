"""A small scripted Matrix user for tests, the demo and the benchmarks.

:class:`Actor` speaks the raw client-server API over aiohttp. It is deliberately not built on
matrix-nio: only ``twimbot/matrix.py`` may import nio, and tests must be able to send events of
any shape (missing ``body``, wrong types, huge or binary text) that nio would refuse to build.
Every method returns the homeserver's raw JSON (or the id it contains); nothing is modelled.

Waiting for events works from the actor's own sync position: entering ``async with Actor(...)``
takes a quick sync to learn "now", then :meth:`Actor.wait_for` long-polls ``/sync`` from there
and returns the first *new* timeline event that matches a predicate. Events that arrive but
match nothing stay buffered, so waits can be written in any order (wait for the bot's notice,
then for its reaction, even if the reaction came first). Each event is returned by at most one
wait. :meth:`Actor.mark` moves "now" forward and forgets the buffer.

Example::

    async with Actor.from_user(alice) as actor:
        room_id = await actor.create_room(name="News", invite=[bob.user_id])
        event_id = await actor.send_text(room_id, "TWIM: hello")
        ack = await actor.wait_for(match(event_type="m.reaction", relates_to=event_id))
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import mimetypes
import struct
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterable
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import aiohttp
from yarl import URL

__all__ = [
    "Actor",
    "ActorError",
    "JsonDict",
    "Match",
    "Predicate",
    "match",
]

JsonDict = dict[str, Any]
Predicate = Callable[[JsonDict], bool]
RoomPreset = Literal["public_chat", "private_chat", "trusted_private_chat"]

CLIENT_V3 = "/_matrix/client/v3"

# The sync filter of wait_for: a large timeline limit so a burst between two polls does not come
# back "limited" (with events left out), and none of the presence, typing, receipts or account
# data the actor never looks at.
_SYNC_FILTER: JsonDict = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "timeline": {"limit": 1000},
        "state": {"lazy_load_members": True},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}
# The first sync only learns the current position: no events, no state.
_MARK_FILTER: JsonDict = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "timeline": {"limit": 0},
        "state": {"types": []},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}

# How often a 429 is retried, and the longest wait accepted from retry_after_ms.
_RATE_LIMIT_RETRIES = 2
_MAX_RETRY_AFTER = 10.0
# Unconsumed events kept for later waits; older ones are dropped (a long benchmark must not
# grow without bound).
_BUFFER_LIMIT = 20000

_txn_counter = itertools.count(1)


class ActorError(Exception):
    """A request failed: the homeserver answered non-2xx, or did not answer at all.

    ``status`` is None when there was no HTTP answer (connection refused, reset, timeout),
    e.g. while the homeserver is down. The message never contains the access token.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        errcode: str | None = None,
        error: str | None = None,
        body: JsonDict | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.errcode = errcode
        self.error = error
        self.body = body or {}
        answer = "no answer" if status is None else f"HTTP {status}"
        detail = ": ".join(part for part in (errcode, error) if part)
        super().__init__(f"{method} {path} -> {answer}" + (f" {detail}" if detail else ""))


class _Credentials(Protocol):
    @property
    def homeserver(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def access_token(self) -> str: ...


def _q(value: str) -> str:
    """Percent-encode one path segment (room ids, aliases, event ids, user ids, types)."""
    return urllib.parse.quote(value, safe="")


def new_txn_id() -> str:
    """A transaction id unique in this process (and, with the timestamp, across runs)."""
    return f"actor.{time.time_ns()}.{next(_txn_counter)}"


def relation(event: JsonDict) -> JsonDict:
    """The event's ``content["m.relates_to"]``, or ``{}`` when absent or malformed."""
    content = event.get("content")
    if not isinstance(content, dict):
        return {}
    rel = content.get("m.relates_to")
    return rel if isinstance(rel, dict) else {}


class Match:
    """A predicate over raw events built from keyword criteria; all given criteria must hold.

    Its ``repr`` lists the criteria, which makes a timed-out :meth:`Actor.wait_for` readable.
    """

    def __init__(
        self,
        *,
        event_type: str | None = None,
        sender: str | None = None,
        room_id: str | None = None,
        msgtype: str | None = None,
        body: str | None = None,
        body_contains: str | None = None,
        relates_to: str | None = None,
        rel_type: str | None = None,
        key: str | None = None,
        in_reply_to: str | None = None,
        redacts: str | None = None,
        state_key: str | None = None,
        where: Predicate | None = None,
    ) -> None:
        self.criteria = {
            name: value
            for name, value in {
                "event_type": event_type,
                "sender": sender,
                "room_id": room_id,
                "msgtype": msgtype,
                "body": body,
                "body_contains": body_contains,
                "relates_to": relates_to,
                "rel_type": rel_type,
                "key": key,
                "in_reply_to": in_reply_to,
                "redacts": redacts,
                "state_key": state_key,
            }.items()
            if value is not None
        }
        self.where = where

    def __call__(self, event: JsonDict) -> bool:
        c = self.criteria
        content = event.get("content")
        content = content if isinstance(content, dict) else {}
        rel = relation(event)
        text = content.get("body")
        checks: dict[str, Callable[[], bool]] = {
            "event_type": lambda: event.get("type") == c["event_type"],
            "sender": lambda: event.get("sender") == c["sender"],
            "room_id": lambda: event.get("room_id") == c["room_id"],
            "msgtype": lambda: content.get("msgtype") == c["msgtype"],
            "body": lambda: text == c["body"],
            "body_contains": lambda: isinstance(text, str) and c["body_contains"] in text,
            "relates_to": lambda: rel.get("event_id") == c["relates_to"],
            "rel_type": lambda: rel.get("rel_type") == c["rel_type"],
            "key": lambda: rel.get("key") == c["key"],
            "in_reply_to": lambda: (
                isinstance(rel.get("m.in_reply_to"), dict)
                and rel["m.in_reply_to"].get("event_id") == c["in_reply_to"]
            ),
            # Room versions up to 10 carry "redacts" at the top level, 11 in the content.
            "redacts": lambda: c["redacts"] in (event.get("redacts"), content.get("redacts")),
            "state_key": lambda: event.get("state_key") == c["state_key"],
        }
        if not all(checks[name]() for name in c):
            return False
        return self.where is None or bool(self.where(event))

    def __repr__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in self.criteria.items()]
        if self.where is not None:
            parts.append(f"where={getattr(self.where, '__name__', self.where)!r}")
        return f"match({', '.join(parts)})"


def match(**criteria: Any) -> Match:
    """Shorthand for :class:`Match`: ``match(event_type="m.reaction", relates_to=event_id)``."""
    return Match(**criteria)


def _png_size(data: bytes) -> tuple[int, int] | None:
    # Width and height from the IHDR chunk, so image events carry info.w/info.h like Element's.
    if len(data) >= 24 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def _strip_reply_fallback(body: str) -> str:
    # A reply's body starts with "> " quote lines and an empty line: quote only the new text.
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])


def _describe(event: JsonDict) -> str:
    content = event.get("content")
    body = content.get("body") if isinstance(content, dict) else None
    rel = relation(event)
    text = f"{event.get('type')} from {event.get('sender')}"
    if isinstance(body, str):
        text += f" {body[:40]!r}"
    if rel:
        text += f" rel={rel.get('rel_type') or 'm.in_reply_to'}->{rel.get('event_id', '')}"
    return text


class Actor:
    """One Matrix user driven by a script, over the raw client-server API.

    Use as ``async with Actor(url, user_id, token) as actor:``. With ``sync_on_enter`` (the
    default) entering takes a quick sync so that :meth:`wait_for` sees only events that arrive
    afterwards; with ``sync_on_enter=False`` that happens at the first :meth:`wait_for`.
    """

    def __init__(
        self,
        homeserver_url: str,
        user_id: str,
        access_token: str,
        *,
        sync_on_enter: bool = True,
        request_timeout: float = 30.0,
    ) -> None:
        self.homeserver_url = homeserver_url.rstrip("/")
        self.user_id = user_id
        self._token = access_token
        self._sync_on_enter = sync_on_enter
        self._request_timeout = request_timeout
        self._session: aiohttp.ClientSession | None = None
        self._since: str | None = None
        self._buffer: list[JsonDict] = []
        self._invites: list[str] = []
        self._sync_lock = asyncio.Lock()
        # Bumped by every completed sync: a waiter that queued behind another waiter's sync
        # rescans the buffer instead of polling again.
        self._sync_generation = 0

    @classmethod
    def from_user(cls, user: _Credentials, **kwargs: Any) -> Actor:
        """An actor for anything with ``homeserver``, ``user_id`` and ``access_token``
        (e.g. :class:`twimbot.devserver.RegisteredUser`)."""
        return cls(user.homeserver, user.user_id, user.access_token, **kwargs)

    @property
    def access_token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        # Never the token: a failing test prints its locals.
        return f"<Actor {self.user_id} on {self.homeserver_url}>"

    # --- lifecycle ---

    async def __aenter__(self) -> Self:
        await self.open()
        if self._sync_on_enter:
            await self.mark()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the HTTP session (``async with`` does this)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self._token}"},
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- HTTP ---

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
        http_timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; return ``(status, body)`` of a 2xx answer.

        ``path`` is already percent-encoded. A 429 is retried after its ``retry_after_ms``
        (up to twice); any other non-2xx answer raises :class:`ActorError`.
        """
        if self._session is None:
            await self.open()
        assert self._session is not None
        url = self.homeserver_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Content-Type": content_type} if content_type else {}
        client_timeout = aiohttp.ClientTimeout(total=http_timeout or self._request_timeout)
        for attempt in itertools.count():
            try:
                # encoded=True: the path is already quoted; yarl must not quote "%21" again.
                async with self._session.request(
                    method,
                    URL(url, encoded=True),
                    data=data,
                    headers=headers,
                    timeout=client_timeout,
                ) as response:
                    status = response.status
                    payload = await response.read()
                    retry_header = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ActorError(method, path, None, error=repr(exc)) from exc
            if 200 <= status < 300:
                return status, payload
            try:
                answer = json.loads(payload)
            except ValueError:
                answer = None
            answer = answer if isinstance(answer, dict) else {}
            errcode = answer.get("errcode")
            error = answer.get("error") or payload[:200].decode("utf-8", "replace")
            if status == 429 and attempt < _RATE_LIMIT_RETRIES:
                delay_ms = answer.get("retry_after_ms")
                if not isinstance(delay_ms, int | float) and retry_header is not None:
                    delay_ms = float(retry_header) * 1000 if retry_header.isdigit() else None
                delay = float(delay_ms) / 1000 if isinstance(delay_ms, int | float) else 1.0
                await asyncio.sleep(min(max(delay, 0.0), _MAX_RETRY_AFTER))
                continue
            raise ActorError(method, path, status, errcode, error, answer)
        raise AssertionError("unreachable")

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        http_timeout: float | None = None,
    ) -> JsonDict:
        """Send a JSON request (``body`` may be any JSON value, or None for no body) and
        return the JSON object answered."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        content_type = "application/json" if data is not None else None
        _, payload = await self.request_raw(
            method,
            path,
            params=params,
            data=data,
            content_type=content_type,
            http_timeout=http_timeout,
        )
        if not payload:
            return {}
        answer = json.loads(payload)
        if not isinstance(answer, dict):
            raise ActorError(method, path, 200, error="answer is not a JSON object")
        return answer

    # --- account and rooms ---

    async def whoami(self) -> JsonDict:
        return await self.request("GET", f"{CLIENT_V3}/account/whoami")

    async def set_displayname(self, displayname: str) -> None:
        await self.request(
            "PUT",
            f"{CLIENT_V3}/profile/{_q(self.user_id)}/displayname",
            {"displayname": displayname},
        )

    async def create_room(
        self,
        name: str | None = None,
        alias_localpart: str | None = None,
        invite: Iterable[str] = (),
        preset: RoomPreset = "public_chat",
        power_levels_override: JsonDict | None = None,
        *,
        topic: str | None = None,
        extra: JsonDict | None = None,
    ) -> str:
        """Create a room and return its id. ``extra`` is merged into the request body."""
        body: JsonDict = {"preset": preset}
        if name is not None:
            body["name"] = name
        if alias_localpart is not None:
            body["room_alias_name"] = alias_localpart
        invitees = list(invite)
        if invitees:
            body["invite"] = invitees
        if power_levels_override is not None:
            body["power_level_content_override"] = power_levels_override
        if topic is not None:
            body["topic"] = topic
        body.update(extra or {})
        answer = await self.request("POST", f"{CLIENT_V3}/createRoom", body)
        return str(answer["room_id"])

    async def join(self, room_id_or_alias: str) -> str:
        """Join a room by id or alias; return the room id."""
        answer = await self.request("POST", f"{CLIENT_V3}/join/{_q(room_id_or_alias)}", {})
        return str(answer["room_id"])

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.request("POST", f"{CLIENT_V3}/rooms/{_q(room_id)}/invite", {"user_id": user_id})

    async def leave(self, room_id: str) -> None:
        await self.request("POST", f"{CLIENT_V3}/rooms/{_q(room_id)}/leave", {})

    async def kick(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        body: JsonDict = {"user_id": user_id}
        if reason is not None:
            body["reason"] = reason
        await self.request("POST", f"{CLIENT_V3}/rooms/{_q(room_id)}/kick", body)

    async def resolve_alias(self, alias: str) -> str:
        answer = await self.request("GET", f"{CLIENT_V3}/directory/room/{_q(alias)}")
        return str(answer["room_id"])

    async def joined_members(self, room_id: str) -> JsonDict:
        """``{user_id: {"display_name": ..., "avatar_url": ...}}`` of the room's members."""
        answer = await self.request("GET", f"{CLIENT_V3}/rooms/{_q(room_id)}/joined_members")
        joined = answer.get("joined", {})
        return joined if isinstance(joined, dict) else {}

    async def get_state(self, room_id: str, event_type: str, state_key: str = "") -> JsonDict:
        """The content of one state event."""
        return await self.request(
            "GET", f"{CLIENT_V3}/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}"
        )

    async def send_state(
        self, room_id: str, event_type: str, content: Any, state_key: str = ""
    ) -> str:
        """Set a state event; return its event id."""
        answer = await self.request(
            "PUT",
            f"{CLIENT_V3}/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}",
            content,
        )
        return str(answer["event_id"])

    async def set_power_level(self, room_id: str, user_id: str, level: int) -> str:
        """Give ``user_id`` power ``level`` in the room; return the new power-levels event id."""
        levels = await self.get_state(room_id, "m.room.power_levels")
        users = levels.setdefault("users", {})
        users[user_id] = level
        return await self.send_state(room_id, "m.room.power_levels", levels)

    # --- sending ---

    async def send(
        self, room_id: str, event_type: str, content: Any, txn_id: str | None = None
    ) -> str:
        """Send an event with raw ``content`` of any shape; return its event id.

        Nothing is checked here, so tests can send malformed events on purpose.
        """
        txn = txn_id or new_txn_id()
        answer = await self.request(
            "PUT",
            f"{CLIENT_V3}/rooms/{_q(room_id)}/send/{_q(event_type)}/{_q(txn)}",
            content,
        )
        return str(answer["event_id"])

    async def send_text(
        self,
        room_id: str,
        body: str,
        msgtype: str = "m.text",
        extra_content: JsonDict | None = None,
    ) -> str:
        """Send an ``m.room.message``; ``extra_content`` is merged into the content."""
        content: JsonDict = {"msgtype": msgtype, "body": body}
        content.update(extra_content or {})
        return await self.send(room_id, "m.room.message", content)

    async def reply(
        self,
        room_id: str,
        to_event_id: str,
        body: str,
        *,
        msgtype: str = "m.text",
        mention_sender: bool = True,
        extra_content: JsonDict | None = None,
    ) -> str:
        """Reply to an event as Element does: ``m.in_reply_to``, a ``> <@sender> …`` quote of
        the original in ``body`` and ``formatted_body`` (the legacy reply fallback), and the
        original sender in ``m.mentions`` (unless ``mention_sender`` is false)."""
        original = await self.get_event(room_id, to_event_id)
        sender = str(original.get("sender", ""))
        original_content = original.get("content")
        original_body = ""
        if isinstance(original_content, dict) and isinstance(original_content.get("body"), str):
            original_body = _strip_reply_fallback(original_content["body"])
        quoted = original_body.split("\n") or [""]
        fallback = "\n".join([f"> <{sender}> {quoted[0]}"] + [f"> {line}" for line in quoted[1:]])
        link = f"https://matrix.to/#/{_q(room_id)}/{_q(to_event_id)}"
        formatted = (
            f'<mx-reply><blockquote><a href="{link}">In reply to</a> '
            f'<a href="https://matrix.to/#/{_q(sender)}">{html.escape(sender)}</a><br />'
            f"{html.escape(original_body).replace(chr(10), '<br />')}</blockquote></mx-reply>"
            f"{html.escape(body).replace(chr(10), '<br />')}"
        )
        content: JsonDict = {
            "msgtype": msgtype,
            "body": f"{fallback}\n\n{body}",
            "format": "org.matrix.custom.html",
            "formatted_body": formatted,
            "m.relates_to": {"m.in_reply_to": {"event_id": to_event_id}},
        }
        if mention_sender and sender and sender != self.user_id:
            content["m.mentions"] = {"user_ids": [sender]}
        content.update(extra_content or {})
        return await self.send(room_id, "m.room.message", content)

    async def edit(
        self, room_id: str, event_id: str, new_body: str, *, msgtype: str = "m.text"
    ) -> str:
        """Edit a message as Element does (``m.replace`` with ``m.new_content`` and a ``* …``
        fallback body); return the edit's event id."""
        content: JsonDict = {
            "msgtype": msgtype,
            "body": f"* {new_body}",
            "m.new_content": {"msgtype": msgtype, "body": new_body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        return await self.send(room_id, "m.room.message", content)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """Annotate an event with ``key`` (an emoji, usually); return the reaction's id."""
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        return await self.send(room_id, "m.reaction", content)

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        """Redact (delete) an event; return the redaction's event id."""
        body: JsonDict = {} if reason is None else {"reason": reason}
        answer = await self.request(
            "PUT",
            f"{CLIENT_V3}/rooms/{_q(room_id)}/redact/{_q(event_id)}/{_q(new_txn_id())}",
            body,
        )
        return str(answer["event_id"])

    # --- media ---

    async def upload(self, data: bytes, content_type: str, filename: str) -> str:
        """Upload bytes to the media repository; return the ``mxc://`` URI."""
        _, payload = await self.request_raw(
            "POST",
            "/_matrix/media/v3/upload",
            params={"filename": filename},
            data=data,
            content_type=content_type,
        )
        answer = json.loads(payload)
        return str(answer["content_uri"])

    async def download(self, mxc: str) -> bytes:
        """Download media through the authenticated endpoint (``/_matrix/client/v1/media``)."""
        parsed = urllib.parse.urlparse(mxc)
        media_id = parsed.path.strip("/")
        if parsed.scheme != "mxc" or not parsed.netloc or not media_id:
            raise ValueError(f"not an mxc:// URI: {mxc!r}")
        path = f"/_matrix/client/v1/media/download/{_q(parsed.netloc)}/{_q(media_id)}"
        _, payload = await self.request_raw("GET", path)
        return payload

    async def send_image(
        self,
        room_id: str,
        data: bytes,
        filename: str,
        reply_to: str | None = None,
        *,
        content_type: str | None = None,
        extra_content: JsonDict | None = None,
    ) -> str:
        """Upload an image and post it as ``m.image`` (optionally as a reply); return its id.

        The MIME type is guessed from ``filename`` unless given; PNG sizes go into ``info``.
        """
        mimetype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        mxc = await self.upload(data, mimetype, filename)
        info: JsonDict = {"mimetype": mimetype, "size": len(data)}
        size = _png_size(data)
        if size is not None:
            info["w"], info["h"] = size
        content: JsonDict = {
            "msgtype": "m.image",
            "body": filename,
            "filename": filename,
            "url": mxc,
            "info": info,
        }
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        content.update(extra_content or {})
        return await self.send(room_id, "m.room.message", content)

    # --- reading ---

    async def get_event(self, room_id: str, event_id: str) -> JsonDict:
        return await self.request("GET", f"{CLIENT_V3}/rooms/{_q(room_id)}/event/{_q(event_id)}")

    async def room_messages(
        self,
        room_id: str,
        limit: int = 10,
        dir: Literal["b", "f"] = "b",
        *,
        from_token: str | None = None,
        filter: JsonDict | None = None,
    ) -> JsonDict:
        """One page of ``/messages``: ``{"chunk": [...], "start": ..., "end": ...}``.

        ``dir="b"`` pages backwards from the latest event (newest first).
        """
        params = {"limit": str(limit), "dir": dir}
        if from_token is not None:
            params["from"] = from_token
        if filter is not None:
            params["filter"] = json.dumps(filter)
        return await self.request("GET", f"{CLIENT_V3}/rooms/{_q(room_id)}/messages", params=params)

    # --- waiting for events ---

    async def sync_once(self, timeout_ms: int = 0) -> int:
        """One ``/sync`` from the actor's position; buffer what came; return how many events.

        The first call (or :meth:`mark`) only learns the current position.
        """
        async with self._sync_lock:
            return await self._sync_locked(timeout_ms)

    async def _sync_locked(self, timeout_ms: int) -> int:
        if self._since is None:
            answer = await self.request(
                "GET",
                f"{CLIENT_V3}/sync",
                params={"timeout": "0", "filter": json.dumps(_MARK_FILTER)},
            )
            self._since = str(answer["next_batch"])
            self._sync_generation += 1
            return 0
        answer = await self.request(
            "GET",
            f"{CLIENT_V3}/sync",
            params={
                "since": self._since,
                "timeout": str(timeout_ms),
                "filter": json.dumps(_SYNC_FILTER),
            },
            http_timeout=timeout_ms / 1000 + 30,
        )
        count = 0
        rooms = answer.get("rooms", {})
        # Joined rooms, and rooms just left (a kick or ban is the last event seen there).
        for section in ("join", "leave"):
            for room_id, room in rooms.get(section, {}).items():
                for event in room.get("timeline", {}).get("events", []):
                    if isinstance(event, dict):
                        event["room_id"] = room_id
                        self._buffer.append(event)
                        count += 1
        for room_id in rooms.get("invite", {}):
            if room_id not in self._invites:
                self._invites.append(room_id)
        if len(self._buffer) > _BUFFER_LIMIT:
            del self._buffer[: len(self._buffer) - _BUFFER_LIMIT]
        # Only now: a sync cut short (cancelled, failed) leaves the position where it was,
        # so its events come again with the next one.
        self._since = str(answer["next_batch"])
        self._sync_generation += 1
        return count

    async def mark(self) -> str:
        """Make "now" the starting point of later waits: forget buffered events and invites,
        and sync to the current position. Returns the sync token."""
        async with self._sync_lock:
            self._since = None
            self._buffer.clear()
            self._invites.clear()
            await self._sync_locked(0)
            assert self._since is not None
            return self._since

    @property
    def pending_events(self) -> list[JsonDict]:
        """Events received since the last :meth:`mark` that no wait has returned yet."""
        return list(self._buffer)

    def _take(self, predicate: Predicate, rooms: Collection[str] | None) -> JsonDict | None:
        for index, event in enumerate(self._buffer):
            if rooms is not None and event.get("room_id") not in rooms:
                continue
            if predicate(event):
                del self._buffer[index]
                return event
        return None

    async def _poll(self, deadline: float) -> None:
        """Long-poll once (or wait for another waiter's poll), riding out server outages."""
        generation = self._sync_generation
        async with self._sync_lock:
            if self._sync_generation != generation:
                return  # someone else synced while this waiter queued: rescan first
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            try:
                await self._sync_locked(int(min(remaining, 30.0) * 1000))
            except ActorError as exc:
                # Homeserver down or restarting (no answer, 502/503...): keep trying until the
                # deadline, as outage tests stop and start it under a waiting actor.
                if exc.status is not None and exc.status < 500:
                    raise
                await asyncio.sleep(min(0.2, max(remaining, 0.0)))

    async def wait_for(
        self,
        predicate: Predicate,
        # A deadline over many long polls, not one awaitable: asyncio.timeout() cannot say
        # which event was missing.
        timeout: float = 10.0,
        rooms: str | Collection[str] | None = None,
    ) -> JsonDict:
        """Return the first new timeline event (raw JSON, with ``room_id`` added) for which
        ``predicate`` is true, in ``rooms`` if given; raise ``TimeoutError`` after ``timeout``
        seconds. The event is consumed: a later wait will not return it again."""
        room_set = {rooms} if isinstance(rooms, str) else rooms
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._since is None:
            await self.sync_once()
        while True:
            event = self._take(predicate, room_set)
            if event is not None:
                return event
            if loop.time() >= deadline:
                raise TimeoutError(self._timeout_message(predicate, timeout, 0, 1))
            await self._poll(deadline)

    async def wait_for_all(
        self,
        predicate: Predicate,
        count: int,
        # A deadline over many long polls, not one awaitable: asyncio.timeout() cannot say
        # which event was missing.
        timeout: float = 10.0,
        rooms: str | Collection[str] | None = None,
    ) -> list[JsonDict]:
        """Return ``count`` distinct new matching events, in arrival order (see wait_for)."""
        room_set = {rooms} if isinstance(rooms, str) else rooms
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._since is None:
            await self.sync_once()
        found: list[JsonDict] = []
        while True:
            while len(found) < count and (event := self._take(predicate, room_set)) is not None:
                found.append(event)
            if len(found) >= count:
                return found
            if loop.time() >= deadline:
                # Give back what was taken, so a retry or a looser wait can still see it.
                self._buffer[:0] = found
                raise TimeoutError(self._timeout_message(predicate, timeout, len(found), count))
            await self._poll(deadline)

    async def wait_for_invite(self, timeout: float = 10.0) -> str:
        """Return the id of a room this user was newly invited to (consumed like events)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._since is None:
            await self.sync_once()
        while not self._invites:
            if loop.time() >= deadline:
                raise TimeoutError(f"{self.user_id}: no invite within {timeout:g} s")
            await self._poll(deadline)
        return self._invites.pop(0)

    def _timeout_message(self, predicate: Predicate, timeout: float, got: int, want: int) -> str:
        pending = self._buffer[-8:]
        seen = "; ".join(_describe(event) for event in pending) or "none"
        what = predicate if isinstance(predicate, Match) else getattr(predicate, "__name__", "?")
        return (
            f"{self.user_id}: {got} of {want} event(s) matching {what} within {timeout:g} s; "
            f"{len(self._buffer)} other new event(s), latest: {seen}"
        )

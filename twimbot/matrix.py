"""The only module that talks to matrix-nio.

It turns nio's responses into plain dicts and small dataclasses (:class:`SyncBatch`), owns
login, room joins, the sync call with bounded retries, backfill of ``limited`` timelines,
and sending with caller-chosen transaction ids. It never runs nio event callbacks (an
exception there would end nio's sync loop) and never relies on nio's own token storage:
the bot stores the token itself, after the batch is stored.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    JoinResponse,
    LoginResponse,
    MessageDirection,
    ProfileGetDisplayNameResponse,
    RoomMessagesResponse,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
    WhoamiResponse,
)

from twimbot import secrecy
from twimbot.errors import MatrixError

log = logging.getLogger(__name__)

# The power of a room creator in room versions 12+: above any number a room can set.
CREATOR_LEVEL = 2**62

# Our own sync filter: enough timeline per room that short outages need no backfill, lazy
# members (the TWIM room is large), nothing we do not read.
SYNC_FILTER: dict[str, Any] = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "timeline": {"limit": 100},
        "state": {"lazy_load_members": True},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}


class RateLimited(MatrixError):
    """The homeserver said 429; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(MatrixError):
    """The homeserver could not be reached or timed out."""


class Refused(MatrixError):
    """The homeserver answered with an error that retrying will not fix."""

    def __init__(self, message: str, errcode: str | None, status: int | None) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.status = status


@dataclass
class RoomSnapshot:
    """What the bot needs to know about a room at the end of a sync batch."""

    room_id: str
    names: dict[str, str] = field(default_factory=dict)  # user id -> display name
    levels: dict[str, int] = field(default_factory=dict)
    users_default: int = 0
    redact_level: int = 50

    def level(self, user_id: str) -> int:
        return self.levels.get(user_id, self.users_default)


@dataclass
class SyncBatch:
    """One /sync response, reduced to what the bot acts on."""

    next_batch: str
    events: list[dict[str, Any]]  # timeline events of joined rooms, in order, with room_id
    invites: list[tuple[str, list[str]]]  # (room id, aliases seen in the invite state)
    rooms: dict[str, RoomSnapshot]
    first: bool = False
    limited: dict[str, str] = field(default_factory=dict)  # room id -> prev_batch of a gap


class MatrixPort(Protocol):
    """What the bot needs from a homeserver; the seam tests and benchmarks can swap."""

    user_id: str

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch: ...
    async def send(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str: ...
    async def upload(self, data: bytes, content_type: str, filename: str) -> str: ...
    async def join(self, room: str) -> str: ...
    async def resolve_alias(self, alias: str) -> str: ...
    async def display_name(self, user_id: str) -> str | None: ...
    async def download(self, mxc: str, max_bytes: int) -> tuple[bytes, str | None]: ...
    async def backfill(
        self,
        room_id: str,
        prev_batch: str,
        reached: Callable[[dict[str, Any]], bool],
        max_pages: int = 50,
    ) -> list[dict[str, Any]]: ...
    def snapshot(self, room_id: str) -> RoomSnapshot: ...
    async def close(self) -> None: ...


_MXC_RE = re.compile(r"^mxc://([A-Za-z0-9.:\[\]-]+)/([A-Za-z0-9_-]+)$")


def _spec_at_least(version: str, major: int, minor: int) -> bool:
    found = re.fullmatch(r"v(\d+)\.(\d+)", version)
    return found is not None and (int(found[1]), int(found[2])) >= (major, minor)


async def _errcode(resp: aiohttp.ClientResponse) -> str | None:
    try:
        data = await resp.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return None
    code = data.get("errcode") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


def _describe(resp: Any) -> str:
    if isinstance(resp, ErrorResponse):
        return f"{resp.status_code or 'error'}: {resp.message or 'no message'}"
    return type(resp).__name__


def _raise_for(resp: Any, what: str) -> None:
    if not isinstance(resp, ErrorResponse):
        return
    transport = getattr(resp, "transport_response", None)
    status = getattr(transport, "status", None)
    if resp.status_code == "M_LIMIT_EXCEEDED" or status == 429:
        retry = (getattr(resp, "retry_after_ms", None) or 5000) / 1000
        raise RateLimited(f"{what}: rate limited for {retry:.1f} s", retry)
    if status is not None and status >= 500:
        raise Unreachable(f"{what}: homeserver error {status}")
    raise Refused(f"{what}: {_describe(resp)}", resp.status_code, status)


class NioMatrix:
    """:class:`MatrixPort` over a matrix-nio ``AsyncClient``."""

    def __init__(self, homeserver: str, user_id: str, *, device_id: str | None = None) -> None:
        # nio retries 429 and timeouts forever by default; the bot does its own backoff.
        config = AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=0, request_timeout=40, store_sync_tokens=False
        )
        self.user_id = user_id
        self.homeserver = homeserver
        self._client = AsyncClient(homeserver, user_id, device_id=device_id or "", config=config)
        self._profile_cache: dict[str, str | None] = {}
        self._http: aiohttp.ClientSession | None = None
        self._creators: dict[str, frozenset[str]] = {}
        self._v1_media: bool | None = None

    @property
    def access_token(self) -> str:
        return str(self._client.access_token)

    @property
    def device_id(self) -> str:
        return str(self._client.device_id or "")

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            resp = await coro
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise Unreachable(f"{what}: {type(err).__name__}: {err}") from None
        _raise_for(resp, what)
        return resp

    async def use_token(self, access_token: str) -> str:
        """Adopt an access token; returns the device id the homeserver reports."""
        self._client.access_token = access_token
        self._client.user_id = self.user_id
        resp = await self._call("whoami", self._client.whoami())
        assert isinstance(resp, WhoamiResponse)
        if resp.user_id != self.user_id:
            raise Refused(
                f"the access token belongs to {resp.user_id}, not to user_id {self.user_id}",
                None,
                None,
            )
        self._client.device_id = resp.device_id or ""
        return self.device_id

    async def login_password(self, password: str, device_id: str | None = None) -> tuple[str, str]:
        """Log in once; returns (access token, device id) for the caller to keep.

        Passing the device id of an earlier login reuses that device instead of adding one.
        """
        self._client.device_id = device_id or ""
        resp = await self._call(
            "login",
            self._client.login(password=password, device_name="twimbot"),
        )
        assert isinstance(resp, LoginResponse)
        return resp.access_token, resp.device_id

    async def resolve_alias(self, alias: str) -> str:
        if alias.startswith("!"):
            return alias
        resp = await self._call(f"resolve {alias}", self._client.room_resolve_alias(alias))
        assert isinstance(resp, RoomResolveAliasResponse)
        return str(resp.room_id)

    async def join(self, room: str) -> str:
        resp = await self._call(f"join {room}", self._client.join(room))
        assert isinstance(resp, JoinResponse)
        return str(resp.room_id)

    async def display_name(self, user_id: str) -> str | None:
        if user_id in self._profile_cache:
            return self._profile_cache[user_id]
        try:
            resp = await self._client.get_displayname(user_id)
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None
        name = resp.displayname if isinstance(resp, ProfileGetDisplayNameResponse) else None
        self._profile_cache[user_id] = name
        return name

    def snapshot(self, room_id: str) -> RoomSnapshot:
        room = self._client.rooms.get(room_id)
        snap = RoomSnapshot(room_id)
        if room is None:
            return snap
        for user_id, user in room.users.items():
            if user.display_name:
                snap.names[user_id] = user.display_name
        power = room.power_levels
        snap.levels = dict(power.users)
        for creator in self._creators.get(room_id, frozenset()):
            snap.levels[creator] = CREATOR_LEVEL
        snap.users_default = int(power.defaults.users_default)
        snap.redact_level = int(power.defaults.redact)
        return snap

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch:
        resp = await self._call(
            "sync",
            self._client.sync(timeout=timeout_ms, sync_filter=SYNC_FILTER, since=since),
        )
        assert isinstance(resp, SyncResponse)
        events: list[dict[str, Any]] = []
        rooms: dict[str, RoomSnapshot] = {}
        limited: dict[str, str] = {}
        for room_id, info in resp.rooms.join.items():
            for event in info.timeline.events:
                source = getattr(event, "source", None)
                if isinstance(source, dict):
                    events.append({**source, "room_id": room_id})
            if info.timeline.limited and info.timeline.prev_batch:
                limited[room_id] = info.timeline.prev_batch
            if room_id not in self._creators:
                self._creators[room_id] = await self._room_creators(room_id)
            rooms[room_id] = self.snapshot(room_id)
        invites: list[tuple[str, list[str]]] = []
        for room_id, invite in resp.rooms.invite.items():
            aliases: list[str] = []
            for event in invite.invite_state:
                source = getattr(event, "source", {}) or {}
                content = source.get("content", {}) if isinstance(source, dict) else {}
                if isinstance(content, dict):
                    alias = content.get("alias")
                    if isinstance(alias, str):
                        aliases.append(alias)
                    alt = content.get("alt_aliases")
                    if isinstance(alt, list):
                        aliases += [a for a in alt if isinstance(a, str)]
            invites.append((room_id, aliases))
        return SyncBatch(resp.next_batch, events, invites, rooms, since is None, limited)

    async def _room_creators(self, room_id: str) -> frozenset[str]:
        """Users with unlimited power: the creators of a room version 12+ room.

        Since room version 12 (MSC4289) creators are not listed in m.room.power_levels; nio
        does not know this, so the create event is read once per room.
        """
        try:
            event = await self._get_json(
                f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state/m.room.create/"
                "?format=event"
            )
        except MatrixError as err:
            log.warning("cannot read the create event of %s: %s", room_id, err)
            return frozenset()
        content = event.get("content") if isinstance(event.get("content"), dict) else event
        assert isinstance(content, dict)
        version = str(content.get("room_version", "1"))
        if not (version.isdigit() and int(version) >= 12) and "hydra" not in version:
            return frozenset()
        creators = {event["sender"]} if isinstance(event.get("sender"), str) else set()
        extra = content.get("additional_creators")
        if isinstance(extra, list):
            creators |= {u for u in extra if isinstance(u, str)}
        return frozenset(creators)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self._http

    async def _get_json(self, path: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._client.access_token}"}
        try:
            async with self._session().get(self.homeserver + path, headers=headers) as resp:
                if resp.status == 429:
                    raise RateLimited("rate limited", 5.0)
                if resp.status >= 500:
                    raise Unreachable(f"homeserver error {resp.status}")
                data = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(data, dict):
                    errcode = data.get("errcode") if isinstance(data, dict) else None
                    raise Refused(
                        f"HTTP {resp.status} {errcode or ''}".strip(), errcode, resp.status
                    )
                return data
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as err:
            raise Unreachable(f"{type(err).__name__}: {err}") from None

    async def backfill(
        self,
        room_id: str,
        prev_batch: str,
        reached: Callable[[dict[str, Any]], bool],
        max_pages: int = 50,
    ) -> list[dict[str, Any]]:
        """Page back from ``prev_batch`` until ``reached`` is true for an event.

        Returns the missed events, oldest first, without the reached one.
        """
        found: list[dict[str, Any]] = []
        token = prev_batch
        for _ in range(max_pages):
            resp = await self._call(
                f"messages {room_id}",
                self._client.room_messages(
                    room_id, start=token, direction=MessageDirection.back, limit=100
                ),
            )
            assert isinstance(resp, RoomMessagesResponse)
            for event in resp.chunk:
                source = getattr(event, "source", None)
                if not isinstance(source, dict):
                    continue
                source = {**source, "room_id": room_id}
                if reached(source):
                    found.reverse()
                    return found
                found.append(source)
            if not resp.chunk or not resp.end or resp.end == token:
                break
            token = resp.end
        log.warning(
            "backfill of %s stopped after %d events without reaching known history",
            room_id,
            len(found),
        )
        found.reverse()
        return found

    async def send(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        # Nothing the bot says may carry a secret, whoever wrote the text.
        content = secrecy.scrub_json(content)
        resp = await self._call(
            f"send to {room_id}",
            self._client.room_send(
                room_id, event_type, content, tx_id=txn_id, ignore_unverified_devices=True
            ),
        )
        assert isinstance(resp, RoomSendResponse)
        return str(resp.event_id)

    async def upload(self, data: bytes, content_type: str, filename: str) -> str:
        if content_type.startswith("text/"):
            data = secrecy.scrub(data.decode("utf-8", errors="replace")).encode("utf-8")
        try:
            resp, _keys = await self._client.upload(
                lambda *_: io.BytesIO(data),
                content_type=content_type,
                filename=filename,
                filesize=len(data),
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise Unreachable(f"upload: {type(err).__name__}: {err}") from None
        _raise_for(resp, "upload")
        assert isinstance(resp, UploadResponse)
        return str(resp.content_uri)

    async def _authenticated_media(self) -> bool:
        """Whether the homeserver serves ``/_matrix/client/v1/media`` (spec v1.11)."""
        if self._v1_media is None:
            try:
                versions = await self._get_json("/_matrix/client/versions")
            except MatrixError:
                return True  # unknown: try v1 first, a 404 M_UNRECOGNIZED still falls back
            listed = versions.get("versions")
            unstable = versions.get("unstable_features")
            self._v1_media = (
                isinstance(listed, list)
                and any(_spec_at_least(v, 1, 11) for v in listed if isinstance(v, str))
            ) or (isinstance(unstable, dict) and unstable.get("org.matrix.msc3916.stable") is True)
        return self._v1_media

    async def download(self, mxc: str, max_bytes: int) -> tuple[bytes, str | None]:
        """Fetch media with the bot's token through the authenticated endpoint.

        The legacy unauthenticated endpoint is used only when the homeserver does not offer
        the v1 one (it does not list spec v1.11, or answers 404 ``M_UNRECOGNIZED``). Returns
        the bytes and the Content-Type the server sent.
        """
        match = _MXC_RE.match(mxc)
        if match is None:
            raise Refused(f"download: not an mxc URI: {mxc[:100]}", None, None)
        server, media_id = quote(match[1], safe=""), quote(match[2], safe="")
        paths = [
            f"/_matrix/client/v1/media/download/{server}/{media_id}",
            f"/_matrix/media/v3/download/{server}/{media_id}",
        ]
        if not await self._authenticated_media():
            paths = paths[1:]
        headers = {"Authorization": f"Bearer {self._client.access_token}"}
        for index, path in enumerate(paths):
            try:
                async with self._session().get(self.homeserver + path, headers=headers) as resp:
                    if resp.status in (400, 404) and index < len(paths) - 1:
                        body = await resp.text()
                        if "M_UNRECOGNIZED" in body:
                            self._v1_media = False  # the homeserver predates authenticated media
                            continue
                    if resp.status == 429:
                        raise RateLimited("download: rate limited", 5.0)
                    if resp.status >= 500:
                        raise Unreachable(f"download: homeserver error {resp.status}")
                    if resp.status != 200:
                        errcode = await _errcode(resp)
                        raise Refused(
                            f"download: HTTP {resp.status}{' ' + errcode if errcode else ''}",
                            errcode,
                            resp.status,
                        )
                    if resp.content_length is not None and resp.content_length > max_bytes:
                        raise Refused(
                            f"download: {resp.content_length} bytes, larger than media.max_bytes"
                            f" ({max_bytes})",
                            None,
                            413,
                        )
                    # StreamReader.read(n) returns what is buffered, not n bytes: read to EOF.
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_chunked(1 << 16):
                        size += len(chunk)
                        if size > max_bytes:
                            raise Refused(
                                f"download: larger than media.max_bytes ({max_bytes})", None, 413
                            )
                        chunks.append(chunk)
                    return b"".join(chunks), resp.headers.get("Content-Type")
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise Unreachable(f"download: {type(err).__name__}: {err}") from None
        raise Refused("download: media not found", None, 404)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        await self._client.close()

"""The Dept of Ping: answer ``!ping`` like maubot/echo, rank servers like maubot/pingstat.

Everything above the "I/O" marker is pure (event dicts in, values out; no nio, no network).

Semantics, as read from maubot/echo ``echo.py`` and maubot/pingstat ``pingstat.py``:

* echo answers a ``!ping`` (an ``m.text`` whose body's first space-separated word is ``!ping``,
  case-insensitive; anything after the first space is an optional message) with an
  ``m.notice``. Its delay is ``now_ms - origin_server_ts`` of the ping, ``from`` is the server
  part of the *pinging* user's id, and the content carries ``pong = {ms, from, ping}`` and an
  ``m.relates_to`` of ``rel_type`` ``xyz.maubot.pong`` (which also repeats ``from`` and ``ms``).
* pingstat records a pong only when it is an ``m.notice`` whose body reads
  ``<@user:server>: Pong! (ping ["msg" ]took … to arrive)`` and whose content has ``pong``.
  It keys pongs by (room, ping event, server of the *pong* sender): one ping answered by bots
  on three servers is three samples, but a second answer from the same server is not stored
  (the first one wins). Its table ranks the pinging servers by the median of all their samples
  whose pong was sent within the window and whose delay is between 10 ms and 10 minutes
  (both inclusive); the median of an even count is the mean of the two middle values.

Deliberate differences: ties in the ranking are broken by server name (pingstat keeps
database order), a sample's window is half-open ``[since_ms, until_ms)`` so that consecutive
editions never share one, the pong body pattern is tightened against regex backtracking,
pong fields are type-checked (pingstat stores whatever it gets), and ``formatted_body``
HTML-escapes the ids it embeds.
"""

from __future__ import annotations

import html
import json
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twimbot.errors import TwimbotError
from twimbot.model import PingRow

if TYPE_CHECKING:  # imported when fetching: `twimbot draft` and `status` never need it
    import aiohttp

PONG_REL_TYPE = "xyz.maubot.pong"
MIN_DELAY_MS = 10
MAX_DELAY_MS = 10 * 60 * 1000

# Matrix canonical JSON integers; anything outside cannot come from a real event.
_MAX_INT = 2**53 - 1
# A Matrix server name: DNS name, IPv4 or [IPv6], optional port. Server names end up in the
# post's Markdown table, so nothing else (no `|`, no spaces, no markup) may get through.
_SERVER_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,230})(?::[0-9]{1,5})?")
_USER_RE = re.compile(r"@[^:\s]{1,230}:(?P<server>\S+)")
_EVENT_ID_RE = re.compile(r"\$\S{1,254}")
# The body pingstat records (its pattern is ``^@.+:.+: Pong! \(ping (".+" )?took .+ to
# arrive\)$``), tightened to what a user id and echo's delay text can hold: pingstat's nested
# ``.+`` backtrack for a noticeable fraction of a second on a crafted body.
_PONG_BODY_RE = re.compile(r'@[^:\s]+:\S+: Pong! \(ping (?:"[^\n]+" )?took [^()\n]+ to arrive\)')
_MAX_PONG_BODY = 1000


class PingstatError(TwimbotError):
    """A pingstat ``stats.json`` could not be fetched or read; ``str()`` is one line."""


@dataclass(frozen=True)
class PingSample:
    """One measured ping: how long a ping from ``server`` took to reach ``reporter``."""

    ping_event_id: str
    server: str  # of the pinging user: the row of the table
    delay_ms: int
    origin_ts: int  # ms since epoch when the pong was sent; what the window looks at
    reporter: str  # user id of the bot that measured (and sent the pong)

    @property
    def reporter_server(self) -> str:
        """The server that measured; pingstat keeps one sample per ping and measuring server."""
        return self.reporter.partition(":")[2]


# -- validation helpers -------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    # bool is an int subclass in Python but never a number in JSON
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -_MAX_INT <= value <= _MAX_INT else None


def _server(value: Any) -> str | None:
    if isinstance(value, str) and _SERVER_RE.fullmatch(value):
        return value
    return None


def _user_server(user_id: Any) -> str | None:
    """The server part of a valid user id, else None."""
    if not isinstance(user_id, str):
        return None
    match = _USER_RE.fullmatch(user_id)
    return _server(match["server"]) if match else None


def _event_id(value: Any) -> str | None:
    if isinstance(value, str) and _EVENT_ID_RE.fullmatch(value):
        return value
    return None


# -- answering pings ----------------------------------------------------------------------------


def _ping_message(event: Any, prefix: str) -> str | None:
    """The optional text after the ping command, or None when ``event`` is not a ping."""
    if not isinstance(event, dict) or event.get("type", "m.room.message") != "m.room.message":
        return None
    content = event.get("content")
    if not isinstance(content, dict) or content.get("msgtype") != "m.text":
        return None
    body = content.get("body")
    if not isinstance(body, str) or not body:
        return None
    relates = content.get("m.relates_to")
    if relates is not None and (
        not isinstance(relates, dict) or relates.get("rel_type") == "m.replace"
    ):
        # an edit of a ping is not a new ping; it would count the same ping twice
        return None
    if (
        _user_server(event.get("sender")) is None
        or _event_id(event.get("event_id")) is None
        or _int(event.get("origin_server_ts")) is None
    ):
        return None
    # maubot splits the command word off at the first space only, then lowercases it
    command, _, rest = body.partition(" ")
    if command.lower() != prefix.lower():
        return None
    return rest.strip()


def is_ping(event: Any, prefix: str = "!ping") -> bool:
    """True when ``event`` is a ping echo would answer (and a well-formed event).

    The caller still has to skip the bot's own messages, as maubot does.
    """
    return _ping_message(event, prefix) is not None


def _plural(num: float, unit: str, decimals: int | None = None) -> str:
    value: float = round(num, decimals) if decimals is not None else round(num)
    return f"{value} {unit}" if value == 1 else f"{value} {unit}s"


def format_delay(diff_ms: int) -> str:
    """A delay the way echo writes it: ``318 ms``, ``12.3 seconds``, ``1 minute and 5 seconds``."""
    if abs(diff_ms) < 10_000:
        return f"{diff_ms} ms"
    if abs(diff_ms) < 60_000:
        return _plural(diff_ms / 1000, "second", decimals=1)
    minutes, seconds = divmod(diff_ms / 1000, 60)
    if abs(minutes) < 60:
        return f"{_plural(minutes, 'minute')} and {_plural(seconds, 'second')}"
    hours, minutes = divmod(minutes, 60)
    if abs(hours) < 24:
        return (
            f"{_plural(hours, 'hour')}, {_plural(minutes, 'minute')}"
            f" and {_plural(seconds, 'second')}"
        )
    days, hours = divmod(hours, 24)
    return (
        f"{_plural(days, 'day')}, {_plural(hours, 'hour')}, {_plural(minutes, 'minute')}"
        f" and {_plural(seconds, 'second')}"
    )


def pong_content(
    ping_event: dict[str, Any], now_ms: int, *, prefix: str = "!ping", room_id: str | None = None
) -> dict[str, Any]:
    """The ``m.notice`` content echo would send in answer to ``ping_event`` at ``now_ms``.

    ``room_id`` is only needed when the event dict lacks one (sync timelines omit it); without
    either, the ``ping`` link is left out of ``formatted_body``. Raises ``ValueError`` when
    :func:`is_ping` is false for the event.
    """
    message = _ping_message(ping_event, prefix)
    if message is None:
        raise ValueError("not a ping event")
    sender: str = ping_event["sender"]
    event_id: str = ping_event["event_id"]
    diff = now_ms - int(ping_event["origin_server_ts"])
    pong_from = sender.split(":", 1)[1]
    pretty = format_delay(diff)
    text_took = f'"{message[:20]}" took' if message else "took"
    html_took = f'"{html.escape(message[:20])}" took' if message else "took"
    room = ping_event.get("room_id") if isinstance(ping_event.get("room_id"), str) else room_id
    esc_sender = html.escape(sender)
    if room:
        ping_link = (
            f"<a href='https://matrix.to/#/{html.escape(room)}/{html.escape(event_id)}'>ping</a>"
        )
    else:
        ping_link = "ping"
    return {
        "msgtype": "m.notice",
        "format": "org.matrix.custom.html",
        "body": f"{sender}: Pong! (ping {text_took} {pretty} to arrive)",
        "formatted_body": (
            f"<a href='https://matrix.to/#/{esc_sender}'>{esc_sender}</a>: Pong!"
            f" ({ping_link} {html_took} {pretty} to arrive)"
        ),
        "m.relates_to": {
            "rel_type": PONG_REL_TYPE,
            "event_id": event_id,
            "from": pong_from,
            "ms": diff,
        },
        "pong": {"ms": diff, "from": pong_from, "ping": event_id},
    }


def own_sample(
    ping_event: dict[str, Any], now_ms: int, bot_user_id: str, *, prefix: str = "!ping"
) -> PingSample:
    """The bot's own measurement of ``ping_event``, as it is about to answer at ``now_ms``.

    Raises ``ValueError`` when the event is not a ping or ``bot_user_id`` is not a user id.
    """
    if _ping_message(ping_event, prefix) is None:
        raise ValueError("not a ping event")
    if _user_server(bot_user_id) is None:
        raise ValueError(f"{bot_user_id!r} is not a user id")
    return PingSample(
        ping_event_id=ping_event["event_id"],
        server=ping_event["sender"].split(":", 1)[1],
        delay_ms=now_ms - int(ping_event["origin_server_ts"]),
        origin_ts=now_ms,
        reporter=bot_user_id,
    )


# -- recording pongs ----------------------------------------------------------------------------


def parse_pong(event: Any) -> PingSample | None:
    """Read a pong from any echo-compatible bot; None for anything else or anything malformed.

    Accepts what pingstat accepts (an ``m.notice`` with echo's body and a ``pong`` object),
    with every field type-checked: ``ms`` an integer, ``from`` a server name, ``ping`` an
    event id, the sender a user id. Negative delays (clock skew) are kept, as pingstat
    stores them; :func:`ping_table` leaves them out.
    """
    if not isinstance(event, dict) or event.get("type", "m.room.message") != "m.room.message":
        return None
    content = event.get("content")
    if not isinstance(content, dict) or content.get("msgtype") != "m.notice":
        return None
    body = content.get("body")
    if not isinstance(body, str) or len(body) > _MAX_PONG_BODY:
        return None
    if not _PONG_BODY_RE.fullmatch(body):
        return None
    pong = content.get("pong")
    if not isinstance(pong, dict):
        return None
    delay = _int(pong.get("ms"))
    server = _server(pong.get("from"))
    ping_id = _event_id(pong.get("ping"))
    origin_ts = _int(event.get("origin_server_ts"))
    reporter = event.get("sender")
    if (
        delay is None
        or server is None
        or ping_id is None
        or origin_ts is None
        or origin_ts < 0
        or _user_server(reporter) is None
    ):
        return None
    relates = content.get("m.relates_to")
    if relates is not None:
        if not isinstance(relates, dict):
            return None
        # pingstat ignores the relation; echo sets it to the same ping, so a mismatch is forged
        if relates.get("rel_type") == PONG_REL_TYPE and relates.get("event_id") != ping_id:
            return None
    assert isinstance(reporter, str)
    return PingSample(
        ping_event_id=ping_id,
        server=server,
        delay_ms=delay,
        origin_ts=origin_ts,
        reporter=reporter,
    )


# -- the table ----------------------------------------------------------------------------------


def _ranked(medians: Iterable[tuple[str, float]], top: int) -> list[PingRow]:
    if top < 1:
        raise ValueError("top must be at least 1")
    ordered = sorted(medians, key=lambda item: (item[1], item[0]))[:top]
    return [
        PingRow(rank=i, server=server, median_ms=float(median))
        for i, (server, median) in enumerate(ordered, start=1)
    ]


def ping_table(
    samples: Iterable[PingSample], *, since_ms: int, until_ms: int, top: int
) -> list[PingRow]:
    """Rank pinging servers by median delay over ``[since_ms, until_ms)``, as pingstat does.

    One sample per (ping, measuring server) counts: the earliest pong (then the smaller
    reporter id) wins, like pingstat's primary key that refuses the later insert. The window
    applies to the pong's time; delays outside 10 ms – 10 min are left out. Ranks run
    1..``top`` by median ascending, ties by server name.
    """
    chosen: dict[tuple[str, str], PingSample] = {}
    for sample in samples:
        key = (sample.ping_event_id, sample.reporter_server)
        kept = chosen.get(key)
        if kept is None or (sample.origin_ts, sample.reporter, sample.delay_ms) < (
            kept.origin_ts,
            kept.reporter,
            kept.delay_ms,
        ):
            chosen[key] = sample
    delays: dict[str, list[int]] = {}
    for sample in chosen.values():
        if since_ms <= sample.origin_ts < until_ms and (
            MIN_DELAY_MS <= sample.delay_ms <= MAX_DELAY_MS
        ):
            delays.setdefault(sample.server, []).append(sample.delay_ms)
    return _ranked(((s, statistics.median(d)) for s, d in delays.items()), top)


def parse_pingstat_json(data: Any, top: int) -> list[PingRow]:
    """The table from a pingstat ``/{room_id}/stats.json`` document (already JSON-decoded).

    pingstat serves ``{"pings": {server: {"median": …, "mean": …, "pongs": {…}, …}, …}, …}``
    with medians already restricted to 10 ms – 10 min. Entries with a malformed server name
    or median are skipped; a document without a ``pings`` object raises ``ValueError``.
    """
    pings = data.get("pings") if isinstance(data, dict) else None
    if not isinstance(pings, dict):
        raise ValueError("not a pingstat stats.json: no 'pings' object")
    medians: list[tuple[str, float]] = []
    for server, info in pings.items():
        if _server(server) is None or not isinstance(info, dict):
            continue
        median = info.get("median")
        if isinstance(median, bool) or not isinstance(median, int | float):
            continue
        if not math.isfinite(median) or median < 0:
            continue
        medians.append((server, float(median)))
    return _ranked(medians, top)


# == I/O: fetching a pingstat instance's table ===================================================

FETCH_TIMEOUT_S = 10.0
MAX_STATS_BYTES = 5 * 1024 * 1024


async def fetch_pingstat(
    url: str,
    top: int,
    session: aiohttp.ClientSession | None = None,
    *,
    timeout_s: float = FETCH_TIMEOUT_S,
) -> list[PingRow]:
    """GET a pingstat ``stats.json`` URL and return its top rows.

    Raises :class:`PingstatError` (one line) on network errors, timeouts, non-200 answers,
    bodies over 5 MiB, invalid JSON and documents that are not pingstat's.
    """
    if top < 1:
        # a caller's mistake, not pingstat's: keep it out of the PingstatError path below
        raise ValueError("top must be at least 1")
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    own = session is None
    client = aiohttp.ClientSession(timeout=timeout) if session is None else session
    try:
        async with client.get(url, headers={"Accept": "application/json"}, timeout=timeout) as resp:
            if resp.status != 200:
                raise PingstatError(f"pingstat: {url} answered HTTP {resp.status}")
            raw = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                raw += chunk
                if len(raw) > MAX_STATS_BYTES:
                    raise PingstatError(f"pingstat: {url} sent more than {MAX_STATS_BYTES} bytes")
        data = json.loads(raw.decode("utf-8"))
        return parse_pingstat_json(data, top)
    except TimeoutError:
        raise PingstatError(f"pingstat: {url} did not answer within {timeout_s:g} s") from None
    except aiohttp.ClientError as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise PingstatError(f"pingstat: cannot fetch {url}: {reason}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PingstatError(f"pingstat: {url} did not send JSON") from None
    except ValueError as err:
        raise PingstatError(f"pingstat: {url}: {err}") from None
    finally:
        if own:
            await client.close()

"""A tiny HTTP reverse proxy on 127.0.0.1 for fault-injection tests.

It stands between the bot and the real Synapse, forwards every request unchanged and
records it (time, method, path, status), so a test can count what the bot asked for during
an outage, and a test hook can answer some requests itself instead (a 429 with
``retry_after_ms``). When Synapse is down the proxy answers 502, as a reverse proxy in
front of a real homeserver does. It is not a homeserver: every answer that is not injected
comes from Synapse.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

# Headers that belong to one hop, not to the request (RFC 9110 §7.6.1), plus those aiohttp sets.
_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-encoding",
}

Inject = Callable[[web.Request, bytes], Awaitable[web.Response | None]]


@dataclass
class Record:
    started: float  # time.monotonic() when the request arrived
    finished: float  # when the answer was sent
    method: str
    path: str  # without the query string
    query: str
    status: int
    injected: bool


class Proxy:
    """``async with Proxy(upstream) as proxy:`` then point a client at ``proxy.url``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.records: list[Record] = []
        self.inject: Inject | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.url = ""

    async def __aenter__(self) -> Proxy:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=120), auto_decompress=False
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def count(self, path_contains: str, since: float = 0.0, until: float | None = None) -> int:
        """Requests whose path contains ``path_contains`` that arrived in [since, until]."""
        end = until if until is not None else float("inf")
        return sum(1 for r in self.records if path_contains in r.path and since <= r.started <= end)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        body = await request.read()
        if self.inject is not None:
            answer = await self.inject(request, body)
            if answer is not None:
                self._record(request, started, answer.status, injected=True)
                return answer
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        try:
            async with self._client.request(
                request.method,
                self.upstream + request.rel_url.raw_path_qs,
                headers=headers,
                data=body if body else None,
            ) as upstream:
                data = await upstream.read()
                out = web.Response(
                    status=upstream.status,
                    body=data,
                    headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP},
                )
        except (aiohttp.ClientError, TimeoutError, OSError):
            out = web.Response(
                status=502,
                text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                content_type="text/html",
            )
        self._record(request, started, out.status, injected=False)
        return out

    def _record(self, request: web.Request, started: float, status: int, *, injected: bool) -> None:
        self.records.append(
            Record(
                started,
                time.monotonic(),
                request.method,
                request.rel_url.raw_path,
                request.rel_url.raw_query_string,
                status,
                injected,
            )
        )


def too_many_requests(retry_after_ms: int) -> web.Response:
    """Synapse's 429 answer: ``M_LIMIT_EXCEEDED`` with ``retry_after_ms`` and Retry-After."""
    return web.json_response(
        {
            "errcode": "M_LIMIT_EXCEEDED",
            "error": "Too Many Requests",
            "retry_after_ms": retry_after_ms,
        },
        status=429,
        headers={"Retry-After": str(max(1, round(retry_after_ms / 1000)))},
    )

"""Which media endpoint the bot downloads through, against the real Synapse.

The bot must use the authenticated ``/_matrix/client/v1/media/download`` with its token, and
the legacy ``/_matrix/media/v3/download`` only when the homeserver lacks v1 (SPEC §4, hebbot
#93/#134). Synapse offers v1, so the "older homeserver" cases put ``tests/proxy.py`` in front
of it: the proxy answers ``/versions`` as a pre-1.11 server would, or answers the v1 path with
the ``404 M_UNRECOGNIZED`` an older server gives, and serves the legacy path from Synapse's own
bytes (Synapse no longer serves new media on the legacy path). Every other request reaches
Synapse unchanged.
"""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from conftest import NewActor
from proxy import Proxy

from twimbot.devserver import Synapse
from twimbot.matrix import NioMatrix, Refused

V1 = "/_matrix/client/v1/media/download/"
LEGACY = "/_matrix/media/v3/download/"
BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


async def _setup(new_actor: NewActor, synapse: Synapse) -> tuple[str, str, str]:
    """An uploaded file's mxc URI, and a second user's id and token to download it with."""
    uploader = await new_actor("Uploader")
    mxc = await uploader.upload(BYTES, "image/png", "shot.png")
    reader = await new_actor("Reader")
    return mxc, reader.user_id, reader.access_token


async def _legacy_from_synapse(proxy: Proxy, request: web.Request) -> web.Response:
    """Serve the legacy path as an old homeserver would: the same bytes, from Synapse's v1."""
    tail = request.rel_url.raw_path.removeprefix(LEGACY)
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": request.headers.get("Authorization", "")}
        async with http.get(f"{proxy.upstream}{V1}{tail}", headers=headers) as upstream:
            return web.Response(status=upstream.status, body=await upstream.read())


async def _download(url: str, user_id: str, token: str, mxc: str) -> bytes:
    client = NioMatrix(url, user_id)
    try:
        await client.use_token(token)
        data, _ = await client.download(mxc, 1 << 20)
        return data
    finally:
        await client.close()


async def test_a_current_homeserver_is_asked_through_v1_only(
    synapse: Synapse, new_actor: NewActor
) -> None:
    mxc, user_id, token = await _setup(new_actor, synapse)
    async with Proxy(synapse.url) as proxy:
        assert await _download(proxy.url, user_id, token, mxc) == BYTES
        assert proxy.count(V1) == 1
        assert proxy.count(LEGACY) == 0


async def test_a_homeserver_without_spec_1_11_is_asked_through_the_legacy_path(
    synapse: Synapse, new_actor: NewActor
) -> None:
    mxc, user_id, token = await _setup(new_actor, synapse)
    async with Proxy(synapse.url) as proxy:

        async def old_server(request: web.Request, _body: bytes) -> web.Response | None:
            if request.rel_url.raw_path == "/_matrix/client/versions":
                return web.json_response({"versions": ["r0.6.1", "v1.1", "v1.10"]})
            if request.rel_url.raw_path.startswith(LEGACY):
                return await _legacy_from_synapse(proxy, request)
            return None

        proxy.inject = old_server
        assert await _download(proxy.url, user_id, token, mxc) == BYTES
        assert proxy.count(V1) == 0
        assert proxy.count(LEGACY) == 1


async def test_v1_answered_unrecognized_falls_back_to_the_legacy_path_once(
    synapse: Synapse, new_actor: NewActor
) -> None:
    mxc, user_id, token = await _setup(new_actor, synapse)
    async with Proxy(synapse.url) as proxy:

        async def no_v1(request: web.Request, _body: bytes) -> web.Response | None:
            path = request.rel_url.raw_path
            if path.startswith(V1):
                body = {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
                return web.json_response(body, status=404)
            if path.startswith(LEGACY):
                return await _legacy_from_synapse(proxy, request)
            return None

        proxy.inject = no_v1
        client = NioMatrix(proxy.url, user_id)
        try:
            await client.use_token(token)
            assert (await client.download(mxc, 1 << 20))[0] == BYTES
            # Learned: the second download goes straight to the legacy path.
            assert (await client.download(mxc, 1 << 20))[0] == BYTES
        finally:
            await client.close()
        assert proxy.count(V1) == 1
        assert proxy.count(LEGACY) == 2


async def test_a_missing_file_on_v1_is_not_retried_on_the_legacy_path(
    synapse: Synapse, new_actor: NewActor
) -> None:
    """A plain 404 (M_NOT_FOUND) means the file is gone, not that the server is old."""
    _, user_id, token = await _setup(new_actor, synapse)
    async with Proxy(synapse.url) as proxy:
        client = NioMatrix(proxy.url, user_id)
        try:
            await client.use_token(token)
            with pytest.raises(Refused, match="404"):
                await client.download(f"mxc://{synapse.server_name}/doesnotexist", 1 << 20)
        finally:
            await client.close()
        assert proxy.count(LEGACY) == 0

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
from proxy import Inject, Proxy

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


def _old_homeserver(proxy: Proxy, *, announces_v1_11: bool) -> Inject:
    """An older homeserver: no v1 media (its ``/versions`` says so, or only its 404 does),
    and the legacy path serving the same bytes, taken from Synapse's v1."""

    async def answer(request: web.Request, _body: bytes) -> web.Response | None:
        path = request.rel_url.raw_path
        if path == "/_matrix/client/versions" and not announces_v1_11:
            return web.json_response({"versions": ["r0.6.1", "v1.1", "v1.10"]})
        if path.startswith(V1):
            body = {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
            return web.json_response(body, status=404)
        if path.startswith(LEGACY):
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": request.headers.get("Authorization", "")}
                url = f"{proxy.upstream}{V1}{path.removeprefix(LEGACY)}"
                async with http.get(url, headers=headers) as upstream:
                    return web.Response(status=upstream.status, body=await upstream.read())
        return None

    return answer


@pytest.mark.parametrize(
    ("homeserver", "v1", "legacy"),
    [
        pytest.param("current", 2, 0, id="current: v1 only"),
        pytest.param("pre-1.11", 0, 2, id="no spec 1.11 in /versions: legacy only"),
        # Learned from the first 404: the second download goes straight to the legacy path.
        pytest.param("v1 unrecognized", 1, 2, id="v1 answers M_UNRECOGNIZED: legacy after"),
    ],
)
async def test_which_endpoint_serves_two_downloads(
    synapse: Synapse, new_actor: NewActor, homeserver: str, v1: int, legacy: int
) -> None:
    mxc, user_id, token = await _setup(new_actor, synapse)
    async with Proxy(synapse.url) as proxy:
        if homeserver != "current":
            proxy.inject = _old_homeserver(proxy, announces_v1_11=homeserver != "pre-1.11")
        client = NioMatrix(proxy.url, user_id)
        try:
            await client.use_token(token)
            for _ in range(2):
                assert (await client.download(mxc, 1 << 20))[0] == BYTES
        finally:
            await client.close()
        assert (proxy.count(V1), proxy.count(LEGACY)) == (v1, legacy)


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

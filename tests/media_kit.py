"""Helpers for the media and edition tests: real image bytes, and the bot's draft as files.

``png()`` makes a valid PNG of random pixels (large enough, by default, that a download
arrives in several chunks); ``run_draft()`` sends ``!twim draft`` (or any command that
answers with the Markdown, the zip and a summary) and downloads what the bot uploaded.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from world import World

IMAGE_RE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def png(seed: int, side: int = 160) -> bytes:
    """A ``side`` x ``side`` RGB PNG of random pixels (incompressible: ~3*side² bytes)."""
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def reply_to(event: dict[str, Any]) -> str | None:
    rel = event.get("content", {}).get("m.relates_to", {})
    return rel.get("m.in_reply_to", {}).get("event_id") if isinstance(rel, dict) else None


@dataclass
class DraftFiles:
    markdown_name: str
    markdown: str
    zip_name: str
    zip_bytes: bytes
    summary: str

    @property
    def zip(self) -> zipfile.ZipFile:
        return zipfile.ZipFile(io.BytesIO(self.zip_bytes))

    def image_targets(self) -> list[str]:
        return IMAGE_RE.findall(self.markdown)


async def run_draft(
    world: World, command: str = "!twim draft", timeout: float = 40, *, sent: str | None = None
) -> DraftFiles:
    """Send ``command`` (or take the already ``sent`` command's event id) and return the
    Markdown, the zip and the summary the bot answered."""
    if sent is None:
        sent = await world.editor.send_text(world.editors_room, command)
    replies = await world.editor.wait_for_all(
        lambda e: e.get("sender") == world.bot_user.user_id and reply_to(e) == sent,
        3,
        timeout=timeout,
    )
    files = [e for e in replies if e["content"].get("msgtype") == "m.file"]
    notices = [e for e in replies if e["content"].get("msgtype") == "m.notice"]
    assert len(files) == 2 and len(notices) == 1, [e["content"].get("body") for e in replies]
    md = next(e for e in files if e["content"]["body"].endswith(".md"))
    zp = next(e for e in files if e["content"]["body"].endswith(".zip"))
    return DraftFiles(
        md["content"]["body"],
        (await world.editor.download(md["content"]["url"])).decode("utf-8"),
        zp["content"]["body"],
        await world.editor.download(zp["content"]["url"]),
        notices[0]["content"]["body"],
    )


def check_bundle(files: DraftFiles, url_prefix: str, expected: dict[str, bytes]) -> None:
    """The zip holds the Markdown and, under the exact name each reference uses, the bytes
    that were uploaded; ``expected`` maps file names (as referenced) to those bytes."""
    zf = files.zip
    names = zf.namelist()
    assert names[0] == files.markdown_name
    assert zf.read(files.markdown_name).decode("utf-8") == files.markdown
    referenced = [t.removeprefix(url_prefix) for t in files.image_targets()]
    assert all(t.startswith(url_prefix) for t in files.image_targets())
    assert sorted(set(referenced)) == sorted(n for n in names if n != files.markdown_name)
    assert set(referenced) == set(expected)
    for name in referenced:
        assert zf.read(name) == expected[name], name

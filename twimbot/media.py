"""Media files: download through the homeserver, name by content hash, bundle with the post.

Files are stored once under ``media.dir`` as ``<40 hex digits of BLAKE2b>.<ext>``: the same
screenshot posted twice is one file, and the name the Markdown uses is stable across renders.
The extension comes from the bytes themselves when they are a format we know (clients send
wrong or missing MIME types often enough), else from the MIME type, else from the file name.

Downloads run in the bot's media worker, never in the sync loop. A failed download is
retried after :data:`RETRY_DELAYS_S` (then given up), and every draft says which files are
missing and why.
"""

from __future__ import annotations

import hashlib
import io
import logging
import mimetypes
import os
import re
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from twimbot.errors import MatrixError
from twimbot.model import MediaItem

if TYPE_CHECKING:
    from twimbot.config import Config
    from twimbot.matrix import MatrixPort
    from twimbot.store import MediaRow, Store

log = logging.getLogger(__name__)

# Seconds to wait before the 2nd, 3rd, … attempt; one attempt more than delays, then give up.
RETRY_DELAYS_S: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0)
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")
# mimetypes picks odd extensions for some common types (e.g. .jpe); prefer the usual ones.
_PREFERRED = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/avif": "avif",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "image/svg+xml": "svg",
    "application/pdf": "pdf",
}
# Types that say nothing about the content.
_VAGUE = {"application/octet-stream", "binary/octet-stream", "application/unknown", ""}


def max_attempts() -> int:
    return len(RETRY_DELAYS_S) + 1


def retry_at(attempts_done: int, now_ms: int) -> int | None:
    """When to try again after ``attempts_done`` failed attempts (ms), None to give up."""
    if attempts_done < 1 or attempts_done > len(RETRY_DELAYS_S):
        return None
    return now_ms + int(RETRY_DELAYS_S[attempts_done - 1] * 1000)


def sniff(data: bytes) -> str | None:
    """The extension of a few formats posts carry, recognised by their first bytes."""
    head = data[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand == b"qt  ":
            return "mov"
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def _from_mimetype(mimetype: str | None) -> str | None:
    if not mimetype:
        return None
    base = mimetype.split(";", 1)[0].strip().lower()
    if base in _VAGUE:
        return None
    ext = _PREFERRED.get(base) or (mimetypes.guess_extension(base) or "").lstrip(".")
    return ext if _EXT_RE.match(ext) else None


def extension(mimetype: str | None, body: str, data: bytes = b"", served: str | None = None) -> str:
    """A safe file extension: from the bytes, else the event's MIME type, else the type the
    server served, else the sender's file name, else ``bin``."""
    found = sniff(data) or _from_mimetype(mimetype) or _from_mimetype(served)
    if found:
        return found
    suffix = Path(body).suffix.lstrip(".").lower()
    return suffix if _EXT_RE.match(suffix) else "bin"


def content_name(data: bytes, mimetype: str | None, body: str, served: str | None = None) -> str:
    """``<BLAKE2b-160 of the bytes>.<ext>``: the name in ``media.dir``, the bundle and the post."""
    digest = hashlib.blake2b(data, digest_size=20).hexdigest()
    return f"{digest}.{extension(mimetype, body, data, served)}"


def write_file(directory: Path, name: str, data: bytes) -> Path:
    """Write atomically; an existing file of that name has the same content by construction."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    if target.exists() and target.stat().st_size == len(data):
        return target
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def now_ms() -> int:
    return int(time.time() * 1000)


async def download_one(store: Store, matrix: MatrixPort, config: Config, row: MediaRow) -> bool:
    """Try one file once; record the outcome. True when it is on disk."""
    try:
        data, served = await matrix.download(row.mxc, config.media.max_bytes)
        name = content_name(data, row.mimetype, row.body, served)
        write_file(config.media_dir, name, data)
    except (MatrixError, OSError) as err:
        attempts = row.attempts + 1
        when = retry_at(attempts, now_ms())
        log.warning(
            "download of %s (%s) failed, attempt %d: %s%s",
            row.event_id,
            row.mxc,
            attempts,
            err,
            "" if when else "; giving up",
        )
        async with store.transaction():
            await store.media_failed(row.id, str(err) or type(err).__name__, retry_at=when)
        return False
    async with store.transaction():
        await store.media_done(row.id, name)
    return True


async def download_due(store: Store, matrix: MatrixPort, config: Config) -> int:
    """Download every attached file whose (next) attempt is due; returns how many were tried."""
    due = await store.due_media(max_attempts(), now_ms())
    for row in due:
        await download_one(store, matrix, config, row)
    return len(due)


@dataclass(frozen=True)
class Bundle:
    """The zip's bytes and the files the Markdown names that could not be put in it."""

    data: bytes
    missing: tuple[str, ...]


def _zip_info(name: str, compress: int) -> zipfile.ZipInfo:
    # Fixed timestamps: the same draft gives the same zip. Unix mode 0644 so unzip does not
    # create unreadable files.
    info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
    info.compress_type = compress
    info.external_attr = 0o100644 << 16
    return info


def bundle(
    markdown_name: str, markdown: str, media: Iterable[MediaItem], media_dir: Path
) -> Bundle:
    """A zip of the post and every media file under the exact name the Markdown uses.

    Images and videos are stored, not deflated: they are compressed already.
    """
    buf = io.BytesIO()
    missing: list[str] = []
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(_zip_info(markdown_name, zipfile.ZIP_DEFLATED), markdown.encode("utf-8"))
        seen: set[str] = {markdown_name}
        for item in media:
            if item.file_name in seen:
                continue
            seen.add(item.file_name)
            path = media_dir / item.file_name
            try:
                data = path.read_bytes() if item.ok else None
            except OSError:
                data = None
            if data is None:
                missing.append(item.file_name)
                continue
            zf.writestr(_zip_info(item.file_name, zipfile.ZIP_STORED), data)
    return Bundle(buf.getvalue(), tuple(missing))

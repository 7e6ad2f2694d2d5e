"""Media files: download through the homeserver, name by content hash, bundle with the post.

Files are stored once under ``media.dir`` as ``<40 hex digits of BLAKE2b>.<ext>``: the same
screenshot posted twice is one file, and the name the Markdown uses is stable across renders.
"""

from __future__ import annotations

import hashlib
import io
import logging
import mimetypes
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from twimbot.errors import MatrixError
from twimbot.model import MediaItem

if TYPE_CHECKING:
    from twimbot.config import Config
    from twimbot.matrix import MatrixPort
    from twimbot.store import Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")
# mimetypes picks odd extensions for some common types (e.g. .jpe); prefer the usual ones.
_PREFERRED = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "image/svg+xml": "svg",
}


def extension(mimetype: str | None, body: str) -> str:
    """A safe file extension from the MIME type, else from the sender's file name."""
    if mimetype:
        base = mimetype.split(";", 1)[0].strip().lower()
        ext = _PREFERRED.get(base) or (mimetypes.guess_extension(base) or "").lstrip(".")
        if _EXT_RE.match(ext):
            return ext
    suffix = Path(body).suffix.lstrip(".").lower()
    return suffix if _EXT_RE.match(suffix) else "bin"


def content_name(data: bytes, mimetype: str | None, body: str) -> str:
    return f"{hashlib.blake2b(data, digest_size=20).hexdigest()}.{extension(mimetype, body)}"


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


async def download_pending(store: Store, matrix: MatrixPort, config: Config) -> int:
    """Download every attached media file not yet on disk; returns how many were tried."""
    pending = await store.pending_media(MAX_ATTEMPTS)
    for row in pending:
        try:
            data, content_type = await matrix.download(row.mxc, config.media.max_bytes)
        except MatrixError as err:
            log.warning("download of %s (%s) failed: %s", row.event_id, row.mxc, err)
            async with store.transaction():
                await store.media_failed(row.id, str(err))
            continue
        name = content_name(data, row.mimetype or content_type, row.body)
        write_file(config.media_dir, name, data)
        async with store.transaction():
            await store.media_done(row.id, name)
    return len(pending)


def bundle(markdown_name: str, markdown: str, media: Iterable[MediaItem], media_dir: Path) -> bytes:
    """A zip of the post and every downloaded media file under the name the Markdown uses."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        # fixed timestamps: the same draft gives the same zip
        info = zipfile.ZipInfo(markdown_name, date_time=(2000, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, markdown.encode("utf-8"))
        seen: set[str] = set()
        for item in media:
            path = media_dir / item.file_name
            if item.file_name in seen or not item.ok or not path.is_file():
                continue
            seen.add(item.file_name)
            info = zipfile.ZipInfo(item.file_name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()

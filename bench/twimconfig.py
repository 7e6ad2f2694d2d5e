"""The configuration the benchmarks run with: This Week in Matrix's real one.

The hebbot ``config.toml`` TWIM runs today (33 sections, 132 projects, ``min_length`` 100, an
``ack_text`` notice after every acknowledgement) converted by twimbot's own importer, with the
benchmark's homeserver, users, rooms and database filled in. Texts come from the published
post of 2022-10-28 (``bench/data/twim-2022-10-28.json``), so classification and rendering
work on real submissions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twimbot.hebbot import convert_hebbot

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TWIM_TOML = ROOT / "tests" / "data" / "reference" / "twim-config" / "config.toml"
LABELS = HERE / "data" / "twim-2022-10-28.json"


def twim_config(
    *,
    homeserver: str,
    user_id: str,
    submissions: str,
    editors_room: str,
    editors: list[str],
    database: str,
) -> dict[str, Any]:
    data, _warnings = convert_hebbot(
        TWIM_TOML.read_text(encoding="utf-8"),
        homeserver=homeserver,
        template=None,
        prefixes=None,
        database=database,
    )
    data.update(
        homeserver=homeserver,
        user_id=user_id,
        rooms={"submissions": [submissions], "editors": editors_room},
        editors=editors,
        database=database,
    )
    data.pop("ping", None)  # no Dept of Ping room in the benchmark
    return data


def sample_texts(min_length: int = 100) -> list[dict[str, str]]:
    """The reference post's entries (sender, display name, text) long enough to submit."""
    entries: list[dict[str, str]] = json.loads(LABELS.read_text(encoding="utf-8"))
    return [e for e in entries if len(e["text"]) >= min_length]

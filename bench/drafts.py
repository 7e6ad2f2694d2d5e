"""SPEC §10 (c): ``draft`` of a 1,000-entry edition with many archived entries in the database.

Each database is made by :meth:`twimbot.store.Store.open` (the real migrations, pragmas and
indexes) and then filled in bulk with plain ``executemany`` on that schema, one transaction,
as the bot would have left it after ``N / 1000`` published weeks of 1,000 entries each plus an
open edition of 1,000: every entry has its message, its submission (archived ones frozen), its
first revision and the three outbox rows the bot sent for it (ack, ack text, editors-room
line); one in ten has an editor's mark, one in twenty an image. Texts are the real entries of
the 2022-10-28 post, cycled; senders and projects are TWIM's. Databases are cached under
``bench/out/`` (they take a while at 1M) and rebuilt when the recipe changes.

Measured: :func:`twimbot.draft.build` (gather + render; the work of ``!twim draft`` and
``twimbot draft`` besides I/O) in a warm process, the zip bundle on top of it, ``twimbot
status`` (:func:`twimbot.status.edition_status`) and the wall time of the CLI
``twimbot draft -c CONFIG -o FILE`` in a fresh process (interpreter start and imports
included).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.twimconfig import ROOT, sample_texts, twim_config
from twimbot import draft
from twimbot.config import Config, load_config
from twimbot.status import edition_status
from twimbot.store import Store

PER_EDITION = 1000
OPEN_ENTRIES = 1000
# Bump when the recipe below changes: cached databases with another recipe are rebuilt.
RECIPE = 2
WEEK_MS = 7 * 86_400_000
PNG = (ROOT / "twimbot" / "demo_data" / "nheko-screenshot.png").read_bytes()


@dataclass
class DraftResult:
    archived: int
    db_mb: float = 0.0
    build_s: float = 0.0
    cached: bool = False
    build_ms: list[float] = field(default_factory=list)
    bundle_ms: list[float] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)
    cli_ms: list[float] = field(default_factory=list)
    entries: int = 0
    skipped: str | None = None

    @property
    def build_p50(self) -> float:
        return statistics.median(self.build_ms)

    @property
    def cli_p50(self) -> float:
        return statistics.median(self.cli_ms)


def _config(workdir: Path, database: Path) -> Path:
    """A config file for ``database`` (TWIM's sections and projects), beside it."""
    data = twim_config(
        homeserver="http://127.0.0.1:9",
        user_id="@twimbot:bench.example",
        submissions="!submissions:bench.example",
        editors_room="!editors:bench.example",
        editors=["@editor:bench.example"],
        database=str(database),
    )
    data["media"] = {"dir": str(workdir / "media"), "url_prefix": "/blog/img/"}
    path = database.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def _media_files(media_dir: Path, count: int = 50) -> list[str]:
    """``count`` distinct small image files (content-hash names, as the bot writes them)."""
    import hashlib

    media_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        data = PNG + i.to_bytes(4, "big")  # trailing bytes: still a PNG to any viewer
        name = hashlib.sha1(data).hexdigest() + ".png"
        path = media_dir / name
        if not path.exists():
            path.write_bytes(data)
        names.append(name)
    return names


def _rows(
    config: Config, archived: int, media_names: list[str]
) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """(table, rows) chunks of the whole database, editions first."""
    samples = sample_texts(min_length=0)
    projects = [p.name for p in config.projects]
    sections = [s.name for s in config.sections]
    senders = [(f"@user{i}:bench.example", f"Reporter {i}") for i in range(400)]
    n_archived_editions = archived // PER_EDITION
    start = int(time.time() * 1000) - (n_archived_editions + 1) * WEEK_MS
    editions: list[tuple[object, ...]] = []
    for e in range(n_archived_editions):
        opened = start + e * WEEK_MS
        editions.append((e + 1, opened, opened + WEEK_MS - 1, None, "Editor", None))
    editions.append(
        (n_archived_editions + 1, start + n_archived_editions * WEEK_MS, None, None, None, None)
    )
    # published editions get their post date from the opening date like the bot does
    yield "editions", editions
    media_id = 0
    outbox_id = 0
    chunk: dict[str, list[tuple[object, ...]]] = {}
    total = archived + OPEN_ENTRIES
    for k in range(total):
        sub_id = k + 1
        edition = k // PER_EDITION + 1 if k < archived else n_archived_editions + 1
        number = (k % PER_EDITION) + 1 if k < archived else k - archived + 1
        frozen = int(k < archived)
        sample = samples[k % len(samples)]
        sender, name = senders[k % len(senders)]
        ts = start + (edition - 1) * WEEK_MS + number * 1000
        event_id = f"$bench{k}:bench.example"
        text = sample["text"]
        project = sample["project"] if sample["project"] in projects else None
        section = sample["section"] if sample["section"] in sections else "todo"
        chunk.setdefault("messages", []).append(
            (event_id, "!submissions:bench.example", sender, "m.text", f"TWIM: {text}", ts, None)
        )
        chunk.setdefault("submissions", []).append(
            (
                sub_id,
                edition,
                number,
                event_id,
                "!submissions:bench.example",
                sender,
                name,
                ts,
                text,
                "prefix",
                sender,
                frozen,
                project,
                "bench" if project else "no project named",
                section,
                "bench",
                ts,
            )
        )
        chunk.setdefault("revisions", []).append((sub_id, event_id, text, ts))
        if k % 10 == 3:
            chunk.setdefault("marks", []).append(
                (
                    sub_id,
                    "section",
                    sections[k % len(sections)],
                    f"$mark{k}",
                    "@editor:bench.example",
                    ts + 1,
                )
            )
        if k % 20 == 7:
            media_id += 1
            chunk.setdefault("media", []).append(
                (
                    media_id,
                    f"$media{k}",
                    "!submissions:bench.example",
                    sender,
                    "image",
                    f"mxc://bench.example/m{k}",
                    "screenshot.png",
                    "image/png",
                    ts + 2,
                    event_id,
                    sub_id,
                    "reply",
                    media_names[k % len(media_names)],
                    "done",
                    1,
                    edition if frozen else None,  # published_in: set at publish
                )
            )
        ack = json.dumps(
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": "☑️"}}
        )
        notice = json.dumps(
            {
                "msgtype": "m.notice",
                "body": f"✅ Thanks for the report {name}, I'll store your update!",
            }
        )
        line = json.dumps(
            {
                "msgtype": "m.notice",
                "body": f"post {number} by {name} → {project} / {section} (auto): {text[:60]}",
            },
            ensure_ascii=False,
        )
        for content, room, prio in (
            (ack, "!submissions:bench.example", 0),
            (notice, "!submissions:bench.example", 1),
            (line, "!editors:bench.example", 2),
        ):
            outbox_id += 1
            chunk.setdefault("outbox", []).append(
                (
                    outbox_id,
                    room,
                    "m.room.message",
                    content,
                    f"twimbot.bench.{outbox_id}",
                    prio,
                    ts,
                    ts + 50,
                    f"$out{outbox_id}",
                )
            )
        if len(chunk["submissions"]) >= 20_000 or k == total - 1:
            yield from chunk.items()
            chunk = {}


SQL = {
    "editions": "INSERT INTO editions (id, opened_at, published_at, post_date, published_by, rendered) VALUES (?, ?, ?, ?, ?, ?)",
    "messages": "INSERT INTO messages (event_id, room_id, sender, msgtype, body, origin_ts, reply_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "submissions": "INSERT INTO submissions (id, edition_id, number, event_id, room_id, sender, sender_name, origin_ts, text, via, submitted_by, frozen, auto_project, auto_project_reason, auto_section, auto_section_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "revisions": "INSERT INTO revisions (submission_id, event_id, text, origin_ts) VALUES (?, ?, ?, ?)",
    "marks": "INSERT INTO marks (submission_id, kind, value, source_event, editor, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    "media": "INSERT INTO media (id, event_id, room_id, sender, kind, mxc, body, mimetype, origin_ts, reply_to, submission_id, attach_source, file_name, status, attempts, published_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "outbox": "INSERT INTO outbox (id, room_id, event_type, content, txn_id, priority, created_at, sent_at, sent_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


def _recipe(archived: int) -> str:
    return json.dumps({"recipe": RECIPE, "archived": archived, "open": OPEN_ENTRIES})


def _cached(database: Path, archived: int) -> float | None:
    """How long the cached database took to build, or None when there is none to reuse."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            rows = dict(db.execute("SELECT key, value FROM state WHERE key LIKE 'bench_%'"))
    except sqlite3.Error:
        return None
    if rows.get("bench_recipe") != _recipe(archived):
        return None
    return float(rows.get("bench_build_s", "0"))


def build_database(workdir: Path, archived: int) -> tuple[Path, Path, float, bool]:
    """The database (and its config) with ``archived`` archived entries; cached."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / f"draft-{archived}.db"
    config_path = _config(workdir, database)
    media_names = _media_files(workdir / "media")
    cached = _cached(database, archived)
    if cached is not None:
        return database, config_path, cached, True
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()

    async def create() -> None:
        store = await Store.open(database)  # schema, pragmas and indexes of the real bot
        await store.close()

    asyncio.run(create())
    config = load_config(config_path)
    db = sqlite3.connect(database, isolation_level=None)
    try:
        # Bulk load only: the bot itself always runs with synchronous=FULL.
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
        for table, rows in _rows(config, archived, media_names):
            db.executemany(SQL[table], rows)
        db.execute(
            "INSERT INTO state (key, value) VALUES ('bench_recipe', ?)", (_recipe(archived),)
        )
        db.execute("COMMIT")
        seconds = time.perf_counter() - started
        db.execute(
            "INSERT INTO state (key, value) VALUES ('bench_build_s', ?)", (f"{seconds:.1f}",)
        )
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return database, config_path, time.perf_counter() - started, False


async def _measure_in_process(config_path: Path, result: DraftResult, repeat: int) -> None:
    config = load_config(config_path)
    store = await Store.open(config.database_path)
    try:
        edition = await store.open_edition()
        for i in range(repeat + 1):
            t0 = time.perf_counter()
            made = await draft.build(store, config, edition, editor_name="Editor")
            t1 = time.perf_counter()
            made.bundle(config.media_dir)
            t2 = time.perf_counter()
            if i > 0:  # the first run warms the page cache and the template
                result.build_ms.append((t1 - t0) * 1000)
                result.bundle_ms.append((t2 - t0) * 1000)
            result.entries = made.result.counts.entries
        for i in range(min(repeat, 5) + 1):
            t0 = time.perf_counter()
            await edition_status(store, config)
            if i > 0:
                result.status_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        await store.close()


def _measure_cli(config_path: Path, workdir: Path, result: DraftResult, repeat: int) -> None:
    out = workdir / "cli-draft.md"
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "twimbot", "draft", "-c", str(config_path), "-o", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        elapsed = (time.perf_counter() - t0) * 1000
        if done.returncode != 0:
            raise RuntimeError(f"twimbot draft failed: {done.stderr.strip()}")
        result.cli_ms.append(elapsed)


def run(
    workdir: Path, sizes: list[int], *, repeat: int = 20, cli_repeat: int = 3, budget_s: float = 300
) -> list[DraftResult]:
    """Measure each size; a size whose build would exceed ``budget_s`` is skipped, unless
    cached. The estimate scales the largest build so far linearly."""
    results: list[DraftResult] = []
    rate: float | None = None  # seconds per archived entry of the latest build
    for archived in sorted(sizes):
        result = DraftResult(archived)
        database = workdir / f"draft-{archived}.db"
        if rate is not None and _cached(database, archived) is None and rate * archived > budget_s:
            result.skipped = (
                f"building it would take about {rate * archived / 60:.0f} min"
                f" (limit {budget_s / 60:.0f} min); run `python -m bench --draft-budget"
                f" {int(rate * archived * 1.5)}` to build it once (it is cached in bench/out/)"
            )
            results.append(result)
            print(f"  draft: {archived} archived: skipped ({result.skipped})", flush=True)
            continue
        print(f"  draft: {archived} archived entries: building the database", flush=True)
        database, config_path, seconds, cached = build_database(workdir, archived)
        result.build_s, result.cached = seconds, cached
        if seconds > 0:
            rate = seconds / (archived + OPEN_ENTRIES)
        result.db_mb = (
            sum(
                Path(f"{database}{s}").stat().st_size
                for s in ("", "-wal")
                if Path(f"{database}{s}").exists()
            )
            / 1e6
        )
        print(
            f"  draft: {archived} archived entries: {result.db_mb:.0f} MB"
            f" ({'cached, built' if cached else 'built'} in {seconds:.0f} s); measuring",
            flush=True,
        )
        asyncio.run(_measure_in_process(config_path, result, repeat))
        _measure_cli(config_path, workdir, result, cli_repeat)
        results.append(result)
    return results

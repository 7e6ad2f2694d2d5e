"""What the benchmark ran on: CPU, cores, RAM, OS, Python and the versions that matter."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    return "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _sqlite() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _git() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def describe() -> dict[str, str]:
    """The machine and software, as name → value, for the results file."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git(),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": _ram_gb(),
        "OS": f"{platform.system()} {platform.release()}",
        "load average at start": _load(),
        "Python": platform.python_version(),
        "SQLite": _sqlite(),
        "matrix-synapse": _version("matrix-synapse"),
        "matrix-nio": _version("matrix-nio"),
        "aiosqlite": _version("aiosqlite"),
        "twimbot": _version("twimbot"),
    }

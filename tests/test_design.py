"""DESIGN invariant 4: only ``matrix.py`` talks to nio; the pure modules do no I/O.

Two ways, because either alone can be fooled: the source of every module is read with
``ast`` (what it imports, what it calls), and the pure functions are run on real input with
every file, socket, database and process opening forbidden by a Python audit hook.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_render import REFERENCE_POST, parse_reference

from twimbot import classify, ingest, render, sanitize
from twimbot.ingest import BotIdentity, RoomRoles

PACKAGE = Path(__file__).resolve().parent.parent / "twimbot"
PURE = ["classify", "names", "hints", "lookup", "render", "ingest", "sanitize", "template_env"]

# Modules whose import means I/O (network, files, databases, processes) or the bot's own I/O.
IO_MODULES = {
    "aiohttp",
    "aiosqlite",
    "asyncio",
    "http",
    "io",
    "nio",
    "os",
    "requests",
    "shutil",
    "socket",
    "sqlite3",
    "subprocess",
    "tempfile",
    "urllib.request",
    "twimbot.actor",
    "twimbot.bot",
    "twimbot.cli",
    "twimbot.commands",
    "twimbot.devserver",
    "twimbot.draft",
    "twimbot.matrix",
    "twimbot.media",
    "twimbot.store",
}
IO_CALLS = {"open", "print", "input", "urlopen", "connect", "system", "popen"}
IO_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "unlink", "rename"}
# The one reading a pure module does: render.py loads the built-in template from the
# package's own data (importlib.resources), once, cached. It reads no user file.
ALLOWED = {("render", "read_text")}
CLOCK_OR_CHANCE = {"now", "today", "utcnow", "time", "monotonic", "random", "randint", "choice"}


def imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def called_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def parse(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))


def test_only_matrix_py_imports_nio() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        found = imports(ast.parse(path.read_text(encoding="utf-8")))
        if any(name == "nio" or name.startswith("nio.") for name in found):
            offenders.append(path.name)
    assert offenders == ["matrix.py"]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_nothing_that_does_io(module: str) -> None:
    found = imports(parse(module))
    bad = sorted(
        name for name in found if any(name == m or name.startswith(m + ".") for m in IO_MODULES)
    )
    assert bad == [], f"{module}.py imports {bad}"


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_call_nothing_that_does_io(module: str) -> None:
    calls = called_names(parse(module))
    bad = sorted(name for name in calls & (IO_CALLS | IO_METHODS) if (module, name) not in ALLOWED)
    assert bad == [], f"{module}.py calls {bad}"


@pytest.mark.parametrize("module", ["classify", "render", "ingest", "sanitize"])
def test_deterministic_modules_read_no_clock_and_draw_no_chance(module: str) -> None:
    found = imports(parse(module))
    assert "random" not in found and "time" not in found and "secrets" not in found
    bad = sorted(called_names(parse(module)) & CLOCK_OR_CHANCE)
    assert bad == [], f"{module}.py calls {bad}"


# -- the same, at run time -----------------------------------------------------------------

_blocking: list[bool] = []
IO_EVENTS = {
    "open",
    "os.open",
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "sqlite3.connect",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "urllib.Request",
}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _blocking and event in IO_EVENTS:
        raise PermissionError(f"I/O in a pure function: {event} {args!r:.200}")


@contextmanager
def no_io() -> Iterator[None]:
    """Forbid I/O in this thread's code while inside (an audit hook cannot be removed, so it
    is installed once and switched on and off)."""
    if not getattr(sys, "_twimbot_no_io_hook", False):
        sys.addaudithook(_audit)
        sys._twimbot_no_io_hook = True  # type: ignore[attr-defined]
    _blocking.append(True)
    try:
        yield
    finally:
        _blocking.pop()


def test_the_hook_does_catch_io(tmp_path: Path) -> None:
    with no_io(), pytest.raises(PermissionError):
        (tmp_path / "x").write_text("x")


def test_pure_functions_run_with_all_io_forbidden() -> None:
    reference = parse_reference(REFERENCE_POST)
    config = reference.config
    render.builtin_template_source()  # package data, read once and cached (see ALLOWED)
    expected = render.render_draft(reference.draft, config).markdown  # warms lazy imports
    bot = BotIdentity("@twimbot:example.org")
    event = {
        "type": "m.room.message",
        "event_id": "$e",
        "room_id": "!r:x",
        "sender": "@a:x",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": "TWIM: <script>x</script> {{ config }} news"},
    }
    with no_io():
        assert render.render_draft(reference.draft, config).markdown == expected
        for entry in reference.draft.entries:
            classify.classify(entry.text, entry.sender, config, None)
        intent = ingest.interpret(event, RoomRoles(submissions=True), config, bot)
        assert isinstance(intent, ingest.Message)
        assert "<script>" not in sanitize.safe_markdown(intent.body)

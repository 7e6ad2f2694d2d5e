"""The ``twimbot`` command line: argument parsing, config loading, calling the library.

Exit codes: 0 ok, 1 a user error with a one-line reason (never a traceback), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twimbot import __version__, secrecy
from twimbot.config import Config, load_config, secrets_from_env
from twimbot.errors import ConfigError, TwimbotError

if TYPE_CHECKING:
    from twimbot.draft import Draft

log = logging.getLogger("twimbot")


class _SecretFilter(logging.Filter):
    """Replace secrets in every log record, whatever code logged them (see ``secrecy``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = secrecy.scrub(message, fields=True)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, secrecy.scrub(text, fields=True)
        elif record.exc_text:
            record.exc_text = secrecy.scrub(record.exc_text, fields=True)
        return True


class _Formatter(logging.Formatter):
    """``ts=… level=… logger=… msg="…"``: one line per record, easy to grep and parse."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        msg = record.getMessage().replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        line = f'ts={ts}Z level={record.levelname} logger={record.name} msg="{msg}"'
        if record.exc_info:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += ' exc="' + record.exc_text.replace("\n", "\\n").replace('"', '\\"') + '"'
        return line


def setup_logging(level: str, secrets: list[str] | None = None) -> None:
    secrecy.remember(*(secrets or []))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.addFilter(_SecretFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # nio logs every request at INFO and its retries at WARNING; keep it quiet unless
    # debugging. Its response validation warnings only repeat what our own error line says.
    debugging = root.level <= logging.DEBUG
    logging.getLogger("nio").setLevel(logging.DEBUG if debugging else logging.WARNING)
    # Never below ERROR: at DEBUG it dumps whole responses, the login's access token included.
    logging.getLogger("nio.responses").setLevel(logging.ERROR)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def _fail(message: str, lines: Sequence[str] = ()) -> int:
    print(secrecy.scrub(f"twimbot: {message}"), file=sys.stderr)
    for line in lines:
        print(secrecy.scrub(f"  {line}"), file=sys.stderr)
    return 1


def _config(path: str) -> Config:
    return load_config(Path(path))


# -- verbs ----------------------------------------------------------------------------


async def _run(args: argparse.Namespace) -> int:
    from twimbot.bot import Bot
    from twimbot.matrix import NioMatrix
    from twimbot.store import Store

    config = _config(args.config)
    secrets = secrets_from_env()
    setup_logging(
        args.log_level or config.log_level, [secrets.access_token or "", secrets.password or ""]
    )
    store = await Store.open(config.database_path)
    matrix = NioMatrix(config.homeserver, config.user_id)
    try:
        bot = Bot(config, store, matrix, reload_config=lambda: _config(args.config))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if await bot.login(secrets, stop):
            log.info(
                "twimbot %s running as %s on %s", __version__, config.user_id, config.homeserver
            )
            await bot.run(stop)
        log.info("stopped")
    finally:
        await matrix.close()
        await store.close()
    return 0


async def _draft(args: argparse.Namespace) -> int:
    from twimbot import draft
    from twimbot.store import Store

    config = _config(args.config)
    store = await Store.open(config.database_path, check_integrity=False)
    try:
        edition = None
        if args.edition is not None:
            edition = await store.get_edition(args.edition)
            if edition is None:
                raise TwimbotError(f"there is no edition {args.edition}; see twimbot editions")
        result = await draft.build(store, config, edition, editor_name=config.post.author)
    finally:
        await store.close()
    _write_draft(args, config, result)
    return 0


def _write_draft(args: argparse.Namespace, config: Config, result: Draft) -> None:
    """Write the Markdown (and with ``--bundle`` the zip beside it), then the summary."""
    from twimbot.commands import draft_summary

    markdown = result.result.markdown
    bundle_dir = Path(args.bundle) if args.bundle else None
    if bundle_dir is not None:
        bundle_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if args.output == "-":
        sys.stdout.write(markdown)
    else:
        default = (bundle_dir or Path(".")) / result.markdown_name
        out = Path(args.output) if args.output else default
        out.write_text(markdown, encoding="utf-8")
        written.append(out)
    extra: list[str] = []
    if bundle_dir is not None:
        zipped = result.bundle(config.media_dir)
        target = bundle_dir / result.bundle_name
        target.write_bytes(zipped.data)
        written.append(target)
        extra += [
            f"{name} is named by the post but missing from {config.media_dir}; the zip lacks it"
            for name in zipped.missing
        ]
    archived = result.edition.rendered
    if archived is not None and archived != markdown:
        extra.append(
            f"this is not the text edition {result.edition.id} was published with: the config"
            " or the template changed since (the database keeps the published text)"
        )
    summary = draft_summary(result, extra)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    for line in summary:
        print(line, file=sys.stderr)


async def _check_config(args: argparse.Namespace) -> int:
    from twimbot import draft
    from twimbot.render import check_template

    try:
        config = _config(args.config)
    except ConfigError as err:
        if len(err.problems) <= 1:
            return _fail(str(err))
        return _fail(f"{args.config}: {len(err.problems)} problem(s)", err.problems)
    source, name = draft.load_template(config)
    problems = check_template(source, name, config) if source is not None else []
    if problems:
        return _fail(f"{args.config}: template problem(s)", [f"template: {p}" for p in problems])
    print(f"{args.config}: ok ({len(config.sections)} sections, {len(config.projects)} projects)")
    return 0


async def _migrate(args: argparse.Namespace) -> int:
    from twimbot.store import Store

    config = _config(args.config)
    store = await Store.open(config.database_path)
    try:
        print(f"{config.database_path}: schema version {await store.schema_version()}")
    finally:
        await store.close()
    return 0


async def _status(args: argparse.Namespace) -> int:
    from twimbot.status import edition_status
    from twimbot.store import Store

    config = _config(args.config)
    store = await Store.open(config.database_path, check_integrity=False)
    try:
        print((await edition_status(store, config)).text())
    finally:
        await store.close()
    return 0


async def _editions(args: argparse.Namespace) -> int:
    from twimbot.status import edition_lines
    from twimbot.store import Store

    config = _config(args.config)
    store = await Store.open(config.database_path, check_integrity=False)
    try:
        for line in await edition_lines(store, config):
            print(line)
    finally:
        await store.close()
    return 0


async def _import_hebbot(args: argparse.Namespace) -> int:
    from twimbot.hebbot import import_hebbot

    warnings = import_hebbot(
        Path(args.hebbot_toml),
        Path(args.output),
        homeserver=args.homeserver,
        template=Path(args.template) if args.template else None,
        prefixes=args.prefix or [],
    )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {args.output}")
    return 0


async def _demo(args: argparse.Namespace) -> int:
    from twimbot.demo import run_demo

    return await run_demo(Path(args.workdir) if args.workdir else None)


VERBS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "run": _run,
    "draft": _draft,
    "check-config": _check_config,
    "migrate": _migrate,
    "status": _status,
    "editions": _editions,
    "import-hebbot": _import_hebbot,
    "demo": _demo,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twimbot", description="Compile a weekly news post on Matrix.")
    p.add_argument("--version", action="version", version=f"twimbot {__version__}")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default=None)
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    def with_config(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help)
        sp.add_argument("-c", "--config", required=True, help="the YAML config file")
        sp.add_argument(
            "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default=argparse.SUPPRESS
        )
        return sp

    with_config("run", "run the bot until SIGINT/SIGTERM")
    d = with_config("draft", "render the open (or a past) edition without a homeserver")
    d.add_argument(
        "-o", "--output", help="output file, - for stdout (default: twim-DATE.md in DIR or here)"
    )
    d.add_argument(
        "--bundle", metavar="DIR", help="write twim-DATE.md and twim-DATE.zip (with media) to DIR"
    )
    d.add_argument("--edition", type=int, metavar="ID", help="a past edition (see editions)")
    with_config("check-config", "validate config and template")
    with_config("migrate", "apply pending database migrations")
    with_config("status", "print the open edition's counts")
    with_config("editions", "list editions")
    h = sub.add_parser("import-hebbot", help="convert a hebbot config.toml")
    h.add_argument("hebbot_toml")
    h.add_argument("--template", help="the hebbot template.md to use")
    h.add_argument("--prefix", action="append", help="a trigger prefix (repeatable)")
    h.add_argument("--homeserver", required=True, help="homeserver URL")
    h.add_argument("-o", "--output", required=True, help="the twimbot YAML config to write")
    demo = sub.add_parser("demo", help="a throwaway Synapse, sample submissions and a draft")
    demo.add_argument("--workdir", help="keep the demo's files here (default: a temp dir)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    env = secrets_from_env()
    # Known from the start, whatever the verb: nothing printed below may show them.
    secrecy.remember(env.access_token, env.password)
    args = parser().parse_args(argv)
    if args.verb != "run":
        setup_logging(args.log_level or "WARNING")
    try:
        return asyncio.run(VERBS[args.verb](args))
    except ConfigError as err:
        if len(err.problems) <= 1:
            return _fail(str(err))  # one problem: one line
        return _fail(f"{len(err.problems)} config problem(s)", err.problems)
    except TwimbotError as err:
        return _fail(str(err))
    except sqlite3.DatabaseError as err:
        # draft and status skip the full integrity check at open (it reads the whole file);
        # damage they meet later is still one line, and nothing was written.
        return _fail(
            f"the database is damaged ({err}); it was left untouched:"
            " restore a backup or move it away"
        )
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # the last line of defence: one line, details in the debug log
        log.debug("internal error", exc_info=True)
        return _fail(f"internal error: {type(err).__name__}: {err} (run with --log-level DEBUG)")

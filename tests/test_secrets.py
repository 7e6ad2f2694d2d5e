"""The access token and the password never show: not in logs, rooms, files or error text.

The bot runs as a ``twimbot run`` subprocess with its secrets in the environment and its log
at DEBUG (everything nio and aiohttp say, too). The tests then try hard to make it leak: a
contributor posts the secrets in a submission (so the bot's own lines, ``!twim show`` and the
draft would repeat them), the homeserver fails for a while (error paths log), a password
login makes a new token. Afterwards every log line, every event the bot sent, the uploaded
draft and the command line's error text are searched for the secrets.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from proxy import Proxy
from test_reliability import db_rows, room_events, settled
from world import NEWS, World

from twimbot.devserver import Synapse


def secrets_of(world: World) -> list[str]:
    return [world.bot_user.access_token, world.bot_user.password]


async def everything_the_bot_said(world: World) -> str:
    """Every event the bot sent in its rooms, and the text of every file it uploaded."""
    parts: list[str] = []
    for room in (world.submissions, world.editors_room, world.ping_room):
        events = await room_events(world.editor, room, types=None, senders=[world.bot_user.user_id])
        for event in events:
            parts.append(json.dumps(event, ensure_ascii=False))
            content = event.get("content", {})
            if content.get("msgtype") == "m.file" and str(content.get("body")).endswith(".md"):
                parts.append((await world.editor.download(content["url"])).decode("utf-8"))
    return "\n".join(parts)


async def test_secrets_never_reach_the_log_or_a_room(world: World, synapse: Synapse) -> None:
    token, password = secrets_of(world)
    failing = False

    async def flaky(request: web.Request, body: bytes) -> web.Response | None:
        return web.Response(status=502, text="bad gateway") if failing else None

    async with Proxy(synapse.url) as proxy:
        proxy.inject = flaky
        world.write_config(homeserver=proxy.url)
        world.spawn_bot(
            env={"TWIMBOT_ACCESS_TOKEN": token, "TWIMBOT_PASSWORD": password}, log_level="DEBUG"
        )
        # A contributor pastes the secrets (leaked elsewhere) into a submission.
        leaked = f"TWIM: token {token} password {password} {NEWS}"
        event_id = await world.alice.send_text(world.submissions, leaked)
        await settled(world, 1, 20)
        assert db_rows(world, "SELECT text FROM submissions")[0][0].startswith(f"token {token}")
        for command in ("!twim show 1", "!twim attach 1 $nothing", "!twim draft"):
            await world.command(command, timeout=30)
        # The homeserver fails for a while: every error path logs. A message the bot ignores
        # ends its long-poll, so its next request meets the failure however busy the
        # machine is; the failure lasts until the log shows it (at most 30 s).
        failing = True
        await world.alice.send_text(world.submissions, "an ordinary message, not news")
        log_file = world.dir / "bot.log"
        for _ in range(300):
            if log_file.exists() and "502" in log_file.read_text():
                break
            await asyncio.sleep(0.1)
        failing = False
        await world.submit(world.bob, f"after the failure {NEWS}")
        assert world.terminate_bot() == 0
    said = await everything_the_bot_said(world)
    assert event_id in said and "***" in said  # the bot did repeat the text, masked
    log = (world.dir / "bot.log").read_text()
    assert "502" in log and "not a post number" not in log  # the log covers the failures
    for secret in (token, password):
        assert secret not in said
        assert secret not in log


async def test_a_password_login_keeps_its_token_out_of_the_log(world: World) -> None:
    password = world.bot_user.password
    world.spawn_bot(env={"TWIMBOT_PASSWORD": password}, log_level="DEBUG")
    await world.submit(world.alice)
    assert world.terminate_bot() == 0
    session = json.loads(db_rows(world, "SELECT value FROM state WHERE key = 'session'")[0][0])
    new_token = session["access_token"]
    assert new_token != world.bot_user.access_token
    # A restart reuses the stored session: same device, no new login.
    world.spawn_bot(env={"TWIMBOT_PASSWORD": password}, log_level="DEBUG")
    await world.submit(world.bob)
    assert world.terminate_bot() == 0
    again = json.loads(db_rows(world, "SELECT value FROM state WHERE key = 'session'")[0][0])
    assert again == session
    log = (world.dir / "bot.log").read_text()
    assert log.count("running as") == 2
    for secret in (password, new_token):
        assert secret not in log
        assert secret not in await everything_the_bot_said(world)


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TWIMBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "twimbot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=cwd,
    )


def test_bad_config_errors_never_show_the_secrets(tmp_path: Path) -> None:
    token, password = "syt_dGVzdA_secretTOKENvalue_1a2b3c", "correct horse battery staple"
    env = {"TWIMBOT_ACCESS_TOKEN": token, "TWIMBOT_PASSWORD": password}
    # Someone pasted the secrets into the config, in the wrong places.
    config: dict[str, Any] = {
        "homeserver": password,
        "user_id": token,
        "access_token": token,
        "database": "twimbot.db",
        "rooms": {"submissions": [token], "editors": "!ed:example.org"},
        "editors": [password],
        "trigger": {"min_length": token},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    for verb in ("check-config", "run", "status", "draft"):
        result = run_cli([verb, "-c", str(path)], env, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 1, (verb, output)
        assert "user_id" in output and "Traceback" not in output
        assert token not in output and password not in output, (verb, output)
    assert not (tmp_path / "twimbot.db").exists(), "a bad config must stop before the database"


def start_config(tmp_path: Path, homeserver: str) -> Path:
    config = {
        "homeserver": homeserver,
        "user_id": "@bot:localhost",
        "database": "twimbot.db",
        "rooms": {"submissions": ["!s:localhost"], "editors": "!e:localhost"},
        "editors": ["@ed:localhost"],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


WRONG_TOKEN = "syt_bm90IGEgcmVhbCB0b2tlbg_wrongTOKEN_9z8y7x"


def test_a_refused_token_is_one_line_without_the_token(tmp_path: Path, synapse: Synapse) -> None:
    path = start_config(tmp_path, synapse.url)
    result = run_cli(
        ["run", "-c", str(path), "--log-level", "DEBUG"],
        {"TWIMBOT_ACCESS_TOKEN": WRONG_TOKEN},
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "refused TWIMBOT_ACCESS_TOKEN" in output and "Traceback" not in output
    assert WRONG_TOKEN not in output


def test_an_unreachable_homeserver_at_start_is_waited_for(tmp_path: Path) -> None:
    path = start_config(tmp_path, "http://127.0.0.1:9")  # nothing listens there
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TWIMBOT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "twimbot", "run", "-c", str(path), "--log-level", "DEBUG"],
        env={**clean, "TWIMBOT_ACCESS_TOKEN": WRONG_TOKEN},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(3)
        assert process.poll() is None, "the bot gave up on an unreachable homeserver"
        process.terminate()
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "unreachable" in output and WRONG_TOKEN not in output

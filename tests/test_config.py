"""Config loading and validation, and the check-config command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from twimbot.config import load_config, normalize_key, secrets_from_env
from twimbot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def minimal() -> dict[str, object]:
    return {
        "homeserver": "https://matrix.example.org",
        "user_id": "@bot:example.org",
        "database": "bot.db",
        "rooms": {"submissions": "#twim:example.org", "editors": "!abc:example.org"},
        "editors": ["@ed:example.org"],
    }


def test_example_config_validates_and_documents_every_key() -> None:
    config = load_config(EXAMPLE)
    assert config.homeserver == "https://matrix.example.org"
    text = EXAMPLE.read_text()
    # every top-level field of the model appears in the example
    for key in type(config).model_fields:
        if key != "base_dir":
            # documented as a live key, or as a commented-out one
            assert f"\n{key}:" in "\n" + text or f"\n# {key}:" in text, key


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal()))
    assert config.trigger.prefixes == ["TWIM"]
    assert config.trigger.min_length == 30
    assert config.trigger.max_length == 20_000
    assert config.notice_emoji == "⭕"
    assert config.ack.reaction == "✅"
    assert config.verbs == ["says", "announces", "reports"]
    assert config.fallback_section == "todo"
    assert config.editor_power_level is None
    assert config.database_path == tmp_path.resolve() / "bot.db"
    assert config.rooms.submissions == ["#twim:example.org"]
    assert config.fallback.title == "Unsorted"


def test_every_problem_is_listed_by_key_path(tmp_path: Path) -> None:
    data = minimal()
    data.update(
        {
            "homeserver": "matrix.example.org",
            "user_id": "bot",
            "rooms": {"submissions": ["#ok:example.org", "nope"], "editors": "!a:b", "extra": 1},
            "trigger": {"min_length": "many"},
            "sections": [{"name": "a", "title": "A"}, {"title": "no name"}],
            "password": "hunter2",
            "colour": "blue",
        }
    )
    del data["database"]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    problems = caught.value.problems
    joined = "\n".join(problems)
    for fragment in [
        "homeserver:",
        "user_id:",
        "database: required key is missing",
        "rooms.submissions[1]:",
        "rooms.extra: unknown key",
        "trigger.min_length:",
        "sections[1].name: required key is missing",
        "colour: unknown key",
        "password: unknown key (secrets come from TWIMBOT_ACCESS_TOKEN",
    ]:
        assert fragment in joined, fragment
    assert "hunter2" not in joined


def test_cross_checks(tmp_path: Path) -> None:
    data = minimal()
    data["sections"] = [
        {"name": "todo", "title": "TODO", "emoji": "✅"},
        {"name": "Todo", "title": "again"},
    ]
    data["projects"] = [{"name": "p", "title": "P", "default_section": "missing"}]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    joined = "\n".join(caught.value.problems)
    assert "sections[1].name: 'Todo' is already used by sections[0]" in joined
    assert "projects[0].default_section: 'missing' is not the name of a section" in joined
    assert "ack.reaction: '✅' is also the emoji of section 'todo'" in joined


def test_ack_equal_to_notice_emoji_with_variation_selector(tmp_path: Path) -> None:
    data = minimal()
    data["notice_emoji"] = "⭕️"
    data["ack"] = {"reaction": "⭕"}
    with pytest.raises(ConfigError, match=r"ack\.reaction: must differ from notice_emoji"):
        load_config(write(tmp_path, data))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("homeserver: [unclosed", "not valid YAML at line 1"), ("- a list", "not a mapping")],
)
def test_unparseable_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path)


def test_normalize_key() -> None:
    assert normalize_key("Synapse ?") == normalize_key("synapse") == "synapse"
    assert normalize_key("⭕️") == normalize_key("⭕")
    assert normalize_key("< polycule >") == "< polycule >"


def test_secrets_come_from_env_and_never_show() -> None:
    secrets = secrets_from_env({"TWIMBOT_ACCESS_TOKEN": "syt_secret", "TWIMBOT_PASSWORD": "pw"})
    assert secrets.access_token == "syt_secret"
    assert "syt_secret" not in repr(secrets) and "pw" not in repr(secrets)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twimbot", *args], capture_output=True, text=True, timeout=60
    )


def test_check_config_cli(tmp_path: Path) -> None:
    ok = run_cli("check-config", "-c", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    data = minimal()
    data["user_id"] = "bot"
    data["surprise"] = True
    bad = run_cli("check-config", "-c", str(write(tmp_path, data)))
    assert bad.returncode == 1
    assert "user_id:" in bad.stderr and "surprise: unknown key" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = run_cli("check-config", "-c", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    usage = run_cli("check-config")
    assert usage.returncode == 2


def test_check_config_reports_template_line(tmp_path: Path) -> None:
    template = tmp_path / "template.md"
    template.write_text("line one\n{% for x in sections %}\nno end\n")
    data = minimal()
    data["template"] = "template.md"
    result = run_cli("check-config", "-c", str(write(tmp_path, data)))
    assert result.returncode == 1
    assert "template" in result.stderr and "line" in result.stderr
    assert "Traceback" not in result.stderr

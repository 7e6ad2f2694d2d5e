"""``twimbot import-hebbot``: the real TWIM hebbot config converts, validates and round-trips."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from twimbot.config import Config, load_config, normalize_key, parse_config
from twimbot.errors import ConfigError
from twimbot.hebbot import ACK_REACTION_CHOICES, convert_hebbot, import_hebbot

HOMESERVER = "https://matrix-client.matrix.org"
REPO = Path(__file__).resolve().parent.parent
# A copy of the shared reference material, so CI on a clean clone runs these tests.
REFERENCE = Path(__file__).resolve().parent / "data" / "reference"


@pytest.fixture(scope="module")
def twim_dir() -> Path:
    return REFERENCE / "twim-config"


@pytest.fixture(scope="module")
def twim_toml(twim_dir: Path) -> dict[str, Any]:
    return tomllib.loads((twim_dir / "config.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def converted(twim_dir: Path) -> tuple[dict[str, Any], list[str]]:
    return convert_hebbot(
        (twim_dir / "config.toml").read_text(encoding="utf-8"),
        homeserver=HOMESERVER,
        template=None,
        prefixes=None,
        database="twimbot.db",
    )


@pytest.fixture
def imported(tmp_path: Path, twim_dir: Path) -> tuple[Path, list[str]]:
    out = tmp_path / "twimbot.yaml"
    warnings = import_hebbot(twim_dir / "config.toml", out, HOMESERVER, None, [])
    return out, warnings


MINIMAL = """
bot_user_id = '@bot:example.org'
reporting_room_id = '!reports:example.org'
admin_room_id = '!admin:example.org'
notice_emoji = '⭕'
restrict_notice = true
verbs = ["says"]
min_length = 30
ack_text = ""
update_config_command = ""
editors = ['@ed:example.org']

[[sections]]
emoji = '🛰️'
name = 'third-party'
title = 'Third Party Projects'
order = 200
usual_reporters = []

[[projects]]
emoji = '📻'
name = 'shortwave'
title = 'Shortwave'
description = 'Internet radio player.'
website = 'https://example.org/shortwave'
default_section = 'third-party'
"""


def _convert(text: str, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    args: dict[str, Any] = {
        "homeserver": HOMESERVER,
        "template": None,
        "prefixes": None,
        "database": "twimbot.db",
    }
    args.update(kwargs)
    return convert_hebbot(text, **args)


def _valid(data: dict[str, Any], base: Path) -> Config:
    return parse_config(yaml.safe_load(yaml.safe_dump(data, allow_unicode=True)), base)


# -- the real TWIM config ---------------------------------------------------------------------


def test_counts_and_top_level_keys(converted: tuple[dict[str, Any], list[str]]) -> None:
    data, _ = converted
    assert len(data["sections"]) == 33
    assert len(data["projects"]) == 132
    assert data["homeserver"] == HOMESERVER
    assert data["user_id"] == "@this-week-in:matrix.org"
    assert data["database"] == "twimbot.db"
    # a v12-style room id without a server part must survive as it is
    assert data["rooms"] == {
        "submissions": ["!vzDE5GnhIhncy8gpyeK4WFPVyeWvIh8JYeM3iqR8RV8"],
        "editors": "!yHqAuTnFgksYvVnlMY:ergaster.org",
    }
    assert data["ping"] == {"room": "!ping12Z19lU3TzHS4slLsUNPx-I7MZKyneYRUlO7voU"}
    assert len(data["editors"]) == 6
    assert data["verbs"] == ["reports", "says", "announces"]
    assert data["trigger"] == {"min_length": 100}
    assert data["notice_emoji"] == "⭕\ufe0f"
    assert data["ack"]["text"] == "✅ Thanks for the report {user}, I'll store your update!"
    assert data["media"]["url_prefix"] == "/blog/img/"
    assert data["media"]["video_markdown"] == '> {{{{< video src="{file}" >}}}}'
    assert "template" not in data
    # sections and projects come last, for readability
    assert list(data)[-2:] == ["sections", "projects"]


def test_sample_fields(converted: tuple[dict[str, Any], list[str]]) -> None:
    data, _ = converted
    projects = {p["name"]: p for p in data["projects"]}
    sections = {s["name"]: s for s in data["sections"]}
    assert projects["polycule"]["emoji"] == "< polycule >"
    assert projects["polycule"]["title"] == "< polycule >"
    assert projects["polycule"]["usual_reporters"] == ["@braid:alsace.hair", "@braid:polycule.im"]
    assert projects["synapse"]["emoji"] == "Synapse"
    assert projects["synapse"]["default_section"] == "servers"
    assert sections["todo"]["order"] == 1000
    assert sections["todo"]["emoji"] == "✅"
    assert sections["todo"]["title"] == "TODO UNKNOWN SECTION"


def test_warnings_name_unused_keys_and_ack_reaction(
    converted: tuple[dict[str, Any], list[str]],
) -> None:
    data, warnings = converted
    assert any(w.startswith("update_config_command: not converted") for w in warnings)
    # the default ✅ belongs to the todo section: the first free preference is taken and said
    assert data["ack"]["reaction"] == ACK_REACTION_CHOICES[0]
    ack_warnings = [w for w in warnings if w.startswith("ack.reaction:")]
    assert len(ack_warnings) == 1
    assert "'todo'" in ack_warnings[0]
    assert ACK_REACTION_CHOICES[0] in ack_warnings[0]
    # restrict_notice = true is exactly twimbot's behaviour: nothing to say
    assert not any(w.startswith("restrict_notice") for w in warnings)


def test_conversion_is_deterministic(twim_dir: Path) -> None:
    text = (twim_dir / "config.toml").read_text(encoding="utf-8")
    assert _convert(text) == _convert(text)


def test_import_writes_valid_yaml_and_round_trips(
    imported: tuple[Path, list[str]], twim_toml: dict[str, Any]
) -> None:
    out, warnings = imported
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# twimbot configuration converted by `twimbot import-hebbot`")
    assert "config.toml" in text.splitlines()[0]
    assert "update_config_command" in text  # the warnings are in the header too
    config = load_config(out)

    assert config.user_id == twim_toml["bot_user_id"]
    assert config.rooms.submissions == [twim_toml["reporting_room_id"]]
    assert config.rooms.editors == twim_toml["admin_room_id"]
    assert config.ping.room == twim_toml["ping_room_id"]
    assert config.editors == twim_toml["editors"]
    assert config.verbs == twim_toml["verbs"]
    assert config.trigger.min_length == twim_toml["min_length"]
    assert config.trigger.prefixes == ["TWIM"]
    assert config.notice_emoji == twim_toml["notice_emoji"]
    assert config.ack.text == twim_toml["ack_text"].replace("{{user}}", "{user}")
    assert config.database_path == out.parent.resolve() / "twimbot.db"

    assert len(config.sections) == len(twim_toml["sections"]) == 33
    for section, raw in zip(config.sections, twim_toml["sections"], strict=True):
        assert (section.name, section.title, section.emoji, section.order) == (
            raw["name"],
            raw["title"],
            raw["emoji"],
            raw["order"],
        )
        assert section.usual_reporters == raw["usual_reporters"]
    assert len(config.projects) == len(twim_toml["projects"]) == 132
    for project, raw in zip(config.projects, twim_toml["projects"], strict=True):
        assert project.name == raw["name"]
        assert project.title == raw["title"]
        assert project.emoji == raw["emoji"]
        assert project.description == raw["description"]
        assert project.website == raw["website"]
        assert project.default_section == raw["default_section"]
        assert project.usual_reporters == raw.get("usual_reporters", [])

    # the chosen ack reaction clashes with nothing the editors react with
    taken = {normalize_key(config.notice_emoji)}
    emojis = [s.emoji for s in config.sections] + [p.emoji for p in config.projects]
    taken |= {normalize_key(emoji) for emoji in emojis if emoji}
    assert normalize_key(config.ack.reaction) not in taken
    assert warnings


def test_video_markdown_renders_like_hebbot(converted: tuple[dict[str, Any], list[str]]) -> None:
    data, _ = converted
    fmt = data["media"]["video_markdown"]
    hebbot = '> {{< video src="{{file}}" >}}'
    assert fmt.format(file="a.mp4", url="/blog/img/a.mp4") == hebbot.replace("{{file}}", "a.mp4")


def test_import_with_template_and_prefixes(tmp_path: Path, twim_dir: Path) -> None:
    (tmp_path / "site").mkdir()
    template = tmp_path / "site" / "template.md"
    template.write_text((twim_dir / "template.md").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "twimbot.yaml"
    import_hebbot(twim_dir / "config.toml", out, HOMESERVER, template, ["TWIM", "This week"])
    config = load_config(out)
    assert config.template == Path("site/template.md")
    assert config.template_path == template.resolve()
    assert config.trigger.prefixes == ["TWIM", "This week"]

    elsewhere = tmp_path / "conf" / "twimbot.yaml"
    elsewhere.parent.mkdir()
    import_hebbot(twim_dir / "config.toml", elsewhere, HOMESERVER, template, [])
    assert load_config(elsewhere).template_path == template.resolve()


def test_import_refuses_missing_template(tmp_path: Path, twim_dir: Path) -> None:
    with pytest.raises(ConfigError, match="template"):
        import_hebbot(
            twim_dir / "config.toml", tmp_path / "c.yaml", HOMESERVER, tmp_path / "no.md", []
        )
    assert not (tmp_path / "c.yaml").exists()


# -- the conversion rules, on small inputs -----------------------------------------------------


def test_minimal_config_converts_and_validates(tmp_path: Path) -> None:
    data, warnings = _convert(MINIMAL)
    config = _valid(data, tmp_path)
    assert config.ack.reaction == "✅"  # free here, so the default stays
    assert config.ack.text is None  # hebbot's '' meant "no notice"
    assert config.projects[0].default_section == "third-party"
    assert warnings == [
        "update_config_command: not converted: twimbot has no shell hook; update the YAML"
        " by other means and run `!twim reload`"
    ]


@pytest.mark.parametrize("emoji", ["⭕", "⭕\ufe0f"])
def test_notice_emoji_kept_as_given(emoji: str, tmp_path: Path) -> None:
    data, _ = _convert(MINIMAL.replace("notice_emoji = '⭕'", f"notice_emoji = '{emoji}'"))
    assert data["notice_emoji"] == emoji
    assert _valid(data, tmp_path).notice_emoji == emoji


def test_restrict_notice_false_warns_twimbot_is_stricter() -> None:
    _, warnings = _convert(MINIMAL.replace("restrict_notice = true", "restrict_notice = false"))
    (warning,) = [w for w in warnings if w.startswith("restrict_notice")]
    assert "stricter" in warning
    assert "editors" in warning


def test_ack_reaction_skips_every_taken_emoji(tmp_path: Path) -> None:
    # ✅, ☑ (without U+FE0F) and 👍 are taken; the notice emoji takes 📝
    text = MINIMAL.replace("notice_emoji = '⭕'", "notice_emoji = '📝'")
    for i, emoji in enumerate(["✅", "☑", "👍"]):
        text += f"\n[[sections]]\nemoji = '{emoji}'\nname = 's{i}'\ntitle = 'S{i}'\norder = {i}\n"
    data, warnings = _convert(text)
    assert data["ack"]["reaction"] == "🆗"
    assert any("🆗" in w for w in warnings)
    _valid(data, tmp_path)


def test_ack_text_placeholder_and_stray_braces() -> None:
    text = MINIMAL.replace('ack_text = ""', 'ack_text = "Thanks {{user}} {ok}"')
    data, warnings = _convert(text)
    assert data["ack"]["text"] == "Thanks {user} {ok}"
    assert any(w.startswith("ack_text:") for w in warnings)


def test_image_and_video_markdown() -> None:
    # top-level keys go before the first [[table]], or TOML puts them inside it
    text = (
        'image_markdown = ">\\n> ![](https://cdn.example.org/img/{{file}})\\n"\n'
        "video_markdown = '> <video src=\"https://cdn.example.org/img/{{file}}\" />'\n"
    ) + MINIMAL
    data, warnings = _convert(text)
    assert data["media"] == {
        "url_prefix": "https://cdn.example.org/img/",
        # the image prefix precedes {{file}}: twimbot's {url} says the same
        "video_markdown": '> <video src="{url}" />',
    }
    assert warnings == [w for w in warnings if not w.startswith(("image", "video"))]


def test_unusual_image_markdown_warns() -> None:
    text = "image_markdown = '<img src=\"{{file}}\">'\n" + MINIMAL
    data, warnings = _convert(text)
    assert "media" not in data
    assert any(w.startswith("image_markdown:") for w in warnings)


def test_unknown_keys_are_named_never_dropped_silently() -> None:
    text = MINIMAL.replace(
        "[[sections]]", "frobnicate = 3\n\n[[sections]]\nhints = ['x']", 1
    ).replace("[[projects]]", "[[projects]]\naliases = ['sw']")
    _, warnings = _convert(text)
    assert "frobnicate: not converted: not a hebbot key twimbot knows" in warnings
    assert any(w.startswith("sections[0]: not converted: hints") for w in warnings)
    assert any(w.startswith("projects[0]: not converted: aliases") for w in warnings)


def test_shared_emoji_is_announced() -> None:
    text = MINIMAL.replace("emoji = '📻'", "emoji = '🛰'")
    _, warnings = _convert(text)
    assert "emoji '🛰' is shared by section 'third-party', project 'shortwave';" in " ".join(
        warnings
    )


def test_unknown_default_section_is_dropped_with_a_warning(tmp_path: Path) -> None:
    data, warnings = _convert(
        MINIMAL.replace("default_section = 'third-party'", "default_section = 'gone'")
    )
    assert "default_section" not in data["projects"][0]
    assert any(w.startswith("projects[0].default_section: 'gone'") for w in warnings)
    _valid(data, tmp_path)


def test_missing_optional_hebbot_keys_fall_back_with_a_warning(tmp_path: Path) -> None:
    text = "\n".join(
        line for line in MINIMAL.splitlines() if not line.startswith(("verbs", "min_length"))
    )
    data, warnings = _convert(text)
    assert "verbs" not in data
    assert "trigger" not in data
    assert any("lacks verbs, min_length" in w for w in warnings)
    assert _valid(data, tmp_path).verbs == ["says", "announces", "reports"]


# -- errors -----------------------------------------------------------------------------------


def test_malformed_toml_is_one_line_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        _convert("bot_user_id = '@bot:example.org'\nverbs = \nmin_length = 3\n")
    message = str(err.value)
    assert message.startswith("hebbot config: not valid TOML: ")
    assert "\n" not in message
    assert "line" in message


def test_missing_required_keys_are_listed() -> None:
    with pytest.raises(ConfigError) as err:
        _convert("notice_emoji = '⭕'\n")
    assert err.value.problems == [
        "bot_user_id: required key is missing",
        "reporting_room_id: required key is missing",
        "admin_room_id: required key is missing",
        "editors: required key is missing",
    ]


def test_wrong_types_are_listed_by_key_path() -> None:
    text = (
        MINIMAL.replace("min_length = 30", "min_length = 'thirty'")
        .replace("order = 200", "order = true")
        .replace("editors = ['@ed:example.org']", "editors = ['@ed:example.org', 5]")
    )
    with pytest.raises(ConfigError) as err:
        _convert(text)
    assert err.value.problems == [
        "min_length: expected an integer, got a string",
        "editors[1]: expected a string, got an integer",
        "sections[0].order: expected an integer, got a boolean",
    ]


def test_import_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    out = tmp_path / "twimbot.yaml"
    with pytest.raises(ConfigError, match="does not exist"):
        import_hebbot(tmp_path / "missing.toml", out, HOMESERVER, None, [])
    bad = tmp_path / "bad.toml"
    bad.write_text("= nope\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: hebbot config: not valid TOML"):
        import_hebbot(bad, out, HOMESERVER, None, [])
    # converts, but twimbot refuses it: nothing is written, every problem is listed
    invalid = tmp_path / "invalid.toml"
    invalid.write_text(MINIMAL.replace("'@ed:example.org'", "'ed'"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        import_hebbot(invalid, out, "ftp://nope", None, [])
    assert str(err.value).startswith("import-hebbot: the converted config does not validate")
    assert any(p.startswith("homeserver:") for p in err.value.problems)
    assert any(p.startswith("editors.0:") or p.startswith("editors[0]") for p in err.value.problems)
    assert not out.exists()

"""Convert a hebbot ``config.toml`` into a twimbot YAML config (``twimbot import-hebbot``).

:func:`convert_hebbot` is pure: TOML text in, a plain ``dict`` (ready for ``yaml.safe_dump``)
and a list of warnings out. :func:`import_hebbot` adds the file handling: it reads the TOML,
writes the YAML with a header comment, and proves the result validates with
:func:`twimbot.config.parse_config` before anything is written.

What hebbot's keys mean was read from hebbot's ``src/config.rs``, ``src/bot.rs`` and, for the
keys the current hebbot no longer reads but real configs still carry (``image_markdown``,
``video_markdown``), from the commit that introduced them (``d34d436``). Nothing is dropped
silently: every key that has no twimbot equivalent is named in a warning.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from twimbot.config import normalize_key, parse_config
from twimbot.errors import ConfigError

DEFAULT_DATABASE = "twimbot.db"
DEFAULT_ACK_REACTION = "✅"

# Tried in order when the default ack reaction is taken by a section, a project or the notice
# emoji. Fixed so that the same hebbot file always converts to the same YAML.
ACK_REACTION_CHOICES = ("☑️", "👍", "📝", "🆗", "👌", "✔️", "📥", "🤖", "💾", "🗂️")

# Keys hebbot's ``Config`` struct requires (serde refuses a file without them).
HEBBOT_REQUIRED = (
    "bot_user_id",
    "reporting_room_id",
    "admin_room_id",
    "notice_emoji",
    "restrict_notice",
    "verbs",
    "min_length",
    "ack_text",
    "update_config_command",
    "editors",
    "sections",
    "projects",
)
# Without these there is nothing to convert; the others fall back to twimbot's defaults.
CONVERSION_REQUIRED = ("bot_user_id", "reporting_room_id", "admin_room_id", "editors")

# Keys twimbot understands but maps elsewhere, beyond hebbot's struct: older hebbot versions
# (image/video markdown) and the TWIM deployment (ping room) put them in the same file.
EXTRA_KNOWN = ("image_markdown", "video_markdown", "ping_room_id")

# Keys a hebbot config may hold that twimbot has no use for, with the reason given to the user.
UNUSED_KEYS = {
    "update_config_command": (
        "twimbot has no shell hook; update the YAML by other means and run `!twim reload`"
    ),
}

SECTION_KEYS = ("emoji", "name", "title", "order", "usual_reporters")
# ``usual_reporters`` on projects is not read by hebbot, but the TWIM config carries it and
# twimbot uses it for classification.
PROJECT_KEYS = (
    "emoji",
    "name",
    "title",
    "description",
    "website",
    "default_section",
    "usual_reporters",
)

# hebbot renders ``image_markdown.replace("{{file}}", name)``; twimbot always renders
# ``> ![](<url_prefix><file>)``, so only that shape carries over, as its prefix. Older hebbot
# defaults started with a lone ``>`` line, which twimbot's layout already provides.
_IMAGE_MARKDOWN_RE = re.compile(
    r"^(?:>[ \t]*\n)*>[ \t]*!\[\]\((?P<prefix>[^\s(){}]*)\{\{file\}\}\)\s*$"
)
_FILE_PLACEHOLDER = "{{file}}"
_USER_PLACEHOLDER = "{{user}}"


# -- reading the TOML with type checks ---------------------------------------------------------


def _type_name(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


class _Reader:
    """Collects hebbot keys of the right type, and a problem for every wrong one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def _bad(self, path: str, expected: str, value: Any) -> None:
        self.problems.append(f"{path}: expected {expected}, got {_type_name(value)}")

    def string(self, table: dict[str, Any], key: str, path: str) -> str | None:
        value = table.get(key)
        if value is None or isinstance(value, str):
            return value
        self._bad(path, "a string", value)
        return None

    def boolean(self, table: dict[str, Any], key: str, path: str) -> bool | None:
        value = table.get(key)
        if value is None or isinstance(value, bool):
            return value
        self._bad(path, "true or false", value)
        return None

    def integer(self, table: dict[str, Any], key: str, path: str) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        # TOML booleans are not integers, whatever Python's bool subclassing says
        if isinstance(value, bool) or not isinstance(value, int):
            self._bad(path, "an integer", value)
            return None
        return value

    def strings(self, table: dict[str, Any], key: str, path: str) -> list[str] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self._bad(path, "a list of strings", value)
            return None
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self._bad(f"{path}[{i}]", "a string", item)
                ok = False
        return list(value) if ok else None

    def tables(self, table: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = table.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self._bad(key, f"an array of tables ([[{key}]])", value)
            return []
        out: list[dict[str, Any]] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append(item)
            else:
                self._bad(f"{key}[{i}]", "a table", item)
        return out


# -- conversion -------------------------------------------------------------------------------


def convert_hebbot(
    toml_text: str,
    *,
    homeserver: str,
    template: str | None,
    prefixes: list[str] | None,
    database: str = DEFAULT_DATABASE,
) -> tuple[dict[str, Any], list[str]]:
    """Convert hebbot TOML text into a twimbot config ``dict`` and a list of warnings.

    The dict is in a readable key order (settings first, ``sections`` and ``projects`` last)
    for ``yaml.safe_dump(..., sort_keys=False, allow_unicode=True)``. It is not validated
    here; :func:`import_hebbot` does that. Raises :class:`ConfigError` when the TOML does not
    parse, a key needed for the conversion is missing, or a key has the wrong type.
    """
    try:
        raw = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as err:
        reason = " ".join(str(err).split())
        raise ConfigError(
            f"hebbot config: not valid TOML: {reason}", [f"(toml): {reason}"]
        ) from None

    reader = _Reader()
    warnings: list[str] = []
    missing = [key for key in CONVERSION_REQUIRED if key not in raw]
    reader.problems += [f"{key}: required key is missing" for key in missing]

    user_id = reader.string(raw, "bot_user_id", "bot_user_id")
    reporting_room = reader.string(raw, "reporting_room_id", "reporting_room_id")
    admin_room = reader.string(raw, "admin_room_id", "admin_room_id")
    ping_room = reader.string(raw, "ping_room_id", "ping_room_id")
    notice_emoji = reader.string(raw, "notice_emoji", "notice_emoji")
    restrict_notice = reader.boolean(raw, "restrict_notice", "restrict_notice")
    verbs = reader.strings(raw, "verbs", "verbs")
    min_length = reader.integer(raw, "min_length", "min_length")
    ack_text = reader.string(raw, "ack_text", "ack_text")
    image_markdown = reader.string(raw, "image_markdown", "image_markdown")
    video_markdown = reader.string(raw, "video_markdown", "video_markdown")
    editors = reader.strings(raw, "editors", "editors")
    reader.string(raw, "update_config_command", "update_config_command")
    sections = [
        _convert_section(reader, table, f"sections[{i}]", warnings)
        for i, table in enumerate(reader.tables(raw, "sections"))
    ]
    section_names = {s["name"] for s in sections if "name" in s}
    projects = [
        _convert_project(reader, table, f"projects[{i}]", section_names, warnings)
        for i, table in enumerate(reader.tables(raw, "projects"))
    ]
    if reader.problems:
        problems = reader.problems
        raise ConfigError(
            f"hebbot config: {len(problems)} problem(s): " + "; ".join(problems), problems
        )

    # -- top-level keys twimbot does not use, or that hebbot would have refused
    known = {*HEBBOT_REQUIRED, *EXTRA_KNOWN}
    for key in raw:
        if key in UNUSED_KEYS:
            warnings.append(f"{key}: not converted: {UNUSED_KEYS[key]}")
        elif key not in known:
            warnings.append(f"{key}: not converted: not a hebbot key twimbot knows")
    absent = [k for k in HEBBOT_REQUIRED if k not in raw and k not in UNUSED_KEYS]
    absent = [k for k in absent if k not in CONVERSION_REQUIRED]
    if absent:
        warnings.append(
            "hebbot would refuse this file, it lacks "
            + ", ".join(absent)
            + "; twimbot's defaults are used for them"
        )

    out: dict[str, Any] = {
        "homeserver": homeserver,
        "user_id": user_id,
        "database": database,
        "rooms": {"submissions": [reporting_room], "editors": admin_room},
        "editors": editors,
    }
    if notice_emoji:
        out["notice_emoji"] = notice_emoji
    elif notice_emoji is not None:
        warnings.append("notice_emoji: empty in hebbot; twimbot's default ⭕ is used")
    if restrict_notice is False:
        warnings.append(
            "restrict_notice: false let anyone submit anyone's message with the notice emoji"
            " and set sections and projects by reaction; twimbot is stricter: only editors"
            " do that, contributors may submit only their own messages. Add trusted people"
            " to `editors` or set `editor_power_level`"
        )

    trigger: dict[str, Any] = {}
    if prefixes:
        trigger["prefixes"] = list(prefixes)
    if min_length is not None:
        trigger["min_length"] = min_length
    if trigger:
        out["trigger"] = trigger

    ack: dict[str, Any] = {}
    reaction = _pick_ack_reaction(notice_emoji or "⭕", sections, projects)
    if reaction is None:
        warnings.append(
            "ack.reaction: every candidate emoji is taken by a section, a project or the"
            " notice emoji; set ack.reaction to a free one by hand"
        )
    elif reaction != DEFAULT_ACK_REACTION:
        ack["reaction"] = reaction
        taken_by = _emoji_owner(DEFAULT_ACK_REACTION, notice_emoji or "⭕", sections, projects)
        warnings.append(
            f"ack.reaction: the default {DEFAULT_ACK_REACTION} is the emoji of {taken_by},"
            f" so the bot acknowledges submissions with {reaction} instead"
        )
    if ack_text:
        text = ack_text.replace(_USER_PLACEHOLDER, "{user}")
        if "{" in text.replace("{user}", "") or "}" in text.replace("{user}", ""):
            warnings.append(
                "ack_text: braces other than the {{user}} placeholder were kept as they are;"
                " check the acknowledgement text reads as intended"
            )
        ack["text"] = text
    if ack:
        out["ack"] = ack

    if verbs:
        out["verbs"] = verbs
    elif verbs is not None:
        warnings.append("verbs: empty in hebbot; twimbot's default verbs are used")
    if template is not None:
        out["template"] = template

    media = _convert_media(image_markdown, video_markdown, warnings)
    if media:
        out["media"] = media
    if ping_room:
        out["ping"] = {"room": ping_room}

    warnings += _duplicate_emoji_warnings(sections, projects)
    out["sections"] = sections
    out["projects"] = projects
    return out, warnings


def _duplicate_emoji_warnings(
    sections: list[dict[str, Any]], projects: list[dict[str, Any]]
) -> list[str]:
    # hebbot warns about these too; a reaction can only mean one of them
    owners: dict[str, list[str]] = {}
    for kind, items in (("section", sections), ("project", projects)):
        for item in items:
            emoji = item.get("emoji")
            if isinstance(emoji, str):
                owners.setdefault(normalize_key(emoji), []).append(f"{kind} {item.get('name')!r}")
    return [
        f"emoji {key!r} is shared by {', '.join(names)}; a reaction with it is ambiguous"
        for key, names in owners.items()
        if len(names) > 1
    ]


def _unknown_keys(table: dict[str, Any], allowed: tuple[str, ...], path: str) -> list[str]:
    extra = [key for key in table if key not in allowed]
    if not extra:
        return []
    return [f"{path}: not converted: {', '.join(extra)} (not hebbot keys twimbot knows)"]


def _convert_common(
    reader: _Reader,
    table: dict[str, Any],
    path: str,
    kind: str,
    allowed: tuple[str, ...],
    warnings: list[str],
) -> dict[str, Any]:
    """What sections and projects share: name (required), title, emoji, unknown keys."""
    name = reader.string(table, "name", f"{path}.name")
    title = reader.string(table, "title", f"{path}.title")
    emoji = reader.string(table, "emoji", f"{path}.emoji")
    if "name" not in table:
        reader.problems.append(f"{path}.name: required key is missing")
    warnings += _unknown_keys(table, allowed, path)
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = name
    out["title"] = _title(title, name, path, warnings)
    if emoji:
        out["emoji"] = emoji
    else:
        warnings.append(f"{path}.emoji: none in hebbot; the {kind} has no reaction emoji")
    return out


def _convert_section(
    reader: _Reader, table: dict[str, Any], path: str, warnings: list[str]
) -> dict[str, Any]:
    out = _convert_common(reader, table, path, "section", SECTION_KEYS, warnings)
    order = reader.integer(table, "order", f"{path}.order")
    if order is not None:
        out["order"] = order
    if reporters := reader.strings(table, "usual_reporters", f"{path}.usual_reporters"):
        out["usual_reporters"] = reporters
    return out


def _convert_project(
    reader: _Reader,
    table: dict[str, Any],
    path: str,
    section_names: set[str],
    warnings: list[str],
) -> dict[str, Any]:
    out = _convert_common(reader, table, path, "project", PROJECT_KEYS, warnings)
    if description := reader.string(table, "description", f"{path}.description"):
        out["description"] = description
    if website := reader.string(table, "website", f"{path}.website"):
        out["website"] = website
    default_section = reader.string(table, "default_section", f"{path}.default_section")
    if default_section and default_section in section_names:
        out["default_section"] = default_section
    elif default_section:
        # hebbot ran with it ("undefined behavior"); twimbot would refuse the whole file
        warnings.append(
            f"{path}.default_section: {default_section!r} is not a section; dropped, so the"
            " project's entries are placed by the other rules"
        )
    if reporters := reader.strings(table, "usual_reporters", f"{path}.usual_reporters"):
        out["usual_reporters"] = reporters
    return out


def _title(title: str | None, name: str | None, path: str, warnings: list[str]) -> str:
    if title:
        return title
    # twimbot renders the title as a heading and requires one; the name is the best stand-in
    warnings.append(f"{path}.title: empty in hebbot; the name {name!r} is used as title")
    return name or ""


def _emoji_keys(
    notice_emoji: str, sections: list[dict[str, Any]], projects: list[dict[str, Any]]
) -> dict[str, str]:
    """Normalised emoji → what owns it, first owner wins (for the warning text)."""
    owners: dict[str, str] = {normalize_key(notice_emoji): "the notice emoji"}
    for kind, items in (("section", sections), ("project", projects)):
        for item in items:
            emoji = item.get("emoji")
            if isinstance(emoji, str):
                owners.setdefault(normalize_key(emoji), f"{kind} {item.get('name')!r}")
    return owners


def _pick_ack_reaction(
    notice_emoji: str, sections: list[dict[str, Any]], projects: list[dict[str, Any]]
) -> str | None:
    taken = _emoji_keys(notice_emoji, sections, projects)
    for candidate in (DEFAULT_ACK_REACTION, *ACK_REACTION_CHOICES):
        if normalize_key(candidate) not in taken:
            return candidate
    return None


def _emoji_owner(
    emoji: str, notice_emoji: str, sections: list[dict[str, Any]], projects: list[dict[str, Any]]
) -> str:
    return _emoji_keys(notice_emoji, sections, projects).get(normalize_key(emoji), "?")


def _format_escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _convert_media(
    image_markdown: str | None, video_markdown: str | None, warnings: list[str]
) -> dict[str, str]:
    media: dict[str, str] = {}
    prefix: str | None = None
    if image_markdown is not None:
        match = _IMAGE_MARKDOWN_RE.match(image_markdown.strip())
        if match:
            prefix = match["prefix"]
            media["url_prefix"] = prefix
        else:
            warnings.append(
                f"image_markdown: {image_markdown!r} is not of the form"
                " `> ![](PREFIX{{file}})`; twimbot renders images as"
                " `> ![](<media.url_prefix><file>)`, so media.url_prefix keeps its default"
            )
    if video_markdown is not None:
        if _FILE_PLACEHOLDER not in video_markdown:
            warnings.append(
                f"video_markdown: {video_markdown!r} has no {{{{file}}}} placeholder;"
                " media.video_markdown keeps its default"
            )
            return media
        # media.video_markdown is a str.format string: literal braces are doubled. hebbot
        # put the bare file name in; when the image prefix precedes it, twimbot's {url}
        # (url_prefix + file name) says the same and follows a later url_prefix change.
        placeholder = _FILE_PLACEHOLDER
        replacement = "{file}"
        if prefix and (prefix + _FILE_PLACEHOLDER) in video_markdown:
            placeholder, replacement = prefix + _FILE_PLACEHOLDER, "{url}"
        parts = video_markdown.split(placeholder)
        media["video_markdown"] = replacement.join(_format_escape(p) for p in parts)
    return media


# -- files ------------------------------------------------------------------------------------


def _template_ref(template: Path, output_dir: Path) -> str:
    """How the config names the template: relative when it lies beside or below the config."""
    target = template.resolve()
    try:
        return target.relative_to(output_dir).as_posix()
    except ValueError:
        return str(target)


def render_yaml(data: dict[str, Any], source: str, warnings: list[str]) -> str:
    """The YAML text ``import_hebbot`` writes: a header comment, then the config."""
    lines = [
        f"# twimbot configuration converted by `twimbot import-hebbot` from {source}.",
        "# Secrets are not kept here: set TWIMBOT_ACCESS_TOKEN or TWIMBOT_PASSWORD.",
        "# Relative paths are relative to this file. Check it with `twimbot check-config`.",
    ]
    if warnings:
        lines.append("#")
        lines.append("# Conversion warnings:")
        for warning in warnings:
            lines.append("#   - " + " ".join(warning.split()))
    header = "\n".join(lines) + "\n\n"
    # width: one line per value, so that long descriptions stay greppable
    body = yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, width=1_000_000, default_flow_style=False
    )
    return header + body


def import_hebbot(
    hebbot_toml: Path,
    output: Path,
    homeserver: str,
    template: Path | None,
    prefixes: list[str],
) -> list[str]:
    """Convert ``hebbot_toml`` into the twimbot YAML ``output``; return the warnings.

    The YAML is validated with :func:`parse_config` (relative to ``output``'s directory)
    before it is written, so an invalid result leaves no file behind. Raises
    :class:`ConfigError` with every problem listed.
    """
    try:
        text = hebbot_toml.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"import-hebbot: {hebbot_toml} does not exist", [f"{hebbot_toml}: file not found"]
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"import-hebbot: cannot read {hebbot_toml}: {reason}", [f"{hebbot_toml}: {reason}"]
        ) from None

    output_dir = output.resolve().parent
    template_ref: str | None = None
    if template is not None:
        if not template.is_file():
            raise ConfigError(
                f"import-hebbot: template {template} does not exist",
                [f"--template: {template}: file not found"],
            )
        template_ref = _template_ref(template, output_dir)

    try:
        data, warnings = convert_hebbot(
            text,
            homeserver=homeserver,
            template=template_ref,
            prefixes=prefixes or None,
            database=DEFAULT_DATABASE,
        )
    except ConfigError as err:
        raise ConfigError(f"{hebbot_toml}: {err}", err.problems) from None

    yaml_text = render_yaml(data, str(hebbot_toml), warnings)
    try:
        parse_config(yaml.safe_load(yaml_text), output_dir)
    except ConfigError as err:
        raise ConfigError(
            f"import-hebbot: the converted config does not validate: {err}", err.problems
        ) from None

    # write beside the target and rename, so a failed write never leaves half a config
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(yaml_text, encoding="utf-8")
        tmp.replace(output)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"import-hebbot: cannot write {output}: {err.strerror}",
            [f"{output}: {err.strerror}"],
        ) from None
    return warnings

"""Configuration: one YAML file validated into typed pydantic models.

Every problem is reported by key path (``sections[3].name: field required``) so that
``twimbot check-config`` can list them all at once. Secrets never live in this file:
they come from ``TWIMBOT_ACCESS_TOKEN`` or ``TWIMBOT_PASSWORD`` (see :func:`secrets_from_env`).
Relative paths (``database``, ``template``, ``media.dir``) are relative to the config file.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from twimbot.errors import ConfigError

USER_ID_RE = re.compile(r"^@[^:\s]+:[^\s]+$")
ROOM_RE = re.compile(r"^[!#][^:\s]+:[^\s]+$|^![^\s]+$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNSORTED_SECTION = "Unsorted"


def normalize_key(key: str) -> str:
    """Normalise a reaction key or emoji for comparison.

    hebbot suggests reactions like ``Synapse ?``; clients add or drop U+FE0F (emoji
    presentation selector) at will. Both are ignored, and text keys compare
    case-insensitively.
    """
    key = unicodedata.normalize("NFC", key).replace("\ufe0f", "").strip()
    if key.endswith("?"):
        key = key[:-1].rstrip()
    return key.casefold()


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


def _user_id(value: str) -> str:
    if not USER_ID_RE.match(value):
        raise ValueError(f"{value!r} is not a Matrix user id like @name:server")
    return value


def _room(value: str) -> str:
    if not ROOM_RE.match(value):
        raise ValueError(f"{value!r} is not a room id (!id:server) or alias (#name:server)")
    return value


UserId = Annotated[str, BeforeValidator(lambda v: _user_id(v) if isinstance(v, str) else v)]
RoomRef = Annotated[str, BeforeValidator(lambda v: _room(v) if isinstance(v, str) else v)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Rooms(_Model):
    """The rooms the bot works in."""

    submissions: Annotated[list[RoomRef], BeforeValidator(_as_list)] = Field(min_length=1)
    editors: RoomRef


class Trigger(_Model):
    """What turns a message into a submission."""

    prefixes: list[str] = Field(default_factory=lambda: ["TWIM"])
    mention: bool = True
    min_length: int = Field(default=30, ge=0)
    max_length: int = Field(default=20_000, ge=1)

    @field_validator("prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("a prefix must not be empty")
        return value


class Ack(_Model):
    """How the bot acknowledges a stored submission."""

    reaction: str = "✅"
    text: str | None = None


class Section(_Model):
    """A department of the post (``## Dept of Clients 📱``)."""

    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    emoji: str | None = None
    order: int = 0
    usual_reporters: list[UserId] = Field(default_factory=list)
    hints: list[str] = Field(default_factory=list)


class Project(_Model):
    """A project; its news renders under ``### title`` in its section."""

    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    emoji: str | None = None
    description: str = ""
    website: str = ""
    default_section: str | None = None
    aliases: list[str] = Field(default_factory=list)
    usual_reporters: list[UserId] = Field(default_factory=list)


class Media(_Model):
    """Where media files go and how the post links them."""

    dir: Path = Path("media")
    url_prefix: str = "/blog/img/"
    attach_window_minutes: float = Field(default=10, ge=0)
    # ``{url}`` is url_prefix + file name, ``{file}`` the bare file name.
    video_markdown: str = '> {{{{< video src="{url}" >}}}}'
    max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)


class Post(_Model):
    """Front matter and framing of the rendered post."""

    title: str = "This Week in Matrix"
    author: str = ""
    timezone: str = "UTC"
    publish_weekday: str = "friday"
    publish_time: str = "18:00"
    category: str | None = None
    path_prefix: str = "/blog"
    intro: str = ""
    outro: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value

    @field_validator("publish_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        if value.lower() not in WEEKDAYS:
            raise ValueError(f"{value!r} is not a weekday ({', '.join(WEEKDAYS)})")
        return value.lower()

    @field_validator("publish_time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"{value!r} is not a time of day like 18:00")
        return value


class Ping(_Model):
    """The Dept of Ping."""

    room: RoomRef | None = None
    window_days: float = Field(default=7, gt=0)
    top: int = Field(default=10, ge=1)
    stats_url: str | None = None


class Config(_Model):
    """The whole configuration. Construct it with :func:`load_config`."""

    homeserver: str
    user_id: UserId
    database: Path
    rooms: Rooms
    editors: list[UserId]
    editor_power_level: int | None = None
    trigger: Trigger = Field(default_factory=Trigger)
    notice_emoji: str = "⭕"
    ack: Ack = Field(default_factory=Ack)
    verbs: list[str] = Field(default_factory=lambda: ["says", "announces", "reports"], min_length=1)
    sections: list[Section] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    fallback_section: str = "todo"
    template: Path | None = None
    media: Media = Field(default_factory=Media)
    post: Post = Field(default_factory=Post)
    ping: Ping = Field(default_factory=Ping)
    log_level: str = "INFO"

    # Set by load_config: the directory relative paths are resolved against.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("homeserver")
    @classmethod
    def _homeserver(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        problems = cross_check(self.sections, self.projects, self.ack, self.notice_emoji)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- lookups -----------------------------------------------------------------

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def project(self, name: str) -> Project | None:
        for p in self.projects:
            if p.name == name:
                return p
        return None

    def resolve_path(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def database_path(self) -> Path:
        return self.resolve_path(self.database)

    @property
    def media_dir(self) -> Path:
        return self.resolve_path(self.media.dir)

    @property
    def template_path(self) -> Path | None:
        return None if self.template is None else self.resolve_path(self.template)

    @property
    def fallback(self) -> Section:
        """The section unsorted entries render under (implicit ``Unsorted`` if unnamed)."""
        found = self.section(self.fallback_section)
        if found is not None:
            return found
        last = max((s.order for s in self.sections), default=0)
        return Section(name=self.fallback_section, title=UNSORTED_SECTION, order=last + 1)


def cross_check(
    sections: list[Section], projects: list[Project], ack: Ack, notice_emoji: str
) -> list[str]:
    """Checks that span keys: unique names, known default sections, a distinct ack emoji."""
    problems: list[str] = []
    problems += _duplicates("sections", (s.name for s in sections), "name")
    problems += _duplicates("projects", (p.name for p in projects), "name")
    names = {s.name for s in sections}
    for i, project in enumerate(projects):
        if project.default_section is not None and project.default_section not in names:
            problems.append(
                f"projects[{i}].default_section: {project.default_section!r} is not the"
                " name of a section"
            )
    ack_key = normalize_key(ack.reaction)
    if ack_key == normalize_key(notice_emoji):
        problems.append("ack.reaction: must differ from notice_emoji")
    items: list[Section | Project] = [*sections, *projects]
    for item in items:
        if item.emoji is not None and normalize_key(item.emoji) == ack_key:
            kind = "section" if isinstance(item, Section) else "project"
            problems.append(
                f"ack.reaction: {ack.reaction!r} is also the emoji of {kind} {item.name!r};"
                " the bot's own acknowledgement would look like an editor's choice"
            )
    return problems


def _partial_cross_check(data: dict[str, Any]) -> list[str]:
    """Run :func:`cross_check` on whatever parts of an invalid config do validate."""

    def valid(model: type[BaseModel], raw: Any) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError:
            return None

    raw_sections = data.get("sections") or []
    raw_projects = data.get("projects") or []
    if not isinstance(raw_sections, list) or not isinstance(raw_projects, list):
        return []
    sections = [s for s in (valid(Section, r) for r in raw_sections) if s is not None]
    projects = [p for p in (valid(Project, r) for r in raw_projects) if p is not None]
    ack = valid(Ack, data.get("ack", {})) or Ack()
    notice = data.get("notice_emoji", "⭕")
    if len(sections) != len(raw_sections) or len(projects) != len(raw_projects):
        # indexes in messages would not match the file; the field errors come first
        return []
    return cross_check(sections, projects, ack, notice if isinstance(notice, str) else "⭕")


def _duplicates(kind: str, names: Iterable[str], key: str) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        folded = name.casefold()
        if folded in seen:
            out.append(f"{kind}[{i}].{key}: {name!r} is already used by {kind}[{seen[folded]}]")
        else:
            seen[folded] = i
    return out


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_cross_checks(), Config]",):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_SECRET_KEYS = {"access_token", "password", "token"}


def format_validation_error(err: ValidationError) -> list[str]:
    """Turn a pydantic error into ``key.path: reason`` lines, one per problem."""
    problems: list[str] = []
    for item in err.errors(include_url=False, include_input=False):
        loc = _loc(tuple(item["loc"]))
        kind = item["type"]
        msg = str(item["msg"])
        if kind == "extra_forbidden":
            last = str(item["loc"][-1]) if item["loc"] else ""
            hint = ""
            if last in _SECRET_KEYS:
                hint = " (secrets come from TWIMBOT_ACCESS_TOKEN or TWIMBOT_PASSWORD)"
            problems.append(f"{loc}: unknown key{hint}")
        elif kind == "value_error":
            text = msg.removeprefix("Value error, ")
            if loc == "(top level)":
                # cross checks carry their own key paths
                problems.extend(part.strip() for part in text.split("; "))
            else:
                problems.append(f"{loc}: {text}")
        elif kind == "missing":
            problems.append(f"{loc}: required key is missing")
        else:
            problems.append(f"{loc}: {msg}")
    return problems


def parse_config(data: Any, base_dir: Path) -> Config:
    """Validate already-parsed YAML data. Raises :class:`ConfigError` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(
            "config: the file is not a mapping of keys", ["(top level): not a mapping"]
        )
    try:
        return Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as err:
        problems = format_validation_error(err)
        if not any(p.startswith(("sections", "projects", "ack.reaction")) for p in problems):
            problems += [p for p in _partial_cross_check(data) if p not in problems]
        raise ConfigError(
            f"config: {len(problems)} problem(s): " + "; ".join(problems), problems
        ) from None


def load_config(path: Path | str) -> Config:
    """Read and validate the YAML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: {path} does not exist", [f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise ConfigError(f"config: cannot read {path}: {reason}", [f"{path}: {reason}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(
            f"config: {path} is not valid YAML{where}: {problem}",
            [f"{path}{where}: {problem}"],
        ) from None
    return parse_config(data, path.resolve().parent)


@dataclass(frozen=True)
class Secrets:
    """Credentials from the environment; ``repr`` never shows them."""

    access_token: str | None
    password: str | None

    def __repr__(self) -> str:
        return (
            f"Secrets(access_token={'***' if self.access_token else None},"
            f" password={'***' if self.password else None})"
        )


def secrets_from_env(env: dict[str, str] | None = None) -> Secrets:
    env = dict(os.environ) if env is None else env
    return Secrets(
        access_token=env.get("TWIMBOT_ACCESS_TOKEN") or None,
        password=env.get("TWIMBOT_PASSWORD") or None,
    )

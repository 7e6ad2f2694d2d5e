"""The Jinja2 side of drafts: sandboxed environments, hebbot-compatible filters, errors.

hebbot renders with MiniJinja plus ``minijinja_contrib``; this module gives Jinja2 the same
filter names and meanings so a hebbot template renders unchanged:

* ``datetimeformat``, ``dateformat``, ``timeformat`` take ``format="short" | "medium" |
  "long" | "full" | "iso" | "unix"`` or a `time` crate format description (version 2, as
  MiniJinja parses it: ``"[year]/[month]/[day]"``, ``"[month repr:long] [day
  padding:none]"``), and an optional ``tz="Europe/Berlin"``. Month and weekday names are
  English whatever the process locale, so output never depends on the host.
* ``timedelta(days=…, hours=…, weeks=…, months=30 days, years=365 days, …)`` returns a
  datetime, like hebbot's filter of that name.
* ``random`` is deterministic (hebbot's was not): the choice is a stable hash of the news
  item the template touched last, so ``{{ config.verbs | random }}`` after
  ``{{ item.reporter_display_name }}`` picks, for the first call per item, exactly the
  ``item.verb`` the built-in template prints; further calls for the same item, or calls
  outside any item, hash the edition id and a counter instead.
* ``dictsort`` sorts numbers in keys numerically (``"200-x"`` before ``"1000-y"``) and sorts
  ``sections`` by section order, then name.
* extras: ``toml`` (a TOML basic string, quotes included), ``quote`` (``"> "`` before
  every line), ``md_escape`` (escape Markdown inline syntax), MiniJinja's ``split``,
  ``lines``, ``bool`` and ``pluralize``; global ``now()`` returns the edition timestamp.

Both environments are :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no private
attributes, no mutation of the draft data, bounded ``range`` and ``*``/``**``), with
``autoescape`` off (the output is Markdown) and Jinja2's default whitespace handling, which
is also MiniJinja's. They differ in undefined values: the built-in template is strict, so a
mistake in it fails loudly; operator templates get MiniJinja's lenient default (an
undefined value prints as nothing, iterates as empty and is false, while an attribute *of*
an undefined value is an error), because hebbot templates rely on it. Each printed undefined
value becomes a warning naming the template line.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sized
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import FrameType, TracebackType
from typing import Any, Final
from urllib.parse import quote as url_quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from twimbot.errors import TemplateError
from twimbot.model import stable_index
from twimbot.template_context import (
    ConfigView,
    MediaView,
    NewsItem,
    PingRowView,
    PingView,
    PostView,
    ProjectNews,
    ProjectView,
    SectionMap,
    SectionNews,
    SectionView,
)


class FilterError(Exception):
    """A filter got arguments it cannot use; reported with the template line."""


# -- per-render state ----------------------------------------------------------------------


@dataclass
class RenderState:
    """What one render needs beyond the context: seeds for ``random``, collected notices.

    It lives in a :class:`~contextvars.ContextVar` for the duration of one render, so the
    shared environments stay stateless and concurrent renders cannot see each other.
    """

    edition_id: int
    timestamp: datetime
    current_item: NewsItem | None = None
    random_calls: int = 0
    notices: list[str] = field(default_factory=list)

    def touch(self, item: NewsItem) -> None:
        if item is not self.current_item:
            self.current_item = item
            self.random_calls = 0

    def random_key(self) -> str:
        calls = self.random_calls
        self.random_calls += 1
        if self.current_item is None:
            return f"edition-{self.edition_id}#{calls}"
        # The first choice for an item hashes the bare event id, the key of item.verb.
        if calls == 0:
            return self.current_item.event_id
        return f"{self.current_item.event_id}#{calls}"

    def notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)


_STATE: ContextVar[RenderState | None] = ContextVar("twimbot_render_state", default=None)


def _template_frame_line() -> tuple[str, int] | None:
    """Name and source line of the innermost template frame now executing, if any."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        # Jinja2 marks the module globals of compiled template code with its Template.
        template = frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            return (template.name or "template", template.get_corresponding_lineno(frame.f_lineno))
        frame = frame.f_back
    return None


class LenientUndefined(jinja2.Undefined):
    """MiniJinja's lenient undefined, which notes every place it is printed."""

    __slots__ = ()

    def __str__(self) -> str:
        state = _STATE.get()
        if state is not None:
            where = _template_frame_line()
            prefix = f"{where[0]} line {where[1]}: " if where else ""
            state.notice(f"{prefix}{_clean(self._undefined_message)} (printed as nothing)")
        return ""


# -- environments -------------------------------------------------------------------------

_MAX_REPEAT: Final = 1_000_000
_MAX_EXPONENT: Final = 1_000


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, plus tracking of the current news item for ``random``."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        kind = type(obj)
        if kind is NewsItem:
            _touch(obj)
        # The context's own frozen dataclasses hold nothing but data fields: skip the
        # sandbox's generic checks for them, the bulk of all attribute lookups in a draft.
        fields = _DATA_FIELDS.get(kind)
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is NewsItem:
            _touch(obj)
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        # A template is the operator's, but a typo like "-" * 10**9 should not eat the host.
        if operator == "**" and _number(left) and _number(right):
            if abs(right) > _MAX_EXPONENT and abs(left) > 1:
                raise SecurityError(f"exponent {right} is too large")
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > _MAX_REPEAT:
                    raise SecurityError("the repeated value would be too long")
        return super().call_binop(context, operator, left, right)


_DATA_FIELDS: Final[dict[type, frozenset[str]]] = {
    kind: frozenset(f.name for f in dataclasses.fields(kind))
    for kind in (
        ConfigView,
        MediaView,
        NewsItem,
        PingRowView,
        PingView,
        PostView,
        ProjectNews,
        ProjectView,
        SectionNews,
        SectionView,
    )
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _touch(item: NewsItem) -> None:
    state = _STATE.get()
    if state is not None:
        state.touch(item)


def _now() -> datetime:
    state = _STATE.get()
    # The edition timestamp, not the wall clock: the same draft must render the same bytes.
    return state.timestamp if state is not None else datetime.now(UTC)


def _make_environment(strict: bool) -> _Environment:
    env = _Environment(
        undefined=jinja2.StrictUndefined if strict else LenientUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.loopcontrols"],
    )
    env.filters.update(FILTERS)
    # lipsum draws from the global random generator: not reproducible, so not offered.
    env.globals.pop("lipsum", None)
    env.globals["now"] = _now
    return env


@lru_cache(maxsize=2)
def environment(strict: bool) -> jinja2.Environment:
    """The shared environment: strict for the built-in template, lenient for operators'."""
    return _make_environment(strict)


@lru_cache(maxsize=16)
def compile_template(source: str, name: str, strict: bool) -> jinja2.Template:
    """Compile ``source``; a syntax error (unknown filters included) is a TemplateError.

    Compiled templates are cached by source text, so re-rendering costs no compilation and
    an edited template file takes effect on the next render.
    """
    env = environment(strict)
    try:
        code = env.compile(source, name=name, filename=name)
    except jinja2.TemplateSyntaxError as err:
        raise template_error(err, name) from None
    return env.template_class.from_code(env, code, env.make_globals(None))


def run_template(
    template: jinja2.Template,
    context: Mapping[str, Any],
    *,
    edition_id: int,
    timestamp: datetime,
) -> tuple[str, list[str]]:
    """Render ``template``; returns the text and notices (undefined values printed).

    Any failure, whatever raised it, becomes a TemplateError naming template and line.
    """
    state = RenderState(edition_id=edition_id, timestamp=timestamp)
    token = _STATE.set(state)
    try:
        text = template.render(context)
    except Exception as err:
        raise template_error(err, template.name or "template") from err
    finally:
        _STATE.reset(token)
    return text, state.notices


# -- errors -------------------------------------------------------------------------------

_TYPE_REPR_RE = re.compile(r"twimbot\.[\w.]+\.(\w+) object")


def _clean(message: str) -> str:
    """One line, without the module paths Jinja2 puts into type names."""
    return " ".join(_TYPE_REPR_RE.sub(r"\1", message).split())


def template_error(err: BaseException, name: str) -> TemplateError:
    """Turn any exception from compiling or rendering ``name`` into a one-line TemplateError."""
    if isinstance(err, jinja2.TemplateSyntaxError):
        line: int | None = err.lineno
        message = err.message or "syntax error"
    else:
        line = _traceback_line(err.__traceback__, name)
        if isinstance(err, jinja2.TemplateError | FilterError):
            message = str(err) or type(err).__name__
        else:
            # A Python error from a filter or operator (1 / 0, int("x")): name its kind.
            message = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    where = f"{name} line {line}" if line else name
    return TemplateError(f"{where}: {_clean(message)}")


def _traceback_line(tb: TracebackType | None, filename: str) -> int | None:
    """The innermost template line in a traceback Jinja2 has rewritten to template lines."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# -- text helpers shared with render ------------------------------------------------------

# Everything that could start or end a link, an image, emphasis, strikethrough, code,
# inline HTML, a table cell or a site-generator shortcode ({{ … }} / {% … %}) inside link
# text, and an ampersand that would start an entity (&lt; would print as "<").
_INLINE_SPECIAL_RE = re.compile(r"([\\`*_~{}\[\]()<>|]|&(?=#?[0-9A-Za-z]+;))")


def md_escape(value: Any) -> str:
    """``value`` as one line of plain text inside Markdown (link text, a table cell).

    Whitespace runs (newlines included) become one space; every character that could start
    Markdown or HTML syntax is backslash-escaped, so ``Evil](javascript:x)`` stays text.
    """
    return _INLINE_SPECIAL_RE.sub(r"\\\1", " ".join(str(value).split()))


def url_safe(value: str) -> str:
    """``value`` for a URL inside Markdown: characters that could end the link are encoded."""
    return url_quote(value, safe="@:!$&'*+,;=/~")


def toml_string(value: Any) -> str:
    """A TOML basic string (quotes included) that holds exactly ``value`` on one line."""
    out = ['"']
    for char in str(value):
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")  # a lone surrogate is not a Unicode scalar, TOML refuses it
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_TOML_ESCAPES: Final = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def slugify(text: str) -> str:
    """``This Week in Matrix`` → ``this-week-in-matrix`` (ASCII, for URL paths)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "post"


def quote_lines(value: Any) -> str:
    """Prefix every line with ``"> "`` (an empty line becomes ``"> "``): a Markdown quote."""
    return "\n".join("> " + line for line in str(value).split("\n"))


# -- date and time ------------------------------------------------------------------------

_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# MiniJinja's named formats (minijinja-contrib), as time crate descriptions.
_DATETIME_FORMATS: Final = {
    "short": "[year]-[month]-[day] [hour]:[minute]",
    "medium": "[month repr:short] [day padding:none] [year] [hour]:[minute]",
    "long": "[month repr:long] [day padding:none] [year] [hour]:[minute]:[second]",
    "full": (
        "[weekday], [month repr:long] [day padding:none] [year]"
        " [hour]:[minute]:[second].[subsecond]"
    ),
    "iso": (
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    ),
    "unix": "[unix_timestamp]",
}
_DATE_FORMATS: Final = {
    "short": "[year]-[month]-[day]",
    "medium": "[month repr:short] [day padding:none] [year]",
    "long": "[month repr:long] [day padding:none] [year]",
    "full": "[weekday], [month repr:long] [day padding:none] [year]",
    # Not in MiniJinja (which prints "iso" literally); the evident meaning is more useful.
    "iso": "[year]-[month]-[day]",
}
_TIME_FORMATS: Final = {
    "short": "[hour]:[minute]",
    "medium": "[hour]:[minute]",
    "long": "[hour]:[minute]:[second]",
    "full": "[hour]:[minute]:[second].[subsecond]",
    "iso": _DATETIME_FORMATS["iso"],
    "unix": "[unix_timestamp]",
}

_PADDING: Final = ("zero", "space", "none")
_SIGN: Final = ("automatic", "mandatory")
_BOOL: Final = ("true", "false")
# Component → modifier → allowed values, from the time crate's format description v2.
_COMPONENTS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "day": {"padding": _PADDING},
    "month": {"padding": _PADDING, "repr": ("numerical", "long", "short"), "case_sensitive": _BOOL},
    "ordinal": {"padding": _PADDING},
    "weekday": {
        "repr": ("long", "short", "sunday", "monday"),
        "one_indexed": _BOOL,
        "case_sensitive": _BOOL,
    },
    "week_number": {"padding": _PADDING, "repr": ("iso", "sunday", "monday")},
    "year": {
        "padding": _PADDING,
        "repr": ("full", "century", "last_two"),
        "base": ("calendar", "iso_week"),
        "sign": _SIGN,
        "range": ("standard", "extended"),
    },
    "hour": {"padding": _PADDING, "repr": ("24", "12")},
    "minute": {"padding": _PADDING},
    "second": {"padding": _PADDING},
    "period": {"case": ("upper", "lower"), "case_sensitive": _BOOL},
    "subsecond": {"digits": ("1", "2", "3", "4", "5", "6", "7", "8", "9", "1+")},
    "offset_hour": {"padding": _PADDING, "sign": _SIGN},
    "offset_minute": {"padding": _PADDING},
    "offset_second": {"padding": _PADDING},
    "unix_timestamp": {
        "precision": ("second", "millisecond", "microsecond", "nanosecond"),
        "sign": _SIGN,
    },
    "end": {},
}


@dataclass(frozen=True)
class _Component:
    name: str
    modifiers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str) -> str:
        for k, v in self.modifiers:
            if k == key:
                return v
        return default


@dataclass(frozen=True)
class _Optional:
    items: tuple[_Item, ...]


@dataclass(frozen=True)
class _First:
    choices: tuple[tuple[_Item, ...], ...]


_Item = str | _Component | _Optional | _First


@lru_cache(maxsize=64)
def parse_format_description(description: str) -> tuple[_Item, ...]:
    """Parse a time crate format description (version 2) or raise :class:`FilterError`."""
    items, _ = _parse_sequence(description, 0, nested=False)
    return tuple(items)


def _parse_sequence(text: str, pos: int, *, nested: bool) -> tuple[list[_Item], int]:
    items: list[_Item] = []
    literal: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            if pos + 1 < len(text) and text[pos + 1] in "[]\\":
                literal.append(text[pos + 1])
                pos += 2
                continue
            raise FilterError(
                f"format description {text!r}: a backslash must escape '[', ']' or '\\'"
            )
        if char == "[":
            if literal:
                items.append("".join(literal))
                literal = []
            item, pos = _parse_component(text, pos + 1)
            items.append(item)
            continue
        if char == "]":
            if nested:
                break
            raise FilterError(f"format description {text!r}: unmatched ']' (write \\] for one)")
        literal.append(char)
        pos += 1
    else:
        if nested:
            raise FilterError(f"format description {text!r}: '[' is never closed")
    if literal:
        items.append("".join(literal))
    return items, pos


def _parse_component(text: str, pos: int) -> tuple[_Item, int]:
    """Parse after a '['; returns the item and the position after its ']'."""
    end = pos
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    name = text[pos:end]
    pos = end
    if name in ("optional", "first"):
        groups: list[tuple[_Item, ...]] = []
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos < len(text) and text[pos] == "[":
                inner, pos = _parse_sequence(text, pos + 1, nested=True)
                groups.append(tuple(inner))
                pos += 1  # the nested ']'
                continue
            break
        if pos >= len(text) or text[pos] != "]" or not groups:
            raise FilterError(
                f"format description {text!r}: write [{name} [...]] with a nested description"
            )
        if name == "optional":
            if len(groups) != 1:
                raise FilterError(f"format description {text!r}: [optional] takes one [...]")
            return _Optional(groups[0]), pos + 1
        return _First(tuple(groups)), pos + 1
    close = text.find("]", pos)
    if close == -1:
        raise FilterError(f"format description {text!r}: '[' is never closed")
    if name not in _COMPONENTS:
        known = ", ".join(sorted(_COMPONENTS))
        shown = name or text[pos:close].strip()
        raise FilterError(
            f"format description {text!r}: unknown component [{shown}] (known: {known})"
        )
    allowed = _COMPONENTS[name]
    modifiers: list[tuple[str, str]] = []
    for part in text[pos:close].split():
        key, sep, value = part.partition(":")
        if not sep or key not in allowed:
            keys = ", ".join(allowed) or "none"
            raise FilterError(
                f"format description {text!r}: [{name}] has no modifier {part!r}"
                f" (modifiers: {keys})"
            )
        if value not in allowed[key]:
            raise FilterError(
                f"format description {text!r}: [{name} {key}:…] takes"
                f" {' or '.join(allowed[key])}, not {value!r}"
            )
        modifiers.append((key, value))
    return _Component(name, tuple(modifiers)), close + 1


def format_datetime(value: datetime, description: str) -> str:
    """Format an aware datetime with a time crate format description."""
    return "".join(_format_item(item, value) for item in parse_format_description(description))


def _format_item(item: _Item, dt: datetime) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, _Optional):
        # When formatting, the time crate always writes an optional part.
        return "".join(_format_item(inner, dt) for inner in item.items)
    if isinstance(item, _First):
        return "".join(_format_item(inner, dt) for inner in item.choices[0])
    return _format_component(item, dt)


def _pad(number: int, width: int, padding: str) -> str:
    if padding == "zero":
        return f"{number:0{width}d}"
    if padding == "space":
        return f"{number:>{width}d}"
    return str(number)


def _format_component(comp: _Component, dt: datetime) -> str:
    name = comp.name
    padding = comp.get("padding", "zero")
    if name == "day":
        return _pad(dt.day, 2, padding)
    if name == "month":
        kind = comp.get("repr", "numerical")
        if kind == "numerical":
            return _pad(dt.month, 2, padding)
        month = _MONTHS[dt.month - 1]
        return month if kind == "long" else month[:3]
    if name == "ordinal":
        return _pad(dt.timetuple().tm_yday, 3, padding)
    if name == "weekday":
        kind = comp.get("repr", "long")
        one = 1 if comp.get("one_indexed", "true") == "true" else 0
        if kind == "long":
            return _WEEKDAYS[dt.weekday()]
        if kind == "short":
            return _WEEKDAYS[dt.weekday()][:3]
        if kind == "monday":
            return str(dt.weekday() + one)
        return str((dt.weekday() + 1) % 7 + one)
    if name == "week_number":
        kind = comp.get("repr", "iso")
        yday = dt.timetuple().tm_yday - 1
        if kind == "iso":
            week = dt.isocalendar().week
        elif kind == "sunday":
            week = (yday + 7 - (dt.weekday() + 1) % 7) // 7
        else:
            week = (yday + 7 - dt.weekday()) // 7
        return _pad(week, 2, padding)
    if name == "year":
        year = dt.isocalendar().year if comp.get("base", "calendar") == "iso_week" else dt.year
        kind = comp.get("repr", "full")
        if kind == "century":
            text = _pad(year // 100, 2, padding)
        elif kind == "last_two":
            text = _pad(year % 100, 2, padding)
        else:
            text = _pad(year, 4, padding)
        return ("+" + text) if comp.get("sign", "automatic") == "mandatory" else text
    if name == "hour":
        hour = dt.hour
        if comp.get("repr", "24") == "12":
            hour = hour % 12 or 12
        return _pad(hour, 2, padding)
    if name == "minute":
        return _pad(dt.minute, 2, padding)
    if name == "second":
        return _pad(dt.second, 2, padding)
    if name == "period":
        period = "AM" if dt.hour < 12 else "PM"
        return period.lower() if comp.get("case", "upper") == "lower" else period
    if name == "subsecond":
        nanos = f"{dt.microsecond * 1000:09d}"
        digits = comp.get("digits", "1+")
        return (nanos.rstrip("0") or "0") if digits == "1+" else nanos[: int(digits)]
    if name in ("offset_hour", "offset_minute", "offset_second"):
        offset = dt.utcoffset() or timedelta(0)
        total = int(offset.total_seconds())
        magnitude = abs(total)
        if name == "offset_minute":
            return _pad(magnitude % 3600 // 60, 2, padding)
        if name == "offset_second":
            return _pad(magnitude % 60, 2, padding)
        mandatory = comp.get("sign", "automatic") == "mandatory"
        sign = "-" if total < 0 else "+" if mandatory else ""
        return sign + _pad(magnitude // 3600, 2, padding)
    if name == "unix_timestamp":
        delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        precision = comp.get("precision", "second")
        if precision == "second":
            number = micros // 1_000_000
        elif precision == "millisecond":
            number = micros // 1_000
        elif precision == "microsecond":
            number = micros
        else:
            number = micros * 1_000
        mandatory = comp.get("sign", "automatic") == "mandatory"
        return ("+" if mandatory and number >= 0 else "") + str(number)
    return ""  # [end] marks the end of input when parsing; it writes nothing


_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_datetime(value: Any, filter_name: str, *, allow_date: bool) -> tuple[datetime, bool]:
    """Coerce a filter input as MiniJinja does; returns the datetime and whether it had a time.

    Accepted: datetime (naive means UTC), date, ISO 8601 text, a Unix timestamp number.
    """
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)), True
    if isinstance(value, date):
        had_time = False
        result = datetime.combine(value, time(), UTC)
    elif _number(value):
        try:
            return datetime.fromtimestamp(value, UTC), True
        except (OverflowError, OSError, ValueError):
            raise FilterError(f"{filter_name}: {value} is out of range") from None
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise FilterError(
                f"{filter_name}: {value!r} is not a valid date or timestamp"
            ) from None
        had_time = not _DATE_ONLY_RE.match(value.strip())
        result = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    else:
        kind = "an undefined value" if isinstance(value, jinja2.Undefined) else type(value).__name__
        raise FilterError(f"{filter_name}: expects a date or timestamp, got {kind}")
    if not had_time and not allow_date:
        raise FilterError(f"{filter_name}: needs a time, but got only a date (use dateformat)")
    return result, had_time


def _in_zone(value: datetime, tz: str | None, filter_name: str) -> datetime:
    if tz is None or tz == "original":
        return value
    try:
        return value.astimezone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise FilterError(f"{filter_name}: unknown time zone {tz!r}") from None


def _date_filter(
    filter_name: str, named: Mapping[str, str], allow_date: bool
) -> Any:  # the filter function; Any keeps Jinja2's registry typing simple
    def apply(value: Any, format: str = "medium", tz: str | None = None) -> str:
        dt, had_time = to_datetime(value, filter_name, allow_date=allow_date)
        if had_time:
            dt = _in_zone(dt, tz, filter_name)
        if not isinstance(format, str):
            raise FilterError(f"{filter_name}: format must be text")
        try:
            return format_datetime(dt, named.get(format, format))
        except FilterError as err:
            raise FilterError(f"{filter_name}: {err}") from None

    apply.__name__ = filter_name
    return apply


_DELTA_UNITS: Final = {
    "seconds": timedelta(seconds=1),
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
    "months": timedelta(days=30),  # as hebbot: a month is 30 days, a year 365
    "years": timedelta(days=365),
}


def timedelta_filter(value: Any, *args: Any, **kwargs: Any) -> datetime:
    """hebbot's ``timedelta``: ``timestamp | timedelta(weeks=-1)`` → a datetime."""
    if args:
        raise FilterError("timedelta: takes keyword arguments only, like timedelta(days=-7)")
    dt, _ = to_datetime(value, "timedelta", allow_date=True)
    delta = timedelta(0)
    for key, amount in kwargs.items():
        if key not in _DELTA_UNITS:
            raise FilterError(
                f"timedelta: unknown argument {key!r} (use {', '.join(_DELTA_UNITS)})"
            )
        if not _number(amount) or not math.isfinite(amount):
            raise FilterError(f"timedelta: {key} must be a number")
        try:
            delta += _DELTA_UNITS[key] * amount
        except OverflowError:
            raise FilterError(f"timedelta: {key}={amount} is out of range") from None
    try:
        return dt + delta
    except OverflowError:
        raise FilterError("timedelta: the date is out of range") from None


# -- sorting and choosing -----------------------------------------------------------------

_DIGITS_RE = re.compile(r"(\d+)")


def natural_key(value: Any, case_sensitive: bool = False) -> tuple[tuple[int, Any, str], ...]:
    """A sort key that compares the digit runs of text as numbers: ``"200-x" < "1000-x"``."""
    if _number(value):
        return ((0, value, ""),)
    if not isinstance(value, str):
        return ((2, 0, repr(value)),)
    text = value if case_sensitive else value.casefold()
    key: list[tuple[int, Any, str]] = []
    for i, chunk in enumerate(_DIGITS_RE.split(text)):
        if i % 2:
            key.append((0, int(chunk), chunk))
        elif chunk:
            key.append((1, 0, chunk))
    return tuple(key)


def dictsort(
    value: Any, case_sensitive: bool = False, by: str = "key", reverse: bool = False
) -> list[tuple[Any, Any]]:
    """Jinja2's ``dictsort`` with numeric-aware keys; ``sections`` sorts by section order."""
    if not isinstance(value, Mapping):
        raise FilterError("dictsort: expects a mapping")
    if by not in ("key", "value"):
        raise FilterError("dictsort: by must be 'key' or 'value'")
    items = list(value.items())
    if isinstance(value, SectionMap) and by == "key":
        items.sort(key=lambda kv: value.sort_key(kv[0]), reverse=reverse)
    else:
        pos = 0 if by == "key" else 1
        items.sort(key=lambda kv: natural_key(kv[pos], case_sensitive), reverse=reverse)
    return items


@jinja2.pass_environment
def random_filter(env: jinja2.Environment, value: Any) -> Any:
    """A deterministic choice from ``value`` (see the module docstring for the seed)."""
    if isinstance(value, str):
        choices: list[Any] = list(value)
    elif isinstance(value, Mapping):
        choices = list(value.keys())
    elif isinstance(value, Iterable) and not isinstance(value, jinja2.Undefined):
        choices = list(value)
    else:
        raise FilterError(f"random: expects a list or text, got {type(value).__name__}")
    if not choices:
        return env.undefined("random: the sequence is empty")
    state = _STATE.get()
    key = state.random_key() if state is not None else "random"
    return choices[stable_index(key, len(choices))]


# -- MiniJinja filters Jinja2 lacks -------------------------------------------------------


def split_filter(value: Any, split: str | None = None, maxsplits: int | None = None) -> list[str]:
    """MiniJinja's ``split``: on whitespace runs by default, at most ``maxsplits`` times."""
    return str(value).split(split, -1 if maxsplits is None else maxsplits)


def lines_filter(value: Any) -> list[str]:
    """MiniJinja's ``lines``."""
    return str(value).splitlines()


def bool_filter(value: Any) -> bool:
    """MiniJinja's ``bool``."""
    return bool(value)


def pluralize(value: Any, singular: str = "", plural: str = "s") -> str:
    """minijinja-contrib's ``pluralize``: ``plural`` unless the count is exactly 1."""
    if isinstance(value, Sized) and not isinstance(value, str):
        count: Any = len(value)
    else:
        try:
            count = int(value)
        except (TypeError, ValueError):
            raise FilterError("pluralize: expects a number or a list") from None
    return singular if count == 1 else plural


FILTERS: Final[dict[str, Any]] = {
    "datetimeformat": _date_filter("datetimeformat", _DATETIME_FORMATS, allow_date=False),
    "dateformat": _date_filter("dateformat", _DATE_FORMATS, allow_date=True),
    "timeformat": _date_filter("timeformat", _TIME_FORMATS, allow_date=False),
    "timedelta": timedelta_filter,
    "dictsort": dictsort,
    "random": random_filter,
    "toml": toml_string,
    "quote": quote_lines,
    "md_escape": md_escape,
    "split": split_filter,
    "lines": lines_filter,
    "bool": bool_filter,
    "pluralize": pluralize,
}

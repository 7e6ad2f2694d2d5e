"""Contributor text hygiene: what the bot stores, and what it embeds in the post.

``strip_controls`` runs at ingest, on the text that is stored: it removes characters that have no
business in a news item and can hide or reorder what an editor reads (control characters,
bidi overrides and isolates), and normalises line endings.

``safe_markdown`` runs at render time, on contributor Markdown that the template embeds in the
post (each line then quoted with ``> ``). Contributor text is data; the site generator (Zola or
Hugo) must not execute any of it:

* shortcode delimiters ``{{`` and ``{%`` get a zero-width space between their two characters,
  everywhere, code included, so neither generator sees a shortcode while readers still see the
  braces;
* raw HTML is escaped (``<`` becomes ``&lt;``) outside code, except ``<br>``, ``<sub>``,
  ``<sup>``, ``<del>`` and ``<kbd>`` without attributes;
* links, images, autolinks and reference definitions whose target is not ``http``, ``https``,
  ``mailto`` or a relative path keep their text and lose their target.

Everything else is returned byte for byte: the renderer quotes the result line by line and the
golden tests compare it with a real post. Where the text is, Markdown-wise, is decided by
markdown-it-py (CommonMark), so code spans and code blocks, which render literally, are left
alone. docs/output-safety.md explains the choices.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.common.html_re import HTML_TAG_RE
from markdown_it.common.utils import normalizeReference, unescapeAll
from markdown_it.helpers import parseLinkDestination, parseLinkLabel, parseLinkTitle
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block import reference as _reference_rule
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.autolink import AUTOLINK_RE, EMAIL_RE

__all__ = ["SHORTCODE_BREAK", "is_allowed_target", "safe_markdown", "strip_controls"]

# --------------------------------------------------------------------------------------------
# Ingest
# --------------------------------------------------------------------------------------------

_LINE_BREAKS: Final = re.compile(r"\r\n?")
# C0 controls but tab and newline, DEL, C1 controls, the bidi embeddings/overrides
# (U+202A-U+202E) and isolates (U+2066-U+2069), and lone surrogates: Matrix JSON may carry a
# "\ud800" escape, which Python decodes to a code point that UTF-8 (SQLite, files) refuses.
_UNWANTED: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def strip_controls(text: str) -> str:
    """Remove control characters (but newline and tab) and bidi overrides/isolates.

    ``\\r\\n`` and a lone ``\\r`` become ``\\n`` rather than disappearing, so that text typed on
    any platform keeps its lines. Everything else (emoji with ZWJ sequences, variation
    selectors, bidi *marks*, non-Latin scripts) is kept.
    """
    if "\r" in text:
        text = _LINE_BREAKS.sub("\n", text)
    return _UNWANTED.sub("", text)


# --------------------------------------------------------------------------------------------
# Render
# --------------------------------------------------------------------------------------------

#: Inserted after the ``{`` of ``{{`` and ``{%``. Invisible, not Markdown whitespace or
#: punctuation (so emphasis next to it parses as before), and it works inside code, where
#: an HTML entity would show literally.
SHORTCODE_BREAK: Final = "\u200b"

_ESCAPED_LT: Final = "&lt;"
_ESCAPED_PAREN: Final = "\\("
_ALLOWED_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# Passes over text whose edits changed its Markdown structure; real input needs two at most.
_MAX_PASSES: Final = 6
# Links inside images inside links...: deeper than any real post, shallow enough for the stack.
_MAX_DEPTH: Final = 32

_SHORTCODE_OPEN: Final = re.compile(r"\{(?=[{%])")
# `<` that could start an HTML tag, comment, declaration, processing instruction, CDATA
# section or autolink. `<` before anything else is text to every Markdown parser and browser.
_TAG_LIKE: Final = re.compile(r"<[A-Za-z/!?]")
_ALLOWED_TAG: Final = re.compile(
    r"<(?:(?:br|sub|sup|del|kbd)[ \t]*|br[ \t]*/|/(?:br|sub|sup|del|kbd)[ \t]*)>", re.IGNORECASE
)
_ANGLE_SPAN: Final = re.compile(r"<([^<>]*)>")
_INLINE_LINK: Final = re.compile(r"\]\(")
_WALK_STOP: Final = re.compile(r"[\\`<\[!]")
# Characters whose meaning changes when a construct around them becomes text (see _finish).
_RESTRUCTURING: Final = re.compile(r"[\[\]`\\]")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_URL_INVISIBLES: Final = re.compile(r"[\x00-\x20\x7f]+")
_CANDIDATE_LEAD: Final = re.compile(r"[ \t\n>]*<?[\x00-\x20]*")
_CANDIDATE_BODY: Final = re.compile(r"[^ \n)>]{0,512}")
_FAST_PATH_HINTS: Final = re.compile(r"\{[{%]|<[A-Za-z/!?]|\][(:]|\}[ \t]*$", re.MULTILINE)
_SETEXT_UNDERLINE: Final = re.compile(r"[ \t>]*(?:=+|-+)[ \t]*$")
# A link destination markdown-it would read the same way character by character: no
# parentheses or backslashes to balance or unescape.
_SIMPLE_DESTINATION: Final = re.compile(r"[^\x00-\x20\x7f()\\<][^\x00-\x20\x7f()\\]*")
_NEEDS_DECODING: Final = re.compile(r"[&%\\\x00-\x20\x7f]")


def safe_markdown(text: str) -> str:
    """Make contributor Markdown safe to embed in a Zola or Hugo post.

    Pure and deterministic. Text with nothing to neutralise comes back unchanged (after
    ``\\r\\n``/``\\r`` become ``\\n`` and NUL becomes U+FFFD, as every CommonMark parser reads
    them anyway). Applying it twice gives the same result as applying it once.
    """
    if "\r" in text:
        text = _LINE_BREAKS.sub("\n", text)
    if "\0" in text:
        text = text.replace("\0", "\ufffd")
    quick = _fast_path(text)
    if quick is not None:
        return quick
    try:
        for _ in range(_MAX_PASSES):
            result, structural = _Pass(text).run()
            if result == text:
                return text
            text = result
            if not structural:
                return text
    except (_TooComplexError, IndexError, RecursionError):
        # markdown-it-py, a port from JavaScript, raises IndexError on some odd nesting
        # where JS reads `undefined` (e.g. ">-\n>   <script\n>"); contributor text must
        # never break a draft, and the last resort is safe whatever the structure.
        pass
    return _paranoid(text)


def is_allowed_target(target: str) -> bool:
    """Whether a link or image may point at *target* (http, https, mailto or relative).

    Judged the way a browser reads the URL after Markdown has decoded it: entities,
    backslash escapes and percent-escapes decoded (repeatedly, so double encoding does not
    hide a scheme), ASCII whitespace and controls dropped. Decoding more than the browser
    does only ever makes a target look *more* dangerous. Zola internal links (``@/page.md``)
    are refused too: a missing page fails the site build.
    """
    decoded = _decode_target(target) if _NEEDS_DECODING.search(target) else target
    if decoded.startswith("@/"):
        return False
    scheme = _SCHEME.match(decoded)
    return scheme is None or scheme.group()[:-1].lower() in _ALLOWED_SCHEMES


def _decode_target(target: str) -> str:
    decoded = target
    for _ in range(4):
        previous = decoded
        decoded = unquote(html.unescape(unescapeAll(decoded)))
        if decoded == previous:
            break
    return _URL_INVISIBLES.sub("", decoded)


# --------------------------------------------------------------------------------------------
# Fast path and last resort
# --------------------------------------------------------------------------------------------


def _fast_path(text: str) -> str | None:
    """The result, when it does not depend on the Markdown structure; else None.

    Every construct that safe_markdown changes starts with one of the hints: a shortcode
    delimiter, a tag-like ``<``, a link target after ``](`` or ``]:``, or a ``{...}`` ending
    a heading. Shortcode delimiters are neutralised the same way wherever they are, and
    some hints are harmless wherever they are; only the rest needs the parse. Ordinary
    posts never get there.
    """
    allowed_tags = autolinks = False
    for match in _FAST_PATH_HINTS.finditer(text):
        hint = match.group()
        pos = match.start()
        if hint[0] == "{":
            continue
        if hint[0] == "]":
            if not is_allowed_target(_target_candidate(text, match.end(), len(text))):
                return None
        elif hint[0] == "}":
            if _may_be_heading_attributes(text, pos):
                return None
        elif _ALLOWED_TAG.match(text, pos):
            allowed_tags = True
        elif _is_allowed_autolink(text, pos):
            autolinks = True
        else:
            return None
        # A line holding just `<br>` opens an HTML block, where an autolink on the
        # following lines is raw HTML (an element named `https:`): decide with the parse.
        if allowed_tags and autolinks:
            return None
    return _SHORTCODE_OPEN.sub("{" + SHORTCODE_BREAK, text)


def _is_allowed_autolink(text: str, pos: int) -> bool:
    span = _ANGLE_SPAN.match(text, pos)
    if span is None:
        return False
    url = span.group(1)
    return AUTOLINK_RE.search(url) is not None and is_allowed_target(url)


def _may_be_heading_attributes(text: str, brace_end: int) -> bool:
    line_start = text.rfind("\n", 0, brace_end) + 1
    line = text[line_start:brace_end]
    if "{" not in line:
        return False
    if "#" in line:
        return True  # possibly an ATX heading
    next_start = text.find("\n", brace_end)
    if next_start < 0:
        return False
    next_end = text.find("\n", next_start + 1)
    underline = text[next_start + 1 : next_end if next_end >= 0 else len(text)]
    return _SETEXT_UNDERLINE.match(underline) is not None


def _target_candidate(text: str, start: int, end: int) -> str:
    """The beginning of whatever a parser might read as a link target at *start*.

    Generous on purpose (skips whitespace, blockquote markers and a ``<``; keeps tabs and
    controls, which browsers drop from URLs): it only feeds the scheme check.
    """
    lead = _CANDIDATE_LEAD.match(text, start, end)
    body_start = lead.end() if lead else start
    body = _CANDIDATE_BODY.match(text, body_start, end)
    return body.group() if body else ""


def _paranoid(text: str) -> str:
    """Neutralise everything, code included: used only if the careful path gives up."""
    text = re.sub(r"<(?=[A-Za-z/!?])", _ESCAPED_LT, text)
    text = text.replace("[", "&#91;")
    return text.replace("{", "{" + SHORTCODE_BREAK)


class _TooComplexError(Exception):
    """Nesting deeper than any real post; handled by falling back to _paranoid."""


# --------------------------------------------------------------------------------------------
# Block structure (markdown-it-py)
# --------------------------------------------------------------------------------------------

_DEFINITIONS_KEY: Final = "twimbot_definitions"


@dataclass(frozen=True, slots=True)
class _Definition:
    """A link reference definition as markdown-it consumed it."""

    first_line: int
    end_line: int
    content_starts: tuple[int, ...]  # per line: offset just after the container markers
    href: str | None  # None when markdown-it did not report it (an ignored duplicate)


class _PermissiveMarkdownIt(MarkdownIt):
    """markdown-it that accepts every link target.

    Its default ``validateLink`` turns ``[x]: javascript:...`` into a paragraph, which
    pulldown-cmark (Zola) and goldmark (Hugo) do not; judging targets is this module's job,
    so the parser must see the document the way the generators do.
    """

    def validateLink(self, url: str) -> bool:
        return True


def _recording_reference(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """markdown-it's reference rule, also noting where each definition lies.

    Definitions produce no token; knowing their lines and where their text starts after the
    container markers (``> ``, list indentation) is what lets a bad one be blanked in place.
    """
    references = state.env.get("references")
    known = len(references) if references else 0
    duplicates = state.env.get("duplicate_refs")
    known_duplicates = len(duplicates) if duplicates else 0
    if not _reference_rule(state, start_line, end_line, silent):
        return False
    if silent:
        return True
    href: str | None = None
    references = state.env.get("references") or {}
    if len(references) > known:
        href = references[next(reversed(references))]["href"]
    else:
        duplicates = state.env.get("duplicate_refs") or []
        if len(duplicates) > known_duplicates:
            href = duplicates[-1]["href"]
    starts = tuple(
        state.bMarks[line] + state.tShift[line] for line in range(start_line, state.line)
    )
    state.env.setdefault(_DEFINITIONS_KEY, []).append(
        _Definition(start_line, state.line, starts, href)
    )
    return True


_MD: Final = _PermissiveMarkdownIt("commonmark")
# Block structure only; inline content is followed by _Walker, which needs positions.
_MD.disable("inline")
_MD.block.ruler.at("reference", _recording_reference)


# --------------------------------------------------------------------------------------------
# Inline structure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tail:
    """Where a link found at some ``[`` points, and where it ends."""

    end: int
    href: str
    destination: tuple[int, int] | None  # span of an inline destination, ``<...>`` included
    pointy: bool


class _Walker:
    """Follows markdown-it's inline tokenizer over a region and records what matters.

    The decisions (is this a code span, a link, an autolink) are markdown-it's own helpers
    or mirror its rules line for line, so the walker sees what the renderer will: code
    spans to leave alone, ``<`` of autolinks and link destinations to keep, link syntax to
    delete because of its target.
    """

    def __init__(
        self,
        src: str,
        env: MutableMapping[str, Any],
        *,
        code_spans: bool,
        autolinks: bool,
    ) -> None:
        self.src = src
        self.env = env
        self.state = StateInline(src, _MD, env, [])
        self.code_spans = code_spans
        self.autolinks = autolinks
        self.code: list[tuple[int, int]] = []
        self.keep: set[int] = set()
        self.deletions: list[tuple[int, int]] = []
        self.structural = False

    def walk(self, lo: int, hi: int, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            raise _TooComplexError
        src = self.src
        i = lo
        while True:
            stop = _WALK_STOP.search(src, i, hi)
            if stop is None:
                return
            i = stop.start()
            char = src[i]
            if char == "\\":
                # An escape consumes the next character, whatever it is.
                i += 2 if i + 1 < hi else 1
            elif char == "`":
                i = self._code_span(i, hi)
            elif char == "<":
                i = self._angle(i, hi)
            elif char == "[":
                i = self._link(i, hi, image=False, depth=depth)
            elif i + 1 < hi and src[i + 1] == "[":
                i = self._link(i, hi, image=True, depth=depth)
            else:
                i += 1

    def _code_span(self, i: int, hi: int) -> int:
        # markdown-it's backtick rule: the closer is the next run of exactly the same length.
        src = self.src
        run_end = i + 1
        while run_end < hi and src[run_end] == "`":
            run_end += 1
        length = run_end - i
        end = run_end
        while True:
            start = src.find("`", end, hi)
            if start < 0:
                return run_end
            end = start + 1
            while end < len(src) and src[end] == "`":
                end += 1
            if end > hi:
                return run_end
            if end - start == length:
                if self.code_spans:
                    self.code.append((i, end))
                return end

    def _angle(self, i: int, hi: int) -> int:
        src = self.src
        allowed = _ALLOWED_TAG.match(src, i, hi)
        if allowed:
            return allowed.end()
        span = _ANGLE_SPAN.match(src, i, hi)
        if span and self.autolinks:
            url = span.group(1)
            if EMAIL_RE.search(url) or (AUTOLINK_RE.search(url) and is_allowed_target(url)):
                self.keep.add(i)
                return span.end()
        # Anything else here is escaped by _finish; once escaped, what follows it is text
        # that the renderer reads, so keep walking right after the `<`.
        return i + 1

    def _link(self, i: int, hi: int, *, image: bool, depth: int) -> int:
        state = self.state
        state.pos, state.posMax = i, hi
        bracket = i + 1 if image else i
        label_start = bracket + 1
        label_end = parseLinkLabel(state, bracket, not image)
        state.pos, state.posMax = i, hi
        if label_end < 0:
            return i + 1
        tail = self._tail(label_start, label_end, hi, image=image)
        if tail is None:
            return i + 1
        end = tail.end
        if not is_allowed_target(tail.href):
            # The text stays, the link syntax around it goes.
            self.deletions.append((i, label_start))
            self.deletions.append((label_end, end))
            self.structural = True
        elif tail.pointy and tail.destination is not None:
            start, stop = tail.destination
            if HTML_TAG_RE.match(self.src, start, stop) is None:
                self.keep.add(start)
            else:
                # `[a](<img src=x onerror=...>)` is a link here but raw HTML to a parser
                # that matches the brackets differently: escape it, then re-read.
                self.structural = True
        if image:
            # markdown-it parses an image's alt text with a fresh inline state.
            outer = self.state
            self.state = StateInline(self.src, _MD, self.env, [])
            try:
                self.walk(label_start, label_end, depth + 1)
            finally:
                self.state = outer
        else:
            self.walk(label_start, label_end, depth + 1)
        state.pos, state.posMax = i, hi
        return end

    def _tail(self, label_start: int, label_end: int, hi: int, *, image: bool) -> _Tail | None:
        """Mirror of the part of markdown-it's link/image rules after the ``]``."""
        src = self.src
        pos = label_end + 1
        if pos < hi and src[pos] == "(":
            pos += 1
            while pos < hi and src[pos] in " \t\n":
                pos += 1
            if pos >= hi:
                return None
            destination: tuple[int, int] | None = None
            pointy = False
            simple = _SIMPLE_DESTINATION.match(src, pos, hi)
            # A `)` there ends the destination as markdown-it would; `(` and `\` need its parser.
            if simple and (simple.end() == hi or src[simple.end()] not in "(\\"):
                ok, dest_end, href = True, simple.end(), unescapeAll(simple.group())
            else:
                parsed = parseLinkDestination(src, pos, hi)
                ok, dest_end, href = parsed.ok, parsed.pos, parsed.str
            if ok:
                destination, pointy = (pos, dest_end), src[pos] == "<"
                pos = dest_end
            else:
                href = ""
            if ok or image:
                start = pos
                while pos < hi and src[pos] in " \t\n":
                    pos += 1
                title = parseLinkTitle(src, pos, hi)
                if pos < hi and start != pos and title.ok:
                    pos = title.pos
                    while pos < hi and src[pos] in " \t\n":
                        pos += 1
            if pos < hi and src[pos] == ")":
                return _Tail(pos + 1, href, destination, pointy)
            if image:
                return None
            # markdown-it falls back to a reference from one past where it stopped.
            pos += 1
        references = self.env.get("references")
        if not references:
            return None
        label = ""
        if pos < hi and src[pos] == "[":
            self.state.posMax = hi
            label_close = parseLinkLabel(self.state, pos)
            if label_close >= 0:
                label = src[pos + 1 : label_close]
                pos = label_close + 1
            else:
                pos = label_end + 1
        else:
            pos = label_end + 1
        if not label:
            label = src[label_start:label_end]
        reference = references.get(normalizeReference(label))
        if not reference:
            return None
        return _Tail(pos, str(reference["href"]), None, False)


class _Intervals:
    """Sorted, non-overlapping half-open intervals with a membership test."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = sorted(spans)
        self.starts = [start for start, _ in self.spans]

    def __contains__(self, pos: int) -> bool:
        k = bisect_right(self.starts, pos) - 1
        return k >= 0 and pos < self.spans[k][1]

    def intersect(self, other: _Intervals) -> _Intervals:
        out: list[tuple[int, int]] = []
        a, b = self.spans, other.spans
        i = j = 0
        while i < len(a) and j < len(b):
            start, stop = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
            if start < stop:
                out.append((start, stop))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return _Intervals(out)


def _preceded_by_escape(src: str, pos: int, lo: int) -> bool:
    backslashes = 0
    while pos - backslashes - 1 >= lo and src[pos - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _table_cells(content: str) -> list[tuple[int, int]]:
    """Cell spans of every line read as a GFM table row (markdown-it's escapedSplit).

    GFM splits rows at unescaped pipes *before* inline parsing, even inside backticks, so
    ``| `<b>| x` |`` is a code span to CommonMark but raw HTML in a cell to Zola and Hugo.
    """
    cells: list[tuple[int, int]] = []
    start = 0
    escaped = False
    for pos, char in enumerate(content):
        if char == "\n" or (char == "|" and not escaped):
            cells.append((start, pos))
            start = pos + 1
        escaped = char == "\\"
    cells.append((start, len(content)))
    return cells


@dataclass(slots=True)
class _Findings:
    """What the walker(s) found in one region, in the region's own coordinates."""

    code: _Intervals
    keep: set[int]
    deletions: list[tuple[int, int]]
    structural: bool


def _walk_region(
    src: str,
    lo: int,
    hi: int,
    env: MutableMapping[str, Any],
    *,
    code_spans: bool,
    autolinks: bool,
    table_cells: bool,
) -> _Findings:
    walker = _Walker(src, env, code_spans=code_spans, autolinks=autolinks)
    walker.walk(lo, hi)
    findings = _Findings(_Intervals(walker.code), walker.keep, walker.deletions, walker.structural)
    if table_cells and "|" in src[lo:hi]:
        # Safe under both readings: code only where both see code, kept `<` only where
        # both keep it, every deletion either wants.
        code: list[tuple[int, int]] = []
        keep: set[int] = set()
        for start, stop in _table_cells(src[lo:hi]):
            cell = _Walker(src, env, code_spans=code_spans, autolinks=autolinks)
            cell.walk(lo + start, lo + stop)
            code.extend(cell.code)
            keep |= cell.keep
            findings.deletions.extend(cell.deletions)
            findings.structural |= cell.structural
        findings.code = findings.code.intersect(_Intervals(code))
        findings.keep &= keep
    return findings


def _finish(
    src: str,
    lo: int,
    hi: int,
    findings: _Findings,
    *,
    escapes: bool,
    heading: bool,
) -> tuple[dict[int, str], bool]:
    """Turn a region's findings into per-character edits (``""`` deletes)."""
    edits: dict[int, str] = {}
    structural = findings.structural
    for start, stop in findings.deletions:
        for pos in range(start, stop):
            edits[pos] = ""
    code = findings.code
    first_escaped = -1
    for match in _TAG_LIKE.finditer(src, lo, hi):
        pos = match.start()
        if (
            pos in findings.keep
            or pos in code
            or _ALLOWED_TAG.match(src, pos, hi)
            or (escapes and _preceded_by_escape(src, pos, lo))
        ):
            continue
        edits.setdefault(pos, _ESCAPED_LT)
        if first_escaped < 0:
            first_escaped = pos
    # An escaped tag or autolink turns into text, and brackets, backticks or backslashes
    # inside it start meaning something again; have the result read afresh then.
    if first_escaped >= 0 and _RESTRUCTURING.search(src, first_escaped, hi):
        structural = True
    for match in _INLINE_LINK.finditer(src, lo, hi):
        paren = match.start() + 1
        if paren in code:
            continue
        # Judged wherever it is, not only where this reading sees a link: a parser that
        # pairs brackets differently must not find a live target either. `\(` reads the
        # same everywhere a `(` is text.
        if not is_allowed_target(_target_candidate(src, paren + 1, hi)):
            edits.setdefault(paren, _ESCAPED_PAREN)
            structural = True
    if heading and src[lo:hi].rstrip().endswith("}"):
        # goldmark (Hugo) reads a trailing `{...}` on a heading's line as HTML attributes.
        for pos in range(max(lo, src.rfind("\n", lo, hi) + 1), hi):
            if src[pos] == "{" and src[pos + 1 : pos + 2] != SHORTCODE_BREAK and pos not in code:
                edits.setdefault(pos, "{" + SHORTCODE_BREAK)
    return edits, structural


# --------------------------------------------------------------------------------------------
# One pass over the whole text
# --------------------------------------------------------------------------------------------


class _Pass:
    """Parse the text, decide every edit, apply them.

    The renderer quotes the result with ``> ``, which moves every line two columns right;
    CommonMark expands tabs to multiples of four columns, so a tab-indented line can be code
    on its own and a paragraph once quoted (or close a fence, or leave a list item). Text
    with a tab is therefore read both ways and escaped where either reading sees text.
    Without tabs the quoted reading is exactly the unquoted one inside a blockquote.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def run(self) -> tuple[str, bool]:
        readings = [_Reading(self.text, quoted=False)]
        if "\t" in self.text:
            readings.append(_Reading(self.text, quoted=True))
        edits: dict[int, str] = {}
        structural = False
        for reading in readings:
            reading.run()
            structural |= reading.structural
            for pos, replacement in reading.edits.items():
                if replacement == "" or pos not in edits:
                    edits[pos] = replacement
        if len(readings) > 1:
            # An escape only the other reading wants is harmless in code and in text,
            # except on a `<` this reading keeps (autolink, `<...>` destination): that
            # construct becomes text, so read the merge afresh.
            first, second = readings
            for this, other in ((first, second), (second, first)):
                for pos, replacement in other.edits.items():
                    if this.edits.get(pos) != replacement and (
                        replacement != _ESCAPED_LT or pos in this.kept
                    ):
                        structural = True
        # Shortcode delimiters are neutralised wherever they are: Zola and Hugo look for
        # them before Markdown, code blocks included.
        for match in _SHORTCODE_OPEN.finditer(self.text):
            edits.setdefault(match.start(), "{" + SHORTCODE_BREAK)
        return _apply(self.text, edits), structural


def _apply(text: str, edits: dict[int, str]) -> str:
    if not edits:
        return text
    parts: list[str] = []
    previous = 0
    for pos in sorted(edits):
        parts.append(text[previous:pos])
        parts.append(edits[pos])
        previous = pos + 1
    parts.append(text[previous:])
    return "".join(parts)


class _Reading:
    """One markdown-it reading of the text (as is, or quoted) and the edits it calls for.

    Edits are collected in the coordinates of the original text.
    """

    def __init__(self, text: str, *, quoted: bool) -> None:
        self.original = text
        self.quoted = quoted
        original_lines = text.split("\n")
        self.lines = ["> " + line for line in original_lines] if quoted else original_lines
        self.src = "\n".join(self.lines) if quoted else text
        self.line_starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.line_starts.append(offset)
            offset += len(line) + 1
        self.env: dict[str, Any] = {}
        self.edits: dict[int, str] = {}
        self.kept: set[int] = set()  # `<` kept as autolink or destination, original coordinates
        self.structural = False

    def run(self) -> None:
        tokens = _MD.parse(self.src, self.env)
        covered = [False] * len(self.lines)

        for definition in self.env.get(_DEFINITIONS_KEY, []):
            self._definition(definition)
            for line in range(definition.first_line, definition.end_line):
                covered[line] = True

        for index, token in enumerate(tokens):
            if token.map is None:
                continue
            first, end = token.map
            if token.type == "inline":
                opener = tokens[index - 1]
                self._inline(
                    token.content,
                    first,
                    end,
                    atx=opener.markup.startswith("#"),
                    paragraph=opener.type == "paragraph_open",
                )
            elif token.type == "html_block":
                self._raw(first, end, html_block=True)
            elif token.type == "code_block" and not self._trusted_code_block(first):
                self._raw(first, end, html_block=False)
            elif token.type not in ("fence", "code_block", "hr"):
                continue
            for line in range(first, end):
                covered[line] = True

        # Lines no leaf block claimed (markdown-it stops tokenizing past its nesting limit):
        # read them raw rather than trust anything in them.
        first_uncovered = -1
        for line in range(len(self.lines) + 1):
            blank = line == len(self.lines) or covered[line] or not self.lines[line].strip(" \t>")
            if not blank and first_uncovered < 0:
                first_uncovered = line
            elif blank and first_uncovered >= 0:
                self._raw(first_uncovered, line, html_block=False)
                first_uncovered = -1

    # -- regions ------------------------------------------------------------------------

    def _definition(self, definition: _Definition) -> None:
        if definition.href is not None and is_allowed_target(definition.href):
            # Scanned like text too: Zola and Hugo read `[^note]: ...` as a footnote whose
            # body is Markdown, so what CommonMark files away as a title may render.
            self._raw(definition.first_line, definition.end_line, html_block=False)
            return
        # Blank the definition, keeping container markers so the structure around holds;
        # references to it then render as plain text.
        for line, start in zip(
            range(definition.first_line, definition.end_line),
            definition.content_starts,
            strict=False,
        ):
            for pos in range(start, self.line_starts[line] + len(self.lines[line])):
                self._put(pos, "")
        self.structural = True

    def _trusted_code_block(self, first_line: int) -> bool:
        # After a reference definition markdown-it starts an indented code block where
        # cmark-style parsers (Zola's pulldown-cmark) continue the paragraph; trust only
        # code blocks that every CommonMark reading agrees on: after a blank line.
        return first_line == 0 or not self.lines[first_line - 1].strip(" \t>")

    def _inline(self, content: str, first: int, end: int, *, atx: bool, paragraph: bool) -> None:
        if not content:
            return
        if atx:
            segments = self._map_heading(content, first)
        else:
            segments = self._map_lines(content, first, end)
        if segments is None:
            # Cannot place the parser's view of this block in the source; read it raw
            # and without trusting code spans.
            self._raw(first, end, html_block=False)
            self.structural = True
            return
        findings = _walk_region(
            content,
            0,
            len(content),
            self.env,
            code_spans=True,
            autolinks=True,
            table_cells=paragraph,
        )
        edits, structural = _finish(
            content, 0, len(content), findings, escapes=True, heading=not paragraph
        )
        self.structural |= structural
        starts = [segment[0] for segment in segments]

        def to_source(pos: int) -> int | None:
            k = bisect_right(starts, pos) - 1
            if k < 0 or pos >= segments[k][1]:
                return None  # a newline or re-expanded tab: never worth editing
            return segments[k][2] + pos - segments[k][0]

        for pos, replacement in edits.items():
            source = to_source(pos)
            if source is not None:
                self._put(source, replacement)
        for pos in findings.keep:
            source = to_source(pos)
            if source is not None:
                self._keep(source)

    def _raw(self, first: int, end: int, *, html_block: bool) -> None:
        """Scan source lines as they are, without trusting code spans.

        For HTML blocks (no Markdown inside, so no escapes and no autolinks either) and for
        places where another parser might see text where markdown-it does not.
        """
        lo = self.line_starts[first]
        hi = self.line_starts[end - 1] + len(self.lines[end - 1])
        findings = _walk_region(
            self.src,
            lo,
            hi,
            self.env,
            code_spans=False,
            autolinks=not html_block,
            table_cells=False,
        )
        edits, _ = _finish(self.src, lo, hi, findings, escapes=not html_block, heading=False)
        if edits:
            self.structural = True
        for pos, replacement in edits.items():
            self._put(pos, replacement)
        for pos in findings.keep:
            self._keep(pos)

    # -- positions ----------------------------------------------------------------------

    def _map_lines(self, content: str, first: int, end: int) -> list[tuple[int, int, int]] | None:
        """Segments ``(content_start, content_end, source_start)`` for a multi-line block.

        markdown-it builds inline content from each line after its container markers and
        indentation (a partly used tab comes back as spaces), then trims the whole. Each
        content line is therefore, past its leading spaces, a suffix of its source line,
        except the last, which may have lost trailing whitespace.
        """
        content_lines = content.split("\n")
        if len(content_lines) != end - first:
            return None
        segments: list[tuple[int, int, int]] = []
        offset = 0
        for k, content_line in enumerate(content_lines):
            core = content_line.lstrip(" \t")
            if core:
                line = self.lines[first + k]
                pos = line.rfind(core)
                if pos < 0 or line[pos + len(core) :].strip():
                    return None
                start = offset + len(content_line) - len(core)
                segments.append((start, start + len(core), self.line_starts[first + k] + pos))
            offset += len(content_line) + 1
        return segments

    def _map_heading(self, content: str, line_index: int) -> list[tuple[int, int, int]] | None:
        line = self.lines[line_index]
        pos = line.find("#")  # container markers never contain '#'
        if pos < 0:
            return None
        while pos < len(line) and line[pos] == "#":
            pos += 1
        pos = line.find(content, pos)
        if pos < 0:
            return None
        return [(0, len(content), self.line_starts[line_index] + pos)]

    def _original(self, pos: int) -> int | None:
        """*pos* of this reading's source in the original text (None: added by quoting)."""
        if not self.quoted:
            return pos
        k = bisect_right(self.line_starts, pos) - 1
        if pos - self.line_starts[k] < 2:
            return None
        return pos - 2 * k - 2

    def _put(self, pos: int, replacement: str) -> None:
        """Record an edit at *pos* of this reading's source (a deletion wins)."""
        if self.src[pos] == "\n":
            return  # lines stay lines, whatever is removed around them
        original = self._original(pos)
        if original is None:
            return
        if replacement == "":
            self.edits[original] = ""
        elif original not in self.edits:
            self.edits[original] = replacement

    def _keep(self, pos: int) -> None:
        original = self._original(pos)
        if original is not None:
            self.kept.add(original)

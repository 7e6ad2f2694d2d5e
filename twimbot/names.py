"""How a text names things: configured names and hints as safe patterns, found in a text.

The matching half of :mod:`twimbot.classify`, pure like it. A project's name, title, aliases
and short forms, and a section's hints, are each compiled once into a pattern that is
escaped (any configured name is safe: ``C++``, ``< polycule >``), Unicode-aware,
whole-word, case-insensitive except for short names and acronyms, and tried only where the
text has the name's first word (:func:`compile_name`, :func:`build_terms`,
:func:`index_terms`). A submission is read once into a :class:`Doc`: link targets, URLs,
images and Matrix ids blanked (positions kept), its first line, its bold and heading spans
and its words. :func:`scan` finds the names in it, the longest name winning where names
overlap, and an :class:`Evidence` sums what the text says about one project or section:
how often, where (first line, bold, at the very start) and whether it links to the
project's website. Which evidence wins is the classifier's business, not this module's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from twimbot.config import Project
from twimbot.section_model import model_words

__all__ = [
    "WORD_RUN_RE",
    "Doc",
    "Evidence",
    "Hit",
    "Term",
    "build_terms",
    "capital_words",
    "compile_name",
    "extension_prefixes",
    "index_terms",
    "link_words",
    "loose_key",
    "name_key",
    "name_words",
    "nfc",
    "project_aliases",
    "scan",
    "short_names",
    "site_key",
    "text_model_words",
    "text_words",
    "url_slugs",
]

# Only the start of a long first line (Element sends a paragraph as one line) counts as first.
_FIRST_LINE_CHARS: Final = 200
_MENTION_CAP: Final = 3.0

_SEP = r"[\s_\-]"
_SEP_RUN_RE = re.compile(rf"{_SEP}+")
WORD_RUN_RE = re.compile(r"[^\W_]+")
_COMPOUND_RE = re.compile(r"[^\W_]+(?:[-_][^\W_]+)*")
_PIECE_RE = re.compile(rf"[^\W_]+|{_SEP}+|.", re.S)
# A Markdown link or image: [text](target "title"). Brackets and parentheses are excluded
# inside so that every scan stops at the next one: linear time on any input.
_LINK_RE = re.compile(r"(!?)\[([^\[\]\n]*)\]\(([^()\[\]\n]*)\)")
_URL_RE = re.compile(r"(?<![\w/])(?:(?:https?|mxc)://|www\.)[^\s<>\[\]\"'`]*[^\s<>\[\]\"'`.,;:!?)]")
# User ids, room ids and aliases: a localpart is not a mention of anything.
_MXID_RE = re.compile(r"(?<![\w/])[@#!][^\s:@#!/]+:[A-Za-z0-9.\-]+(?::\d+)?")
# Bounded: a name in bold is short, and unbounded lazy spans are quadratic on "__a __a …".
_BOLD_RE = re.compile(r"\*\*(?=\S)(.{1,200}?)(?<=\S)\*\*|__(?=\S)(.{1,200}?)(?<=\S)__")
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.M)
_DERIVED_RE = re.compile(r"[-_][^\W_]")


def nfc(text: str) -> str:
    """Composed Unicode: "é" typed as e + accent matches the config's "é"."""
    return unicodedata.normalize("NFC", text)


def name_key(text: str) -> str:
    """Normalised form of a name: case-folded, separators (space, ``-``, ``_``) as one space."""
    return _SEP_RUN_RE.sub(" ", nfc(text).casefold()).strip()


def loose_key(text: str) -> str:
    """Letters and digits only, case-folded: ``Dept of Spec 📜`` → ``deptofspec``."""
    return "".join(WORD_RUN_RE.findall(nfc(text).casefold()))


# Words that tell no project apart ("Watch The Matrix" is not named by "the").
_STOP_WORDS: Final = frozenset(
    ["a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"]
)


def name_words(text: str, *, compounds: bool = True) -> set[str]:
    """Words of a name for telling projects apart: its parts, and its whole compounds."""
    out: set[str] = set()
    for match in _COMPOUND_RE.finditer(nfc(text).casefold()):
        if compounds:
            out.add(match.group(0))
        out.update(WORD_RUN_RE.findall(match.group(0)))
    return out - _STOP_WORDS


def capital_words(project: Project) -> frozenset[str]:
    """The head word of a capitalised many-word title ("Watch" of "Watch The Matrix"): a
    proper name, so only a capitalised occurrence in a text names it ("watch these tests
    run" does not). Later words are qualifiers that texts write in lowercase too ("the
    desktop version" does say Element Web/Desktop)."""
    heads: set[str] = set()
    lower: set[str] = set()
    for label in (project.title, *project.aliases):
        words = WORD_RUN_RE.findall(nfc(label))
        if len(words) > 1 and any(ch.isupper() for ch in words[0]):
            heads.add(words[0].casefold())
        lower.update(w.casefold() for w in words if w.islower())
    return frozenset(heads - lower)


def text_words(folded: str) -> frozenset[str]:
    """Words of a text: standalone words and whole compounds, never a compound's parts.

    "mautrix-signal" does not say "mautrix" the way "mautrix-whatsapp" would need it to.
    """
    return frozenset(m.group(0) for m in _COMPOUND_RE.finditer(folded))


def _word_starts(plain: str) -> dict[str, list[int]]:
    """Where each word starts, also under its form without a plural ``s`` or trailing digits
    ("Charts", "MSC3916"), so that a name is only tried where it can match."""
    out: dict[str, list[int]] = {}
    for match in WORD_RUN_RE.finditer(plain):
        word = match.group(0).casefold()
        forms = {word, word.rstrip("0123456789")}
        if word.endswith("s"):
            forms.add(word[:-1])
        for form in forms:
            out.setdefault(form, []).append(match.start())
    return out


# -- compiled names ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One name (or hint) as a compiled, injection-safe pattern."""

    label: str
    pattern: re.Pattern[str]
    # The name's first word when the name starts with one: matches can only start where the
    # text has it. Else (``< polycule >``) its longest word, which the text must contain.
    probe: str
    anchored: bool
    targets: tuple[int, ...]  # project (or section) indexes the name stands for
    capitalised: bool


# A config's names are compiled for every classifier built on it (a reload, a replay that
# builds one per post): the same names give the same patterns.
@lru_cache(maxsize=4096)
def compile_name(
    alias: str, *, hint: bool, plural: bool = True
) -> tuple[re.Pattern[str], str, bool] | None:
    """A name (or hint) as an escaped whole-word pattern, the word a text must have for it to
    match there, and whether the pattern starts at that word; None for a name of nothing."""
    alias = nfc(alias).strip()
    words = WORD_RUN_RE.findall(alias.casefold())
    if len(alias) < 2 or not words:
        return None
    pieces = _PIECE_RE.findall(alias)
    out: list[str] = []
    for i, piece in enumerate(pieces):
        if _SEP_RUN_RE.fullmatch(piece):
            # "matrix-rust-sdk" also reads "Matrix Rust SDK"; next to punctuation the space
            # is optional ("< polycule >", "<polycule>").
            between_words = (
                0 < i < len(pieces) - 1
                and pieces[i - 1][:1].isalnum()
                and pieces[i + 1][:1].isalnum()
            )
            out.append(f"{_SEP}{{1,8}}" if between_words else f"{_SEP}{{0,8}}")
        else:
            out.append(re.escape(piece))
    # Inside a word, a domain, a path or a Matrix id a name is not a mention; hyphenated
    # compounds ("matrix-synapse", "conduit-next") are, unless a longer name covers them.
    left = r"(?<!\w)(?<!\w[./:@#])" if alias[0].isalnum() else ""
    right = ""
    if alias[-1].isalnum():
        suffix = ""
        if plural and alias[-1].isalpha() and len(alias) >= 3 and not alias.endswith("s"):
            suffix = "s?"  # "my Helm Charts", "bridges"
        if hint:
            suffix += r"\d*"  # "MSC3916"
        right = suffix + r"(?!\w)(?![./:@]\w)"
    # Short names and acronyms ("MAS", "emm", "SDK") must match their case, or they would
    # match ordinary words.
    exact = len(alias) <= 3 or (alias.isupper() and len(alias) <= 5)
    pattern = re.compile(left + "".join(out) + right, 0 if exact else re.IGNORECASE)
    anchored = alias[0].isalnum()
    return pattern, words[0] if anchored else max(words, key=len), anchored


def build_terms(
    named: Iterable[tuple[str, Sequence[int]]], *, hint: bool, plural: bool = True
) -> list[Term]:
    """One term per distinct normalised name; a name several items share targets them all."""
    labels: dict[str, str] = {}
    targets: dict[str, list[int]] = {}
    capitals: dict[str, bool] = {}
    for alias, idxs in named:
        key = name_key(alias)
        if not key:
            continue
        labels.setdefault(key, nfc(alias).strip())
        bucket = targets.setdefault(key, [])
        bucket.extend(i for i in idxs if i not in bucket)
        capitals[key] = capitals.get(key, False) or any(ch.isupper() for ch in alias)
    terms: list[Term] = []
    for key, label in labels.items():
        compiled = compile_name(label, hint=hint, plural=plural)
        if compiled is not None:
            pattern, probe, anchored = compiled
            terms.append(Term(label, pattern, probe, anchored, tuple(targets[key]), capitals[key]))
    return terms


def _slash_variants(title: str) -> list[str]:
    """``Element Web/Desktop`` → ``Element Web``, ``Element Desktop``."""
    words = title.split()
    if not words or "/" not in words[-1]:
        return []
    head = " ".join(words[:-1])
    return [f"{head} {alt}".strip() for alt in words[-1].split("/") if alt]


def project_aliases(project: Project) -> list[str]:
    """Every spelling that names a project: name, title, aliases, ``Element Web`` of
    ``Element Web/Desktop``."""
    return [project.name, project.title, *project.aliases, *_slash_variants(project.title)]


_GENERIC_PREFIX_RE = re.compile(r"^matrix[\s_\-]+(?=\S)", re.IGNORECASE)
_SHORT_NAME: Final = 4


def short_names(projects: Sequence[Project], exact: set[str]) -> dict[str, list[int]]:
    """Names without the generic word "matrix" they start with: "Hookshot" of
    "matrix-hookshot", "Dart SDK" of "Matrix Dart SDK".

    Contributors drop the prefix when they write about their own project. The short form is
    written capitalised ("Hookshot") so that, like any capitalised name, an all-lowercase
    occurrence ("a commit", "highlight") only counts half and alone never makes a project
    clear. Short forms that another project's name already is, or that several projects
    share, or that have fewer than four letters, are left out.
    """
    found: dict[str, set[int]] = {}
    shown: dict[str, str] = {}
    for i, project in enumerate(projects):
        for label in (project.name, project.title):
            rest = _GENERIC_PREFIX_RE.sub("", nfc(label).strip(), count=1)
            if rest == label.strip() or len(loose_key(rest)) < _SHORT_NAME:
                continue
            key = name_key(rest)
            if key in exact:
                continue
            found.setdefault(key, set()).add(i)
            if key not in shown or rest[:1].isupper():
                shown[key] = rest[:1].upper() + rest[1:]
    return {shown[k]: sorted(v) for k, v in found.items() if len(v) == 1}


def extension_prefixes(projects: Sequence[Project], exact: set[str]) -> dict[str, list[int]]:
    """Partial titles that extend another project's title: "Element X" of "Element X iOS".

    Without them "Element X" would read as a mention of "Element"; with them it is an
    (ambiguous) mention of every project whose title starts so.
    """
    titles = {name_key(p.title) for p in projects} | {name_key(p.name) for p in projects}
    out: dict[str, list[int]] = {}
    for i, project in enumerate(projects):
        words = project.title.split()
        for k in range(2, len(words)):
            if not any(name_key(" ".join(words[:j])) in titles for j in range(1, k)):
                continue
            prefix = " ".join(words[:k])
            if name_key(prefix) not in exact:
                out.setdefault(prefix, []).append(i)
    return out


def site_key(url: str) -> str | None:
    """``https://www.Example.org/a/`` → ``example.org/a``; None for non-web targets."""
    low = url.strip().strip("<>").casefold()
    match = re.match(r"^(?:https?:)?//(.+)$", low)
    if match:
        low = match.group(1)
    elif not low.startswith("www."):
        return None
    low = re.split(r"[?#]", low, maxsplit=1)[0].removeprefix("www.").rstrip("/")
    return low or None


def link_words(urls: Iterable[str]) -> frozenset[str]:
    """The places a text links to, as words the learned section and project words count
    beside its words: each link's host and its host with the first path segment
    (``github.com``, ``github.com/element-hq``), as :func:`site_key` reads them. Where news
    links to says which department it is (an organisation's repositories, an app store, the
    Foundation's pages); measured forward from 2022, +11 sections of 3,271
    (docs/classification.md). A word never has a dot or a slash, so the two never collide.
    Site-relative links of the matrix.org blog (``@/foundation/…``) count as matrix.org's."""
    found: set[str] = set()
    for url in urls:
        key = "matrix.org" + url[1:].casefold() if url.startswith("@/") else site_key(url)
        host, _, path = (key or "").partition("/")
        if "." not in host:
            continue  # not a web address, or a host of no domain (localhost)
        found.add(host)
        first = next((segment for segment in path.split("/") if segment), "")
        if first:
            found.add(f"{host}/{first}")
    return frozenset(found)


def url_slugs(url: str) -> list[str]:
    """Host labels and path segments of a URL, or the localpart of a matrix.to room."""
    low = url.strip().strip("<>")
    room = re.search(r"matrix\.to/#/#([^:/?]+):", low)
    if room:
        return [room.group(1)]
    key = site_key(low)
    if key is None:
        return []
    host, _, path = key.partition("/")
    labels = host.split(".")[:-1]  # the top-level domain names nothing
    return [*labels, *(segment for segment in path.split("/") if segment)]


# -- the text --------------------------------------------------------------------------------


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


@dataclass(frozen=True, slots=True)
class Doc:
    """A submission prepared for matching; offsets in ``plain`` are those of the text."""

    plain: str  # the text with link targets, URLs, images and Matrix ids blanked out
    urls: tuple[str, ...]
    room_slugs: tuple[str, ...]
    first: tuple[int, int]  # span of the first non-empty line (at most _FIRST_LINE_CHARS)
    first_line: str
    emphasis: tuple[tuple[int, int], ...]  # bold spans and heading lines
    starts: Mapping[str, list[int]]
    words: frozenset[str]
    capitalised: frozenset[str]  # casefolded words the text writes with a capital at least once
    model_words: frozenset[str]  # the words the learned section and project words count

    @classmethod
    def parse(cls, text: str) -> Doc:
        plain, urls, rooms = _blank_links(text)
        first, first_line, offset = (0, 0), "", 0
        for line in plain.split("\n"):
            if line.strip():
                first = (offset, offset + min(len(line), _FIRST_LINE_CHARS))
                first_line = line.strip()
                break
            offset += len(line) + 1
        emphasis = [m.span() for m in _BOLD_RE.finditer(plain)]
        for match in _HEADING_RE.finditer(plain):
            end = plain.find("\n", match.start())
            emphasis.append((match.start(), len(plain) if end < 0 else end))
        folded = plain.casefold()
        return cls(
            plain=plain,
            urls=tuple(urls),
            room_slugs=tuple(rooms),
            first=first,
            first_line=first_line,
            emphasis=tuple(emphasis),
            starts=_word_starts(plain),
            words=text_words(folded),
            capitalised=frozenset(
                w.casefold() for w in WORD_RUN_RE.findall(plain) if any(c.isupper() for c in w)
            ),
            model_words=_model_words(plain, urls),
        )

    def emphasised(self, pos: int) -> bool:
        # a handful of spans per text: a scan is cheaper than anything clever
        return any(start <= pos < end for start, end in self.emphasis)


def _blank_links(text: str) -> tuple[str, list[str], list[str]]:
    """The text with link targets, URLs, images and Matrix ids blanked (same length, so
    positions stay), the link targets and URLs, and the room aliases' local parts."""
    text = nfc(text)
    chars = list(text)
    urls: list[str] = []
    rooms: list[str] = []
    for match in _LINK_RE.finditer(text):
        target = match.group(3).split(maxsplit=1)
        if target:
            urls.append(target[0].strip("<>"))
        if match.group(1):  # an image: its alt text is usually a file name
            _blank(chars, match.start(), match.end())
        else:
            _blank(chars, match.start(), match.start(2))
            _blank(chars, match.end(2), match.end())
    plain = "".join(chars)
    for match in _URL_RE.finditer(plain):
        urls.append(match.group(0))
        _blank(chars, match.start(), match.end())
    plain = "".join(chars)
    for match in _MXID_RE.finditer(plain):
        if match.group(0).startswith("#"):
            rooms.append(match.group(0)[1:].split(":", 1)[0])
        _blank(chars, match.start(), match.end())
    return "".join(chars), urls, rooms


def text_model_words(text: str) -> frozenset[str]:
    """What the learned section and project words count of a text: its words and the places
    it links to (:attr:`Doc.model_words`, without reading the rest of a :class:`Doc`)."""
    plain, urls, _ = _blank_links(text)
    return _model_words(plain, urls)


def _model_words(plain: str, urls: Iterable[str]) -> frozenset[str]:
    return model_words(plain) | link_words(urls)


@dataclass(frozen=True, slots=True)
class Hit:
    """One place a text names a term."""

    term: Term
    start: int
    end: int
    proper: bool  # False: all lowercase where the name has capitals ("moment" for Moment)
    first: bool
    emphasis: bool
    text: str

    @property
    def weight(self) -> float:
        return 1.0 if self.proper else 0.5


def scan(index: Mapping[str, Sequence[Term]], doc: Doc) -> list[Hit]:
    """Every place ``doc`` names a term of ``index`` (:func:`index_terms`), in text order."""
    hits: list[Hit] = []
    for word, starts in doc.starts.items():
        for term in index.get(word, ()):
            if term.anchored:
                found_at = (term.pattern.match(doc.plain, pos) for pos in starts)
                matches = [m for m in found_at if m is not None]
            else:
                matches = list(term.pattern.finditer(doc.plain))
            hits += _hits(term, matches, doc)
    # The longest name wins where names overlap: "nheko-krunner" is not a mention of "nheko".
    hits.sort(key=lambda h: (h.start - h.end, h.start, h.term.label))
    taken = bytearray(len(doc.plain))
    kept: list[Hit] = []
    for hit in hits:
        if not any(taken[hit.start : hit.end]):
            taken[hit.start : hit.end] = b"\x01" * (hit.end - hit.start)
            kept.append(hit)
    kept.sort(key=lambda h: h.start)
    return kept


def _hits(term: Term, matches: Iterable[re.Match[str]], doc: Doc) -> list[Hit]:
    hits: list[Hit] = []
    for match in matches:
        found = match.group(0)
        # "Synapse-Admin", "synapse-http-antispam": a name that a hyphenated word extends is
        # another thing named after it (a longer configured name would have matched whole).
        derived = _DERIVED_RE.match(doc.plain, match.end()) is not None
        hits.append(
            Hit(
                term=term,
                start=match.start(),
                end=match.end(),
                proper=not derived and (not term.capitalised or any(ch.isupper() for ch in found)),
                first=doc.first[0] <= match.start() < doc.first[1],
                emphasis=doc.emphasised(match.start()),
                text=found,
            )
        )
    return hits


def index_terms(terms: Iterable[Term]) -> dict[str, list[Term]]:
    """Terms by the word a text must have for them to match (:attr:`Term.probe`)."""
    out: dict[str, list[Term]] = {}
    for term in terms:
        out.setdefault(term.probe, []).append(term)
    return out


@dataclass(slots=True)
class Evidence:
    """What the text says about one project (or, for hints, one section)."""

    total: float = 0.0
    count: int = 0
    proper: int = 0
    first: float = 0.0
    emphasis: float = 0.0
    lead: bool = False  # named at the very start of the first line
    label: str = ""
    position: int = -1
    website: bool = False
    slug: str = ""
    path: bool = False  # the slug is in a web address, not (only) a room's name
    per_label: dict[str, int] = field(default_factory=dict)
    per_label_weight: dict[str, float] = field(default_factory=dict)

    def add(self, hit: Hit) -> None:
        self.total += hit.weight
        self.count += 1
        self.proper += hit.proper
        if not self.label:
            self.label, self.position = " ".join(hit.text.split()), hit.start
        label = hit.term.label
        self.per_label[label] = self.per_label.get(label, 0) + 1
        self.per_label_weight[label] = self.per_label_weight.get(label, 0.0) + hit.weight
        if hit.first:
            self.first = max(self.first, hit.weight)
        if hit.emphasis:
            self.emphasis = max(self.emphasis, hit.weight)

    @property
    def linked(self) -> bool:
        return self.website or bool(self.slug)

    @property
    def score(self) -> float:
        link = 2.0 if self.website else 1.0 if self.slug else 0.0
        score = min(self.total, _MENTION_CAP) + 2 * (self.first + self.emphasis) + link
        score += 1.0 if self.lead else 0.0
        # Only common-word spellings ("at the moment"): support for other evidence, no more.
        return score if self.proper or self.linked else min(score, 1.0)

    @property
    def hint_score(self) -> float:
        words = sum(min(w, _MENTION_CAP) for w in self.per_label_weight.values())
        return words + (1.0 if self.first or self.emphasis else 0.0)

    def describe(self) -> str:
        parts: list[str] = []
        if self.count:
            places = [n for n, on in (("first line", self.first), ("bold", self.emphasis)) if on]
            times = f" {self.count}×" if self.count > 1 else ""
            where = f" ({', '.join(places)})" if places else ""
            parts.append(f'named "{self.label}"{times}{where}')
        if self.website:
            parts.append("links to its website")
        elif self.slug:
            parts.append(f'links to "{self.slug}"')
        return ", ".join(parts)

    def describe_hints(self) -> str:
        ranked = sorted(self.per_label.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f'"{label}"' + (f" {n}×" if n > 1 else "") for label, n in ranked[:3])
        return f"hint{'s' if len(ranked) > 1 else ''} {shown}"

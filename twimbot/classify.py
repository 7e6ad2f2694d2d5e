"""Automatic classification of a submission: its project, its section, and why (SPEC §5, §6).

Pure: no I/O, no clock, no randomness. The same text, sender and config always give the same
:class:`~twimbot.model.Classification`, whose reasons are short sentences an editor can check
(``named "Nheko" 3× (first line, bold)``).

**Project**, strongest evidence first:

1. an explicit tag on the first line: ``### Name``, ``**Name**`` or ``Name:``;
2. a project the text names *clearly*: whole-word mentions of its name, title, aliases or
   short name ("Hookshot" of "matrix-hookshot"; never its plural: "Highlights include" is
   not Matrix Highlight), weighted by place (first line, bold or heading), plus a link to
   its website (or to a URL whose path is the project's name). Score ≥ 2: named in the
   first line, in bold, three times, or linked; a name only repeated in the body, by
   someone who does not report for it, is a passing mention. When the text is clearly
   about a department (the sender usually reports for a section, or its hints clearly
   outweigh those of the project's own department) a project of another department must be
   named prominently (score ≥ 5): "Governing Board elections" is election news. When all
   the section clues weighed without any project (below) favour another department by
   :data:`ABOUT_LEAD`, the text reads like that department's news, and the bar is
   :data:`ABOUT_PROMINENT`: "the European Commission's first Matrix server, powered by
   Element Server Suite" is Status news. A clearly
   named project the sender usually reports for wins over the other clear names, except
   when a section's usual reporter writes what reads like that section's news: their own
   projects are then its sources ("collected by … an instance by etke.cc"), unless the text
   opens with one. A clearly named project is not the entry's when the sender's learned
   past entries were mostly under no project and never under it (:data:`NEVER_MIN`,
   :data:`NEVER_PROJECTS`, :data:`NEVER_KNOWN`: the Foundation's news naming the Governing
   Board); its department stays the entry's.
3. the project an editor last assigned to this sender, unless the text's words are those of
   another department, or the learned reporters know the sender well and rarely saw them
   post that project's news (:data:`RARE_MIN`, :data:`RARE_SHARE`: the project lead's Status
   notes after an editor once assigned Element); among one family's projects the sender
   reports for, the learned project words may tell the variant instead;
4. the sender's ``usual_reporters`` entries, when the text names one of them (even in
   passing) or tells them apart by a word only one of their names has ("desktop" for
   "Element Web/Desktop"). Variants of one family ("Element Android", "Element X Android")
   that the text does not tell apart give the one whose past entries' words the text's are
   (learned project words, :mod:`twimbot.section_model`, at least :data:`PROJECT_WORDS_SURE`
   sure: 2022's "the new app layout" is Element Android's), else the newest, last-listed
   one; a family's root the text names ("Element") is likewise the sender's variant the
   words say, when they report for some (here and in rule 2); otherwise the newest of
   those in the department the text's words clearly belong to (an iOS team's "the app").
   A text that names none of a sender's single project is news of something else
   (measured on real posts, such guesses were right 33 times in 303), so it gets no
   project, unless most of the sender's past entries were another project's
   (a stale ``usual_reporters`` entry) or nearly all this one's (:data:`HABIT_UNNAMED`: a
   bot's author who never names it);
5. for a sender the config does not list, the project most of their past published entries
   were under (learned reporters, :mod:`twimbot.reporters`: at least :data:`HABIT_SHARE` of
   them and :data:`HABIT_MIN` entries), unless the section evidence points elsewhere
   (``@x usually reported Element X iOS news (5 of 6 past entries)``); the same habit breaks
   a tie between equally clear names. Past entries spread over one family's projects (the
   Element team lead's Element, Web, iOS and Android news) give the one the learned project
   words say;
6. a lone passing mention (a room link among others is not one), unless the section
   evidence points elsewhere or the text reads like another department's news.

Ties leave the project empty. The guesses of rules 3-5 yield to clear evidence about the
section: when the sender usually reports for a section, or the section hints clearly point to
one, that is not the project's default section, the project is dropped (an Element staffer's
spec update is not Element news). SPEC §6 does the same for an editor's section.

**Section**: the project's ``default_section`` (SPEC §5: even where editors often publish a
project elsewhere, as TWIM does Draupnir under Bots; measured, following them would gain 2 of
554 entries). Otherwise every clue is weighed (:meth:`Classifier._weigh_sections`): the
section the sender usually reports for (``usual_reporters``), the section ``hints`` the text
matches, the sections the sender's past published entries were under (learned reporters),
the section all the equally likely projects the text names share, and the learned words;
each adds to a section's score (:data:`WEIGH_USUAL`, :data:`WEIGH_HINTS`,
:data:`WEIGH_HABIT`, :data:`WEIGH_NAMED`, :data:`WEIGH_WORDS`), and the reason names what
tipped the balance against the runner-up (``hint "bridge" 2× matched; words "puppeting",
… are typical of Dept of Bridges 🌉 in past posts``). SPEC §5's order shows in the
weights: a usual reporter's section weighs as much as nearly three hint words, a hint word
as much as a few learned words. Where only the learned words speak they must be fairly sure
(:data:`WORDS_ALONE`); else the section of the sender's usual projects; else
``fallback_section`` (reason ``fallback: …``). The weighing replaced a cascade of
thresholds: measured leaving each training post out, it was right on 350 of the 450
entries no project decides, the cascade on 327 (docs/classification.md).

**Senders** are matched by their exact user id, case-folded. A sender no configured (or
learned) id matches exactly is matched by localpart on another server, weaker evidence that
the reasons show (``@andybalaam:localhost looks like @andybalaam:matrix.org, who usually
reports for …``); several ids with that localpart are merged, and the usual tie rules apply.

Sections whose config does not set ``hints`` get :data:`DEFAULT_HINTS` for their name (the
TWIM/hebbot department names), or else their title as a phrase ("Non Chat Clients"), so that
an imported hebbot config also sorts entries of projects it does not know; ``hints: []``
turns that off for a section.

**Learned words** (:mod:`twimbot.section_model`): per-section word counts from real TWIM
posts, shipped with twimbot, used by a naive Bayes vote that names its deciding words
(``words "federateable", "discovered", "directories" are typical of Matrix Federation
Stats 📊 in past posts``). They are one of the weighed clues for the section; for the
project, when sure (:data:`LEARNED_TOPIC`) they say what department a text is about, and
when surer still than strong hints (:data:`LEARNED_SURE`, :data:`LEARNED_PER_HINT`) they
drop a sender-based project guess as strong hints do. A project's default section stands.
They only know the TWIM department names.
Accuracy on real posts is measured by ``bench/classify_accuracy.py`` (see
docs/classification.md).

Matching is Unicode-aware and case-insensitive, with guards against common words: an
all-lowercase occurrence of a capitalised name (``at the moment`` vs the client ``Moment``),
or a name that a hyphenated word extends ("Synapse-Admin" is not Synapse), counts half and
alone can never make a project clear, and names of three characters or less, or short
acronyms (``MAS``), must match their case. Names are escaped before they become patterns, so
any configured name is safe (``C++``, ``< polycule >``, ``Rory&::LibMatrix``).

Classifying is cheap (about a millisecond for a long entry against the 132 TWIM projects,
linear time on hostile input): a config is compiled once into a :class:`Classifier` (cached
by identity), and a name's pattern is only tried where the text has the name's first word.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal

from twimbot.config import Config, Project, Section, normalize_key
from twimbot.model import Assignment, Choice, Classification, Source
from twimbot.reporters import (
    Habit,
    ReporterCounts,
    by_localpart,
    default_counts,
    matching_keys,
    sender_key,
)
from twimbot.section_model import (
    SectionGuess,
    SectionModel,
    default_model,
    default_project_model,
    model_words,
)

__all__ = [
    "DEFAULT_HINTS",
    "Classifier",
    "classifier_for",
    "classify",
    "find_project",
    "find_section",
    "is_notice_key",
    "match_name",
    "plain_text",
    "reaction_target",
    "resolve",
]


def _hints(words: str) -> tuple[str, ...]:
    return tuple(words.split("|"))


# Department words of the TWIM posts, keyed by the hebbot TWIM section names. They only
# decide entries that no project claims: spec updates, talks, projects the config lacks.
DEFAULT_HINTS: Final[Mapping[str, tuple[str, ...]]] = {
    "spec": _hints(
        "spec|specification|spec update|Matrix Spec Change|MSC|MSCs|Spec Core Team|SCT|FCP"
        "|final comment period|IETF|MIMI"
    ),
    "talks": _hints(
        "talk|meetup|meet-up|conference|FOSDEM|presentation|slides|keynote|workshop|devroom"
        "|lightning talk|speaker|webinar|livestream|podcast|booth|Matrix Conference"
    ),
    "wgs": _hints("working group|WG"),
    "status": _hints(
        "Foundation|Governing Board|Guardians|annual report|membership|Silver member|Gold member"
        "|Platinum member|Associate member|Managing Director|post-mortem|postmortem|outage"
    ),
    "elections": _hints("election|candidate|ballot|voting|nomination"),
    "social": _hints("social good|nonprofit|non-profit|NGO|charity|humanitarian"),
    "tns": _hints(
        "Trust & Safety|Trust and Safety|T&S|moderation|moderator|abuse|spam|policy list"
        "|ban list|CSAM"
    ),
    "gsoc": _hints(
        "GSoC|Google Summer of Code|Outreachy|research|thesis|student|PhD|academic|academia"
        "|university"
    ),
    "p2p": _hints("P2P|peer-to-peer|mesh network"),
    "servers": _hints("homeserver implementation|server implementation|federation"),
    "homeserver-deployment": _hints(
        "Helm|Helm chart|Kubernetes|k8s|docker-compose|Ansible|playbook|deployment"
    ),
    "bridges": _hints(
        "bridge|bridging|bridged|puppeting|appservice|IRC|XMPP|Telegram|WhatsApp|Discord|Slack"
    ),
    "clients": _hints(
        "client|app|Android|iOS|desktop|macOS|Flatpak|F-Droid|App Store|Play Store|TestFlight"
        "|messenger|UI|UX|room list|user interface|dark mode|accessibility|screen reader"
    ),
    "widgets": _hints("widget"),
    "voip": _hints("VoIP|video call|voice call|group call|WebRTC|LiveKit|MatrixRTC|Jitsi"),
    "encryption": _hints(
        "encryption|E2EE|end-to-end|cross-signing|Olm|Megolm|MLS|key backup|cryptography"
        "|decrypt|decryption|unable to decrypt|UTD"
    ),
    "sdks": _hints("SDK|library|framework|bindings|crate|npm|PyPI"),
    "ops": _hints("monitoring|Prometheus|Grafana|admin tool|administration|sysadmin"),
    "services": _hints("hosting|managed hosting|hosted|provider"),
    "iot": _hints("IoT|Internet of Things|Home Assistant|sensor|smart home|MQTT"),
    "bots": _hints("bot|chatbot|maubot"),
    "eventvideos": _hints("recording|YouTube|PeerTube"),
    "projects": _hints("project|side project|prototype|proof of concept|fork|forked|plugin"),
    "build": _hints("built on Matrix|built with Matrix|powered by Matrix"),
    "guides": _hints(
        "guide|tutorial|howto|how to|walkthrough|step-by-step|step by step|documentation|blog post"
    ),
    "hackathons": _hints("hackathon|hackfest|game jam"),
    "jobs": _hints("hiring|job opening|job offer|vacancy"),
    "news": _hints(
        "in the news|in the press|press|press coverage|media coverage|coverage|covered|covers"
        "|article|press release|journalist|newspaper|magazine|interview|radio"
    ),
    "room-of-the-week": _hints("room of the week"),
    "stats": _hints("federation stats|statistics|stats"),
    "thoughts": _hints("final thoughts"),
}

# Words that contain a department word but say nothing of the department: self-hosting is
# what a project offers, not news of a hosting service. They take their span from the hints.
NEUTRAL_HINTS: Final = _hints("self-hosting|self-hosted|self-host|selfhosted|selfhosting")

# Project scores (see _Evidence.score). CLEAR: named in the first line, in bold, twice, or
# linked. PROMINENT: what a section's usual reporter needs to file under a project.
CLEAR: Final = 2.0
PROMINENT: Final = 5.0
# Section hint scores. SURE decides a section and drops a sender-based project guess.
# OVERRIDE, with a LEAD over the hints of the sender's own section, beats the section the
# sender usually reports for: a talks organiser's Foundation news is not a talk. SURE was 2
# until the 2021 round: two hint words ("app", "client") dropped the learned habit of a
# project's author writing that project's news (+8 projects leaving one post out at 3).
HINTS_SURE: Final = 3.0
HINTS_OVERRIDE: Final = 3.0
HINTS_LEAD: Final = 2.0
# Learned section words (twimbot.section_model), as log-odds over the runner-up section.
# LEARNED_SURE lets them speak against strong hints or the sender's usual section when a
# project is picked. Chosen by leave-one-post-out replay of the dev set, and checked again
# on the training set (docs/classification.md).
LEARNED_SURE: Final = 8.0
# Against hints strong enough to decide a section, learned words need this much more
# margin per point of hint score ("Discord" and "bridge" six times each is a bridge).
LEARNED_PER_HINT: Final = 1.0
# How sure the learned words must be to say what department a text is about, when that
# decides between a sender's projects the text does not name.
LEARNED_TOPIC: Final = 6.0
# Learned project words (twimbot.section_model, per project), as log-odds over the runner-up:
# how sure they must be to choose between projects of one family the sender reports for and
# the text does not name ("Element iOS" or "Element X iOS"). Leaving one post out, any margin
# from 0 to 4 is right as often (docs/classification.md).
PROJECT_WORDS_SURE: Final = 2.0
# Learned reporters (twimbot.reporters): a sender's past entries name a project when at
# least this share of them, and this many, were published under it. Chosen by
# leave-one-post-out replay of the training set (docs/classification.md).
HABIT_SHARE: Final = 0.6
HABIT_MIN: Final = 3
# The share that makes a usual reporter's one project theirs though the text does not name
# it (leaving one post out: 0.7-0.8 gain 21-23 projects, 0.6 16 and a section lost).
HABIT_UNNAMED: Final = 0.8
# A clearly named project is not the entry's project when the learned reporters know
# NEVER_MIN or more of the sender's past entries, under NEVER_PROJECTS of them were published
# under any project and none under this one, while NEVER_KNOWN or more entries of others were
# (the Foundation's news naming the Governing Board, a hosting provider's weekly notes naming
# its service). The section stays the project's. Leaving one post out: +25 projects (32 won,
# 7 lost: a sender's first news of a project), sections the same (docs/classification.md).
NEVER_MIN: Final = 3
NEVER_PROJECTS: Final = 0.5
NEVER_KNOWN: Final = 3
# An editor's earlier choice of a project for a sender is no habit when at least RARE_MIN of
# their past entries are known and under RARE_SHARE of them were published under it (3
# sections more of the 2,981 labelled entries right in the sequential replay, no project
# lost; docs/classification.md).
RARE_MIN: Final = 10
RARE_SHARE: Final = 0.2
# The section of an entry no project decides is weighed (Classifier._weigh_sections): each
# candidate section scores WORDS × its learned-words log-likelihood (relative to the best),
# HINTS × its hint score, HABIT × the log of the smoothed share of the sender's past entries
# published under it, USUAL when the config lists the sender among its usual reporters, and
# NAMED when the projects the text names alike all belong to it. Fitted by leave-one-post-out
# replay of the training set (1,037 entries; 5-fold cross-validated over posts): a broad
# plateau, where the cascade of thresholds it replaced was right on 327 of the 450 entries
# it decided and the weighing on 350 (docs/classification.md). Refitted when the training
# set had grown to 2,372 entries: the learned words, counted on 184 posts instead of 124,
# earn more weight against the hints (0.75 / 4 before; +12 sections, no year losing).
# Refitted on 3,874 (2021's posts joined): 1.25 / 3 before, +9 sections (+3 and +6 in the
# two halves of the posts), on a plateau of words 0.75-1.0 and hints 3-4.
WEIGH_WORDS: Final = 1.0
WEIGH_HINTS: Final = 3.5
WEIGH_HABIT: Final = 5.0
WEIGH_USUAL: Final = 8.0
WEIGH_NAMED: Final = 4.0
# Where nothing but the learned words speaks, they must lead by this much (log-odds) to
# decide; a near tie leaves the entry to the last guesses and the fallback.
WORDS_ALONE: Final = 3.0
# A text whose weighed section clues (without any project) favour another department by
# ABOUT_LEAD over a project's own reads like that department's news: a project of that other
# department must then be named at least ABOUT_PROMINENT to be its subject (in the first line
# and in bold, or linked and repeated), and a lone passing mention of it is not enough.
# "Element has joined an open letter", "welcoming < polycule > as Ecosystem Member". Chosen
# by leave-one-post-out replay of the training set (docs/classification.md).
ABOUT_LEAD: Final = 6.0
ABOUT_PROMINENT: Final = 8.0
# Smoothing of a sender's section shares: HABIT_PSEUDO entries spread over HABIT_SPREAD
# sections, so one past entry is a hint and ten are a habit. 0.25 gained 8 sections leaving
# one post out on 4,053 entries, but makes a sender's habit outweigh a project named clearly
# in the first line when the sender has not posted it (the "reads like" weighing shares it).
HABIT_PSEUDO: Final = 0.5
HABIT_SPREAD: Final = 10
# A name word that this many projects share ("matrix", "element", "sdk") tells none apart.
_COMMON_WORD_PROJECTS: Final = 4
# Only the start of a long first line (Element sends a paragraph as one line) counts as first.
_FIRST_LINE_CHARS: Final = 200
_MENTION_CAP: Final = 3.0
# What may precede a name that opens a line: list bullets, emphasis, quote and heading marks.
_MARKUP: Final = " \t*_#>-+[(\"'“‘"

_SEP = r"[\s_\-]"
_SEP_RUN_RE = re.compile(rf"{_SEP}+")
_WORD_RUN_RE = re.compile(r"[^\W_]+")
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
_TAG_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_TAG_BOLD_RE = re.compile(r"^(\*\*|__)(.+?)\1")
_TAG_COLON_RE = re.compile(r"^([^:\n]{2,60}?)[ \t]*:(?:[ \t]|$)")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _key(text: str) -> str:
    """Normalised form of a name: case-folded, separators (space, ``-``, ``_``) as one space."""
    return _SEP_RUN_RE.sub(" ", _nfc(text).casefold()).strip()


def _loose(text: str) -> str:
    """Letters and digits only, case-folded: ``Dept of Spec 📜`` → ``deptofspec``."""
    return "".join(_WORD_RUN_RE.findall(_nfc(text).casefold()))


# Words that tell no project apart ("Watch The Matrix" is not named by "the").
_STOP_WORDS: Final = frozenset(
    ["a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"]
)


def _name_words(text: str, *, compounds: bool = True) -> set[str]:
    """Words of a name for telling projects apart: its parts, and its whole compounds."""
    out: set[str] = set()
    for match in _COMPOUND_RE.finditer(_nfc(text).casefold()):
        if compounds:
            out.add(match.group(0))
        out.update(_WORD_RUN_RE.findall(match.group(0)))
    return out - _STOP_WORDS


def _capital_words(project: Project) -> frozenset[str]:
    """The head word of a capitalised many-word title ("Watch" of "Watch The Matrix"): a
    proper name, so only a capitalised occurrence in a text names it ("watch these tests
    run" does not). Later words are qualifiers that texts write in lowercase too ("the
    desktop version" does say Element Web/Desktop)."""
    heads: set[str] = set()
    lower: set[str] = set()
    for label in (project.title, *project.aliases):
        words = _WORD_RUN_RE.findall(_nfc(label))
        if len(words) > 1 and any(ch.isupper() for ch in words[0]):
            heads.add(words[0].casefold())
        lower.update(w.casefold() for w in words if w.islower())
    return frozenset(heads - lower)


def _text_words(folded: str) -> frozenset[str]:
    """Words of a text: standalone words and whole compounds, never a compound's parts.

    "mautrix-signal" does not say "mautrix" the way "mautrix-whatsapp" would need it to.
    """
    return frozenset(m.group(0) for m in _COMPOUND_RE.finditer(folded))


def _word_starts(plain: str) -> dict[str, list[int]]:
    """Where each word starts, also under its form without a plural ``s`` or trailing digits
    ("Charts", "MSC3916"), so that a name is only tried where it can match."""
    out: dict[str, list[int]] = {}
    for match in _WORD_RUN_RE.finditer(plain):
        word = match.group(0).casefold()
        forms = {word, word.rstrip("0123456789")}
        if word.endswith("s"):
            forms.add(word[:-1])
        for form in forms:
            out.setdefault(form, []).append(match.start())
    return out


# -- compiled names ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
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
def _compile(
    alias: str, *, hint: bool, plural: bool = True
) -> tuple[re.Pattern[str], str, bool] | None:
    alias = _nfc(alias).strip()
    words = _WORD_RUN_RE.findall(alias.casefold())
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


def _build_terms(
    named: Iterable[tuple[str, Sequence[int]]], *, hint: bool, plural: bool = True
) -> list[_Term]:
    """One term per distinct normalised name; a name several items share targets them all."""
    labels: dict[str, str] = {}
    targets: dict[str, list[int]] = {}
    capitals: dict[str, bool] = {}
    for alias, idxs in named:
        key = _key(alias)
        if not key:
            continue
        labels.setdefault(key, _nfc(alias).strip())
        bucket = targets.setdefault(key, [])
        bucket.extend(i for i in idxs if i not in bucket)
        capitals[key] = capitals.get(key, False) or any(ch.isupper() for ch in alias)
    terms: list[_Term] = []
    for key, label in labels.items():
        compiled = _compile(label, hint=hint, plural=plural)
        if compiled is not None:
            pattern, probe, anchored = compiled
            terms.append(_Term(label, pattern, probe, anchored, tuple(targets[key]), capitals[key]))
    return terms


def _slash_variants(title: str) -> list[str]:
    """``Element Web/Desktop`` → ``Element Web``, ``Element Desktop``."""
    words = title.split()
    if not words or "/" not in words[-1]:
        return []
    head = " ".join(words[:-1])
    return [f"{head} {alt}".strip() for alt in words[-1].split("/") if alt]


_DEPT_RE = re.compile(r"^\W*(?:(?:dept|department)\.?\s+of\s+)?(?:the\s+)?", re.IGNORECASE)


def _title_hints(title: str) -> tuple[str, ...]:
    """A section's title as its hint when nothing else is known: "Dept of Non Chat Clients 🎛️"
    → "Non Chat Clients". Only the whole phrase, since single title words ("Room", "Week",
    "Good") are ordinary words."""
    words = _WORD_RUN_RE.findall(_DEPT_RE.sub("", _nfc(title)))
    phrase = " ".join(words)
    return (phrase,) if len(words) > 1 or len(phrase) >= 3 else ()


def _project_aliases(project: Project) -> list[str]:
    return [project.name, project.title, *project.aliases, *_slash_variants(project.title)]


_GENERIC_PREFIX_RE = re.compile(r"^matrix[\s_\-]+(?=\S)", re.IGNORECASE)
_SHORT_NAME: Final = 4


def _short_names(projects: Sequence[Project], exact: set[str]) -> dict[str, list[int]]:
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
            rest = _GENERIC_PREFIX_RE.sub("", _nfc(label).strip(), count=1)
            if rest == label.strip() or len(_loose(rest)) < _SHORT_NAME:
                continue
            key = _key(rest)
            if key in exact:
                continue
            found.setdefault(key, set()).add(i)
            if key not in shown or rest[:1].isupper():
                shown[key] = rest[:1].upper() + rest[1:]
    return {shown[k]: sorted(v) for k, v in found.items() if len(v) == 1}


def _extension_prefixes(projects: Sequence[Project], exact: set[str]) -> dict[str, list[int]]:
    """Partial titles that extend another project's title: "Element X" of "Element X iOS".

    Without them "Element X" would read as a mention of "Element"; with them it is an
    (ambiguous) mention of every project whose title starts so.
    """
    titles = {_key(p.title) for p in projects} | {_key(p.name) for p in projects}
    out: dict[str, list[int]] = {}
    for i, project in enumerate(projects):
        words = project.title.split()
        for k in range(2, len(words)):
            if not any(_key(" ".join(words[:j])) in titles for j in range(1, k)):
                continue
            prefix = " ".join(words[:k])
            if _key(prefix) not in exact:
                out.setdefault(prefix, []).append(i)
    return out


def _site_key(url: str) -> str | None:
    """``https://www.Example.org/a/`` → ``example.org/a``; None for non-web targets."""
    low = url.strip().strip("<>").casefold()
    match = re.match(r"^(?:https?:)?//(.+)$", low)
    if match:
        low = match.group(1)
    elif not low.startswith("www."):
        return None
    low = re.split(r"[?#]", low, maxsplit=1)[0].removeprefix("www.").rstrip("/")
    return low or None


def _url_slugs(url: str) -> list[str]:
    """Host labels and path segments of a URL, or the localpart of a matrix.to room."""
    low = url.strip().strip("<>")
    room = re.search(r"matrix\.to/#/#([^:/?]+):", low)
    if room:
        return [room.group(1)]
    key = _site_key(low)
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
class _Doc:
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
    def parse(cls, text: str) -> _Doc:
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
            words=_text_words(folded),
            capitalised=frozenset(
                w.casefold() for w in _WORD_RUN_RE.findall(plain) if any(c.isupper() for c in w)
            ),
            model_words=model_words(plain),
        )

    def emphasised(self, pos: int) -> bool:
        # a handful of spans per text: a scan is cheaper than anything clever
        return any(start <= pos < end for start, end in self.emphasis)


def _blank_links(text: str) -> tuple[str, list[str], list[str]]:
    """The text with link targets, URLs, images and Matrix ids blanked (same length, so
    positions stay), the link targets and URLs, and the room aliases' local parts."""
    text = _nfc(text)
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


def plain_text(text: str) -> str:
    """The text as the rules read it: link targets, URLs, images and Matrix ids blanked."""
    return _blank_links(text)[0]


@dataclass(frozen=True, slots=True)
class _Hit:
    term: _Term
    start: int
    end: int
    proper: bool  # False: all lowercase where the name has capitals ("moment" for Moment)
    first: bool
    emphasis: bool
    text: str

    @property
    def weight(self) -> float:
        return 1.0 if self.proper else 0.5


def _scan(index: Mapping[str, Sequence[_Term]], doc: _Doc) -> list[_Hit]:
    hits: list[_Hit] = []
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
    kept: list[_Hit] = []
    for hit in hits:
        if not any(taken[hit.start : hit.end]):
            taken[hit.start : hit.end] = b"\x01" * (hit.end - hit.start)
            kept.append(hit)
    kept.sort(key=lambda h: h.start)
    return kept


def _hits(term: _Term, matches: Iterable[re.Match[str]], doc: _Doc) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in matches:
        found = match.group(0)
        # "Synapse-Admin", "synapse-http-antispam": a name that a hyphenated word extends is
        # another thing named after it (a longer configured name would have matched whole).
        derived = _DERIVED_RE.match(doc.plain, match.end()) is not None
        hits.append(
            _Hit(
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


def _index(terms: Iterable[_Term]) -> dict[str, list[_Term]]:
    out: dict[str, list[_Term]] = {}
    for term in terms:
        out.setdefault(term.probe, []).append(term)
    return out


@dataclass(slots=True)
class _Evidence:
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

    def add(self, hit: _Hit) -> None:
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


# -- the classifier ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pick:
    project: int | None
    reason: str
    # equally likely projects when none was picked; their shared section is a fair guess
    candidates: tuple[int, ...] = ()
    # whether the text names the candidates, or they are only the sender's usual projects
    named: bool = True
    # the project the text is news of, though not published under it: its section is the
    # entry's
    home: int | None = None


@dataclass(frozen=True, slots=True)
class _Pull:
    """Clear evidence for a section, from the sender's habits or from the text."""

    section: int
    reason: str
    sender: bool


@dataclass(frozen=True, slots=True)
class _Sender:
    """Who sent a submission, as the config and the learned reporters know them."""

    id: str
    projects: tuple[int, ...]  # the config's usual_reporters projects
    sections: tuple[int, ...]  # the config's usual_reporters sections
    # the configured id(s) matched by localpart only ("@andy:localhost" is "@andy:matrix.org")
    projects_like: str | None
    sections_like: str | None
    habit: Habit | None  # learned: the project most of their past entries were published under
    # learned: how many of their past entries were published, and under which sections
    entries: int = 0
    section_counts: Mapping[str, int] = field(default_factory=dict)
    project_counts: Mapping[str, int] = field(default_factory=dict)  # learned, by project
    counts_like: str | None = None  # the learned id(s) matched by localpart only

    def who(self, like: str | None) -> str:
        """A reason's subject: ``@x`` or ``@x:localhost looks like @x:matrix.org, who``."""
        return self.id if like is None else f"{self.id} looks like {like}, who"


@dataclass(frozen=True, slots=True)
class _Weighing:
    """Every section's weighed clues (section index -> clue -> weight), and the candidate
    sections (those some clue speaks for) best first."""

    parts: dict[int, dict[str, float]]
    ranked: list[int]
    words: frozenset[str]
    learned: dict[str, float] | None  # the learned words' scores of ``words``
    habit: dict[int, int]

    def score(self, section: int) -> float:
        return sum(self.parts.get(section, {}).values())


def _strong(habit: Habit | None, share: float, least: int) -> Habit | None:
    return habit if habit is not None and habit.count >= least and habit.share() >= share else None


class Classifier:
    """The rules of SPEC §5 compiled for one config. Build once, classify many."""

    def __init__(
        self,
        config: Config,
        *,
        default_hints: bool = True,
        section_model: SectionModel | Literal["default"] | None = "default",
        reporters: ReporterCounts | Literal["default"] | None = "default",
        project_model: SectionModel | Literal["default"] | None = "default",
    ) -> None:
        self.config = config
        # Keyed by project names, like the learned reporters: another config's projects are
        # unknown to it, and it then never speaks.
        self._project_model = (
            default_project_model() if project_model == "default" else project_model
        )
        # Learned reporters are keyed by names: another config's senders and projects are
        # simply unknown to the shipped TWIM counts.
        self._counts = default_counts() if reporters == "default" else reporters
        self._project_names = [p.name for p in config.projects]
        # Learned section words only speak for sections they were trained on, never for the
        # fallback section (an editor's to-do pile, not a department).
        model = default_model() if section_model == "default" else section_model
        self._model = model
        self._learnable = tuple(
            s.name
            for s in config.sections
            if model is not None and s.name in model.sections and s.name != config.fallback_section
        )
        self.projects: tuple[Project, ...] = tuple(config.projects)
        self.sections: tuple[Section, ...] = tuple(config.sections)
        self._section_index = {s.name: i for i, s in enumerate(self.sections)}
        self._project_index = {p.name: i for i, p in enumerate(self.projects)}

        named = [(a, (i,)) for i, p in enumerate(self.projects) for a in _project_aliases(p)]
        self._aliases: dict[str, tuple[int, ...]] = {}
        for alias, idxs in named:
            key = _key(alias)
            self._aliases[key] = tuple(dict.fromkeys((*self._aliases.get(key, ()), *idxs)))
        prefixes = _extension_prefixes(self.projects, set(self._aliases))
        short = _short_names(self.projects, set(self._aliases) | {_key(k) for k in prefixes})
        for alias, owners in short.items():
            self._aliases.setdefault(_key(alias), tuple(owners))
        terms: list[tuple[str, Sequence[int]]] = [*named, *prefixes.items()]
        # A short name is often an ordinary word ("Highlight" of "Matrix Highlight"): its
        # plural ("Highlights include: …") is that word, not the project.
        self._terms = _index(
            [
                *_build_terms(terms, hint=False),
                *_build_terms(short.items(), hint=False, plural=False),
            ]
        )

        hints: list[tuple[str, tuple[int, ...]]] = []
        for i, section in enumerate(self.sections):
            words: Sequence[str] = section.hints
            if default_hints and "hints" not in section.model_fields_set:
                words = DEFAULT_HINTS.get(section.name) or _title_hints(section.title)
            hints += [(h, (i,)) for h in words]
        if default_hints:
            hints += [(h, ()) for h in NEUTRAL_HINTS]
        self._hint_terms = _index(_build_terms(hints, hint=True))

        self._sites = sorted(
            ((k, i) for i, p in enumerate(self.projects) if (k := _site_key(p.website))),
            key=lambda kv: -len(kv[0]),
        )
        self._reports: dict[str, list[int]] = {}
        for i, project in enumerate(self.projects):
            for user in project.usual_reporters:
                self._reports.setdefault(sender_key(user), []).append(i)
        self._section_reports: dict[str, list[int]] = {}
        for i, section in enumerate(self.sections):
            for user in section.usual_reporters:
                self._section_reports.setdefault(sender_key(user), []).append(i)
        self._reports_by_localpart = by_localpart(self._reports)
        self._section_reports_by_localpart = by_localpart(self._section_reports)

        all_words = [
            frozenset(w for a in _project_aliases(p) for w in _name_words(a)) for p in self.projects
        ]
        self._parts = [
            frozenset(w for a in _project_aliases(p) for w in _name_words(a, compounds=False))
            for p in self.projects
        ]
        frequency: dict[str, int] = {}
        for ws in all_words:
            for w in ws:
                frequency[w] = frequency.get(w, 0) + 1
        self._words = [
            frozenset(w for w in ws if frequency[w] < _COMMON_WORD_PROJECTS) for ws in all_words
        ]
        self._capitals = [_capital_words(p) for p in self.projects]
        self._title_words = [tuple(p.title.casefold().split()) for p in self.projects]

    # -- entry point ------------------------------------------------------------------------

    def classify(
        self, text: str, sender: str, last_editor_project: str | None = None
    ) -> Classification:
        """Classify one submission (see the module docstring for the rules)."""
        doc = _Doc.parse(text)
        who = self._sender(sender)
        hints = self._hint_evidence(doc)
        model, words = self._model, doc.model_words
        scores = None if model is None else model.scores(words, self._learnable)
        learned = None if model is None or scores is None else model.guess_from(scores, words)
        pull = self._section_pull(who, hints, learned)
        topic = self._topic(pull, learned)
        about = self._weighing(who, hints, doc, words, scores, None)
        pick = self._pick_project(doc, who, last_editor_project, pull, hints, topic, about)
        # the entry's project, or the one it is news of without being published under it
        owner = pick.project if pick.project is not None else pick.home
        if owner is not None:
            project = self.projects[owner]
            default = project.default_section
            if default is not None and default in self._section_index:
                return Classification(
                    project=None if pick.project is None else project.name,
                    project_reason=pick.reason,
                    section=default,
                    section_reason=(
                        f"default section of project {project.title}"
                        if pick.project is not None
                        else f"default section of {project.title}, which the text names"
                    ),
                )
        section, section_reason = self._pick_section(who, hints, pick, doc, about)
        return Classification(
            project=None if pick.project is None else self.projects[pick.project].name,
            project_reason=pick.reason,
            section=section,
            section_reason=section_reason,
        )

    def _sender(self, sender: str) -> _Sender:
        """The sender's configured and learned habits: by exact id, else by localpart."""
        projects, loose = matching_keys(sender, self._reports, self._reports_by_localpart)
        sections, loose_s = matching_keys(
            sender, self._section_reports, self._section_reports_by_localpart
        )
        counts = self._counts
        found = None if counts is None else counts.find(sender)
        return _Sender(
            id=sender,
            projects=tuple(dict.fromkeys(i for k in projects for i in self._reports[k])),
            sections=tuple(dict.fromkeys(i for k in sections for i in self._section_reports[k])),
            projects_like=", ".join(projects) if loose else None,
            sections_like=", ".join(sections) if loose_s else None,
            habit=None if counts is None else counts.usual_project(sender, self._project_names),
            entries=0 if found is None else found[0].entries,
            section_counts={} if found is None else found[0].sections,
            project_counts={} if found is None else found[0].projects,
            counts_like=None if found is None else found[1],
        )

    def _habit_project(self, sender: _Sender) -> int | None:
        habit = _strong(sender.habit, HABIT_SHARE, HABIT_MIN)
        return None if habit is None else self._project_index.get(habit.value)

    def _habit_reason(self, sender: _Sender) -> str:
        habit = sender.habit
        assert habit is not None
        title = self.projects[self._project_index[habit.value]].title
        return f"{habit.who(sender.id)} usually reported {title} news ({habit.of()})"

    # -- project ----------------------------------------------------------------------------

    def _project_evidence(self, doc: _Doc) -> dict[int, _Evidence]:
        found: dict[int, _Evidence] = {}
        hits = _scan(self._terms, doc)
        for hit in hits:
            for i in hit.term.targets:
                found.setdefault(i, _Evidence()).add(hit)
        # A name that opens the text is its subject ("Quaternion 0.9 is out, built with
        # libQuotient 0.8"); one further along the first line may be a reference.
        lead = next((h for h in hits if h.first and h.proper), None)
        if lead is not None and not doc.plain[doc.first[0] : lead.start].strip(_MARKUP):
            for i in lead.term.targets:
                found[i].lead = True
        slugs = [(slug, True) for slug in doc.room_slugs]
        for url in doc.urls:
            site = _site_key(url)
            if site is not None:
                matching = [(k, i) for k, i in self._sites if site == k or site.startswith(k + "/")]
                # the most specific website only: element.io/server-suite is not element.io
                for k, i in matching:
                    if len(k) == len(matching[0][0]):
                        found.setdefault(i, _Evidence()).website = True
            room = "matrix.to/#/#" in url
            slugs += [(slug, room) for slug in _url_slugs(url)]
        for slug, room in slugs:
            for i in self._aliases.get(_key(slug), ()):
                evidence = found.setdefault(i, _Evidence())
                evidence.slug = evidence.slug or slug
                evidence.path = evidence.path or not room
        return found

    def _tag(self, doc: _Doc) -> _Pick | None:
        line = doc.first_line
        candidates: list[tuple[str, str]] = []
        if m := _TAG_HEADING_RE.match(line):
            candidates.append((m.group(2), f"{m.group(1)} {m.group(2)}"))
        if m := _TAG_BOLD_RE.match(line):
            inner = m.group(2).strip().rstrip(":").strip()
            candidates.append((inner, f"{m.group(1)}{m.group(2)}{m.group(1)}"))
        if m := _TAG_COLON_RE.match(line):
            candidates.append((m.group(1), f"{m.group(1)}:"))
        for name, shown in candidates:
            targets = self._aliases.get(_key(name), ())
            if len(targets) == 1:
                return _Pick(targets[0], f'tagged "{" ".join(shown.split())}" on the first line')
        return None

    def _pick_project(
        self,
        doc: _Doc,
        sender: _Sender,
        last_editor_project: str | None,
        pull: _Pull | None,
        hints: dict[int, _Evidence],
        topic: str | None,
        about: _Weighing | None = None,
    ) -> _Pick:
        tagged = self._tag(doc)
        if tagged is not None:
            return tagged
        evidence = self._project_evidence(doc)
        reporting = list(sender.projects)
        habit = self._habit_project(sender)
        history = self._project_index.get(last_editor_project or "")

        # 1. clearly named (by a section's usual reporter: prominently, or one of their own)
        def eligible(i: int) -> bool:
            bar = CLEAR
            # Someone's department news names other projects in passing ("Governing Board
            # elections", "thanks to Element, our sponsor"): only a prominent name makes it
            # that project's news. The department is the sender's habit, or hints that
            # clearly outweigh those of the project's own department.
            if (
                pull is not None
                and i not in reporting
                and self._conflict(i, pull) is not None
                and (pull.sender or self._outweighs(pull.section, i, hints))
            ):
                bar = PROMINENT
            if i not in reporting and self._about_other(i, about) is not None:
                bar = max(bar, ABOUT_PROMINENT)
            e = evidence[i]
            placed = e.first or e.emphasis or e.linked or e.lead
            if not placed and e.proper < 3 and i not in reporting:
                return False
            if self._named_as_source(i, e, pull, topic):
                return False
            return e.score >= bar

        clear = [i for i in evidence if eligible(i)]
        # A project the sender usually reports for, named clearly, is what the text is about;
        # the other clear names are what it builds on or works with.
        own = [i for i in clear if i in reporting]
        clear = own or clear
        if clear:
            best = max(evidence[i].score for i in clear)
            top = sorted(i for i in clear if evidence[i].score == best)
            # Several names, equally clear, from someone who usually reports for a section:
            # their department's news naming what it is made with ("collected by
            # MatrixRooms.info, an MRS instance by etke.cc"). No habit breaks that tie.
            if (
                len(top) > 1
                and pull is not None
                and pull.sender
                and all(self._conflict(i, pull) is not None for i in top)
            ):
                return _Pick(None, f"names {self._titles(top)} alike, and {pull.reason}")
            chosen = self._break_tie(top, reporting, history, habit)
            if chosen is not None:
                if chosen not in reporting and chosen != history and self._never(sender, chosen):
                    return _Pick(
                        None,
                        f"{evidence[chosen].describe()}, but {self._never_reason(sender)}",
                        home=chosen,
                    )
                variant = self._named_root(chosen, sender, reporting, doc)
                if variant is not None:
                    why = f"{evidence[chosen].describe()}; {self.projects[variant[0]].title}"
                    return _Pick(variant[0], why + variant[1])
                return _Pick(chosen, evidence[chosen].describe())
            if not set(top) & set(reporting):
                return _Pick(None, "tie between " + self._titles(top), tuple(top))
            # several of the sender's own projects tie: rule 3 tells them apart
            return self._from_reporters(sender, reporting, evidence, doc, pull, topic)

        # 2. what an editor chose for this sender before: a habit like rule 3, so it yields
        # to clear section evidence the same way, and to a text whose words are those of
        # another department (an editor's Synapse news habit does not make a spec update)
        if (
            history is not None
            and (history in evidence or self._conflict(history, pull) is None)
            and topic in (None, self.projects[history].default_section)
            and not (history not in evidence and self._rarely(sender, history))
        ):
            title = self.projects[history].title
            # An editor's choice names the family, not the variant, of a sender who reports
            # on several of one family's projects: their words tell which one this is.
            family = self._family({history, *reporting, *self._habit_family(sender)})
            by_words = None if not family else self._by_project_words(family, doc)
            if by_words is not None and by_words[0] != history:
                chosen, why = by_words
                return _Pick(
                    chosen,
                    f"editor assigned {title} to this sender before;"
                    f" {self.projects[chosen].title}{why}",
                )
            return _Pick(history, f"editor assigned {title} to this sender before")

        # 3. who usually reports for what
        if reporting:
            return self._from_reporters(sender, reporting, evidence, doc, pull, topic)

        # 4. what this sender's past entries were published under (learned reporters), unless
        # the section evidence points elsewhere
        if habit is not None and self._conflict(habit, pull) is None:
            return _Pick(habit, self._habit_reason(sender))

        # 4b. their past entries were spread over one family's projects (Element, Element
        # Web/Desktop, Element iOS, …): the one whose past entries' words the text's are
        if habit is None:
            family = self._habit_family(sender)
            if family and all(self._conflict(i, pull) is None for i in family):
                by_words = self._by_project_words(family, doc)
                if by_words is not None:
                    who = sender.who(sender.counts_like)
                    titles = self._titles(family)
                    return _Pick(by_words[0], f"{who} usually reported {titles} news{by_words[1]}")

        # 5. a lone passing mention, unless the section evidence points elsewhere
        # (a link to a room named like a project, among other rooms, is not enough)
        named = [i for i, e in evidence.items() if e.proper or e.website or e.path]
        if len(named) == 1:
            only = named[0]
            conflict = self._conflict(only, pull)
            if conflict is None:
                conflict = self._about_other(only, about)
            if conflict is None:
                return _Pick(only, evidence[only].describe())
            return _Pick(None, f"{evidence[only].describe()} in passing, but {conflict}")
        if named:
            passing = self._titles(sorted(named))
            return _Pick(None, f"no project named clearly (in passing: {passing})")
        return _Pick(None, "no project named")

    def _about_other(self, project: int, about: _Weighing | None) -> str | None:
        """Why the text reads like news of another department than ``project``'s, if the
        weighed section clues favour one by :data:`ABOUT_LEAD`."""
        if about is None or not about.ranked:
            return None
        top = about.ranked[0]
        home = self._section_index.get(self.projects[project].default_section or "")
        if home is None or top == home or about.score(top) - about.score(home) < ABOUT_LEAD:
            return None
        return f"the text reads like {self._stitle(top)} news"

    @staticmethod
    def _break_tie(
        top: list[int], reporting: list[int], history: int | None, habit: int | None
    ) -> int | None:
        if len(top) == 1:
            return top[0]
        for preferred in (
            [i for i in top if i in reporting],
            [i for i in top if i == history],
            [i for i in top if i == habit],
        ):
            if len(preferred) == 1:
                return preferred[0]
        return None

    def _from_reporters(
        self,
        sender: _Sender,
        reporting: list[int],
        evidence: dict[int, _Evidence],
        doc: _Doc,
        pull: _Pull | None,
        topic: str | None,
    ) -> _Pick:
        who = sender.who(sender.projects_like)
        # A passing mention of one of their projects does not outweigh a department the
        # sender usually reports for ("the Events Working Group is organising the conference").
        mentioned = [
            i
            for i in reporting
            if i in evidence
            and not self._named_as_source(i, evidence[i], pull, topic)
            and (
                evidence[i].score >= CLEAR
                or pull is None
                or not pull.sender
                or self._conflict(i, pull) is None
            )
        ]
        if mentioned:
            best = max(evidence[i].score for i in mentioned)
            mentioned = [i for i in mentioned if evidence[i].score == best]
            if len(mentioned) == 1:
                only = mentioned[0]
                variant = self._named_root(only, sender, reporting, doc)
                if variant is not None:
                    title = self.projects[variant[0]].title
                    return _Pick(variant[0], f"{who} usually reports for {title}{variant[1]}")
                title = self.projects[only].title
                why = evidence[only].describe()
                return _Pick(only, f"{who} usually reports for {title}; {why}")
        candidates = mentioned or list(reporting)
        chosen, why = self._by_words(candidates, doc, topic)
        if chosen is None:
            return _Pick(
                None,
                f"{who} usually reports for several projects"
                f" ({self._titles(candidates)}) and the text tells none apart",
                tuple(candidates),
                named=bool(mentioned),
            )
        reason = f"{who} usually reports for {self.projects[chosen].title}{why}"
        if chosen not in mentioned and not why:
            # The sender's one project, and the text names it nowhere: people name what they
            # report on, so this is news of something else (measured: such guesses were
            # right 33 times in 303). Its department is a last guess for the section. Unless
            # most of their past entries were published under another project (a config's
            # usual_reporters go stale: a SmallTalk author who reported Element Android
            # news), or nearly all under this one (a bot's author who never names it).
            habit = self._habit_project(sender)
            if (
                habit is not None
                and (habit != chosen or _strong(sender.habit, HABIT_UNNAMED, HABIT_MIN))
                and self._conflict(habit, pull) is None
            ):
                return _Pick(habit, self._habit_reason(sender))
            unnamed = self._unnamed(chosen, evidence, pull, topic)
            return _Pick(None, f"{reason}, but {unnamed}", (chosen,), named=False)
        conflict = None if chosen in mentioned else self._conflict(chosen, pull)
        if conflict is not None:
            unnamed = self._unnamed(chosen, evidence, pull, topic)
            return _Pick(None, f"{reason}, but {unnamed} and {conflict}")
        return _Pick(chosen, reason)

    def _unnamed(
        self, project: int, evidence: dict[int, _Evidence], pull: _Pull | None, topic: str | None
    ) -> str:
        """How the text leaves out one of the sender's projects: an editor reading "does not
        name it" under a text that names it would rightly distrust the reason."""
        found = evidence.get(project)
        if found is None:
            return "the text does not name it"
        if pull is not None and self._named_as_source(project, found, pull, topic):
            return f"the text names it only as a source of {self._stitle(pull.section)} news"
        return "the text names it only in passing"

    def _named_as_source(
        self, project: int, evidence: _Evidence, pull: _Pull | None, topic: str | None
    ) -> bool:
        """A section's usual reporter writing what reads like that section's news (the
        weekly stats "collected by … an instance by etke.cc") names their own projects of
        other departments as its source: only a project the text opens with is its subject."""
        return (
            pull is not None
            and pull.sender
            and topic == self.sections[pull.section].name
            and self._conflict(project, pull) is not None
            and not evidence.lead
        )

    def _topic(self, pull: _Pull | None, learned: SectionGuess | None) -> str | None:
        """The department the text is clearly about, from its words alone (not the sender)."""
        if learned is not None and learned.margin >= LEARNED_TOPIC:
            return learned.section
        if pull is not None and not pull.sender:
            return self.sections[pull.section].name
        return None

    def _by_words(
        self, candidates: list[int], doc: _Doc, topic: str | None = None
    ) -> tuple[int | None, str]:
        """Tell a sender's projects apart by the words that distinguish their names."""
        if len(candidates) == 1:
            return candidates[0], ""
        shared = frozenset.intersection(*(self._words[i] for i in candidates))
        said = {
            i: {
                w
                for w in (self._words[i] - shared) & doc.words
                if w not in self._capitals[i] or w in doc.capitalised
            }
            for i in candidates
        }
        most = max(len(s) for s in said.values())
        if most > 0:
            winners = [i for i in candidates if len(said[i]) == most]
            if len(winners) == 1:
                words = ", ".join(f'"{w}"' for w in sorted(said[winners[0]]))
                return winners[0], f" ({words} named)"
            return None, ""
        # No distinguishing word at all, and the names are variants of one family ("Element
        # Android", "Element X Android"): the newest variant, the last one the config lists.
        # Configs grow by appending, and a team reports on the app it is building now.
        if self._family(candidates):
            # Unless the words of the family's past entries tell (2022's "this week on iOS"
            # was Element iOS, not the Element X of today).
            by_words = self._by_project_words(candidates, doc)
            if by_words is not None:
                return by_words
            return max(candidates), " (the text names no variant: the newest)"
        # Still nothing: those in the department the text is about, and of them the newest
        # (a team writes about what it builds now: "the app" of an iOS team is its newest).
        on_topic = [i for i in candidates if self.projects[i].default_section == topic]
        if on_topic and topic is not None:
            title = self._stitle(self._section_index[topic])
            return max(on_topic), f" (the newest of them in {title}, what the text is about)"
        return None, ""

    def _never(self, sender: _Sender, project: int) -> bool:
        """Whether the learned reporters know the sender's past entries (NEVER_MIN or more),
        mostly published under no project (under NEVER_PROJECTS of them), none under
        ``project``, while others' entries were (NEVER_KNOWN or more, by the learned project
        words): someone whose Foundation news names the Governing Board is not its news."""
        model = self._project_model
        name = self.projects[project].name
        known = 0 if model is None else model.docs.get(name, 0)
        entries, counts = sender.entries, sender.project_counts
        return (
            known >= NEVER_KNOWN
            and entries >= NEVER_MIN
            and counts.get(name, 0) == 0
            and sum(counts.values()) < NEVER_PROJECTS * entries
        )

    @staticmethod
    def _never_reason(sender: _Sender) -> str:
        who = sender.who(sender.counts_like)
        with_project = sum(sender.project_counts.values())
        return (
            f"{who} posted it in none of {sender.entries} past entries"
            f" ({sender.entries - with_project} of them under no project)"
        )

    def _named_root(
        self, root: int, sender: _Sender, reporting: list[int], doc: _Doc
    ) -> tuple[int, str] | None:
        """When the text names a project whose title begins others' ("Element" of "Element
        Web/Desktop" and "Element iOS") and the sender reports for some of those (config or
        learned), the one of them the learned project words say, if not ``root`` itself:
        the Element team's "Element" is often their app's news."""
        words = self._title_words[root]
        theirs = {
            i
            for i in (*reporting, *self._habit_family(sender))
            if i != root and self._title_words[i][: len(words)] == words
        }
        found = self._by_project_words(sorted({root, *theirs}), doc) if theirs else None
        return None if found is None or found[0] == root else found

    def _rarely(self, sender: _Sender, project: int) -> bool:
        """Whether the learned reporters know the sender well and few of their past entries
        were published under ``project``: an editor's one-off choice for someone who
        mostly posts other news (the project lead's weekly Status notes) is no habit."""
        count = sender.project_counts.get(self.projects[project].name, 0)
        return sender.entries >= RARE_MIN and count < RARE_SHARE * sender.entries

    def _habit_family(self, sender: _Sender) -> list[int]:
        """The projects of one family (names that all extend one of them) that the learned
        reporters published the sender's past entries under, when they hold as large a share
        of them as a habit needs; otherwise none."""
        counts = sender.project_counts
        family = sorted(self._project_index[p] for p in counts if p in self._project_index)
        total = sum(counts[self.projects[i].name] for i in family)
        if len(family) < 2 or total < HABIT_MIN or total < HABIT_SHARE * sender.entries:
            return []
        return self._family(family)

    def _family(self, projects: Iterable[int]) -> list[int]:
        """``projects`` in order if they are two or more of one family: one's name is part of
        all the others' ("Element", "Element Web/Desktop", "Element X iOS"); else none."""
        members = sorted(set(projects))
        plain = [i for i in members if all(self._parts[i] <= self._parts[j] for j in members)]
        return members if len(members) > 1 and len(plain) == 1 else []

    def _by_project_words(self, candidates: list[int], doc: _Doc) -> tuple[int, str] | None:
        """The one of ``candidates`` whose past entries' words the text's are, by the learned
        project words, when they know every candidate and are sure by PROJECT_WORDS_SURE."""
        model = self._project_model
        names = [self.projects[i].name for i in candidates]
        if model is None or any(n not in model.sections for n in names):
            return None
        words = doc.model_words
        scores = model.scores(words, names)
        if scores is None:
            return None
        guess = model.guess_from(scores, words)
        if guess.margin < PROJECT_WORDS_SURE:
            return None
        shown = ", ".join(f'"{w}"' for w in guess.words)
        why = f" (words {shown} are typical of its past entries)"
        return self._project_index[guess.section], why

    def _outweighs(self, section: int, project: int, hints: dict[int, _Evidence]) -> bool:
        """Whether the hints of ``section`` clearly outweigh those of the project's section."""
        score = hints[section].hint_score if section in hints else 0.0
        home = self._section_index.get(self.projects[project].default_section or "")
        home_score = hints[home].hint_score if home is not None and home in hints else 0.0
        return score >= max(HINTS_OVERRIDE, home_score + HINTS_LEAD)

    def _conflict(self, project: int, pull: _Pull | None) -> str | None:
        """Why ``pull`` speaks against ``project``, if its section is not the project's."""
        if pull is None:
            return None
        if self.projects[project].default_section == self.sections[pull.section].name:
            return None
        return pull.reason

    # -- section ----------------------------------------------------------------------------

    def _hint_evidence(self, doc: _Doc) -> dict[int, _Evidence]:
        found: dict[int, _Evidence] = {}
        for hit in _scan(self._hint_terms, doc):
            for i in hit.term.targets:
                found.setdefault(i, _Evidence()).add(hit)
        return found

    @staticmethod
    def _best_hint(hints: dict[int, _Evidence], floor: float) -> int | None:
        """The section whose hints score highest, at least ``floor``; a tie is no answer."""
        if not hints:
            return None
        best = max(e.hint_score for e in hints.values())
        top = [i for i, e in hints.items() if e.hint_score == best]
        return top[0] if best >= floor and len(top) == 1 else None

    def _sender_section(self, sender: _Sender, hints: dict[int, _Evidence]) -> int | None:
        own = list(sender.sections)
        if len(own) > 1:
            hinted = [i for i in own if i in hints]
            own = hinted if len(hinted) == 1 else own
        return own[0] if len(own) == 1 else None

    def _learned_pull(self, learned: SectionGuess) -> _Pull:
        index = self._section_index[learned.section]
        return _Pull(index, learned.describe(self._stitle(index)), sender=False)

    def _section_pull(
        self, sender: _Sender, hints: dict[int, _Evidence], learned: SectionGuess | None
    ) -> _Pull | None:
        strong = self._best_hint(hints, HINTS_SURE)
        own = self._sender_section(sender, hints)
        if own is not None:
            own_score = hints[own].hint_score if own in hints else 0.0
            overridden = (
                strong is not None
                and strong != own
                and hints[strong].hint_score >= max(HINTS_OVERRIDE, own_score + HINTS_LEAD)
            )
            if not overridden:
                if (
                    learned is not None
                    and learned.section != self.sections[own].name
                    and learned.margin >= LEARNED_SURE
                ):
                    # many words of past posts of another department outweigh a sender's
                    # habit the way strong hints do: a talks organiser's Foundation news
                    return self._learned_pull(learned)
                who = sender.who(sender.sections_like)
                reason = f"{who} usually reports for {self._stitle(own)}"
                return _Pull(own, reason, sender=True)
        if strong is not None:
            needed = LEARNED_SURE + LEARNED_PER_HINT * hints[strong].hint_score
            if (
                learned is not None
                and learned.section != self.sections[strong].name
                and learned.margin >= needed
            ):
                # many words of past posts outweigh a hint word or two ("an OIDC provider"
                # in a Synapse release is not hosting news)
                return self._learned_pull(learned)
            reason = f"{hints[strong].describe_hints()} point to {self._stitle(strong)}"
            return _Pull(strong, reason, sender=False)
        return None

    def _pick_section(
        self,
        sender: _Sender,
        hints: dict[int, _Evidence],
        pick: _Pick,
        doc: _Doc,
        about: _Weighing,
    ) -> tuple[str, str]:
        weighed = self._weigh_sections(sender, hints, pick, doc, about)
        if weighed is not None:
            return weighed
        # Nothing in the text nor the sender's past speaks for a section: the department of
        # the projects the sender reports for is a last guess (measured: as a clue weighed
        # with the others it was wrong more often than right).
        candidates = pick.candidates or (sender.projects if pick.project is None else ())
        shared = self._shared_section(candidates, sender, pick.named and bool(pick.candidates))
        if shared is not None:
            return shared
        return self.config.fallback_section, "fallback: no rule matched"

    def _weigh_sections(
        self,
        sender: _Sender,
        hints: dict[int, _Evidence],
        pick: _Pick,
        doc: _Doc,
        about: _Weighing,
    ) -> tuple[str, str] | None:
        """The section all the evidence together favours, when no project decides it.

        Words learned from past posts are many weak clues, the department hints a few strong
        ones, the sender's past entries and the config's usual reporters say who writes
        what. Each adds to a section's score (see :data:`WEIGH_WORDS` and the rest); the
        reason names what tipped the balance against the runner-up."""
        named = self._one_section(pick.candidates) if pick.named else None
        # ``about`` weighed the same clues without any project: only the named projects'
        # shared section is new
        weighing = (
            about
            if named is None
            else self._weighing(sender, hints, doc, about.words, about.learned, named)
        )
        ranked = weighing.ranked
        if not ranked:
            return None
        best = ranked[0]
        runner = ranked[1] if len(ranked) > 1 else None
        parts = weighing.parts
        # only the learned words speak: a near tie among them is no answer
        if (
            runner is not None
            and set(parts[best]) == {"words"}
            and parts[best]["words"] - parts[runner]["words"] < WEIGH_WORDS * WORDS_ALONE
        ):
            return None
        return self.sections[best].name, self._weighed_reason(
            best, runner, parts, sender, hints, weighing.words, weighing.habit
        )

    def _weighing(
        self,
        sender: _Sender,
        hints: dict[int, _Evidence],
        doc: _Doc,
        words: frozenset[str],
        learned: dict[str, float] | None,
        named: int | None,
    ) -> _Weighing:
        """Every section's weighed clues; ``learned`` is the learned words' :meth:`scores
        <twimbot.section_model.SectionModel.scores>` of ``words`` (None: they do not speak)."""
        fallback = self._section_index.get(self.config.fallback_section)
        habit = {
            self._section_index[name]: n
            for name, n in sender.section_counts.items()
            if name in self._section_index and name != self.config.fallback_section
        }
        candidates = set(hints) | set(sender.sections) | set(habit)
        if learned is not None:
            candidates |= {self._section_index[name] for name in learned}
        if named is not None:
            candidates.add(named)
        candidates.discard(fallback if fallback is not None else -1)
        top = max(learned.values()) if learned else 0.0
        floor = min(learned.values()) if learned else 0.0
        spread = sender.entries + HABIT_PSEUDO * HABIT_SPREAD

        def weigh(i: int) -> dict[str, float]:
            part: dict[str, float] = {}
            if learned is not None:
                part["words"] = WEIGH_WORDS * (learned.get(self.sections[i].name, floor) - top)
            if i in hints:
                part["hints"] = WEIGH_HINTS * hints[i].hint_score
            if sender.entries:
                part["habit"] = WEIGH_HABIT * math.log((habit.get(i, 0) + HABIT_PSEUDO) / spread)
            if i in sender.sections:
                part["usual"] = WEIGH_USUAL
            if i == named:
                part["named"] = WEIGH_NAMED
            return part

        parts = {i: weigh(i) for i in range(len(self.sections)) if i != fallback}

        def rank(i: int) -> tuple[float, int, int]:
            # equal scores: the department the text names first, then the config's order
            position = hints[i].position if i in hints else len(doc.plain)
            return (-round(sum(parts[i].values()), 9), position, i)

        return _Weighing(parts, sorted(candidates, key=rank), words, learned, habit)

    def _one_section(self, projects: Sequence[int]) -> int | None:
        """The section all these projects belong to, if they share one."""
        defaults = {self.projects[i].default_section for i in projects}
        if len(defaults) != 1:
            return None
        (only,) = defaults
        return None if only is None else self._section_index.get(only)

    def _weighed_reason(
        self,
        best: int,
        runner: int | None,
        parts: dict[int, dict[str, float]],
        sender: _Sender,
        hints: dict[int, _Evidence],
        words: frozenset[str],
        habit: Mapping[int, int],
    ) -> str:
        """What tipped the balance for ``best`` over ``runner``, strongest first."""
        mine = parts[best]
        theirs = parts[runner] if runner is not None else {}
        lead = {k: v - theirs.get(k, 0.0) for k, v in mine.items()}
        tie = ""
        if runner is None or all(v <= 0 for v in lead.values()):
            # alone, or tied: whatever spoke for it
            lead = {k: 1.0 for k, v in mine.items() if k not in ("words", "habit") and v > 0}
            if habit.get(best):
                lead["habit"] = 0.5
            if runner is not None:
                tie = f" (tied with {self._stitle(runner)}: the config's order decides)"
        title = self._stitle(best)
        said: list[str] = []
        for kind, _ in sorted(lead.items(), key=lambda kv: (-kv[1], kv[0])):
            if lead[kind] <= 0:
                continue
            if kind == "hints":
                said.append(hints[best].describe_hints() + " matched")
            elif kind == "usual":
                said.append(f"{sender.who(sender.sections_like)} usually reports for {title}")
            elif kind == "habit":
                who = sender.who(sender.counts_like)
                n = habit.get(best, 0)
                said.append(f"{who} reported {title} news in {n} of {sender.entries} past entries")
            elif kind == "named":
                said.append(f"the projects it may be about are all in {title}")
            elif kind == "words" and self._model is not None and runner is not None:
                shown = self._model.deciding(
                    words, self.sections[best].name, self.sections[runner].name
                )
                if shown:
                    listed = ", ".join(f'"{w}"' for w in shown)
                    said.append(f"words {listed} are typical of {title} in past posts")
        return ("; ".join(said[:3]) or f"weighing all clues, {title} comes first") + tie

    def _shared_section(
        self, candidates: Sequence[int], sender: _Sender, named: bool
    ) -> tuple[str, str] | None:
        index = self._one_section(candidates)
        if index is None:
            return None
        default, title = self.sections[index].name, self._stitle(index)
        reporter = sender.id if sender.projects_like is None else sender.projects_like
        whose = "the projects it may be about" if named else f"the projects {reporter} reports for"
        return default, f"{whose} are all in {title}"

    def _stitle(self, index: int) -> str:
        return self.sections[index].title

    def _titles(self, indexes: Iterable[int]) -> str:
        titles = [self.projects[i].title for i in indexes]
        if len(titles) > 4:
            titles = [*titles[:4], "…"]
        return ", ".join(titles)


_CACHE: dict[tuple[int, int], tuple[Config, ReporterCounts | None, Classifier]] = {}
_CACHE_SIZE: Final = 4


def classifier_for(config: Config, reporters: ReporterCounts | None = None) -> Classifier:
    """The compiled classifier of ``config`` (with ``reporters``, else the shipped learned
    reporters), built on first use: a reload or a publish makes a new one."""
    key = (id(config), id(reporters))
    cached = _CACHE.get(key)
    # the identity checks guard against freed objects whose ids were reused
    if cached is not None and cached[0] is config and cached[1] is reporters:
        return cached[2]
    classifier = Classifier(config, reporters="default" if reporters is None else reporters)
    while len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (config, reporters, classifier)
    return classifier


def classify(
    text: str,
    sender: str,
    config: Config,
    last_editor_project: str | None = None,
    reporters: ReporterCounts | None = None,
) -> Classification:
    """Choose a project (or none) and a section for a submission, with reasons (SPEC §5).

    ``last_editor_project`` is the project an editor last assigned to an entry of ``sender``
    (by reaction or command); a name the config no longer has is ignored. ``reporters`` are
    the learned reporters to use (a running bot's own published editions added to the
    shipped ones); None uses the shipped ones.
    """
    return classifier_for(config, reporters).classify(text, sender, last_editor_project)


# -- editor choices over automation (SPEC §6) --------------------------------------------------


def resolve(
    auto: Classification,
    config: Config,
    editor_project: str | None,
    editor_section: str | None,
    editor_project_cleared: bool = False,
) -> Assignment:
    """The effective assignment: what editors chose, else what the automatic rules chose.

    * An editor's project or section always wins; ``editor_project_cleared`` is an editor's
      explicit "no project".
    * A project set by an editor brings its ``default_section`` unless an editor also set a
      section.
    * A section set by an editor drops an *automatically* chosen project whose default
      section is another one (an editor-chosen project is kept).
    """
    if editor_project_cleared:
        project = Choice(None, Source.EDITOR, "cleared by an editor")
    elif editor_project is not None:
        project = Choice(editor_project, Source.EDITOR, "set by an editor")
    else:
        project = Choice(auto.project, Source.AUTO, auto.project_reason)
        if editor_section is not None and auto.project is not None:
            chosen = config.project(auto.project)
            default = None if chosen is None else chosen.default_section
            if default is not None and default != editor_section:
                assert chosen is not None
                project = Choice(
                    None,
                    Source.AUTO,
                    f"{chosen.title} dropped: an editor chose section {editor_section},"
                    f" not its {default}",
                )

    if editor_section is not None:
        section = Choice(editor_section, Source.EDITOR, "set by an editor")
    elif editor_project is not None and not editor_project_cleared:
        chosen = config.project(editor_project)
        default = None if chosen is None else chosen.default_section
        if chosen is not None and default is not None:
            section = Choice(
                default, Source.EDITOR, f"default section of {chosen.title}, set by an editor"
            )
        else:
            section = Choice(auto.section, Source.AUTO, auto.section_reason)
    else:
        section = Choice(auto.section, Source.AUTO, auto.section_reason)
    return Assignment(project=project, section=section)


# -- looking things up by name (commands) or emoji (reactions) ---------------------------------


def _lookup(query: str, items: Sequence[Section | Project]) -> Section | Project | None:
    """Name, then title, then alias, then emoji, then title letters: the first pass that hits
    decides, and within a pass the first item in config order."""
    key, loose, emoji = _key(query), _loose(query), normalize_key(query)
    if not key and not emoji:
        return None

    def verdicts(item: Section | Project) -> tuple[bool, ...]:
        aliases = item.aliases if isinstance(item, Project) else []
        return (
            _key(item.name) == key,
            _key(item.title) == key,
            any(_key(alias) == key for alias in aliases),
            item.emoji is not None and normalize_key(item.emoji) == emoji,
            bool(loose) and loose in (_loose(item.title), _loose(item.name)),
        )

    judged = [(verdicts(item), item) for item in items]
    for rank in range(5):
        for verdict, item in judged:
            if verdict[rank]:
                return item
    return None


def find_project(query: str, config: Config) -> Project | None:
    """The project ``query`` names: by name, title, alias or emoji key, case-insensitively."""
    found = _lookup(query, config.projects)
    return found if isinstance(found, Project) else None


def find_section(query: str, config: Config) -> Section | None:
    """The section ``query`` names: by name, title (with or without its emoji) or emoji."""
    found = _lookup(query, config.sections)
    return found if isinstance(found, Section) else None


def match_name(query: str, config: Config) -> Section | Project | None:
    """A project or section by name; on the same pass a project wins over a section."""
    return _lookup(query, [*config.projects, *config.sections])


def reaction_target(key: str, config: Config) -> Section | Project | None:
    """The section or project whose emoji is the reaction ``key`` (emoji only).

    Compared with :func:`~twimbot.config.normalize_key`: ``Synapse ?`` and ``Synapse`` are the
    same key, and so are ``⭕️`` and ``⭕``. A key shared by a section and a project means the
    section (hebbot's sections came first); ``check-config`` warns about such configs.
    """
    wanted = normalize_key(key)
    if not wanted:
        return None
    items: list[Section | Project] = [*config.sections, *config.projects]
    for item in items:
        if item.emoji is not None and normalize_key(item.emoji) == wanted:
            return item
    return None


def is_notice_key(key: str, config: Config) -> bool:
    """True when the reaction ``key`` is the notice emoji (``⭕️`` counts as ``⭕``)."""
    return normalize_key(key) == normalize_key(config.notice_emoji)

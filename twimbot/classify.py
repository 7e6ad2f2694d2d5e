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
A sender known neither way, whose display name only one sender of the learned reporters
posted under, is taken for that sender (``@replay-1:localhost looks like
@deepbluev7:neko.dev (same display name "Nico"), who …``): a new account under a known
name, or a replay whose accounts are named its own way.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from twimbot import names
from twimbot.config import Config, Project, Section
from twimbot.hints import DEFAULT_HINTS, NEUTRAL_HINTS, title_hints
from twimbot.model import Assignment, Choice, Classification, Source
from twimbot.names import Doc, Evidence
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
    count_words,
    default_model,
    default_project_model,
    describe_words,
)

__all__ = ["Classifier", "Learned", "classifier_for", "classify", "resolve"]


# Project scores (see Evidence.score). CLEAR: named in the first line, in bold, twice, or
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
# What may precede a name that opens a line: list bullets, emphasis, quote and heading marks.
_MARKUP: Final = " \t*_#>-+[(\"'“‘"
_TAG_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_TAG_BOLD_RE = re.compile(r"^(\*\*|__)(.+?)\1")
_TAG_COLON_RE = re.compile(r"^([^:\n]{2,60}?)[ \t]*:(?:[ \t]|$)")

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
    # the configured id(s) matched by localpart ("@andy:localhost" is "@andy:matrix.org") or
    # the known sender of the same display name, when not by the exact id
    projects_like: str | None
    sections_like: str | None
    habit: Habit | None  # learned: the project most of their past entries were published under
    # learned: how many of their past entries were published, and under which sections
    entries: int = 0
    section_counts: Mapping[str, int] = field(default_factory=dict)
    project_counts: Mapping[str, int] = field(default_factory=dict)  # learned, by project
    counts_like: str | None = None  # the learned id(s) matched by localpart or display name

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

        named = [(a, (i,)) for i, p in enumerate(self.projects) for a in names.project_aliases(p)]
        self._aliases: dict[str, tuple[int, ...]] = {}
        for alias, idxs in named:
            key = names.name_key(alias)
            self._aliases[key] = tuple(dict.fromkeys((*self._aliases.get(key, ()), *idxs)))
        prefixes = names.extension_prefixes(self.projects, set(self._aliases))
        short = names.short_names(
            self.projects, set(self._aliases) | {names.name_key(k) for k in prefixes}
        )
        for alias, owners in short.items():
            self._aliases.setdefault(names.name_key(alias), tuple(owners))
        terms: list[tuple[str, Sequence[int]]] = [*named, *prefixes.items()]
        # A short name is often an ordinary word ("Highlight" of "Matrix Highlight"): its
        # plural ("Highlights include: …") is that word, not the project.
        self._terms = names.index_terms(
            [
                *names.build_terms(terms, hint=False),
                *names.build_terms(short.items(), hint=False, plural=False),
            ]
        )

        hints: list[tuple[str, tuple[int, ...]]] = []
        for i, section in enumerate(self.sections):
            words: Sequence[str] = section.hints
            if default_hints and "hints" not in section.model_fields_set:
                words = DEFAULT_HINTS.get(section.name) or title_hints(section.title)
            hints += [(h, (i,)) for h in words]
        if default_hints:
            hints += [(h, ()) for h in NEUTRAL_HINTS]
        self._hint_terms = names.index_terms(names.build_terms(hints, hint=True))

        self._sites = sorted(
            ((k, i) for i, p in enumerate(self.projects) if (k := names.site_key(p.website))),
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
            frozenset(w for a in names.project_aliases(p) for w in names.name_words(a))
            for p in self.projects
        ]
        self._parts = [
            frozenset(
                w for a in names.project_aliases(p) for w in names.name_words(a, compounds=False)
            )
            for p in self.projects
        ]
        frequency: dict[str, int] = {}
        for ws in all_words:
            for w in ws:
                frequency[w] = frequency.get(w, 0) + 1
        self._words = [
            frozenset(w for w in ws if frequency[w] < _COMMON_WORD_PROJECTS) for ws in all_words
        ]
        self._capitals = [names.capital_words(p) for p in self.projects]
        self._title_words = [tuple(p.title.casefold().split()) for p in self.projects]

    # -- entry point ------------------------------------------------------------------------

    def classify(
        self,
        text: str,
        sender: str,
        last_editor_project: str | None = None,
        display_name: str | None = None,
    ) -> Classification:
        """Classify one submission (see the module docstring for the rules); the sender's
        ``display_name`` helps only when neither the config nor the learned reporters know
        their id, nor its localpart."""
        doc = Doc.parse(text)
        who = self._sender(sender, display_name)
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

    def _sender(self, sender: str, display_name: str | None = None) -> _Sender:
        """The sender's configured and learned habits: by exact id, else by localpart, else
        (learned reporters only know names) as the one known sender of that display name."""
        projects, loose = matching_keys(sender, self._reports, self._reports_by_localpart)
        sections, loose_s = matching_keys(
            sender, self._section_reports, self._section_reports_by_localpart
        )
        counts = self._counts
        found = None if counts is None else counts.find(sender)
        alias = None
        if not (projects or sections or found) and counts is not None and display_name:
            alias = counts.by_name(display_name)
        if alias is not None:
            # everything known of the sender of that name, each reason saying why it is theirs
            like = f'{alias} (same display name "{" ".join(str(display_name).split())}")'
            stand_in = self._sender(alias)
            habit = stand_in.habit
            return replace(
                stand_in,
                id=sender,
                projects_like=like if stand_in.projects else None,
                sections_like=like if stand_in.sections else None,
                habit=None if habit is None else replace(habit, like=like),
                counts_like=like,
            )
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

    def _project_evidence(self, doc: Doc) -> dict[int, Evidence]:
        found: dict[int, Evidence] = {}
        hits = names.scan(self._terms, doc)
        for hit in hits:
            for i in hit.term.targets:
                found.setdefault(i, Evidence()).add(hit)
        # A name that opens the text is its subject ("Quaternion 0.9 is out, built with
        # libQuotient 0.8"); one further along the first line may be a reference.
        lead = next((h for h in hits if h.first and h.proper), None)
        if lead is not None and not doc.plain[doc.first[0] : lead.start].strip(_MARKUP):
            for i in lead.term.targets:
                found[i].lead = True
        slugs = [(slug, True) for slug in doc.room_slugs]
        for url in doc.urls:
            site = names.site_key(url)
            if site is not None:
                matching = [(k, i) for k, i in self._sites if site == k or site.startswith(k + "/")]
                # the most specific website only: element.io/server-suite is not element.io
                for k, i in matching:
                    if len(k) == len(matching[0][0]):
                        found.setdefault(i, Evidence()).website = True
            room = "matrix.to/#/#" in url
            slugs += [(slug, room) for slug in names.url_slugs(url)]
        for slug, room in slugs:
            for i in self._aliases.get(names.name_key(slug), ()):
                evidence = found.setdefault(i, Evidence())
                evidence.slug = evidence.slug or slug
                evidence.path = evidence.path or not room
        return found

    def _tag(self, doc: Doc) -> _Pick | None:
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
            targets = self._aliases.get(names.name_key(name), ())
            if len(targets) == 1:
                return _Pick(targets[0], f'tagged "{" ".join(shown.split())}" on the first line')
        return None

    def _pick_project(
        self,
        doc: Doc,
        sender: _Sender,
        last_editor_project: str | None,
        pull: _Pull | None,
        hints: dict[int, Evidence],
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
        evidence: dict[int, Evidence],
        doc: Doc,
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
        self, project: int, evidence: dict[int, Evidence], pull: _Pull | None, topic: str | None
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
        self, project: int, evidence: Evidence, pull: _Pull | None, topic: str | None
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
        self, candidates: list[int], doc: Doc, topic: str | None = None
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
        self, root: int, sender: _Sender, reporting: list[int], doc: Doc
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

    def _by_project_words(self, candidates: list[int], doc: Doc) -> tuple[int, str] | None:
        """The one of ``candidates`` whose past entries' words the text's are, by the learned
        project words, when they know every candidate and are sure by PROJECT_WORDS_SURE."""
        model = self._project_model
        labels = [self.projects[i].name for i in candidates]
        if model is None or any(n not in model.sections for n in labels):
            return None
        words = doc.model_words
        scores = model.scores(words, labels)
        if scores is None:
            return None
        guess = model.guess_from(scores, words)
        if guess.margin < PROJECT_WORDS_SURE:
            return None
        why = f" ({describe_words(guess.words)} are typical of its past entries)"
        return self._project_index[guess.section], why

    def _outweighs(self, section: int, project: int, hints: dict[int, Evidence]) -> bool:
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

    def _hint_evidence(self, doc: Doc) -> dict[int, Evidence]:
        found: dict[int, Evidence] = {}
        for hit in names.scan(self._hint_terms, doc):
            for i in hit.term.targets:
                found.setdefault(i, Evidence()).add(hit)
        return found

    @staticmethod
    def _best_hint(hints: dict[int, Evidence], floor: float) -> int | None:
        """The section whose hints score highest, at least ``floor``; a tie is no answer."""
        if not hints:
            return None
        best = max(e.hint_score for e in hints.values())
        top = [i for i, e in hints.items() if e.hint_score == best]
        return top[0] if best >= floor and len(top) == 1 else None

    def _sender_section(self, sender: _Sender, hints: dict[int, Evidence]) -> int | None:
        own = list(sender.sections)
        if len(own) > 1:
            hinted = [i for i in own if i in hints]
            own = hinted if len(hinted) == 1 else own
        return own[0] if len(own) == 1 else None

    def _learned_pull(self, learned: SectionGuess) -> _Pull:
        index = self._section_index[learned.section]
        return _Pull(index, learned.describe(self._stitle(index)), sender=False)

    def _section_pull(
        self, sender: _Sender, hints: dict[int, Evidence], learned: SectionGuess | None
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
        hints: dict[int, Evidence],
        pick: _Pick,
        doc: Doc,
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
        hints: dict[int, Evidence],
        pick: _Pick,
        doc: Doc,
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
        hints: dict[int, Evidence],
        doc: Doc,
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
        hints: dict[int, Evidence],
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
                    said.append(f"{describe_words(shown)} are typical of {title} in past posts")
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


@dataclass(frozen=True, slots=True)
class Learned:
    """The learned data a running bot classifies with: the shipped learned reporters, section
    words and project words, each with the entries of its own published editions added
    (``twimbot.draft.learned``)."""

    reporters: ReporterCounts
    section_model: SectionModel
    project_model: SectionModel

    @classmethod
    def shipped(cls) -> Learned:
        """The learned data twimbot ships with."""
        return cls(default_counts(), default_model(), default_project_model())

    def plus(
        self,
        published: Iterable[tuple[str, str | None, str | None, str | None, frozenset[str]]],
        fallback_section: str,
    ) -> Learned:
        """These data with published entries added, each ``(sender, their display name,
        project, section, model_words of its text)``. An entry left in the fallback section
        teaches no department (its sender's other counts still grow)."""
        entries = [
            (sender, name, project, None if section == fallback_section else section, words)
            for sender, name, project, section, words in published
        ]
        return Learned(
            reporters=self.reporters.merged(
                ReporterCounts.count(
                    ((u, p, s) for u, _, p, s, _ in entries),
                    ((u, n) for u, n, _, _, _ in entries if n),
                )
            ),
            section_model=self.section_model.merged(
                count_words((s, w) for _, _, _, s, w in entries if s is not None)
            ),
            project_model=self.project_model.merged(
                count_words((p, w) for _, _, p, _, w in entries if p is not None)
            ),
        )


_CACHE: dict[tuple[int, int], tuple[Config, Learned | None, Classifier]] = {}
_CACHE_SIZE: Final = 4


def classifier_for(config: Config, learned: Learned | None = None) -> Classifier:
    """The compiled classifier of ``config`` (with ``learned``, else the shipped learned
    data), built on first use: a reload or a publish makes a new one."""
    key = (id(config), id(learned))
    cached = _CACHE.get(key)
    # the identity checks guard against freed objects whose ids were reused
    if cached is not None and cached[0] is config and cached[1] is learned:
        return cached[2]
    if learned is None:
        classifier = Classifier(config)
    else:
        classifier = Classifier(
            config,
            section_model=learned.section_model,
            reporters=learned.reporters,
            project_model=learned.project_model,
        )
    # What a publish replaces is never asked for again: keep one per config, not four.
    for stale in [k for k, v in _CACHE.items() if v[0] is config]:
        del _CACHE[stale]
    while len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (config, learned, classifier)
    return classifier


def classify(
    text: str,
    sender: str,
    config: Config,
    last_editor_project: str | None = None,
    learned: Learned | None = None,
    display_name: str | None = None,
) -> Classification:
    """Choose a project (or none) and a section for a submission, with reasons (SPEC §5).

    ``last_editor_project`` is the project an editor last assigned to an entry of ``sender``
    (by reaction or command); a name the config no longer has is ignored. ``learned`` is
    the learned data to use (a running bot's own published editions added to the shipped
    data); None uses the shipped data. ``display_name`` is the sender's, a clue only for a
    sender whose id nothing knows.
    """
    return classifier_for(config, learned).classify(text, sender, last_editor_project, display_name)


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

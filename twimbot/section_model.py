"""Section words learned from published posts: a small naive Bayes model (SPEC §5).

The hand-written department hints in :mod:`twimbot.classify` know a few words per section.
This model knows the words that real TWIM entries of each section use ("federateable",
"servers" and "discovered" for the weekly federation stats; "RC", "timeline" and "room list"
for client news), counted over the labelled training posts of ``bench/data`` and shipped as
``twimbot/data/section_words.json``; beside the words, the places a text links to
(:func:`twimbot.names.link_words`: ``github.com/mautrix``, ``matrix.org/foundation``). It is:

* **transparent**: a prediction names the words that decided it, and the data file is
  plain word counts per section;
* **deterministic and fast**: a multinomial naive Bayes over the set of words of a text,
  scored only where a word was seen in a section (about 0.1 ms for a long entry);
* **keyed by section name**: it only speaks for sections whose ``name`` it was trained on
  (the TWIM/hebbot department names), like the built-in hints; another community's config
  with other names gets no shipped learned words, only those of its own editions (below).

It never sees senders, only the words of the text, so it cannot learn who usually posts
what. Retrain after adding labelled posts (``bench/train_section_model.py``);
``bench/classify_accuracy.py --lopo`` measures it honestly by leaving each post out of its
own training. A running bot adds the entries of its own last published editions, as its
editors sorted them (:meth:`SectionModel.merged`, ``twimbot.draft.learned``): replayed
week by week over 2025-2026, the words (with the learned reporters) learned from the
editors' choices are worth 22 sections and 12 projects of 993, and learned from the bot's
own guesses cost nothing (``bench/classify_accuracy.py --learning``).

The same model, counted per *project* instead of per section over the entries published
under a project (``twimbot/data/project_words.json``, ``bench/train_project_model.py``), tells
apart projects of one family that a text does not name: the Element team's weekly "this week
on iOS …" was Element iOS in 2022 ("layout", "labs" and "elementx", the rewrite then under
way) and is Element X iOS since. The classifier asks it only to choose among projects the
sender reports for; it never names a project on its own.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

__all__ = [
    "SectionGuess",
    "SectionModel",
    "WordCounts",
    "count_words",
    "default_model",
    "default_project_model",
    "describe_words",
    "model_words",
]

# Words of three letters or more; digits and versions say nothing about a department.
_WORD_RE: Final = re.compile(r"[^\W\d_]{3,}")
# Function words and words every entry uses ("week", "new", "release" is kept: it is news).
_STOP: Final = frozenset(
    """about after again all also and any are because been before being both but can could
    did does doing done each even every few for from further had has have having her here
    him his how however into its just like made make many more most much must now off once
    only other our ours out over own same she should some such than that the their them
    then there these they this those through too under until very was way we were what
    when where which while who whom why will with would you your yours week weeks this
    one two three lot lots thing things get got really still well yet via per since etc""".split()  # noqa: SIM905 (a word list reads best as text)
)
DATA_FILE: Final = "section_words.json"
PROJECT_DATA_FILE: Final = "project_words.json"


def model_words(plain: str) -> frozenset[str]:
    """The words of a (link-free) text the model counts: case-folded, stop words dropped."""
    return frozenset(_WORD_RE.findall(plain.casefold())) - _STOP


def describe_words(words: Iterable[str]) -> str:
    """``words "bridge", "puppeting"`` or ``words "bridge" and links to github.com/mautrix``:
    how a reason names the deciding words, telling links from words."""
    listed = list(words)
    plain = ", ".join(f'"{w}"' for w in listed if not _is_link(w))
    links = ", ".join(w for w in listed if _is_link(w))
    if plain and links:
        return f"words {plain} and links to {links}"
    return f"words {plain}" if plain else f"links to {links}"


def _is_link(word: str) -> bool:
    return "." in word or "/" in word


# Entries per label, per label and word, and per word: what a model is counted from.
WordCounts = tuple[Counter[str], dict[str, Counter[str]], Counter[str]]


def count_words(examples: Iterable[tuple[str, frozenset[str]]]) -> WordCounts:
    """The :data:`WordCounts` of ``(label, model_words(text))`` pairs."""
    docs: Counter[str] = Counter()
    per_label: dict[str, Counter[str]] = {}
    seen: Counter[str] = Counter()
    for label, words in examples:
        docs[label] += 1
        per_label.setdefault(label, Counter()).update(words)
        seen.update(words)
    return docs, per_label, seen


@dataclass(frozen=True, slots=True)
class SectionGuess:
    """The most likely section, how sure (log-odds over the runner-up) and why."""

    section: str
    runner_up: str
    margin: float
    words: tuple[str, ...]  # the words that favour it most over the runner-up

    def describe(self, title: str) -> str:
        shown = ", ".join(f'"{w}"' for w in self.words) or "no distinctive word"
        return f"words {shown} are typical of {title} in past posts"


# A word must be in MIN_DOCS entries to count (a word only one entry used is that entry's);
# ALPHA is the naive Bayes smoothing. Both were chosen by leave-one-post-out replay
# (docs/classification.md).
MIN_DOCS: Final = 2
ALPHA: Final = 0.2


class SectionModel:
    """Word counts per section, and the naive Bayes scoring over them."""

    def __init__(
        self,
        docs: Mapping[str, int],
        counts: Mapping[str, Mapping[str, int]],
        *,
        alpha: float = ALPHA,
    ) -> None:
        self.sections = tuple(sorted(docs))
        self.alpha = alpha
        self.docs = dict(docs)
        self.counts = {s: dict(c) for s, c in counts.items()}
        self._vocabulary: frozenset[str] = frozenset().union(*self.counts.values())
        size = max(1, len(self._vocabulary))
        total_docs = sum(docs.values())
        self._prior = {s: math.log(docs[s] / total_docs) for s in self.sections}
        # log P(unseen word | s); a seen word adds log((count + alpha) / alpha) on top
        self._unseen = {
            s: math.log(alpha / (sum(counts.get(s, {}).values()) + alpha * size))
            for s in self.sections
        }
        # A word's boosts are worked out when a text first uses it: a model is often built
        # to score a few texts (leave-one-post-out builds one per post).
        self._boosts: dict[str, list[tuple[str, float]]] = {}
        self._per_section = [(s, self.counts.get(s, {})) for s in self.sections]

    def _boost(self, word: str) -> list[tuple[str, float]]:
        """The sections that saw ``word``, each with log((count + alpha) / alpha)."""
        found = self._boosts.get(word)
        if found is None:
            alpha = self.alpha
            found = [
                (s, math.log((n + alpha) / alpha))
                for s, counts in self._per_section
                if (n := counts.get(word))
            ]
            self._boosts[word] = found
        return found

    @classmethod
    def train(
        cls, examples: Iterable[tuple[str, str]], *, min_docs: int = MIN_DOCS, alpha: float = ALPHA
    ) -> SectionModel:
        """A model from ``(section name, plain text)`` pairs. Words seen in fewer than
        ``min_docs`` entries are left out: a word only one entry used is that entry's."""
        return cls.from_words(
            ((section, model_words(plain)) for section, plain in examples),
            min_docs=min_docs,
            alpha=alpha,
        )

    @classmethod
    def from_words(
        cls,
        examples: Iterable[tuple[str, frozenset[str]]],
        *,
        min_docs: int = MIN_DOCS,
        alpha: float = ALPHA,
    ) -> SectionModel:
        """:meth:`train` from ``(section name, model_words(plain text))`` pairs: a trainer
        that trains many times on the same texts splits them into words once."""
        docs, per_section, seen = count_words(examples)
        return cls.from_counts(docs, per_section, seen, min_docs=min_docs, alpha=alpha)

    @classmethod
    def from_counts(
        cls,
        docs: Mapping[str, int],
        per_section: Mapping[str, Mapping[str, int]],
        seen: Mapping[str, int],
        *,
        min_docs: int = MIN_DOCS,
        alpha: float = ALPHA,
    ) -> SectionModel:
        """:meth:`from_words` from its counts: entries per section, entries per section and
        word, and entries per word (a trainer that leaves one post out at a time subtracts
        that post's counts from the whole set's instead of counting again)."""
        counts = {
            s: {w: n for w, n in c.items() if n > 0 and seen.get(w, 0) >= min_docs}
            for s, c in per_section.items()
            if docs.get(s, 0) > 0
        }
        return cls({s: n for s, n in docs.items() if n > 0}, counts, alpha=alpha)

    def merged(self, more: WordCounts, *, min_docs: int = MIN_DOCS) -> SectionModel:
        """This model with more entries counted in (a running bot's own published editions,
        sorted by its editors). A word this model does not know joins once ``min_docs`` of
        the new entries use it, as in training; the model itself is left as it was."""
        more_docs, per_label, seen = more
        if not more_docs:
            return self
        docs = dict(self.docs)
        for label, n in more_docs.items():
            docs[label] = docs.get(label, 0) + n
        counts = {s: dict(c) for s, c in self.counts.items()}
        for label, words in per_label.items():
            into = counts.setdefault(label, {})
            for word, n in words.items():
                if word in self._vocabulary or seen.get(word, 0) >= min_docs:
                    into[word] = into.get(word, 0) + n
        return SectionModel(docs, counts, alpha=self.alpha)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SectionModel:
        return cls(data["docs"], data["counts"], alpha=float(data["alpha"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "docs": dict(sorted(self.docs.items())),
            "counts": {
                s: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
                for s, c in sorted(self.counts.items())
            },
        }

    def scores(
        self, words: frozenset[str], allowed: Sequence[str] | None = None
    ) -> dict[str, float] | None:
        """Each of the ``allowed`` sections' log-likelihood for these words (up to a shared
        constant); None when fewer than two sections are allowed or no word is known."""
        sections = [s for s in self.sections if allowed is None or s in allowed]
        if len(sections) < 2:
            return None
        known = [w for w in words if w in self._vocabulary]
        if not known:
            return None
        scores = {s: self._prior[s] + len(known) * self._unseen[s] for s in sections}
        for word in known:
            for section, boost in self._boost(word):
                if section in scores:
                    scores[section] += boost
        return scores

    def guess(
        self, words: frozenset[str], allowed: Sequence[str] | None = None
    ) -> SectionGuess | None:
        """The best of the ``allowed`` sections (default: all it knows) for these words."""
        scores = self.scores(words, allowed)
        return None if scores is None else self.guess_from(scores, words)

    def guess_from(self, scores: Mapping[str, float], words: Iterable[str]) -> SectionGuess:
        """:meth:`guess` from the :meth:`scores` of these words (at least two sections), for
        a caller that weighs the scores too."""
        ranked = sorted(scores, key=lambda s: (-scores[s], s))
        best, second = ranked[0], ranked[1]
        return SectionGuess(
            best, second, scores[best] - scores[second], self.deciding(words, best, second)
        )

    def deciding(self, words: Iterable[str], best: str, second: str) -> tuple[str, ...]:
        """The (up to three) known words that favour ``best`` most over ``second``."""

        def lift(word: str) -> float:
            boosts = dict(self._boost(word))
            return boosts.get(best, 0.0) - boosts.get(second, 0.0)

        known = [w for w in words if w in self._vocabulary]
        ranked = sorted(((lift(w), w) for w in known), key=lambda t: (-t[0], t[1]))
        return tuple(w for score, w in ranked[:3] if score > 0)


def _shipped(name: str) -> SectionModel:
    text = resources.files("twimbot").joinpath("data", name).read_text(encoding="utf-8")
    return SectionModel.from_json(json.loads(text))


@cache
def default_model() -> SectionModel:
    """The section words shipped with twimbot, trained on the labelled TWIM posts of
    bench/data."""
    return _shipped(DATA_FILE)


@cache
def default_project_model() -> SectionModel:
    """The project words shipped with twimbot (labels are project names), trained on the
    entries of the same posts that were published under a project."""
    return _shipped(PROJECT_DATA_FILE)

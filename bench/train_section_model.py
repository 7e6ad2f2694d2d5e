"""Train the learned section words (twimbot/data/section_words.json) from the training set.

The training set is the label sets named in ``TRAINING_SETS`` (``bench/classify_accuracy.py``):
``dev`` (the reference post and ``bench/data/dev/``), ``heldout`` and ``blind2`` …
``blind11``, which were each measured once before they joined it, and ``train5`` …
``train10``. A new blind set stays out of it until it has been measured. Each entry
contributes the
words of its text, links and Matrix ids blanked out exactly as the classifier sees it, under
its published section.

    PYTHONPATH=. python bench/train_section_model.py          # rewrite the shipped model
    PYTHONPATH=. python bench/train_section_model.py --check  # fail if it is out of date

Retrain after adding or correcting labelled training posts, then re-run
``bench/classify_accuracy.py --lopo`` (leave-one-post-out) to see what the change is worth.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from bench.classify_accuracy import training_files
from twimbot.names import text_model_words
from twimbot.section_model import (
    DATA_FILE,
    MIN_DOCS,
    SectionModel,
    WordCounts,
    count_words,
)

OUTPUT = Path(__file__).resolve().parent.parent / "twimbot" / "data" / DATA_FILE


def examples(entries: Iterable[dict[str, Any]]) -> list[tuple[str, frozenset[str]]]:
    """``(section, words)`` for every scored entry (:func:`text_model_words`)."""
    return [(e["section"], text_model_words(e["text"])) for e in entries if e.get("section")]


@cache
def _training_posts() -> tuple[Path, ...]:
    return tuple(f.resolve() for f in training_files())


def training_posts(exclude: Path | None = None) -> list[Path]:
    """The training set's post files, resolved, without ``exclude`` (leave one post out;
    resolved once, as leave-one-post-out compares them often)."""
    skip = None if exclude is None else exclude.resolve()
    return [f for f in _training_posts() if f != skip]


Examples = tuple[tuple[str, frozenset[str]], ...]


@cache
def post_examples(post: Path) -> Examples:
    """``(section, words)`` of each scored entry of one post file."""
    # Blanking links and ids, and splitting into words, is most of training's cost;
    # leave-one-post-out trains once per post of the set, each time on the same texts, so
    # each post's are prepared once.
    entries = json.loads(post.read_text(encoding="utf-8"))
    return tuple(examples(entries))


def train(exclude: Path | None = None) -> SectionModel:
    """The learned words of the training set, without the post file ``exclude``."""
    return train_without(post_examples, exclude)


@cache
def _counted(examples: Callable[[Path], Examples]) -> WordCounts:
    return count_words(e for post in training_posts() for e in examples(post))


@cache
def _kept(examples: Callable[[Path], Examples]) -> dict[str, dict[str, int]]:
    """The whole set's counts per label of the words :class:`SectionModel` keeps (seen in
    ``MIN_DOCS`` entries or more): filtered once, as leaving a post out changes only that
    post's words."""
    docs, per_label, seen = _counted(examples)
    return {
        label: {w: n for w, n in words.items() if n > 0 and seen[w] >= MIN_DOCS}
        for label, words in per_label.items()
        if docs[label] > 0
    }


def train_without(examples: Callable[[Path], Examples], exclude: Path | None) -> SectionModel:
    """A naive Bayes model of the training set's ``examples`` (per post file), without the
    post ``exclude``: the whole set is counted and filtered once, and leaving a post out
    takes its counts off the words it has (leave-one-post-out trains once per post;
    counting anew each time was most of the test suite's time). The same model as
    :meth:`SectionModel.from_counts` of the counts without the post."""
    docs, per_label, seen = _counted(examples)
    skip = None if exclude is None else exclude.resolve()
    if skip is None or skip not in training_posts():
        return SectionModel.from_counts(docs, per_label, seen)
    less_docs, less_per_label, less_seen = count_words(examples(skip))
    docs = docs - less_docs  # drops a label the post was the only entry of
    counts = {label: dict(words) for label, words in _kept(examples).items() if label in docs}
    for word, n in less_seen.items():
        if seen[word] - n < MIN_DOCS:
            for words in counts.values():
                words.pop(word, None)
    for label, words in less_per_label.items():
        left = counts.get(label)
        if left is None:  # the post was the label's only entry
            continue
        for word, n in words.items():
            if word in left:
                if left[word] > n:
                    left[word] -= n
                else:
                    del left[word]
    return SectionModel(docs, counts)


def serialise(model: SectionModel) -> str:
    return json.dumps(model.to_json(), ensure_ascii=False, indent=0, sort_keys=False) + "\n"


def write_or_check(argv: Sequence[str] | None, doc: str, output: Path, text: str) -> int:
    """The command line of a trainer: write ``text`` to ``output``, or with ``--check`` fail
    when the shipped file differs from it."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"{output} is out of date: run the trainer without --check", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output} ({len(text)} bytes)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return write_or_check(argv, __doc__ or "", OUTPUT, serialise(train()))


if __name__ == "__main__":
    raise SystemExit(main())

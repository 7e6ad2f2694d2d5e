"""Count the learned reporters (twimbot/data/reporters.json) from the training set.

The training set is the label sets named in ``TRAINING_SETS`` (``bench/classify_accuracy.py``:
every label set, blind11 the last to join). Every training entry
counts for its sender (entries of departments the config lacks too: they are entries about
something else); its published project and section count for the sender and, together, for
the project.

    PYTHONPATH=. python bench/train_reporters.py          # rewrite the shipped counts
    PYTHONPATH=. python bench/train_reporters.py --check  # fail if they are out of date

Recount after adding or correcting labelled training posts, then re-run
``bench/classify_accuracy.py --lopo`` (leave-one-post-out) to see what the change is worth.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from bench.train_section_model import training_posts, write_or_check
from twimbot.reporters import DATA_FILE, ReporterCounts, SenderCounts

OUTPUT = Path(__file__).resolve().parent.parent / "twimbot" / "data" / DATA_FILE


def examples(entries: Iterable[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    """``(sender, project, section)`` of every labelled entry."""
    return [(e["sender"], e.get("project"), e.get("section")) for e in entries]


@cache
def _post_entries(post: Path) -> tuple[dict[str, Any], ...]:
    # leave-one-post-out counts once per post of the set: each post file is read once
    return tuple(json.loads(post.read_text(encoding="utf-8")))


@cache
def post_examples(post: Path) -> tuple[tuple[str, str | None, str | None], ...]:
    """:func:`examples` of one post file."""
    return tuple(examples(_post_entries(post)))


@cache
def post_names(post: Path) -> tuple[tuple[str, str], ...]:
    """``(sender, display name)`` of the entries of one post file."""
    entries = _post_entries(post)
    return tuple((e["sender"], e["display_name"]) for e in entries if e.get("display_name"))


def _names(exclude: Path | None = None) -> list[tuple[str, str]]:
    return [n for post in training_posts() if post != exclude for n in post_names(post)]


@cache
def _whole() -> ReporterCounts:
    return ReporterCounts.count(
        (e for post in training_posts() for e in post_examples(post)), _names()
    )


def train(exclude: Path | None = None) -> ReporterCounts:
    """The counts of the training set, without the post file ``exclude``: the whole set is
    counted once, and leaving a post out takes its entries off its senders' counts (the
    same counts as counting the other posts anew; leave-one-post-out trains once per
    post)."""
    whole = _whole()
    skip = None if exclude is None else exclude.resolve()
    if skip is None or skip not in training_posts():
        return whole
    senders = dict(whole.senders)
    for key, less in ReporterCounts.count(post_examples(skip)).senders.items():
        counts = senders[key]
        if counts.entries == less.entries:
            del senders[key]
        else:
            senders[key] = SenderCounts(
                counts.entries - less.entries,
                dict(Counter(counts.projects) - Counter(less.projects)),
                dict(Counter(counts.sections) - Counter(less.sections)),
            )
    # the display names the other posts show (a name only this post had is not known)
    named: dict[str, set[str]] = {}
    for sender, name in _names(skip):
        named.setdefault(name, set()).add(sender)
    return ReporterCounts(senders, named)


def main(argv: Sequence[str] | None = None) -> int:
    return write_or_check(argv, __doc__ or "", OUTPUT, train().dumps())


if __name__ == "__main__":
    raise SystemExit(main())

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
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from bench.train_section_model import training_posts, write_or_check
from twimbot.reporters import DATA_FILE, ReporterCounts

OUTPUT = Path(__file__).resolve().parent.parent / "twimbot" / "data" / DATA_FILE


def examples(entries: Iterable[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    """``(sender, project, section)`` of every labelled entry."""
    return [(e["sender"], e.get("project"), e.get("section")) for e in entries]


@cache
def _post_examples(post: Path) -> tuple[tuple[str, str | None, str | None], ...]:
    # leave-one-post-out counts once per post of the set: each post file is read once
    return tuple(examples(json.loads(post.read_text(encoding="utf-8"))))


def train(exclude: Path | None = None) -> ReporterCounts:
    """The counts of the training set, without the post file ``exclude``."""
    posts = training_posts(exclude)
    return ReporterCounts.count(e for post in posts for e in _post_examples(post))


def main(argv: Sequence[str] | None = None) -> int:
    return write_or_check(argv, __doc__ or "", OUTPUT, train().dumps())


if __name__ == "__main__":
    raise SystemExit(main())

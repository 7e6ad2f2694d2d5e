"""Count the learned reporters (twimbot/data/reporters.json) from the training set.

The training set is the label sets named in ``TRAINING_SETS`` (``bench/classify_accuracy.py``:
every label set but the newest blind set, blind6). Every training entry
counts for its sender (entries of departments the config lacks too: they are entries about
something else); its published project and section count for the sender and, together, for
the project.

    PYTHONPATH=. python bench/train_reporters.py          # rewrite the shipped counts
    PYTHONPATH=. python bench/train_reporters.py --check  # fail if they are out of date

Recount after adding or correcting labelled training posts, then re-run
``bench/classify_accuracy.py --lopo`` (leave-one-post-out) to see what the change is worth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.train_section_model import training_entries, write_or_check
from twimbot.reporters import DATA_FILE, ReporterCounts

OUTPUT = Path(__file__).resolve().parent.parent / "twimbot" / "data" / DATA_FILE


def examples(entries: Iterable[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    """``(sender, project, section)`` of every labelled entry."""
    return [(e["sender"], e.get("project"), e.get("section")) for e in entries]


def train(exclude: Path | None = None) -> ReporterCounts:
    """The counts of the training set, without the post file ``exclude``."""
    return ReporterCounts.count(examples(training_entries(exclude)))


def main(argv: Sequence[str] | None = None) -> int:
    return write_or_check(argv, __doc__ or "", OUTPUT, train().dumps())


if __name__ == "__main__":
    raise SystemExit(main())

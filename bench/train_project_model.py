"""Train the learned project words (twimbot/data/project_words.json) from the training set.

The same naive Bayes as the learned section words (:mod:`twimbot.section_model`), counted per
project: every training entry published under a project (``TRAINING_SETS`` of
``bench/classify_accuracy.py``) contributes the words of its text, links and Matrix ids
blanked out exactly as the classifier sees it. The classifier asks it only to tell apart
projects of one family that the sender reports for and the text does not name
(docs/classification.md).

    PYTHONPATH=. python bench/train_project_model.py          # rewrite the shipped model
    PYTHONPATH=. python bench/train_project_model.py --check  # fail if it is out of date

Retrain after adding or correcting labelled training posts, then re-run
``bench/classify_accuracy.py --lopo`` (leave-one-post-out) to see what the change is worth.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from bench.train_section_model import Examples, serialise, train_without, write_or_check
from twimbot.names import text_model_words
from twimbot.section_model import PROJECT_DATA_FILE, SectionModel

OUTPUT = Path(__file__).resolve().parent.parent / "twimbot" / "data" / PROJECT_DATA_FILE


@cache
def post_examples(post: Path) -> Examples:
    """``(project, words)`` of each entry of one post file published under a project."""
    # leave-one-post-out trains once per post of the set: each post's words are split once
    entries = json.loads(post.read_text(encoding="utf-8"))
    return tuple(
        (e["project"], text_model_words(e["text"]))
        for e in entries
        if e.get("section") and e.get("project")
    )


def train(exclude: Path | None = None) -> SectionModel:
    """The learned project words of the training set, without the post file ``exclude``."""
    return train_without(post_examples, exclude)


def main(argv: Sequence[str] | None = None) -> int:
    return write_or_check(argv, __doc__ or "", OUTPUT, serialise(train()))


if __name__ == "__main__":
    raise SystemExit(main())

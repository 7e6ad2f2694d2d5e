"""Measure how often automatic classification agrees with a published post (no pytest).

Labelled submissions are JSON (``bench/data/*.json``): a list of objects with ``sender``,
``text``, and the post's ``section`` and ``project`` as config names (``project`` is null when
the entry had no project heading or its project is not in the config). They are built from a
published TWIM post by :func:`parse_post`, which reads each entry as the post shows it:
``## section``, optional ``### project``, ``[Name](https://matrix.to/#/@user:server) verb``
and the ``> ``-quoted body (without the attached images, which are separate events).

The sets (see docs/classification.md): ``dev`` is the reference post and ``data/dev/`` (real
TWIM posts that were looked at while the rules were designed); ``heldout``, ``blind2`` …
``blind11`` are ``data/<name>/`` (posts labelled and committed before they were first
measured, each measured once; blind8 is of 2022, blind9 of 2022-2024, blind10 and blind11 of
2021); ``train5`` … ``train10`` are ``data/<name>/`` (posts drawn at random and added to the
training set unseen; train8 is of 2022, train10 of 2021). All of them are the training set
(:data:`TRAINING_SETS`): every TWIM post of 2021-2026 on matrix.org, so the next blind set
has to be new weeks' posts,
the only posts the learned section words, learned project words and learned reporters are
counted on. ``--lopo`` measures the training set leaving one post out: each post is scored
with learned data counted on the other posts only, so the figure is
honest for the learned data (not for the rules, which were shaped by reading training
errors). ``--senders localhost`` posts every entry as ``@<localpart>:localhost``, as an
outside replay through a local Synapse does.

The config is a hebbot ``config.toml`` read by :func:`load_hebbot_toml` with twimbot's own
importer (no hints, so sections get the built-in department hints).

    python bench/classify_accuracy.py                    # every label set
    python bench/classify_accuracy.py --lopo             # training set, leave one post out
    python bench/classify_accuracy.py --forward 2022-01-01  # each post by earlier posts only
    python bench/classify_accuracy.py --learning 2025-01-01 # a bot learning from its editions
    python bench/classify_accuracy.py -v LABELS.json     # per-entry table
    python bench/classify_accuracy.py --build POST.md -o LABELS.json

History modes, since an editor's earlier choice is one of the rules: ``none`` (auto mode: no
editor input, what an outside replay measures), ``sequential`` (the editor corrected every
earlier entry of the same sender in the set, in order) and ``oracle`` (each sender's correct
project was assigned the week before: an upper bound, not a realistic figure). A last line
gives the compile time, the mean time per entry and the worst time on hostile inputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twimbot.classify import Classifier, Learned, classifier_for
from twimbot.config import Config, parse_config
from twimbot.draft import LEARN_EDITIONS
from twimbot.hebbot import convert_hebbot
from twimbot.names import text_model_words
from twimbot.reporters import ReporterCounts
from twimbot.section_model import SectionModel, WordCounts, count_words

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
TWIM_CONFIG = DATA.parent.parent / "tests" / "data" / "reference" / "twim-config" / "config.toml"
HISTORY_MODES = ("none", "sequential", "oracle")
# The label sets the learned words, learned reporters and learned project words are counted
# on. A blind set joins only after it has been measured once.
TRAINING_SETS = (
    "dev",
    "heldout",
    "blind2",
    "blind3",
    "blind4",
    "train5",
    "blind5",
    "train6",
    "blind6",
    "train7",
    "train8",
    "blind7",
    "blind8",
    "train9",
    "blind9",
    "blind10",
    "train10",
    "blind11",
)
# Every label set (data/<name>/) the bench and the tests score, in the order they were made.
# A new round's blind sets join LABEL_SETS only when they are measured, at its end: until
# then nothing scores them, not even a test's assert. They join the training set when the
# next round starts.
LABEL_SETS = TRAINING_SETS
SENDER_MODES = ("as-posted", "localhost", "renamed")


def localhost_sender(user_id: str) -> str:
    """``@andybalaam:matrix.org`` as an outside replay through a local Synapse posts it:
    ``@andybalaam:localhost`` (same localpart, another server)."""
    localpart = user_id.split(":", 1)[0]
    return f"{localpart}:localhost"


def renamed_sender(user_id: str) -> str:
    """``@andybalaam:matrix.org`` as a replay with accounts of its own naming posts it: an id
    no post has (the same one for the same sender), under the sender's display name."""
    digest = hashlib.sha256(user_id.casefold().encode()).hexdigest()[:10]
    return f"@replay-{digest}:localhost"


def with_senders(entries: Sequence[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """The entries with their senders as the replay ``mode`` posts them."""
    if mode == "as-posted":
        return list(entries)
    if mode == "localhost":
        return [{**e, "sender": localhost_sender(e["sender"])} for e in entries]
    if mode == "renamed":
        return [{**e, "sender": renamed_sender(e["sender"])} for e in entries]
    raise ValueError(f"unknown sender mode {mode!r}")


def load_hebbot_toml(path: Path) -> Config:
    """A twimbot :class:`Config` from a hebbot TOML file, converted by twimbot's own importer
    (:func:`twimbot.hebbot.convert_hebbot`, as ``twimbot import-hebbot`` does) and validated
    by :func:`twimbot.config.parse_config`. The TOML carries no hints, so sections get the
    built-in department hints."""
    data, _warnings = convert_hebbot(
        path.read_text(encoding="utf-8"),
        homeserver="https://matrix.example.org",
        template=None,
        prefixes=None,
        database="unused.db",
    )
    return parse_config(data, path.resolve().parent)


# -- building labels from a post ----------------------------------------------------------------

_ENTRY_RE = re.compile(
    # "says", "announces"; 2021's posts write "reported:", "told us:"
    r"^\[(?P<name>.+)\]\(https://matrix\.to/#/(?P<user>@[^)\s]+)\)\s+(?P<verb>\w+(?: us)?):?\s*$"
)
_PROJECT_RE = re.compile(r"^###\s+(?P<title>.+?)(?:\s+\(\[(?i:website)\]\([^)]*\)\))?\s*$")
_MEDIA_LINE_RE = re.compile(r"^!\[[^\]]*\]\(/blog/img/[^)]*\)\s*$")


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.casefold())


# Words that a heading adds to a project's name without naming something else.
_REPORT_WORDS = frozenset(["report", "reports", "update", "updates", "news", "release", "weekly"])


def _match(title: str, items: Sequence[Any], section: str | None = None) -> Any | None:
    """The config item a post heading names: by exact title, then by the same letters, then
    by the longest title (or name) whose words open the heading ("Matrix Authentication
    Service (MAS) 0.16.0" is the project "Matrix Authentication Service"). Such a partial
    match in another department than the project's default section must add nothing but
    report words: "Synapse Admin" under Services is not Synapse, "Website & Content WG
    Report" under Status is the working group; "gomuks android" under Clients is gomuks."""

    def loose(text: str) -> str:
        return "".join(_words(text))

    for item in items:
        if item.title == title:
            return item
    for item in items:
        if loose(item.title) == loose(title) or loose(item.name) == loose(title):
            return item
    expanded = re.sub(r"\bWG\b", "Working Group", title).casefold()
    heading = _words(expanded)
    best: tuple[int, Any] | None = None
    for item in items:
        for label in (item.title, item.name):
            words = _words(label)
            if not words or heading[: len(words)] != words:
                continue
            # a hyphenated compound is another thing: "maubot-communitybot" is not maubot
            opening = re.match(r"[\W_]*" + r"[\W_]+".join(map(re.escape, words)), expanded)
            if opening and re.match(r"-[^\W_]", expanded[opening.end() :]):
                continue
            default = getattr(item, "default_section", None)
            rest = [w for w in heading[len(words) :] if not w[:1].isdigit()]
            named_more = any(w not in _REPORT_WORDS for w in rest)
            if section is not None and default is not None and default != section and named_more:
                continue
            if best is None or len(words) > best[0]:
                best = (len(words), item)
    return None if best is None else best[1]


# Departments that published posts call by an older name than the config's title.
SECTION_RENAMES = {
    "Dept of Academia 🎓️": "Dept of Science 🎓️",
    "Dept of SDK 🧰": "Dept of SDKs and Frameworks 🧰",
    # 2021: chat clients were "Messengers" for a while, the others "Non Clients"
    "Dept of Messengers 📱": "Dept of Clients 📱",
    "Dept of Non Clients 🎛️": "Dept of Non Chat Clients 🎛️",
}


def parse_post(markdown: str, config: Config, source: str) -> list[dict[str, Any]]:
    """The entries of a published post, labelled with config section and project names."""
    entries: list[dict[str, Any]] = []
    section_title: str | None = None
    project_title: str | None = None
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section_title, project_title = line[3:].strip(), None
        elif line.startswith("### "):
            m = _PROJECT_RE.match(line)
            project_title = m.group("title") if m else line[4:].strip()
        elif (m := _ENTRY_RE.match(line.strip())) and section_title is not None:
            body: list[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and lines[j].startswith("### "):
                # "[Name](…) announces", then the project heading, then the quote
                h = _PROJECT_RE.match(lines[j])
                project_title = h.group("title") if h else lines[j][4:].strip()
                j += 1
            # an editor's line between the attribution and the quote is not the submission
            while j < len(lines) and not lines[j].startswith((">", "#", "[")):
                j += 1
            while j < len(lines) and lines[j].startswith(">"):
                body.append(lines[j][2:] if lines[j].startswith("> ") else lines[j][1:])
                j += 1
            body = [b for b in body if not _MEDIA_LINE_RE.match(b.strip())]
            while body and not body[-1].strip():
                body.pop()
            if not any(b.strip() for b in body):
                i = j
                continue
            section = _match(SECTION_RENAMES.get(section_title, section_title), config.sections)
            project = (
                None
                if project_title is None
                else _match(
                    project_title, config.projects, None if section is None else section.name
                )
            )
            entries.append(
                {
                    "source": source,
                    "sender": m.group("user"),
                    "display_name": m.group("name"),
                    "section_title": section_title,
                    "project_title": project_title,
                    "section": None if section is None else section.name,
                    "project": None if project is None else project.name,
                    "text": "\n".join(body),
                }
            )
            i = j
            continue
        i += 1
    return entries


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    total: int
    project_ok: int
    section_ok: int
    both_ok: int

    def __add__(self, other: Score) -> Score:
        return Score(
            self.total + other.total,
            self.project_ok + other.project_ok,
            self.section_ok + other.section_ok,
            self.both_ok + other.both_ok,
        )

    def line(self, label: str) -> str:
        def pct(n: int) -> str:
            return f"{n}/{self.total} = {100 * n / self.total:5.1f}%" if self.total else "n/a"

        return (
            f"{label:<12} project {pct(self.project_ok)}   section {pct(self.section_ok)}"
            f"   both {pct(self.both_ok)}"
        )


def evaluate(
    entries: Sequence[dict[str, Any]],
    config: Config,
    history: str = "none",
    verbose: bool = False,
    out: Any = sys.stdout,
    classifier: Classifier | None = None,
) -> Score:
    """Classify every labelled entry and count agreements with the labels."""
    classifier = classifier or Classifier(config)
    last: dict[str, str | None] = {}
    project_ok = section_ok = both_ok = 0
    scored = [e for e in entries if e.get("section") is not None]
    for n, entry in enumerate(scored, 1):
        previous: str | None = None
        if history == "sequential":
            previous = last.get(entry["sender"])
        elif history == "oracle":
            previous = entry["project"]
        got = classifier.classify(
            entry["text"], entry["sender"], previous, entry.get("display_name")
        )
        p_ok = got.project == entry["project"]
        s_ok = got.section == entry["section"]
        project_ok += p_ok
        section_ok += s_ok
        both_ok += p_ok and s_ok
        if entry["project"] is not None:
            last[entry["sender"]] = entry["project"]
        if verbose:
            print(
                f"{n:>3} {'✓' if p_ok else '✗'}{'✓' if s_ok else '✗'} {entry['sender']}\n"
                f"      want {entry['project']} / {entry['section']}\n"
                f"      got  {got.project} / {got.section}\n"
                f"           project: {got.project_reason}\n"
                f"           section: {got.section_reason}",
                file=out,
            )
    return Score(len(scored), project_ok, section_ok, both_ok)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("labels", nargs="*", type=Path, help="labelled JSON files")
    parser.add_argument("-c", "--config", type=Path, default=TWIM_CONFIG, help="hebbot TOML")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per entry")
    parser.add_argument("--build", type=Path, metavar="POST_MD", help="label a published post")
    parser.add_argument("-o", "--output", type=Path, help="where --build writes its JSON")
    parser.add_argument(
        "--lopo", action="store_true", help="training set, leave one post out, per year and set"
    )
    parser.add_argument(
        "--forward",
        metavar="SINCE",
        help="training set, forward chaining: each post from the date SINCE (YYYY-MM-DD) on"
        " scored with learned data of earlier posts only",
    )
    parser.add_argument(
        "--learning",
        metavar="SINCE",
        help="training set from SINCE on, week by week, as a running bot learns from its own"
        " published editions: frozen, from its own guesses, from the editors' choices",
    )
    parser.add_argument(
        "--senders",
        choices=SENDER_MODES,
        default="as-posted",
        help="localhost: every sender as @<localpart>:localhost, as an outside replay posts it;"
        " renamed: every sender under an id of the replay's own (their display name kept)",
    )
    args = parser.parse_args(argv)
    config = load_hebbot_toml(args.config)

    if args.build is not None:
        entries = parse_post(args.build.read_text(encoding="utf-8"), config, args.build.name)
        text = json.dumps(entries, ensure_ascii=False, indent=2) + "\n"
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
            print(f"{len(entries)} entries written to {args.output}")
        return 0

    print(
        f"config {args.config.name}: {len(config.sections)} sections, "
        f"{len(config.projects)} projects"
    )
    if args.forward:
        print(
            f"\ntraining set, forward chaining from {args.forward} (learned data counted on"
            f" earlier posts only), senders {args.senders}:"
        )
        ahead, per_year = forward(training_files(), config, args.forward, args.senders)
        for year, score in per_year.items():
            print(score.line(year))
        print(ahead.line("all"))
        return 0
    if args.learning:
        print(
            f"\ntraining set from {args.learning} on, week by week: learned data counted on"
            f" earlier posts, plus the bot's own last {LEARN_EDITIONS} published editions,"
            f" senders {args.senders}:"
        )
        for mode, score in learning(training_files(), config, args.learning, args.senders).items():
            print(score.line(mode))
        return 0
    if args.lopo:
        sets = label_sets()
        print(
            f"\ntraining set ({', '.join(TRAINING_SETS)}), leave one post out (learned data"
            f" never counted on the post scored), senders {args.senders}:"
        )
        total = Score(0, 0, 0, 0)
        years: dict[str, Score] = {}
        for name in TRAINING_SETS:
            set_total, set_years = lopo(sets[name], config, args.senders)
            total += set_total
            for year, score in set_years.items():
                years[year] = years.get(year, Score(0, 0, 0, 0)) + score
            print(set_total.line(name))
        for year, score in sorted(years.items()):
            print(score.line(year))
        print(total.line("all"))
        return 0
    sets = {"given": list(args.labels)} if args.labels else label_sets()
    everything: list[dict[str, Any]] = []
    for name, files in sets.items():
        entries = [e for f in files for e in json.loads(f.read_text(encoding="utf-8"))]
        entries = with_senders(entries, args.senders)
        everything += entries
        scored = sum(1 for e in entries if e.get("section") is not None)
        print(
            f"\n{name}: {len(files)} posts, {scored} scored entries"
            f" ({len(entries) - scored} in departments the config lacks, not scored),"
            f" senders {args.senders}"
        )
        for mode in HISTORY_MODES:
            score = evaluate(entries, config, mode, verbose=args.verbose and mode == "none")
            print(score.line(f"history={mode}"))
    print()
    print(speed(everything, config))
    return 0


def lopo(
    files: Sequence[Path], config: Config, senders: str = "as-posted"
) -> tuple[Score, dict[str, Score]]:
    """Leave one post out: each post of ``files`` (posts of the training set) is classified by
    a classifier whose learned section words, learned reporters and learned project words
    were counted on the rest of the training set only, so no entry is scored by data that has seen it. Returns the
    total and the scores per year."""
    if str(HERE.parent) not in sys.path:  # run as a script, or loaded by path in tests
        sys.path.insert(0, str(HERE.parent))
    from bench import train_project_model, train_reporters, train_section_model

    total = Score(0, 0, 0, 0)
    years: dict[str, Score] = {}
    for f in files:
        classifier = Classifier(
            config,
            section_model=train_section_model.train(exclude=f),
            reporters=train_reporters.train(exclude=f),
            project_model=train_project_model.train(exclude=f),
        )
        entries = with_senders(json.loads(f.read_text(encoding="utf-8")), senders)
        score = evaluate(entries, config, classifier=classifier)
        year = re.search(r"(20\d\d)-\d\d-\d\d", f.name)
        key = year.group(1) if year else "?"
        total, years[key] = total + score, years.get(key, Score(0, 0, 0, 0)) + score
    return total, dict(sorted(years.items()))


def post_date(post: Path) -> str:
    """The publication date of a post file (``2024-06-14-twim.json``,
    ``twim-2022-10-28.json``), as ``YYYY-MM-DD``."""
    found = re.search(r"20\d\d-\d\d-\d\d", post.name)
    if found is None:
        raise ValueError(f"{post.name}: no date in the file name")
    return found.group(0)


def forward(
    files: Sequence[Path], config: Config, since: str, senders: str = "as-posted"
) -> tuple[Score, dict[str, Score]]:
    """Forward chaining, the way a bot meets new weeks: each post of ``files`` dated ``since``
    or later is classified with learned section words, learned reporters and learned project
    words counted only on the posts of ``files`` published before it (posts of one date are
    scored before any of them is counted). Harder than leaving one post out: the later posts
    a post's senders and projects appear in are unknown to it, as they are to a running bot.
    Returns the total and the scores per year."""
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    from bench import train_project_model, train_reporters, train_section_model

    by_date: dict[str, list[Path]] = {}
    for f in files:
        by_date.setdefault(post_date(f), []).append(f)
    section_words, project_words = count_words(()), count_words(())
    reported: list[tuple[str, str | None, str | None]] = []
    named: list[tuple[str, str]] = []
    total = Score(0, 0, 0, 0)
    years: dict[str, Score] = {}
    for day in sorted(by_date):
        if day >= since:
            classifier = Classifier(
                config,
                section_model=SectionModel.from_counts(*section_words),
                reporters=ReporterCounts.count(reported, named),
                project_model=SectionModel.from_counts(*project_words),
            )
            for f in by_date[day]:
                entries = with_senders(json.loads(f.read_text(encoding="utf-8")), senders)
                score = evaluate(entries, config, classifier=classifier)
                total, years[day[:4]] = total + score, years.get(day[:4], Score(0, 0, 0, 0)) + score
        for f in by_date[day]:
            _add_counts(section_words, count_words(train_section_model.post_examples(f)))
            _add_counts(project_words, count_words(train_project_model.post_examples(f)))
            reported += train_reporters.post_examples(f)
            named += train_reporters.post_names(f)
    return total, dict(sorted(years.items()))


# A running bot's week by week, by what its last published editions were (see learning).
LEARNING_MODES = ("frozen", "own guesses", "editors")


def learning(
    files: Sequence[Path], config: Config, since: str, senders: str = "as-posted"
) -> dict[str, Score]:
    """A running bot on the posts of ``files`` from ``since`` on, week by week, learning as
    ``twimbot.draft.learned`` makes it learn. It ships with learned data counted on the posts
    before ``since``; each post it has published since joins them (its last
    ``LEARN_EDITIONS``), merged by the bot's own :meth:`Learned.plus`, as:

    * ``frozen``: nothing (a bot that would learn nothing);
    * ``own guesses``: its own automatic choices (no editor ever corrects it);
    * ``editors``: the published post's choices (the editors corrected every entry).

    Returns the score of each mode."""
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    from bench import train_project_model, train_reporters, train_section_model

    before = [f for f in files if post_date(f) < since]
    by_date: dict[str, list[Path]] = {}
    for f in files:
        if post_date(f) >= since:
            by_date.setdefault(post_date(f), []).append(f)
    shipped = Learned(
        ReporterCounts.count(
            (e for f in before for e in train_reporters.post_examples(f)),
            [n for f in before for n in train_reporters.post_names(f)],
        ),
        SectionModel.from_counts(
            *count_words(e for f in before for e in train_section_model.post_examples(f))
        ),
        SectionModel.from_counts(
            *count_words(e for f in before for e in train_project_model.post_examples(f))
        ),
    )
    scores: dict[str, Score] = {}
    for mode in LEARNING_MODES:
        published: list[list[tuple[str, str | None, str | None, str | None, frozenset[str]]]] = []
        score = Score(0, 0, 0, 0)
        for day in sorted(by_date):
            recent = [e for edition in published[-LEARN_EDITIONS:] for e in edition]
            classifier = classifier_for(config, shipped.plus(recent, config.fallback_section))
            for f in by_date[day]:
                entries = with_senders(json.loads(f.read_text(encoding="utf-8")), senders)
                score += evaluate(entries, config, classifier=classifier)
                if mode == "frozen":
                    continue
                edition = []
                for e in entries:
                    if mode == "editors":
                        if e.get("section") is None:  # a department the config lacks
                            continue
                        project, section = e["project"], e["section"]
                    else:
                        got = classifier.classify(
                            e["text"], e["sender"], None, e.get("display_name")
                        )
                        project, section = got.project, got.section
                    words = text_model_words(e["text"])
                    name = e.get("display_name")
                    edition.append((e["sender"], name, project, section, words))
                published.append(edition)
        scores[mode] = score
    return scores


def _add_counts(into: WordCounts, more: WordCounts) -> None:
    into[0].update(more[0])
    for label, words in more[1].items():
        into[1].setdefault(label, Counter()).update(words)
    into[2].update(more[2])


def label_sets() -> dict[str, list[Path]]:
    """The labelled sets: ``dev`` (the reference post and ``data/dev/``, seen while the rules
    were designed); ``heldout``, ``blind2`` … ``blind11`` (``data/<name>/``, each set aside
    before a round of work and measured once at its end); ``train5`` … ``train10``
    (``data/<name>/``, posts added unseen to the training set); all of these are the
    training set (:data:`TRAINING_SETS`); the newest, ``blind11``, joined once it had been
    measured."""
    sets = {name: sorted((DATA / name).glob("*.json")) for name in LABEL_SETS}
    sets["dev"] = sorted(DATA.glob("*.json")) + sets["dev"]  # the reference post is dev's
    return sets


def training_files() -> list[Path]:
    """The post files of the training set (:data:`TRAINING_SETS`), the only posts the learned
    words and learned reporters are counted on."""
    sets = label_sets()
    return [f for name in TRAINING_SETS for f in sets[name]]


def speed(entries: Sequence[dict[str, Any]], config: Config, rounds: int = 20) -> str:
    """Compile time and mean classification time, and the worst of some hostile inputs."""
    started = time.perf_counter()
    classifier = Classifier(config)
    compiled = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(rounds):
        for entry in entries:
            classifier.classify(entry["text"], entry["sender"])
    mean = (time.perf_counter() - started) / max(1, rounds * len(entries))
    hostile = [
        "[a](" + " " * 20_000,
        "[" * 20_000,
        "__a " * 5_000,
        "** a" * 5_000,
        " ".join(["Synapse", "Element", "MSC1234", "client", "moment"] * 700),
    ]
    worst = 0.0
    for text in hostile:
        started = time.perf_counter()
        classifier.classify(text[:20_000], "@someone:example.org")
        worst = max(worst, time.perf_counter() - started)
    return (
        f"speed        compile {1000 * compiled:.1f} ms, classify {1000 * mean:.2f} ms per"
        f" entry (mean), worst hostile 20k-char text {1000 * worst:.1f} ms"
    )


if __name__ == "__main__":
    raise SystemExit(main())

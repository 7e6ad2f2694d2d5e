"""Unit tests of twimbot.classify: the automatic rules (SPEC §5), editor precedence (SPEC §6),
name and reaction lookups, and the accuracy floor on the real TWIM config and post."""

from __future__ import annotations

import importlib.util
import json
import sys
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twimbot.classify import (
    WEIGH_USUAL,
    WEIGH_WORDS,
    Classifier,
    classifier_for,
    classify,
    resolve,
)
from twimbot.config import Config, Project, Section
from twimbot.lookup import find_project, find_section, is_notice_key, match_name, reaction_target
from twimbot.model import Classification, Source
from twimbot.names import Doc, link_words, text_model_words
from twimbot.reporters import ReporterCounts, default_counts
from twimbot.section_model import (
    SectionModel,
    default_model,
    default_project_model,
    describe_words,
    model_words,
)

BENCH = Path(__file__).resolve().parent.parent / "bench"

SPEC_ANDREW = "@andrew:example.org"
NICO = "@nico:example.org"
DANI = "@dani:example.org"
BENOIT = "@benoit:example.org"
BRAID = "@braid:example.org"
ERIK = "@erik:example.org"
TWINS = "@twins:example.org"
KITSUNE = "@kitsune:example.org"
NOBODY = "@newcomer:example.org"


def make_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "homeserver": "https://matrix.example.org",
        "user_id": "@twim:example.org",
        "database": "twim.db",
        "rooms": {"submissions": ["!sub:example.org"], "editors": "!ed:example.org"},
        "editors": ["@editor:example.org"],
        "sections": [
            {"name": "clients", "title": "Dept of Clients 📱", "emoji": "📱", "order": 10},
            {"name": "servers", "title": "Dept of Servers 🏢", "emoji": "🏢", "order": 20},
            {"name": "sdks", "title": "Dept of SDKs 🧰", "emoji": "🧰", "order": 25},
            {
                "name": "bridges",
                "title": "Dept of Bridges 🌉",
                "emoji": "🌉",
                "order": 30,
                "hints": ["bridge", "puppeting"],
            },
            {
                "name": "spec",
                "title": "Dept of Spec 📜",
                "emoji": "📜",
                "order": 5,
                "usual_reporters": [SPEC_ANDREW],
                "hints": ["MSC", "spec"],
            },
            {
                "name": "talks",
                "title": "Dept of Events and Talks 🗣️",
                "emoji": "🗣️",
                "order": 6,
                "usual_reporters": [BRAID],
                "hints": ["talk", "meetup"],
            },
            {"name": "ops", "title": "Dept of Ops 🛠", "emoji": "🛠️", "order": 40, "hints": []},
        ],
        "projects": [
            {
                "name": "synapse",
                "title": "Synapse",
                "emoji": "Synapse",
                "default_section": "servers",
                "website": "https://github.com/element-hq/synapse/",
                "usual_reporters": [ERIK],
            },
            {
                "name": "nheko",
                "title": "Nheko",
                "emoji": "Nheko",
                "default_section": "clients",
                "usual_reporters": [NICO],
            },
            {
                "name": "nheko-krunner",
                "title": "nheko-krunner",
                "default_section": "clients",
            },
            {
                "name": "element",
                "title": "Element",
                "emoji": "Emt Client",
                "default_section": "clients",
                "usual_reporters": [DANI],
            },
            {
                "name": "element-web",
                "title": "Element Web/Desktop",
                "emoji": "Emt Web",
                "default_section": "clients",
                "usual_reporters": [DANI],
            },
            {
                "name": "element-android",
                "title": "Element Android",
                "default_section": "clients",
                "usual_reporters": [DANI, BENOIT],
            },
            {
                "name": "element-x-android",
                "title": "Element X Android",
                "default_section": "clients",
                "usual_reporters": [BENOIT],
            },
            {
                "name": "element-x-ios",
                "title": "Element X iOS",
                "default_section": "clients",
            },
            {"name": "cplusplus", "title": "C++", "default_section": "sdks"},
            {
                "name": "polycule",
                "title": "< polycule >",
                "emoji": "< polycule >",
                "default_section": "clients",
                "usual_reporters": [BRAID],
            },
            {
                "name": "matrix-rust-sdk",
                "title": "matrix-rust-sdk",
                "default_section": "sdks",
                "website": "https://github.com/matrix-org/matrix-rust-sdk",
            },
            {"name": "moment", "title": "Moment", "default_section": "clients"},
            {"name": "mjolnir", "title": "Mjölnir", "default_section": "ops"},
            {
                "name": "fluffychat",
                "title": "FluffyChat",
                "default_section": "clients",
                "website": "https://fluffychat.im",
            },
            {"name": "heisenbridge", "title": "Heisenbridge", "default_section": "bridges"},
            {
                "name": "quaternion",
                "title": "Quaternion",
                "default_section": "clients",
                "usual_reporters": [KITSUNE],
            },
            {
                "name": "libquotient",
                "title": "libQuotient",
                "default_section": "sdks",
                "usual_reporters": [KITSUNE],
            },
            {
                "name": "alpha-chat",
                "title": "Alpha Chat",
                "default_section": "clients",
                "usual_reporters": [TWINS],
            },
            {
                "name": "beta-chat",
                "title": "Beta Chat",
                "default_section": "clients",
                "usual_reporters": [TWINS],
            },
            {"name": "weird", "title": "a.b*c (beta) [x]|y", "default_section": "ops"},
            {"name": "nodefault", "title": "Wanderer"},
        ],
        "fallback_section": "todo",
    }
    data.update(overrides)
    return Config.model_validate(data)


CONFIG = make_config()


def auto(text: str, sender: str = NOBODY, history: str | None = None) -> Classification:
    return classify(text, sender, CONFIG, history)


# -- explicit tags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("### Synapse\nWe released 1.99 with faster joins, Nheko works great.", "### Synapse"),
        ("**Nheko**\nThis week Synapse got faster, and so did we.", "**Nheko**"),
        ("Heisenbridge: a new release with Synapse and Nheko fixes", "Heisenbridge:"),
        ("### synapse\nlower case tag", "### synapse"),
    ],
)
def test_explicit_tag_on_first_line_wins(text: str, shown: str) -> None:
    got = auto(text)
    assert got.project_reason == f'tagged "{shown}" on the first line'
    assert got.project == shown.strip("#*: ").lower()


def test_tag_for_unknown_name_is_not_a_tag() -> None:
    got = auto("### Matrix User Meetup\nMeet other Matrix users at the meetup.")
    assert got.project is None
    assert got.section == "talks"


# -- mentions ----------------------------------------------------------------------------------


def test_two_projects_named_the_prominent_one_wins() -> None:
    got = auto(
        "Synapse 1.99 is out with faster room joins.\n\n"
        "Thanks to the Nheko developers for testing it."
    )
    assert got.project == "synapse"
    assert got.section == "servers"
    assert got.project_reason == 'named "Synapse" (first line)'
    assert got.section_reason == "default section of project Synapse"


def test_two_projects_named_alike_is_a_tie() -> None:
    got = auto("This week Nheko and FluffyChat both got thread support, so did others.")
    assert got.project is None
    assert got.project_reason.startswith("tie between")
    assert "Nheko" in got.project_reason and "FluffyChat" in got.project_reason
    # both are clients: the shared section is a fair guess
    assert got.section == "clients"


def test_reason_counts_mentions_and_places() -> None:
    got = auto("**Nheko** has news.\n\nNheko now does X. Nheko also does Y.")
    assert got.project == "nheko"
    assert got.project_reason == 'tagged "**Nheko**" on the first line'
    got = auto("Big news from us: **Nheko** 1.0!\n\nNheko now does X. Nheko also does Y.")
    assert got.project_reason == 'named "Nheko" 3× (first line, bold)'


def test_project_named_only_in_a_link_to_its_website() -> None:
    got = auto("We released a new version, see [the release notes](https://fluffychat.im/blog/1.0)")
    assert got.project == "fluffychat"
    assert "website" in got.project_reason


def test_project_named_only_in_a_url_path() -> None:
    got = auto("New release, with IRC fixes: https://github.com/hifi/heisenbridge/releases/v1.15")
    assert got.project == "heisenbridge"
    assert got.project_reason == 'links to "heisenbridge"'


def test_website_match_is_not_fooled_by_prefixes() -> None:
    # github.com/element-hq/synapse-admin is not the website github.com/element-hq/synapse
    got = auto("Nice tool: https://github.com/element-hq/synapse-admin/ for everyone")
    assert got.project is None


def test_names_inside_domains_ids_and_words_are_not_mentions() -> None:
    got = auto(
        "We moved our docs to nheko.im, our room is #chat:nheko.org, ping @nheko:example.org;"
        " also synapsefoo and fooSynapse are not names."
    )
    assert got.project is None
    assert got.project_reason == "no project named"


def test_longest_name_wins_where_names_overlap() -> None:
    assert auto("I updated nheko-krunner to the latest nheko D-Bus API.").project == (
        "nheko-krunner"
    )
    assert auto("Element X Android now has a new room list!").project == "element-x-android"
    assert auto("Element Web got a new settings dialog this week.").project == "element-web"


def test_partial_title_extending_another_title_is_not_that_title() -> None:
    # "Element X" is not "Element": it is Element X iOS or Element X Android, so a tie
    got = auto("Element X got faster this week, the room list loads instantly.")
    assert got.project is None
    assert "Element X iOS" in got.project_reason and "Element X Android" in got.project_reason
    # ... which the sender's habits resolve
    assert auto("Element X got faster this week.", sender=BENOIT).project == "element-x-android"


def test_hyphen_and_space_spellings_of_a_name_match() -> None:
    for text in ("The Matrix Rust SDK has a new timeline API", "matrix_rust_sdk bindings"):
        assert auto(text).project == "matrix-rust-sdk", text


def test_plural_of_a_name_matches() -> None:
    assert auto("Heisenbridges everywhere: we run three of them now").project == "heisenbridge"


# -- common words, odd names, Unicode ----------------------------------------------------------


def test_common_word_in_lowercase_is_not_the_project() -> None:
    got = auto("At the moment we are rewriting the settings; for a moment it was broken.")
    assert got.project is None
    assert auto("Moment 0.8 is out with a new theme.").project == "moment"


def test_common_word_lowercase_still_supports_the_senders_project() -> None:
    got = auto("new nheko release with bug fixes", sender=NICO)
    assert got.project == "nheko"


@pytest.mark.parametrize(
    ("text", "project"),
    [
        ("C++ bindings got a new release this week.", "cplusplus"),
        ("We wrote it in C++20 and it is fast.", "cplusplus"),
        ("< polycule > got a new icon and themes!", "polycule"),
        ("<polycule> got a new icon and themes!", "polycule"),
        ("The a.b*c (beta) [x]|y project reached 1.0!", "weird"),
    ],
)
def test_names_with_regex_metacharacters(text: str, project: str) -> None:
    assert auto(text).project == project


def test_text_full_of_regex_metacharacters_is_harmless() -> None:
    got = auto(r"(.*)+[^]\\ $1 (?P<x>) {2,} | ** __ ### : [a](<) ![b](c) ** unbalanced")
    assert got.project is None


def test_unicode_names_case_insensitive_and_normalised() -> None:
    assert auto("MJÖLNIR 1.0 is out with new protections.").project == "mjolnir"
    decomposed = unicodedata.normalize("NFD", "Mjölnir 1.0 is out with new protections.")
    assert decomposed != "Mjölnir 1.0 is out with new protections."
    assert auto(decomposed).project == "mjolnir"
    assert auto("mjolnir 1.0 is out").project == "mjolnir"  # the name without the umlaut


def test_short_acronym_names_match_case() -> None:
    config = make_config(
        projects=[{"name": "MAS", "title": "Matrix Authentication Service"}],
    )
    assert classify("MAS 0.9 ships OIDC login", NOBODY, config).project == "MAS"
    assert classify("mas o menos, as they say", NOBODY, config).project is None
    assert classify("The Matrix Authentication Service got faster", NOBODY, config).project == (
        "MAS"
    )


# -- the sender: history and usual reporters ---------------------------------------------------


def test_usual_reporter_text_names_nothing_is_not_their_project() -> None:
    # people name what they report on: a text that names nothing is news of something else,
    # but the department of the sender's project is still the best guess for the section
    text = "A new release with lots of bug fixes and a faster startup."
    got = auto(text, sender=NICO)
    assert got.project is None
    assert got.project_reason == f"{NICO} usually reports for Nheko, but the text does not name it"
    # the learned words decide where they speak (measured on real posts: they were right
    # more often than the department of the sender's projects); where nothing else speaks,
    # that department is the last guess before the fallback
    got = Classifier(CONFIG, section_model=None, reporters=None).classify(text, NICO)
    assert got.section == "clients"
    assert got.section_reason == f"the projects {NICO} reports for are all in Dept of Clients 📱"


def test_usual_reporter_naming_their_project_in_passing() -> None:
    got = auto("A new release with bug fixes, and nheko starts faster.", sender=NICO)
    assert got.project == "nheko"
    assert got.project_reason.startswith(f"{NICO} usually reports for Nheko")


def test_usual_reporter_posting_about_something_else() -> None:
    got = auto("Synapse now has a new admin API, and it is faster too.", sender=NICO)
    assert got.project == "synapse"


def test_reporters_projects_told_apart_by_a_distinguishing_word() -> None:
    got = auto("We improved notifications in the desktop app and fixed bugs.", sender=DANI)
    assert got.project == "element-web"
    assert '"desktop"' in got.project_reason


def test_reporters_projects_newest_variant_when_no_variant_is_named() -> None:
    # Element Android and Element X Android: without past entries' words to tell them apart,
    # the family's newest (last-listed) variant
    classifier = Classifier(CONFIG, project_model=None)
    got = classifier.classify("The new app layout is out, we are watching the feedback.", BENOIT)
    assert got.project == "element-x-android"
    assert "names no variant" in got.project_reason


def _variant_words() -> SectionModel:
    """Learned project words: past entries of one family's projects."""
    return SectionModel.train(
        [
            ("element", "Threads beta: join our community testing session"),
            ("element", "Community testing of threads continues"),
            ("element-web", "More cypress tests, and the desktop build is faster"),
            ("element-web", "Cypress now covers the desktop settings"),
            ("element-android", "The new app layout is in labs, thanks for the feedback"),
            ("element-android", "A layout testing session, and more in labs"),
            ("element-x-android", "The rust sdk now powers the room list"),
            ("element-x-android", "Sliding sync and the rust sdk timeline"),
        ]
    )


def test_reporters_variants_told_apart_by_their_past_entries_words() -> None:
    classifier = Classifier(
        CONFIG, section_model=None, reporters=None, project_model=_variant_words()
    )
    got = classifier.classify("Our layout work continues in labs.", BENOIT)
    assert got.project == "element-android"
    assert got.project_reason == (
        f'{BENOIT} usually reports for Element Android (words "labs", "layout" are typical of'
        " its past entries)"
    )
    got = classifier.classify("The rust sdk migration continues.", BENOIT)
    assert got.project == "element-x-android"
    # words none of the variants' past entries had: the newest, as without them
    got = classifier.classify("We fixed some crashes this week.", BENOIT)
    assert got.project == "element-x-android"
    assert "names no variant" in got.project_reason
    # a variant the words do not know (no past entries) is never chosen by them
    model = SectionModel.train([("element-x-android", "rust sdk")] * 2)
    alone = Classifier(CONFIG, section_model=None, reporters=None, project_model=model)
    got = alone.classify("Our layout work continues in labs.", BENOIT)
    assert "names no variant" in got.project_reason


def test_a_named_family_root_is_the_senders_variant_its_words_say() -> None:
    # "Element" begins "Element Web/Desktop" and "Element Android", which DANI reports for
    classifier = Classifier(
        CONFIG, section_model=None, reporters=None, project_model=_variant_words()
    )
    text = "Element now has more cypress tests."
    got = classifier.classify(text, DANI)
    assert got.project == "element-web"
    assert got.project_reason == (
        'named "Element" (first line); Element Web/Desktop (words "cypress" are typical of its'
        " past entries)"
    )
    # named in passing, by one of its usual reporters
    got = classifier.classify(
        "Our cypress tests grew this week.\nThey now cover more of Element.", DANI
    )
    assert got.project == "element-web"
    assert got.project_reason.startswith(f"{DANI} usually reports for Element Web/Desktop (words")
    # the same name from someone who reports for no Element app, or without the words
    assert classifier.classify(text, NOBODY).project == "element"
    plain = Classifier(CONFIG, section_model=None, reporters=None, project_model=None)
    assert plain.classify(text, DANI).project == "element"
    # a variant named in full stays named ("Element Android" does not begin "Element X …")
    got = classifier.classify("Element Android: the rust sdk work continues.", BENOIT)
    assert got.project == "element-android"


def test_shipped_project_words_tell_a_2022_element_android_entry() -> None:
    # In 2022 the Element Android team's news was of the app now called Element Android
    # (the new app layout, in labs), not of Element X Android, the family's newest
    got = auto("The new app layout is out, we are watching the feedback.", sender=BENOIT)
    assert got.project == "element-android"
    assert "typical of its past entries" in got.project_reason


def test_stale_usual_reporter_of_an_unnamed_project_follows_the_learned_habit() -> None:
    # NICO is configured for Nheko, but most of their past entries were FluffyChat news
    counts = ReporterCounts.count([(NICO, "fluffychat", "clients")] * 4 + [(NICO, None, "spec")])
    text = "We fixed a crash when scrolling the timeline."
    got = Classifier(CONFIG, section_model=None, reporters=counts).classify(text, NICO)
    assert (got.project, got.section) == ("fluffychat", "clients")
    assert got.project_reason == f"{NICO} usually reported FluffyChat news (4 of 5 past entries)"
    # without the habit: the configured project is not named, so no project
    got = Classifier(CONFIG, section_model=None, reporters=None).classify(text, NICO)
    assert got.project is None
    assert got.project_reason.endswith("but the text does not name it")


def test_usual_reporter_who_nearly_always_posted_their_project_needs_not_name_it() -> None:
    text = "We fixed a crash when scrolling the timeline."
    nearly_all = ReporterCounts.count([(NICO, "nheko", "clients")] * 5)
    got = Classifier(CONFIG, section_model=None, reporters=nearly_all).classify(text, NICO)
    assert got.project == "nheko"
    assert got.project_reason == f"{NICO} usually reported Nheko news (5 of 5 past entries)"
    # a habit, but not nearly all of their entries: the unnamed project is not assumed
    most = ReporterCounts.count([(NICO, "nheko", "clients")] * 3 + [(NICO, None, "spec")] * 2)
    got = Classifier(CONFIG, section_model=None, reporters=most).classify(text, NICO)
    assert got.project is None
    assert got.project_reason.endswith("but the text does not name it")


def test_past_entries_spread_over_one_family_choose_by_its_words() -> None:
    family = "@family:example.org"  # in no usual_reporters list
    past = [
        *[(family, "element-web", "clients")] * 3,
        *[(family, "element-android", "clients")] * 2,
        (family, "element", "clients"),
        (family, None, "talks"),
    ]
    counts = ReporterCounts.count(past)
    text = "Cypress covers more of the desktop app now."
    got = Classifier(
        CONFIG, section_model=None, reporters=counts, project_model=_variant_words()
    ).classify(text, family)
    assert got.project == "element-web"
    assert got.project_reason.startswith(
        f"{family} usually reported Element, Element Web/Desktop, Element Android news (words"
    )
    # without the learned project words nothing tells the family's projects apart
    got = Classifier(CONFIG, section_model=None, reporters=counts, project_model=None).classify(
        text, family
    )
    assert got.project is None
    # past entries spread over unrelated projects are no family
    spread = ReporterCounts.count(
        [(family, "nheko", "clients")] * 3 + [(family, "fluffychat", "clients")] * 3
    )
    model = SectionModel.train(
        [("nheko", "desktop cypress"), ("nheko", "desktop cypress"), ("fluffychat", "mobile")] * 2
    )
    got = Classifier(CONFIG, section_model=None, reporters=spread, project_model=model).classify(
        text, family
    )
    assert got.project is None


def test_reporters_projects_plain_variant_when_named_so() -> None:
    got = auto("Element Android: the new app layout is out.", sender=BENOIT)
    assert got.project == "element-android"


def test_reporters_projects_undecided_means_no_project_but_shared_section() -> None:
    text = "We shipped a big redesign, thanks to all testers!"
    got = auto(text, sender=TWINS)
    assert got.project is None
    assert "several projects" in got.project_reason
    assert got.section == "clients"
    # without learned words (which here agree) the shared section alone decides
    got = Classifier(CONFIG, section_model=None, reporters=None).classify(text, TWINS)
    assert (got.project, got.section) == (None, "clients")
    assert "are all in Dept of Clients" in got.section_reason


def test_reporters_projects_undecided_in_different_sections_fall_back() -> None:
    text = "A new beta is out, thanks to all testers!"
    assert auto(text, sender=KITSUNE).project is None
    # no rule decides the section: without learned data it is the fallback
    got = Classifier(CONFIG, section_model=None, reporters=None).classify(text, KITSUNE)
    assert (got.project, got.section) == (None, "todo")


def test_name_opening_the_text_is_its_subject() -> None:
    got = auto("Quaternion 0.0.96 is out, built with libQuotient 0.8.", sender=KITSUNE)
    assert got.project == "quaternion"


def test_section_reporter_posting_without_project_name_goes_to_their_section() -> None:
    # Braid reports for polycule and for talks: a talk is not polycule news
    got = auto("I'll be at the Matrix Conference next week, come say hi!", sender=BRAID)
    assert got.project is None
    assert got.section == "talks"
    assert got.section_reason.startswith(f"{BRAID} usually reports for Dept of Events and Talks")
    got = auto("polycule 0.3 adds threads and a new settings page.", sender=BRAID)
    assert got.project == "polycule"
    assert got.section == "clients"


def test_clear_hints_override_the_senders_usual_section() -> None:
    text = "Spec news: MSC1234, MSC2345 and MSC3456 were merged into the spec this week."
    got = auto(text, sender=BRAID)
    assert got.project is None
    assert got.section == "spec"
    # a hint or two is not enough against the sender's habit
    assert auto("A spec talk at the meetup.", sender=BRAID).section == "talks"


def test_section_reporter_naming_others_in_passing_is_not_project_news() -> None:
    got = auto("Here's your weekly spec update! Synapse implemented MSC3916.", sender=SPEC_ANDREW)
    assert got.project is None
    assert got.section == "spec"


def test_clear_section_hints_drop_a_sender_based_guess() -> None:
    got = auto("We are looking for help with the bridge: puppeting breaks a lot.", sender=ERIK)
    assert got.project is None
    assert "does not name it" in got.project_reason
    assert got.section == "bridges"


def test_editor_history_beats_usual_reporters() -> None:
    got = auto("A release with bug fixes.", sender=NICO, history="fluffychat")
    assert got.project == "fluffychat"
    assert got.project_reason == "editor assigned FluffyChat to this sender before"
    assert got.section == "clients"


def test_clear_mention_beats_editor_history() -> None:
    got = auto("Synapse 1.99 is out!", sender=NICO, history="fluffychat")
    assert got.project == "synapse"


def test_history_breaks_a_clear_tie_but_does_not_override_it() -> None:
    text = "This week Nheko and FluffyChat both got thread support."
    assert auto(text, history="fluffychat").project == "fluffychat"
    assert auto(text, history="synapse").project is None


def test_unknown_history_project_is_ignored() -> None:
    got = auto("A release with bug fixes.", sender=NICO, history="gone-from-config")
    assert got.project is None
    assert "usually reports for Nheko" in got.project_reason


def test_sender_ids_compare_case_insensitively() -> None:
    got = auto("A release of nheko.", sender=NICO.upper().replace("@NICO", "@Nico"))
    assert got.project == "nheko"
    assert "usually reports for Nheko" in got.project_reason


# -- sections ----------------------------------------------------------------------------------


def test_section_from_hints_without_project() -> None:
    got = auto("Our new bridge does double puppeting for a proprietary network.")
    assert got.project is None
    assert got.section == "bridges"
    assert 'hints "bridge", "puppeting" matched' in got.section_reason


def test_section_reporter_before_hints() -> None:
    got = auto("We reviewed the bridge proposal.", sender=SPEC_ANDREW)
    assert got.section == "spec"


def test_project_without_default_section_uses_section_rules() -> None:
    got = auto("Wanderer 2.0: a bridge for everything")
    assert got.project == "nodefault"
    assert got.section == "bridges"


def test_fallback_section_and_its_reason() -> None:
    got = auto("Hello world, nothing to see here, just some words.")
    assert got.project is None
    assert got.section == "todo"
    assert got.section_reason == "fallback: no rule matched"
    config = make_config(fallback_section="unsorted-things")
    got = classify("Hello world, nothing to see here.", NOBODY, config)
    assert got.section == "unsorted-things"
    assert got.section_reason.startswith("fallback")
    assert resolve(got, config, None, None).unsorted


def test_default_hints_apply_only_to_sections_without_hints() -> None:
    sections = [
        {"name": "spec", "title": "Dept of Spec"},
        {"name": "bridges", "title": "Dept of Bridges", "hints": []},
    ]
    config = make_config(sections=sections, projects=[])
    text = "This week's MSCs: MSC1234 and MSC2345 were merged, and a bridge bridges bridges."
    got = classify(text, NOBODY, config)
    assert got.section == "spec"
    assert "MSC" in got.section_reason
    bare = Classifier(config, default_hints=False, section_model=None)
    assert bare.classify(text, NOBODY).section == "todo"


# -- determinism and compilation ---------------------------------------------------------------


def test_classifier_is_compiled_once_per_config() -> None:
    assert classifier_for(CONFIG) is classifier_for(CONFIG)
    other = make_config()
    assert classifier_for(other) is not classifier_for(CONFIG)


def test_same_input_same_output() -> None:
    text = (
        "Element X got faster; Nheko and FluffyChat too. Synapse also. [x](https://fluffychat.im)"
    )
    results = {auto(text, sender=DANI) for _ in range(3)}
    assert len(results) == 1


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300), sender=st.sampled_from([NOBODY, NICO, DANI, BRAID]))
def test_any_text_classifies_into_a_known_section(text: str, sender: str) -> None:
    got = auto(text, sender=sender)
    assert got.section in {s.name for s in CONFIG.sections} | {CONFIG.fallback_section}
    assert got.project is None or CONFIG.project(got.project) is not None
    assert got.project_reason and got.section_reason


_NAME_ALPHABET = st.sampled_from(list("abcXYZé1 .+*?()[]{}|^$\\<>&'-"))


@settings(max_examples=150, deadline=None)
@given(title=st.text(_NAME_ALPHABET, min_size=2, max_size=20))
def test_any_configured_name_is_safe_and_taggable(title: str) -> None:
    title = " ".join(title.split())
    if len(title) < 2 or not any(ch.isalnum() for ch in title):
        return
    config = make_config(projects=[{"name": "p", "title": title, "default_section": "ops"}])
    got = classify(f"### {title}\nSome news about it.", NOBODY, config)
    assert got.project == "p", got.project_reason
    classify(f"Plain text that mentions {title} somewhere (or not).", NOBODY, config)


# -- editors over automation (SPEC §6) ---------------------------------------------------------

AUTO_SYNAPSE = Classification("synapse", 'named "Synapse"', "servers", "default section")
AUTO_NONE = Classification(None, "no project named", "todo", "fallback: no rule matched")
AUTO_NODEFAULT = Classification("nodefault", 'named "Wanderer"', "bridges", 'hint "bridge"')


def test_resolve_without_editors_is_the_automatic_choice() -> None:
    got = resolve(AUTO_SYNAPSE, CONFIG, None, None)
    assert (got.project.name, got.project.source, got.project.reason) == (
        "synapse",
        Source.AUTO,
        'named "Synapse"',
    )
    assert (got.section.name, got.section.source) == ("servers", Source.AUTO)
    assert not got.unsorted
    assert resolve(AUTO_NONE, CONFIG, None, None).unsorted


def test_resolve_editor_project_brings_its_default_section() -> None:
    got = resolve(AUTO_SYNAPSE, CONFIG, "nheko", None)
    assert (got.project.name, got.project.source) == ("nheko", Source.EDITOR)
    assert got.project.reason == "set by an editor"
    assert (got.section.name, got.section.source) == ("clients", Source.EDITOR)
    assert "Nheko" in got.section.reason


def test_resolve_editor_section_wins_over_editor_projects_default() -> None:
    got = resolve(AUTO_SYNAPSE, CONFIG, "nheko", "talks")
    assert (got.project.name, got.project.source) == ("nheko", Source.EDITOR)
    assert (got.section.name, got.section.source) == ("talks", Source.EDITOR)


def test_resolve_editor_section_drops_auto_project_of_another_section() -> None:
    got = resolve(AUTO_SYNAPSE, CONFIG, None, "clients")
    assert got.project.name is None
    assert got.project.source == Source.AUTO
    assert "dropped" in got.project.reason
    assert (got.section.name, got.section.source) == ("clients", Source.EDITOR)


def test_resolve_editor_section_keeps_auto_project_of_that_section() -> None:
    got = resolve(AUTO_SYNAPSE, CONFIG, None, "servers")
    assert (got.project.name, got.project.source) == ("synapse", Source.AUTO)
    assert (got.section.name, got.section.source) == ("servers", Source.EDITOR)


def test_resolve_editor_section_keeps_auto_project_without_default() -> None:
    got = resolve(AUTO_NODEFAULT, CONFIG, None, "clients")
    assert got.project.name == "nodefault"


def test_resolve_editor_section_keeps_editor_project_of_another_section() -> None:
    got = resolve(AUTO_NONE, CONFIG, "synapse", "clients")
    assert (got.project.name, got.project.source) == ("synapse", Source.EDITOR)
    assert (got.section.name, got.section.source) == ("clients", Source.EDITOR)
    assert not got.unsorted


def test_resolve_editor_cleared_project() -> None:
    got = resolve(AUTO_SYNAPSE, CONFIG, None, None, editor_project_cleared=True)
    assert (got.project.name, got.project.source) == (None, Source.EDITOR)
    assert (got.section.name, got.section.source) == ("servers", Source.AUTO)
    # an explicit "no project" also beats a project reaction still standing
    got = resolve(AUTO_SYNAPSE, CONFIG, "nheko", None, editor_project_cleared=True)
    assert got.project.name is None
    assert got.section.name == "servers"


def test_resolve_editor_project_unknown_or_without_default_keeps_auto_section() -> None:
    got = resolve(AUTO_SYNAPSE, CONFIG, "not-in-config", None)
    assert got.project.name == "not-in-config"
    assert (got.section.name, got.section.source) == ("servers", Source.AUTO)
    got = resolve(AUTO_SYNAPSE, CONFIG, "nodefault", None)
    assert (got.section.name, got.section.source) == ("servers", Source.AUTO)


def test_resolve_removed_editor_choice_falls_back_to_auto() -> None:
    with_editor = resolve(AUTO_SYNAPSE, CONFIG, "nheko", "talks")
    assert with_editor.section.source == Source.EDITOR
    removed = resolve(AUTO_SYNAPSE, CONFIG, None, None)
    assert removed == resolve(AUTO_SYNAPSE, CONFIG, None, None)
    assert (removed.project.name, removed.section.name) == ("synapse", "servers")


def test_resolve_editor_section_makes_fallback_entry_sorted() -> None:
    got = resolve(AUTO_NONE, CONFIG, None, "todo")
    assert got.section.source == Source.EDITOR
    assert not got.unsorted


# -- lookups -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("synapse", "synapse"),
        ("Synapse", "synapse"),
        ("SYNAPSE", "synapse"),
        ("Synapse ?", "synapse"),
        ("element web", "element-web"),
        ("Element Web/Desktop", "element-web"),
        ("Emt Web", "element-web"),
        ("emt web ?", "element-web"),
        ("< polycule >", "polycule"),
        ("mjölnir", "mjolnir"),
        ("C++", "cplusplus"),
    ],
)
def test_find_project(query: str, name: str) -> None:
    found = find_project(query, CONFIG)
    assert found is not None and found.name == name


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("spec", "spec"),
        ("SPEC", "spec"),
        ("Dept of Spec 📜", "spec"),
        ("dept of spec", "spec"),
        ("📜", "spec"),
        ("🛠", "ops"),
        ("🛠️", "ops"),
        ("🗣", "talks"),
    ],
)
def test_find_section(query: str, name: str) -> None:
    found = find_section(query, CONFIG)
    assert found is not None and found.name == name


def test_find_nothing() -> None:
    assert find_project("nonexistent", CONFIG) is None
    assert find_section("synapse", CONFIG) is None
    assert find_project("", CONFIG) is None
    assert find_section("   ", CONFIG) is None


def test_match_name_finds_either() -> None:
    assert isinstance(match_name("Nheko", CONFIG), Project)
    assert isinstance(match_name("bridges", CONFIG), Section)
    assert match_name("nothing-like-this", CONFIG) is None


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("Synapse", "synapse"),
        ("Synapse ?", "synapse"),
        ("synapse?", "synapse"),
        ("Emt Web ?", "element-web"),
        ("📱", "clients"),
        ("🛠️", "ops"),
        ("🛠", "ops"),
        ("🛠 ?", "ops"),
        ("< polycule >", "polycule"),
    ],
)
def test_reaction_target(key: str, name: str) -> None:
    found = reaction_target(key, CONFIG)
    assert found is not None and found.name == name


def test_reaction_target_is_emoji_only() -> None:
    assert reaction_target("servers", CONFIG) is None  # a name, not an emoji
    assert reaction_target("Element", CONFIG) is None  # the title; its emoji is "Emt Client"
    assert reaction_target("👍", CONFIG) is None
    assert reaction_target("", CONFIG) is None


def test_notice_emoji_with_and_without_variation_selector() -> None:
    for config in (make_config(), make_config(notice_emoji="⭕️")):
        assert is_notice_key("⭕", config)
        assert is_notice_key("⭕️", config)
        assert not is_notice_key("✅", config)
        assert reaction_target("⭕️", config) is None


# -- the real TWIM config and post -------------------------------------------------------------


def _bench() -> ModuleType:
    path = BENCH / "classify_accuracy.py"
    spec = importlib.util.spec_from_file_location("classify_accuracy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


@pytest.fixture(scope="module")
def twim_config(bench: ModuleType) -> Config:
    config: Config = bench.load_hebbot_toml(bench.TWIM_CONFIG)
    return config


@pytest.fixture(scope="module")
def set_score(bench: ModuleType, twim_config: Config) -> Callable[..., Any]:
    """A label set's score in a history and sender mode, classified once per test module:
    the floors and the editor-history test both need every set in auto mode."""

    @cache  # keyed by the arguments as given: always pass all three
    def score(name: str, history: str, senders: str) -> Any:
        if name == "reference":
            files = [BENCH / "data" / "twim-2022-10-28.json"]
        else:
            files = bench.label_sets()[name]
        labels = [e for f in files for e in json.loads(f.read_text(encoding="utf-8"))]
        return bench.evaluate(bench.with_senders(labels, senders), twim_config, history)

    return score


def test_real_twim_config_loads(twim_config: Config) -> None:
    assert len(twim_config.sections) == 33
    assert len(twim_config.projects) == 132
    classifier = Classifier(twim_config)
    got = classifier.classify("< polycule > 0.3 is out", "@someone:example.org")
    assert got.project == "polycule"
    found = reaction_target("Emt Android ?", twim_config)
    assert found is not None and found.name == "element-android"
    assert is_notice_key("⭕", twim_config)


# Accuracy floors, in auto mode (no editor input), as measured when the rules last changed
# (docs/classification.md has the figures and how they were obtained). They guard against
# regressions; they are not estimates: the dev set was looked at while the rules were
# designed, and every set but blind7 and blind8 (each measured once, at the end of the round
# that set it aside) is the training set the learned words and reporters are counted on, so
# their figures are in-sample (the honest figure for them is the leave-one-post-out test
# below). Lower a floor only on purpose, and say why in the commit. Each row: set, scored
# entries, right project, right section. The same floors hold with every sender posted as
# @<localpart>:localhost (an outside replay through a local Synapse): senders are matched by
# localpart when no id matches exactly. Lowered on purpose by one or two entries in blind4,
# blind7 and blind11 and by four sections in train10 when the learned words began to count
# the places a text links to: in-sample, the 4,053 entries gained 1 / 3; the honest figures
# gained 0 / 10 leaving one post out and 0 / 11 forward from 2022.
FLOORS = [
    # 2022: its Element Android/iOS entries name no variant; the learned project words tell
    ("reference", 19, 19, 19),
    ("dev", 330, 312, 307),  # in-sample (training set)
    ("heldout", 54, 50, 52),  # in-sample since it joined the training set
    ("blind2", 98, 85, 92),  # in-sample since it joined the training set
    ("blind3", 72, 66, 67),  # in-sample since it joined the training set
    ("blind4", 87, 77, 82),  # in-sample since it joined the training set (blind: 75 / 70)
    ("train5", 396, 362, 371),  # in-sample: 32 posts added to the training set unseen
    ("blind5", 112, 103, 104),  # in-sample since it joined the training set (blind: 99 / 96)
    ("train6", 367, 335, 343),  # in-sample: 30 posts added to the training set unseen
    ("blind6", 138, 125, 127),  # in-sample since it joined the training set (blind: 122 / 117)
    ("train7", 371, 336, 345),  # in-sample: 30 posts added unseen
    ("train8", 347, 323, 339),  # in-sample: 20 posts of 2022 added unseen (first look 279 / 297)
    ("blind7", 184, 164, 166),  # in-sample since it joined the training set (blind: 155 / 153)
    ("blind8", 177, 159, 165),  # in-sample since it joined the training set (blind: 137 / 148)
    ("train9", 248, 228, 239),  # in-sample: 17 posts added unseen (first look 202 / 224)
    ("blind9", 290, 262, 274),  # in-sample since it joined the training set (blind: 242 / 248)
    # in-sample since it joined the training set (blind, 2021: 163 / 152)
    ("blind10", 207, 170, 187),
    ("train10", 396, 324, 357),  # in-sample: 26 posts of 2021 added unseen (first look 310 / 304)
    # in-sample since it joined the training set (blind, 2021: 149 / 144)
    ("blind11", 179, 158, 164),
]


@pytest.mark.parametrize("senders", ["as-posted", "localhost"])
@pytest.mark.parametrize(("name", "total", "project_floor", "section_floor"), FLOORS)
def test_accuracy_floor(
    set_score: Callable[..., Any],
    name: str,
    total: int,
    project_floor: int,
    section_floor: int,
    senders: str,
) -> None:
    score = set_score(name, "none", senders)
    assert score.total == total
    assert score.project_ok >= project_floor, score
    assert score.section_ok >= section_floor, score


def test_a_named_project_the_sender_never_posted_is_not_theirs() -> None:
    # someone whose past entries were news without a project names Synapse clearly: their
    # entry is about it, but not published under it; its department stays the entry's
    foundation = "@foundation:example.org"
    known = SectionModel.train([("synapse", "Synapse release with faster joins")] * 3)
    news = ReporterCounts.count([(foundation, None, "spec")] * 4)
    text = "Synapse 1.99 is out, with faster joins for everyone."
    got = Classifier(CONFIG, reporters=news, project_model=known).classify(text, foundation)
    assert (got.project, got.section) == (None, "servers"), got
    assert got.project_reason == (
        'named "Synapse" (first line), but @foundation:example.org posted it in none of 4'
        " past entries (4 of them under no project)"
    )
    assert got.section_reason == "default section of Synapse, which the text names"
    # but: a sender whose past entries were mostly some project's news,
    mostly = ReporterCounts.count(
        [(foundation, "nheko", "clients")] * 3 + [(foundation, None, "spec")]
    )
    got = Classifier(CONFIG, reporters=mostly, project_model=known).classify(text, foundation)
    assert got.project == "synapse"
    # a sender known too little,
    little = ReporterCounts.count([(foundation, None, "spec")] * 2)
    got = Classifier(CONFIG, reporters=little, project_model=known).classify(text, foundation)
    assert got.project == "synapse"
    # a project nobody's entries were published under yet,
    unknown = SectionModel.train([("synapse", "Synapse release")] * 2 + [("nheko", "x y")] * 2)
    got = Classifier(CONFIG, reporters=news, project_model=unknown).classify(text, foundation)
    assert got.project == "synapse"
    # and an editor's choice for the sender keep the project
    got = Classifier(CONFIG, reporters=news, project_model=known).classify(
        text, foundation, "synapse"
    )
    assert got.project == "synapse"


def test_editor_history_is_no_habit_for_a_project_the_sender_rarely_posts() -> None:
    # someone whose many past entries were mostly news without a project (a project lead's
    # weekly notes), once assigned FluffyChat by an editor: their next note is not FluffyChat's
    lead = "@lead:example.org"
    text = "We shipped a big redesign, thanks to all testers!"
    known = ReporterCounts.count([(lead, None, "spec")] * 11 + [(lead, "fluffychat", "clients")])
    got = Classifier(CONFIG, reporters=known).classify(text, lead, "fluffychat")
    assert got.project is None, got
    # a name in the text still counts, and so does the choice for a sender known too little
    got = Classifier(CONFIG, reporters=known).classify("FluffyChat: " + text, lead, "fluffychat")
    assert got.project == "fluffychat"
    few = ReporterCounts.count([(lead, None, "spec")] * 3 + [(lead, "fluffychat", "clients")])
    got = Classifier(CONFIG, reporters=few).classify(text, lead, "fluffychat")
    assert got.project == "fluffychat"
    assert got.project_reason == "editor assigned FluffyChat to this sender before"


def test_editor_history_among_one_familys_projects_follows_their_words() -> None:
    # BENOIT reports for Element Android and Element X Android; an editor assigned the old
    # app last week, and this week's text has the new app's words
    classifier = Classifier(
        CONFIG, section_model=None, reporters=None, project_model=_variant_words()
    )
    got = classifier.classify("The rust sdk migration continues.", BENOIT, "element-android")
    assert got.project == "element-x-android"
    assert got.project_reason.startswith(
        "editor assigned Element Android to this sender before; Element X Android (words"
    )
    got = classifier.classify("We fixed some crashes this week.", BENOIT, "element-android")
    assert got.project == "element-android"


def test_editor_history_never_lowers_accuracy(
    bench: ModuleType, set_score: Callable[..., Any]
) -> None:
    # an editor's earlier choices for a sender (the sequential replay) help overall. The
    # section alone may lose an entry or two where an editor's earlier project does not apply
    # to the next entry, which names it in passing: a Matrix Dart SDK demo under Interesting
    # Projects, the project lead's Status notes after an Element entry (blind8), an Element
    # Call developer's other project. The project may lose a few: a maubot plugin author's
    # other plugin; in 2021's blind10 (-4) project authors' Status news and final thoughts
    # after an entry of their project, from senders the learned reporters barely know.
    # Summed over the sets, history gains (+13 projects when last measured, sections -2).
    auto_total = history_total = 0
    for name in bench.label_sets():
        auto_mode = set_score(name, "none", "as-posted")
        with_history = set_score(name, "sequential", "as-posted")
        assert with_history.project_ok >= auto_mode.project_ok - 4
        assert with_history.both_ok >= auto_mode.both_ok - 1
        assert with_history.section_ok >= auto_mode.section_ok - 2
        auto_total += auto_mode.project_ok + auto_mode.section_ok
        history_total += with_history.project_ok + with_history.section_ok
    assert history_total > auto_total


def test_reference_labels_match_the_post(bench: ModuleType, twim_config: Config) -> None:
    post = Path(__file__).resolve().parent / "data" / "reference" / "twim-2022-10-28.md"
    built = bench.parse_post(post.read_text(encoding="utf-8"), twim_config, post.name)
    stored = json.loads((BENCH / "data" / "twim-2022-10-28.json").read_text(encoding="utf-8"))
    assert built == stored


# -- tricky real cases, on the real TWIM config (excerpts of published posts) -----------------

AINE = "@aine:etke.cc"
STATS_TEXT = (
    "collected by [MatrixRooms.info](https://matrixrooms.info/) - an "
    "[MRS](https://github.com/etkecc/mrs) instance by [etke.cc](https://etke.cc)\n\n"
    "As of today, `11103` Matrix federateable servers have been discovered."
)


@pytest.mark.parametrize(
    ("text", "sender", "project", "section"),
    [
        # the weekly federation stats name two of the sender's projects alike: stats, no project
        (STATS_TEXT, AINE, None, "stats"),
        # a name that a hyphenated word extends is another thing (Synapse-Admin is not Synapse)
        (
            "### Synapse-Admin Updates\n\nA while back we announced our Synapse-Admin fork, "
            "and now **Login with Access Token** is here in [etke.cc](https://etke.cc)'s fork.",
            AINE,
            "etke",
            "services",
        ),
        # "Hookshot" is matrix-hookshot without its generic "matrix-" prefix
        (
            "We shipped a new guide on how to be a developer on Hookshot. Hookshot will now "
            "ping the homeserver; Synapse v1.132.0 will also support immediate recovery.",
            "@Half-Shot:half-shot.uk",
            "matrix-hookshot",
            "bridges",
        ),
        # department news naming a project in passing: "Governing Board elections"
        (
            "Voting for the Governing Board elections begins this weekend! Watch your inbox, "
            "that's where your ballot will be sent. Visit our election center.",
            "@robinriley:matrix.org",
            None,
            "elections",
        ),
        # "the" and a lowercase "watch" do not name "Watch The Matrix"; of the sender's
        # projects, the newest client is what a client team's "App Store build" is
        (
            "This week we decided to take a look at the accessibility audits; it is cool to "
            "watch these tests run on the App Store build.",
            "@douge:matrix.org",
            "element-x-ios",
            "clients",
        ),
        # the talks organiser's conference news names their working group in passing
        (
            "The CfP is open until June 8th! Submit your talk or workshop idea now!\n\n"
            "The Events Working Group is organising the Matrix Conference; join the Events WG!",
            "@kim:sosnowkadub.de",
            None,
            "talks",
        ),
    ],
)
def test_tricky_real_cases(
    twim_config: Config, text: str, sender: str, project: str | None, section: str
) -> None:
    got = Classifier(twim_config).classify(text, sender)
    assert (got.project, got.section) == (project, section), got


def test_a_project_set_aside_is_never_said_to_be_unnamed(twim_config: Config) -> None:
    # the reason tells an editor why a project the text names was not chosen: as the source
    # of the sender's department news, or in passing (it said "does not name it" before)
    classifier = Classifier(twim_config)
    stats = classifier.classify(STATS_TEXT, AINE)
    assert stats.project is None
    assert "does not name it" not in stats.project_reason
    assert "names it only as a source of Matrix Federation Stats 📊 news" in stats.project_reason
    talks = classifier.classify(
        "The CfP is open until June 8th! Submit your talk or workshop idea now!\n\n"
        "The Events Working Group is organising the Matrix Conference; join the Events WG!",
        "@kim:sosnowkadub.de",
    )
    assert talks.project is None
    assert "does not name it" not in talks.project_reason
    assert "the text names it only" in talks.project_reason
    # (a text that names none: test_usual_reporter_text_names_nothing_is_not_their_project)


@pytest.mark.parametrize(
    ("text", "sender", "not_section"),
    [
        # a room link among others is not news of that room's project (Continuwuity, a
        # server). Editors filed it under GSoC (from its author, whose past entries were
        # mostly Continuwuity's, the learned habit now takes it: leaving one post out counts
        # that miss); from a newcomer the weighed clues say Spec
        (
            "My proposal for a Matrix archiver has been accepted for GSoC 2025. Find me in "
            "#libretto:ellis.link, #metabrainz:chatbrainz.org and #continuwuity:continuwuity.org",
            "@newcomer:example.org",
            "servers",
        ),
        # self-hosting is what a project offers, not news of a hosting service. Editors filed
        # it under Clients; the weighed clues say Interesting Projects
        (
            "Grid is a new mobile app for location sharing. Self-Hosting Ready: whether you "
            "prefer our server or self-hosting, the maps can also be self-hosted.",
            "@rezivure:matrix.org",
            "services",
        ),
    ],
)
def test_tricky_real_cases_no_project_and_not_its_department(
    twim_config: Config, text: str, sender: str, not_section: str
) -> None:
    # Two real cases whose section the weighing misses (the editors' choice is in the
    # comments; leave-one-post-out counts such misses): what each guards still holds
    got = Classifier(twim_config).classify(text, sender)
    assert got.project is None, got
    assert got.section != not_section, got
    assert got.section != "todo", got


@pytest.mark.parametrize(
    ("text", "sender", "named"),
    [
        # Status news that names a product in the first line, in passing
        (
            "Super exciting to see the European Commission soft-launch their first official "
            "Matrix Server (<https://mathstodon.xyz/@Pol/115173504011566267>), powered by "
            "Element Server Suite. Watch this space for more info :D",
            "@matthew:matrix.org",
            "Element Server Suite",
        ),
        # the Foundation welcoming a member, linked: not news of that homeserver
        (
            "This week we're announcing [Continuwuity](https://continuwuity.org/) as a new "
            "Ecosystem [member](@/foundation/members/index.md) to the Foundation! Continuwuity "
            "is a community driven Rust homeserver focusing on user experience and new "
            "features. Welcome!",
            "@Amandine:matrix.org",
            None,
        ),
    ],
)
def test_a_project_named_in_another_departments_news_is_not_its_subject(
    twim_config: Config, text: str, sender: str, named: str | None
) -> None:
    # the weighed section clues, without any project, read like Status news by far more
    # than ABOUT_LEAD: a project of another department needs ABOUT_PROMINENT to be the
    # subject, and the section follows the text (both real entries, filed under Status)
    got = Classifier(twim_config).classify(text, sender)
    assert got.project is None, got
    assert got.section == "status", got
    if named is not None:
        assert got.project_reason == (
            f'named "{named}" (first line) in passing, but the text reads like'
            " Dept of *Status of Matrix* 🌡️ news"
        )


def test_sections_without_hints_use_their_title(twim_config: Config) -> None:
    # "Dept of Non Chat Clients" has no built-in department words: its title is its hint
    # (the learned section words left out: this invented text is no real entry)
    got = Classifier(twim_config, section_model=None).classify(
        "A new toolbox of non-chat clients for Matrix: whiteboards, calendars and more.",
        "@someone:example.org",
    )
    assert got.section == "non-chat-clients"
    assert '"Non Chat Clients"' in got.section_reason


@pytest.mark.parametrize(
    ("text", "section", "hint"),
    [
        # press coverage and interviews are Matrix in the News, not talks (2021-2025 posts)
        (
            "Some media coverage from the summit: an interview in German IT news <https://x.de>",
            "news",
            '"media coverage"',
        ),
        (
            "I wrote a blog post on how to host the well-known files with Cloudflare Pages.",
            "guides",
            '"how to"',
        ),
    ],
)
def test_department_words_of_press_and_guides(
    twim_config: Config, text: str, section: str, hint: str
) -> None:
    # the built-in department words alone (no learned words, an unknown sender)
    got = Classifier(twim_config, section_model=None).classify(text, "@someone:example.org")
    assert (got.project, got.section) == (None, section), got
    assert hint in got.section_reason


# -- learned section words (twimbot.section_model) ---------------------------------------------

TINY_CORPUS = [
    ("stats", "As of today 9000 federateable servers have been discovered, stats timeline"),
    ("stats", "As of today 9500 federateable servers have been discovered"),
    ("clients", "The new release of the app has a faster room list and a new timeline"),
    ("clients", "This release of our app improves the timeline and the composer"),
    ("spec", "Here's your weekly spec update: new proposals and merged proposals"),
    ("spec", "The weekly spec update: proposals in final comment period"),
]


def test_section_model_learns_words_and_says_which_decided() -> None:
    model = SectionModel.train(TINY_CORPUS)
    guess = model.guess(model_words("Today 11000 federateable servers were discovered"))
    assert guess is not None
    assert guess.section == "stats"
    assert guess.margin > 0
    assert "federateable" in guess.words and "discovered" in guess.words
    assert 'words "' in guess.describe("Matrix Federation Stats")
    # words only one entry used are that entry's, not the section's
    assert "composer" not in model.counts["clients"]
    # nothing it knows: no guess; and it only chooses among the sections it is allowed
    assert model.guess(model_words("zebra quokka")) is None
    limited = model.guess(model_words("federateable servers timeline app"), ["clients", "spec"])
    assert limited is not None and limited.section == "clients"


def test_section_model_round_trips_and_is_deterministic() -> None:
    model = SectionModel.train(TINY_CORPUS)
    again = SectionModel.from_json(json.loads(json.dumps(model.to_json())))
    words = model_words("the app release with a new room list")
    assert again.guess(words) == model.guess(words)
    assert SectionModel.train(list(reversed(TINY_CORPUS))).to_json() == model.to_json()


def test_link_words_are_the_hosts_and_first_path_segments_a_text_links_to() -> None:
    assert link_words(["https://github.com/Element-HQ/element-web/releases"]) == {
        "github.com",
        "github.com/element-hq",
    }
    # the matrix.org blog's site-relative links are matrix.org's; scheme-less www. URLs count
    assert link_words(["@/foundation/working-groups/governance.md", "www.example.org"]) == {
        "matrix.org",
        "matrix.org/foundation",
        "example.org",
    }
    # media ids, hosts without a dot and malformed addresses say nothing
    assert link_words(["mxc://matrix.org/AbCdEf", "http://localhost/x", "https://[::1"]) == set()
    # a text's words and link words, as the classifier and a bot learning from its editions
    # count them alike; a word never has a dot or a slash, so the two never collide
    text = "Hydrogen 0.5 is out: [release notes](https://github.com/element-hq/hydrogen-web)"
    assert text_model_words(text) == Doc.parse(text).model_words
    assert {"hydrogen", "release", "github.com", "github.com/element-hq"} <= text_model_words(text)
    assert not any("." in w or "/" in w for w in model_words(Doc.parse(text).plain))


def test_where_a_text_links_to_is_learned_and_named_in_the_reason() -> None:
    # entries of one department all link to one organisation's repositories: a text that
    # says nothing else but links there is that department's, and the reason says so
    rows = [
        ("bridges", "Bridge update [code](https://github.com/mautrix/whatsapp)"),
        ("bridges", "Puppeting fixes, see https://github.com/mautrix/signal"),
        ("clients", "A faster timeline in our app [code](https://github.com/nheko-reborn/nheko)"),
        ("clients", "The app got a new timeline https://github.com/nheko-reborn/nheko"),
    ]
    model = SectionModel.from_words((s, text_model_words(t)) for s, t in rows)
    sections = [
        {"name": "bridges", "title": "Dept of Bridges"},
        {"name": "clients", "title": "Dept of Clients"},
    ]
    classifier = Classifier(make_config(sections=sections, projects=[]), section_model=model)
    got = classifier.classify("Hello! Have a look: https://github.com/mautrix/gmessages", NOBODY)
    assert got.section == "bridges"
    assert "links to github.com/mautrix are typical of Dept of Bridges" in got.section_reason
    # without its link the same text says nothing the model knows
    assert classifier.classify("Hello! Have a look.", NOBODY).section != "bridges"
    assert describe_words(["bridge", "github.com/mautrix"]) == (
        'words "bridge" and links to github.com/mautrix'
    )
    assert describe_words(["bridge", "puppeting"]) == 'words "bridge", "puppeting"'


def test_learned_words_decide_only_where_the_rules_do_not() -> None:
    model = SectionModel.train(TINY_CORPUS)
    sections = [
        {"name": "stats", "title": "Matrix Federation Stats"},
        {"name": "clients", "title": "Dept of Clients"},
        {"name": "spec", "title": "Dept of Spec"},
    ]
    config = make_config(sections=sections, projects=[])
    learned = Classifier(config, section_model=model)
    text = "Today 11000 federateable servers were discovered, see the timeline"
    got = learned.classify(text, NOBODY)
    assert got.section == "stats"
    assert got.section_reason.startswith('words "')
    assert "typical of Matrix Federation Stats" in got.section_reason
    # without the learned words no rule matches that text
    assert Classifier(config, section_model=None).classify(text, NOBODY).section == "todo"
    # a project's default section is never overruled by learned words
    with_project = Classifier(CONFIG, section_model=model)
    assert with_project.classify("Nheko 0.12: federateable servers discovered", NOBODY).section == (
        "clients"
    )


def test_weighed_clues_against_the_section_a_sender_usually_reports_for() -> None:
    # with no project to decide it, every clue for a section is weighed (WEIGH_*): the
    # section a sender usually reports for outweighs a few learned words of another
    # department, but not those words together with that department's hint words
    model = SectionModel.train(TINY_CORPUS)
    sections = [
        {"name": "stats", "title": "Matrix Federation Stats"},
        {"name": "clients", "title": "Dept of Clients"},
        {"name": "spec", "title": "Dept of Spec", "usual_reporters": [SPEC_ANDREW]},
    ]
    classifier = Classifier(make_config(sections=sections, projects=[]), section_model=model)
    few = "Today: 11000 servers"
    guess = model.guess(model_words(few), ["stats", "clients", "spec"])
    assert guess is not None and guess.section == "stats"
    assert guess.margin * WEIGH_WORDS < WEIGH_USUAL
    got = classifier.classify(few, SPEC_ANDREW)
    assert got.section == "spec"
    assert got.section_reason == f"{SPEC_ANDREW} usually reports for Dept of Spec"
    more = "Federation stats: today 11000 federateable servers were discovered, see the stats"
    got = classifier.classify(more, SPEC_ANDREW)
    assert got.section == "stats"
    # the reason names both clues that tipped the balance, the larger first
    assert 'hints "federation stats", "stats" matched' in got.section_reason
    assert "typical of Matrix Federation Stats" in got.section_reason
    # the same text from someone without a usual section: the words alone decide
    got = classifier.classify(few, "@someone:example.org")
    assert got.section == "stats"
    assert got.section_reason.startswith('words "servers", "today"')


def test_learned_words_speak_only_for_sections_they_know() -> None:
    model = SectionModel.train(TINY_CORPUS)
    sections = [{"name": "numbers", "title": "Numbers"}, {"name": "apps", "title": "Apps"}]
    config = make_config(sections=sections, projects=[])
    got = Classifier(config, section_model=model).classify(
        "Today 11000 federateable servers were discovered", NOBODY
    )
    assert got.section == config.fallback_section


def test_shipped_section_words_are_trained_on_the_current_training_set() -> None:
    # bench/train_section_model.py must be re-run when labelled training posts change
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))
    from bench import train_section_model

    assert train_section_model.main(["--check"]) == 0
    assert default_model().to_json() == train_section_model.train().to_json()


def test_shipped_project_words_are_trained_on_the_current_training_set() -> None:
    # bench/train_project_model.py must be re-run when labelled training posts change
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))
    from bench import train_project_model

    assert train_project_model.main(["--check"]) == 0
    assert default_project_model().to_json() == train_project_model.train().to_json()


def test_leaving_a_post_out_subtracts_exactly_its_counts() -> None:
    # the trainers count the whole set once and subtract the post left out: the same model
    # as counting the other posts anew, for the section words, the project words and the
    # learned reporters
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))
    from bench import train_project_model, train_reporters, train_section_model

    posts = train_section_model.training_posts()
    for trainer in (train_section_model, train_project_model):
        for post in (posts[0], posts[len(posts) // 2], posts[-1]):
            rest = (
                e
                for p in train_section_model.training_posts(post)
                for e in trainer.post_examples(p)
            )
            assert trainer.train(exclude=post).to_json() == SectionModel.from_words(rest).to_json()
    # and the learned reporters: the same counts (and display names) as counting the other
    # posts anew
    for post in (posts[0], posts[len(posts) // 2], posts[-1]):
        others = train_section_model.training_posts(post)
        rest_entries = (e for p in others for e in train_reporters.post_examples(p))
        rest_names = [n for p in others for n in train_reporters.post_names(p)]
        recounted = ReporterCounts.count(rest_entries, rest_names).to_json()
        assert train_reporters.train(exclude=post).to_json() == recounted
        assert train_reporters.train(exclude=post).to_json() != train_reporters.train().to_json()


def test_training_set_accuracy_leaving_each_post_out(
    bench: ModuleType, twim_config: Config
) -> None:
    # The honest figure for the training set (every label set but the blind sets): each post
    # is scored by learned words and reporters counted on the other posts only
    # (docs/classification.md). A floor, as measured when the rules last changed: on 1,516
    # entries 1303 / 1260 before the "reads like another department" rule, 1336 / 1270 with
    # it; on 2,372 (blind6, train7 and 2022's train8 joined) 2052 / 2008, and 2057 / 2020
    # with the weighing refitted; on 2,981 (blind7, blind8 and train9 joined) 2550 / 2539,
    # and 2599 / 2539 with the learned project words and the learned habit over a stale
    # usual_reporters entry; on 3,271 (blind9 joined) 2848 / 2795, and 2873 / 2795 with a
    # named project the sender never posted not theirs, 2896 / 2795 with a usual reporter's
    # one project theirs unnamed when nearly all their entries were, 2918 / 2795 with a named
    # family root ("Element") the sender's variant its words say (2914 / 2791 with every
    # sender as @<localpart>:localhost); on 3,874 (2021's blind10 and train10 joined) 3406 /
    # 3259, the 3,271 of 2022-2026 among them 2921 / 2794, and 3406 / 3278 with the weighing
    # refitted and the press and guide words (3403 / 3274 with localhost senders); on 4,053
    # (blind11 joined: every TWIM post of 2021-2026) 3556 / 3421, the 3,271 of 2022-2026 2922
    # / 2805 (3552 / 3417 with localhost senders), and 3564 / 3421 with HINTS_SURE refitted
    # (3561 / 3417 with localhost senders); 3563 / 3422 with a sender no id matches taken for
    # the one known sender of their display name (3560 / 3418 with localhost senders); 3563 /
    # 3432 with the places a text links to counted by the learned words
    total, years = bench.lopo(bench.training_files(), twim_config)
    assert total.total == 4053
    assert total.project_ok >= 3563, total
    assert total.section_ok >= 3432, total
    assert set(years) == {"2021", "2022", "2023", "2024", "2025", "2026"}


def test_new_weeks_scored_by_earlier_posts_only(bench: ModuleType, twim_config: Config) -> None:
    # forward chaining, the way a running bot meets new weeks: each post of 2026 is scored
    # by learned data counted on the posts published before it, so its senders' and
    # projects' later posts are unknown to it. A floor, as measured: 407 / 378 of 449
    # (90.6% / 84.2%); from 2022 on 2811 / 2768 of 3,271 (85.9% / 84.6%, docs/classification.md)
    files = bench.training_files()
    total, years = bench.forward(files, twim_config, "2026-01-01")
    in_2026 = [f for f in files if bench.post_date(f) >= "2026-01-01"]
    scored = sum(
        1 for f in in_2026 for e in json.loads(f.read_text(encoding="utf-8")) if e["section"]
    )
    assert total.total == scored == 449
    assert set(years) == {"2026"}
    assert total.project_ok >= 407, total
    assert total.section_ok >= 378, total
    # a replay whose accounts are its own, under the real display names: the learned
    # reporters know the senders by name (measured 394 / 370; by nothing, 361 / 350)
    renamed, _ = bench.forward(files, twim_config, "2026-01-01", senders="renamed")
    assert (renamed.project_ok, renamed.section_ok) >= (394, 370), renamed
    # nothing is scored after the last post, and a post is never scored by its own counts:
    # the first post of all is scored with no learned data (more wrong than with it)
    first = min(files, key=bench.post_date)
    alone, _ = bench.forward([first], twim_config, "2000-01-01")
    assert bench.forward(files, twim_config, "2100-01-01")[0].total == 0
    seen_by_itself = bench.evaluate(json.loads(first.read_text(encoding="utf-8")), twim_config)
    assert alone.total == seen_by_itself.total
    assert alone.section_ok < seen_by_itself.section_ok


def test_a_bot_learning_from_its_editions_gains_with_editors_and_loses_nothing_without(
    bench: ModuleType, twim_config: Config
) -> None:
    # 2026's posts week by week, senders on a local server as an outside replay posts them,
    # the learned data counted on the posts before 2026 plus the bot's own published weeks
    # (draft.learned). Measured: frozen 400 / 368, its own guesses 399 / 368, the editors'
    # choices 408 / 376 of 449 (docs/classification.md)
    scores = bench.learning(bench.training_files(), twim_config, "2026-01-01", "localhost")
    frozen, own, editors = (scores[m] for m in ("frozen", "own guesses", "editors"))
    assert frozen.total == own.total == editors.total == 449
    assert editors.section_ok >= frozen.section_ok + 5, scores
    assert editors.project_ok >= frozen.project_ok + 4, scores
    assert (editors.project_ok, editors.section_ok) >= (408, 376), scores
    # with no editor at all it learns its own guesses: no harm
    assert own.project_ok >= frozen.project_ok - 3, scores
    assert own.section_ok >= frozen.section_ok - 3, scores


def test_shipped_reporter_counts_are_counted_from_the_current_training_set() -> None:
    # bench/train_reporters.py must be re-run when labelled training posts change
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))
    from bench import train_reporters

    assert train_reporters.main(["--check"]) == 0
    assert default_counts().to_json() == train_reporters.train().to_json()


# -- senders on another server, and learned reporters ------------------------------------------

IOS_DEV = "@ios-dev:example.org"


def _with_section_reporters(name: str, users: list[str]) -> Config:
    sections = [
        s.model_copy(update={"usual_reporters": users}) if s.name == name else s
        for s in CONFIG.sections
    ]
    return CONFIG.model_copy(update={"sections": sections})


def test_exact_sender_id_preferred_over_the_same_localpart_elsewhere() -> None:
    # @andrew:example.org reports for Spec, @andrew:other.org (someone else) for Talks
    config = _with_section_reporters("talks", [BRAID, "@andrew:other.org"])
    classifier = Classifier(config, section_model=None, reporters=None)
    text = "This week we merged three proposals."
    got = classifier.classify(text, "@Andrew:Example.org")
    assert got.section == "spec"
    assert got.section_reason == "@Andrew:Example.org usually reports for Dept of Spec 📜"
    assert classifier.classify(text, "@andrew:other.org").section == "talks"
    # on a third server both are candidates (merged); the usual tie rules pick by the hints
    got = classifier.classify("A new MSC landed this week.", "@andrew:localhost")
    assert got.section == "spec"
    assert got.section_reason == 'hint "MSC" matched'
    # with nothing else to go by, the merged usual sections are the only clue: a tie, kept
    # in the config's order, and the reason says whose habit it is
    got = classifier.classify(text, "@andrew:localhost")
    assert got.section == "spec"
    assert got.section_reason == (
        "@andrew:localhost looks like @andrew:example.org, @andrew:other.org, who usually"
        " reports for Dept of Spec 📜 (tied with Dept of Events and Talks 🗣️: the config's"
        " order decides)"
    )


def test_sender_on_another_server_matched_by_localpart() -> None:
    classifier = Classifier(CONFIG, section_model=None, reporters=None)
    got = classifier.classify("We fixed a crash in nheko when scrolling.", "@nico:localhost")
    assert got.project == "nheko"
    assert got.project_reason.startswith(
        "@nico:localhost looks like @nico:example.org, who usually reports for Nheko"
    )
    # a localpart nobody configured matches nothing
    got = classifier.classify("We fixed a crash in nheko when scrolling.", "@nicolas:localhost")
    assert got.project is None


def _ios_counts(entries: int = 5, others: int = 1) -> ReporterCounts:
    past = [(IOS_DEV, "element-x-ios", "clients")] * entries + [(IOS_DEV, None, "spec")] * others
    return ReporterCounts.count(past)


def test_learned_habit_gives_the_project_with_its_numbers() -> None:
    classifier = Classifier(CONFIG, section_model=None, reporters=_ios_counts())
    text = "Join room by alias has been implemented and will be in the next RC."
    got = classifier.classify(text, IOS_DEV)
    assert (got.project, got.section) == ("element-x-ios", "clients")
    assert got.project_reason == (
        "@ios-dev:example.org usually reported Element X iOS news (5 of 6 past entries)"
    )
    # posted through a local homeserver: the same person, said to be a weaker match
    got = classifier.classify(text, "@ios-dev:localhost")
    assert got.project == "element-x-ios"
    assert got.project_reason.startswith(
        "@ios-dev:localhost looks like @ios-dev:example.org, who usually reported Element X iOS"
    )
    # without the learned counts nothing decides
    assert (
        Classifier(CONFIG, section_model=None, reporters=None).classify(text, IOS_DEV).project
        is None
    )


def test_a_sender_no_id_matches_is_taken_for_the_one_known_sender_of_their_display_name() -> None:
    """A new account (or a replay's account) under a display name only one known sender
    posted under: that sender's habits, with a reason that says why."""
    past = [(IOS_DEV, "element-x-ios", "clients")] * 5 + [(IOS_DEV, None, "spec")]
    names = [(IOS_DEV, "Ios  Dev"), ("@else:example.org", "Someone Else")]
    counts = ReporterCounts.count([*past, ("@else:example.org", None, "spec")], names)
    classifier = Classifier(CONFIG, section_model=None, reporters=counts)
    text = "Join room by alias has been implemented and will be in the next RC."
    got = classifier.classify(text, "@replay-1:localhost", None, "ios dev")
    assert got.project == "element-x-ios"
    assert got.project_reason == (
        '@replay-1:localhost looks like @ios-dev:example.org (same display name "ios dev"),'
        " who usually reported Element X iOS news (5 of 6 past entries)"
    )
    # another name, no name, or a name two known senders share: nothing known of the sender
    assert classifier.classify(text, "@replay-1:localhost", None, "Ios Dev 2").project is None
    assert classifier.classify(text, "@replay-1:localhost").project is None
    shared = ReporterCounts.count(
        [*past, ("@other:example.org", None, "spec")], [*names, ("@other:example.org", "Ios Dev")]
    )
    assert shared.by_name("Ios Dev") is None
    assert (
        Classifier(CONFIG, section_model=None, reporters=shared)
        .classify(text, "@replay-1:localhost", None, "Ios Dev")
        .project
        is None
    )
    # a sender known by id or localpart is judged by that, whatever their name
    got = classifier.classify(text, "@ios-dev:localhost", None, "Someone Else")
    assert got.project_reason.startswith("@ios-dev:localhost looks like @ios-dev:example.org, who")
    # and a configured usual reporter of that name's sender counts as theirs too
    configured = Classifier(
        CONFIG,
        section_model=None,
        reporters=ReporterCounts.count([(NICO, None, "clients")], [(NICO, "Nico")]),
    )
    got = configured.classify(
        "We fixed a crash in nheko when scrolling.", "@replay-2:localhost", None, "nico"
    )
    assert got.project == "nheko"
    assert got.project_reason.startswith(
        '@replay-2:localhost looks like @nico:example.org (same display name "nico"), who'
        " usually reports for Nheko"
    )


def test_weak_learned_habit_is_not_used() -> None:
    text = "Join room by alias has been implemented and will be in the next RC."
    few = Classifier(CONFIG, section_model=None, reporters=_ios_counts(entries=2, others=0))
    assert few.classify(text, IOS_DEV).project is None  # 2 entries are not a habit
    mixed = Classifier(CONFIG, section_model=None, reporters=_ios_counts(entries=3, others=3))
    assert mixed.classify(text, IOS_DEV).project is None  # half of them is not a habit


def test_learned_habit_never_overrides_a_tag_or_a_clear_name() -> None:
    classifier = Classifier(CONFIG, section_model=None, reporters=_ios_counts())
    got = classifier.classify("### Nheko\nJoin room by alias works now.", IOS_DEV)
    assert got.project == "nheko"
    assert got.project_reason.startswith("tagged")
    got = classifier.classify("FluffyChat 2.0 is out, with join by alias.", IOS_DEV)
    assert got.project == "fluffychat"


def test_a_project_stays_in_its_default_section_wherever_editors_published_it() -> None:
    """SPEC §5: a project's entry goes to its ``default_section``; where editors published
    the project before (here: always under Ops) does not move it."""
    counts = ReporterCounts.count([("@someone:example.org", "heisenbridge", "ops")] * 5)
    classifier = Classifier(CONFIG, section_model=None, reporters=counts)
    got = classifier.classify("Heisenbridge 1.15 is out.", NOBODY)
    assert (got.project, got.section) == ("heisenbridge", "bridges")
    assert got.section_reason == "default section of project Heisenbridge"

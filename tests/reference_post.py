"""Reading a published TWIM post back into its entries, for golden comparisons.

The parser knows the post format (SPEC §7): ``## section``, optional ``### project
([website](url))`` and description, then ``[name](https://matrix.to/#/@user) verb``, a blank
line and the ``> ``-quoted body with its ``> ![](…)`` images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent / "data" / "reference"
REFERENCE_POST = REFERENCE_DIR / "twim-2022-10-28.md"

ATTRIBUTION_RE = re.compile(
    r"^\[(?P<name>.+)\]\(https://matrix\.to/#/(?P<user>@[^)]+)\) (?P<verb>\w+)$"
)
PROJECT_RE = re.compile(r"^### (?P<title>.+?)(?: \(\[website\]\((?P<website>[^)]+)\)\))?$")
IMAGE_RE = re.compile(r"^!\[\]\((?P<url>[^)]+)\)$")


@dataclass
class PostEntry:
    section: str  # the "## " title
    project: str | None  # the "### " title
    website: str
    description: str
    name: str  # as rendered (Markdown-escaped)
    user: str
    verb: str
    body: str
    images: list[str] = field(default_factory=list)


@dataclass
class Post:
    intro: str
    entries: list[PostEntry]
    sections: list[str]  # titles in order, Dept of Ping and closing sections excluded


def unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def parse_post(text: str, *, stop_at: str = "## Dept of Ping") -> Post:
    lines = text.split("\n")
    start = 0
    if lines[0] == "+++":
        start = lines.index("+++", 1) + 1
    entries: list[PostEntry] = []
    sections: list[str] = []
    section: str | None = None
    project: str | None = None
    website = description = ""
    i = start
    while i < len(lines):
        line = lines[i]
        if line.startswith(stop_at):
            break
        if line.startswith("## "):
            section = line[3:]
            sections.append(section)
            project, website, description = None, "", ""
        elif match := PROJECT_RE.match(line):
            project, website, description = match["title"], match["website"] or "", ""
            if (
                i + 2 < len(lines)
                and lines[i + 1] == ""
                and lines[i + 2]
                and not (lines[i + 2].startswith(("[", ">", "#")))
            ):
                description = lines[i + 2]
                i += 2
        elif match := ATTRIBUTION_RE.match(line):
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            body: list[str] = []
            while i < len(lines) and lines[i].startswith(">"):
                body.append(lines[i][2:] if lines[i].startswith("> ") else lines[i][1:])
                i += 1
            images: list[str] = []
            while body and (img := IMAGE_RE.match(body[-1])):
                images.insert(0, img["url"])
                body.pop()
            entries.append(
                PostEntry(
                    section,
                    project,
                    website,
                    description,
                    match["name"],
                    match["user"],
                    match["verb"],
                    "\n".join(body),
                    images,
                )
            )
            continue
        i += 1
    # Sections without entries (the reference's "## Matrix Live") belong to the intro.
    used = [t for t in sections if any(e.section == t for e in entries)]
    intro_end = text.index("\n## " + used[0] + "\n") if used else len(text)
    intro = text[:intro_end].split("+++", 2)[-1] if lines[0] == "+++" else text[:intro_end]
    return Post(intro.strip("\n"), entries, used)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")

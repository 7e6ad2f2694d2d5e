"""Building the content of what the bot says: notices, reactions, replies, files.

Pure functions returning event content dicts. Replies to people are ``m.notice`` with a plain
body and, where it helps reading, an HTML ``formatted_body``; everything a person wrote is
HTML-escaped before it goes into the HTML.
"""

from __future__ import annotations

import html
import re
from typing import Any


def reaction(target_event_id: str, key: str) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": target_event_id, "key": key}}


def notice(body: str, formatted: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.notice", "body": body, "m.mentions": {}}
    if formatted is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = formatted
    return content


def reply_notice(
    body: str, *, in_reply_to: str, mention: str | None = None, formatted: str | None = None
) -> dict[str, Any]:
    """A notice that replies to an event (and pings ``mention`` when given)."""
    content = notice(body, formatted)
    content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
    content["m.mentions"] = {"user_ids": [mention]} if mention else {}
    return content


def text_notice(body: str) -> dict[str, Any]:
    """A notice of plain text, with the same text as HTML (escaped, line breaks kept)."""
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    formatted = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return notice(body, formatted or "<p></p>")


def lines_notice(title: str, lines: list[str]) -> dict[str, Any]:
    """A title and a list: plain text with one item per line, HTML with a list."""
    body = "\n".join([title, *lines]) if lines else title
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    formatted = f"<p>{html.escape(title)}</p>" + (f"<ul>{items}</ul>" if items else "")
    return notice(body, formatted)


def table_notice(
    title: str,
    header: tuple[str, ...],
    rows: list[tuple[object, ...]],
    lines: list[str] | None = None,
) -> dict[str, Any]:
    """A title, optional lines, and a table: Markdown table rows in the plain body (what an
    editor can paste into a post), an HTML table in the formatted body."""
    lines = lines or []
    if not rows:
        lines = [*lines, "(no rows)"]
    md = ["|" + "|".join(header) + "|", "|" + "|".join(":---:" for _ in header) + "|"]
    md += ["|" + "|".join(str(cell) for cell in row) + "|" for row in rows]
    body = "\n".join([title, *lines, *(md if rows else [])])
    formatted = f"<p>{html.escape(title)}</p>" + "".join(
        f"<p>{html.escape(line)}</p>" for line in lines
    )
    if rows:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in rows
        )
        formatted += f"<table><tr>{head}</tr>{cells}</table>"
    return notice(body, formatted)


def groups_notice(title: str, groups: list[tuple[str | None, list[str]]]) -> dict[str, Any]:
    """A title and groups of lines, each group a list under its optional heading."""
    plain: list[str] = [title]
    formatted = f"<p>{html.escape(title)}</p>"
    for heading, lines in groups:
        if heading is not None:
            plain.append(heading)
            formatted += f"<p><b>{html.escape(heading)}</b></p>"
        plain += lines
        if lines:
            formatted += "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
    return notice("\n".join(plain), formatted)


def file_message(name: str, mxc: str, mimetype: str, size: int) -> dict[str, Any]:
    return {
        "msgtype": "m.file",
        "body": name,
        "filename": name,
        "url": mxc,
        "info": {"mimetype": mimetype, "size": size},
    }


_MARKUP_RE = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|>\s?|[*+-]\s+)|\*\*|__")


def one_line(text: str, limit: int = 80) -> str:
    """The first words of ``text`` on one line, for lists (without Markdown heading, quote,
    bullet and bold marks: "### Nheko" reads "Nheko")."""
    flat = " ".join(_MARKUP_RE.sub("", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"

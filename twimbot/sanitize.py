"""Contributor text hygiene (placeholder; being implemented).

``strip_controls`` runs at ingest on what is stored; ``safe_markdown`` runs at render
time on what goes into the post.
"""

from __future__ import annotations


def strip_controls(text: str) -> str:
    """Remove control characters (but newline and tab) and bidi overrides/isolates."""
    return text


def safe_markdown(text: str) -> str:
    """Make contributor Markdown safe to embed in the post."""
    return text

"""Markdown tables for the reports and datasheets the project writes."""

from __future__ import annotations

__all__ = ["markdown_table"]


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured Markdown table: one header row, then one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)

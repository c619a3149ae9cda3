"""Plain-text tables of the listing commands (``genfer models``, ``genfer runs``)."""

from __future__ import annotations


def table(rows: list[tuple[str, ...]], columns: tuple[str, ...]) -> str:
    """Left-aligned columns under a header row; the last column is not padded."""
    rows = [columns, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths)), r[-1]]).rstrip() for r in rows)

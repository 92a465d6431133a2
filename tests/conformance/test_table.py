"""The published compatibility table matches the suite: every feature row, every cell filled."""

from __future__ import annotations

from pathlib import Path

from tests.conformance.cases import FEATURES, INBOUND_TITLES, UPSTREAMS

TABLE = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def test_docs_table_has_a_filled_row_per_feature_and_inbound_format() -> None:
    text = TABLE.read_text(encoding="utf-8")
    for title in INBOUND_TITLES.values():
        assert f"## {title}" in text, "regenerate: python scripts/compat_table.py"
    rows = [line for line in text.splitlines() if line.startswith("| ") and "feature" not in line]
    for _, title in FEATURES:
        matching = [row for row in rows if row.startswith(f"| {title} |")]
        assert len(matching) == len(INBOUND_TITLES), f"{title!r}: regenerate the table"
        for row in matching:
            cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
            assert len(cells) == len(UPSTREAMS) and all(c in ("✓", "n/a") for c in cells), row

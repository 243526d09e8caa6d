"""The column dictionary covers the row schemas exactly and docs/columns.md is up to date."""

from __future__ import annotations

from pathlib import Path

from results.columns import COLUMNS, columns_markdown, missing_columns, unknown_columns
from results.dir.schema import DIR_ROW_SCHEMA
from results.synthetic_1d.schema import ROW_SCHEMA

_DOC = Path(__file__).resolve().parents[1] / "docs" / "columns.md"


def test_every_schema_column_has_an_entry() -> None:
    assert missing_columns() == [], "add these columns to COLUMNS in results/columns.py"


def test_every_entry_names_a_schema_column() -> None:
    assert unknown_columns() == [], "remove these entries from COLUMNS in results/columns.py"


def test_entries_have_a_meaning_and_a_unit() -> None:
    blank = [name for name, (meaning, unit) in COLUMNS.items() if not meaning.strip() or not unit]
    assert blank == []


def test_markdown_lists_every_column_once_per_schema() -> None:
    text = columns_markdown()
    for schema in (ROW_SCHEMA, DIR_ROW_SCHEMA):
        for name in schema.names:
            assert f"| `{name}` |" in text
    assert "| `test_l_extra_gauss` | double | L_extra of Eq. 8" in text
    assert text.count("| `row_key` |") == 2  # in both tables


def test_docs_columns_md_is_in_sync() -> None:
    assert _DOC.read_text() == columns_markdown(), (
        "docs/columns.md is out of date; regenerate it with "
        "`python -m results.columns > docs/columns.md`"
    )


def test_every_statistics_column_is_documented() -> None:
    from results.cluster_inference import STAT_COLUMN_DOCS, STAT_COLUMNS

    assert list(STAT_COLUMN_DOCS) == list(STAT_COLUMNS)
    assert "| `too_few_clusters` | Boolean |" in columns_markdown()

"""Results of the real-data (DIR) studies: row schema, Polars tables, Plotly figures, report
sections, each with the papers' published rows beside ours.

| module | what it holds |
| --- | --- |
| `schema` | `DIR_ROW_SCHEMA` and reading DIR rows |
| `analysis` | per-shot tables, lambda sensitivity, "helps" summaries, published rows |
| `figures` | the Plotly figures of those tables |
| `report` | terminal tables, CSVs and the report sections per dataset |
"""

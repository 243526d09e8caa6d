"""Results of the controlled 1D study: its row schema, Polars tables, Plotly figures and report.

| module | what it holds |
| --- | --- |
| `schema` | `ROW_SCHEMA` (one row per trained model) and reading the Parquet rows |
| `analysis` | the paper's tables (Table 1, Figures 3-5 in numbers, lambda choice), Polars |
| `figures` | the Plotly figures of those tables |
| `report` | terminal tables, CSVs and the self-contained HTML report |
"""

"""Results of the regcls studies: the row schema, Polars analysis, Plotly figures, HTML report."""

from results.synthetic_1d.analysis import (
    PAPER_TABLE1,
    classes_curves,
    gaps,
    helps_on_test,
    helps_table,
    helps_table_wide,
    helps_vs_paper,
    lambda_curves,
    lambda_means,
    noise_curves,
    optuna_trials,
    optuna_vs_grid,
    paper_table1,
    row_counts,
    selected_lambdas,
)
from results.synthetic_1d.figures import (
    plot_classes_curves,
    plot_helps_table,
    plot_lambda_curves,
    plot_noise_curves,
    plot_optuna_vs_grid,
)
from results.synthetic_1d.paired_figures import (
    paired_table,
    plot_classes_pairs,
    plot_lambda_pairs,
)
from results.synthetic_1d.report import (
    format_tables_for_terminal,
    report_tables,
    write_report,
    write_tables_csv,
)
from results.synthetic_1d.schema import (
    ROW_SCHEMA,
    conform_rows,
    empty_rows,
    read_rows,
    validate_rows,
)
from results.synthetic_1d.zoo import league_table, shot_table, zoo_tables
from results.synthetic_1d.zoo_figures import plot_shot_mse, plot_who_wins
from results.synthetic_1d.zoo_report import (
    format_zoo_tables_for_terminal,
    write_zoo_tables_csv,
    zoo_report_sections,
)

__all__ = [
    "PAPER_TABLE1",
    "ROW_SCHEMA",
    "classes_curves",
    "conform_rows",
    "empty_rows",
    "format_tables_for_terminal",
    "gaps",
    "helps_on_test",
    "helps_table",
    "helps_table_wide",
    "helps_vs_paper",
    "lambda_curves",
    "lambda_means",
    "noise_curves",
    "optuna_trials",
    "optuna_vs_grid",
    "paired_table",
    "paper_table1",
    "plot_classes_curves",
    "plot_classes_pairs",
    "plot_helps_table",
    "plot_lambda_curves",
    "plot_lambda_pairs",
    "plot_noise_curves",
    "plot_optuna_vs_grid",
    "read_rows",
    "report_tables",
    "row_counts",
    "selected_lambdas",
    "validate_rows",
    "write_report",
    "write_tables_csv",
    # the method zoo (synthetic_1d_zoo)
    "format_zoo_tables_for_terminal",
    "league_table",
    "plot_shot_mse",
    "plot_who_wins",
    "shot_table",
    "write_zoo_tables_csv",
    "zoo_report_sections",
    "zoo_tables",
]

# Real-data (deep imbalanced regression) studies: IMDB-WIKI-DIR, NYUD2-DIR, Breakfast, STS-B-DIR.
from results.dir.analysis import (  # noqa: E402
    best_config,
    breakfast_table,
    helps_summary,
    lambda_sensitivity,
    published_rows,
    results_table,
    results_vs_published,
)
from results.dir.figures import (  # noqa: E402
    plot_dir_pairs,
    plot_dir_results,
    plot_lambda_sensitivity,
)
from results.dir.report import (  # noqa: E402
    dir_report_sections,
    dir_report_tables,
    format_dir_tables_for_terminal,
    write_dir_tables_csv,
)
from results.dir.schema import (  # noqa: E402
    DIR_ROW_SCHEMA,
    conform_dir_rows,
    dir_metric_columns,
    empty_dir_rows,
    read_dir_rows,
)

__all__ += [
    "DIR_ROW_SCHEMA",
    "best_config",
    "breakfast_table",
    "conform_dir_rows",
    "dir_metric_columns",
    "dir_report_sections",
    "dir_report_tables",
    "empty_dir_rows",
    "format_dir_tables_for_terminal",
    "helps_summary",
    "lambda_sensitivity",
    "plot_dir_pairs",
    "plot_dir_results",
    "plot_lambda_sensitivity",
    "published_rows",
    "read_dir_rows",
    "results_table",
    "results_vs_published",
    "write_dir_tables_csv",
]

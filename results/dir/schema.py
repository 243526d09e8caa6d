"""The results-row schema of the real-data (deep imbalanced regression) studies, and reading it.

One row per trained model on IMDB-WIKI-DIR (age), NYUD2-DIR (depth), Breakfast (video progress)
or STS-B-DIR (sentence similarity); every column nullable. The metrics follow Yang et al. 2021
(Section 2.6 of the related-methods digest): per split (val, test) MAE, MSE, RMSE, GM (geometric
mean of the L1 errors), Pearson correlation (the coefficient r in [-1, 1], a fraction, not %) and
delta1 (share of predictions within a factor 1.25 of the target), as `regcls.evaluation.dir_metrics`
computes them, over all samples and per shot (many: > 100 training samples in the target's bin
of width `shot_bin_width`, medium: 20-100, few: < 20). A metric a dataset does not use stays
null.

`data_balance` "rebalanced" marks the control of the core paper's Table 4: both losses trained on
batches re-balanced over 100 target bins by Eq. 12-13.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa

from results._tables import IDENTITY_FIELDS, RUN_INFO_FIELDS, conform
from results.synthetic_1d.schema import METHOD_FIELDS, ROW_SCHEMA, read_rows

DIR_DATASETS = ("imdb_wiki_dir", "nyud2_dir", "breakfast", "stsb_dir")
DIR_SPLITS = ("val", "test")
DIR_METRICS = ("mae", "mse", "rmse", "gm", "pearson", "delta1")
DIR_SHOTS = ("all", "many", "medium", "few")

_S, _I, _F = pa.string(), pa.int64(), pa.float64()


def dir_metric_columns() -> list[str]:
    """The 48 metric columns `f"{split}_{metric}_{shot}"`, in schema order."""
    return [
        f"{split}_{metric}_{shot}"
        for split in DIR_SPLITS
        for metric in DIR_METRICS
        for shot in DIR_SHOTS
    ]


DIR_ROW_SCHEMA: pa.Schema = pa.schema(
    [
        # identity
        *IDENTITY_FIELDS,  # row_key .. search; stage "train" | "balanced_data"
        ("preset", _S),
        ("dataset", _S),  # one of DIR_DATASETS
        ("data_split", _S),  # Breakfast "S1".."S4"; null elsewhere
        ("task", _S),  # Breakfast cooking task; null elsewhere
        ("target", _S),  # "age" | "depth" | "progress_pct" | "frames" | "similarity"
        ("seed", _I),
        # model
        ("variant", _S),  # "reg" | "reg+cls" | "reg+cls-balanced" | controls | method zoo
        ("class_mode", _S),  # "none" | "imbalanced" | "balanced"
        ("data_balance", _S),  # "natural" | "rebalanced" (Table 4, Eq. 13 on both losses)
        ("num_classes", _I),  # C; null for reg
        ("effective_classes", _I),  # C-bar after Eq. 12
        ("lam", _F),  # null for reg
        ("lr", _F),
        ("epochs", _I),
        ("batch_size", _I),
        ("grad_accumulation", _I),
        ("weight_decay", _F),
        ("optimizer", _S),  # "adam" | "adamw" | "sgd"; null in older rows: adam
        ("momentum", _F),  # SGD's momentum; null for adam and adamw
        ("tuned_hyperparameter", _S),  # reg-tuned: what its sweep tuned; null otherwise
        ("backbone", _S),
        ("img_size", _I),
        ("reg_loss", _S),  # "mse" | "l1"
        ("model_selection", _S),  # "best_val" | "final"
        ("shot_bin_width", _F),
        ("encoder", _S),  # STS-B-DIR: the frozen sentence encoder; null elsewhere
        ("hidden", _S),  # MLP hidden widths ("40,20"); null for the image models
        *METHOD_FIELDS,  # the method zoo's hyperparameters (STS-B-DIR); null where unused
        # outcome
        ("status", _S),  # "ok" | "diverged" | "failed" | "early_stopped"
        ("error", _S),
        ("epochs_trained", _I),
        ("best_epoch", _I),
        ("bmc_sigma_final", _F),  # reg-bmc: sigma after training (learned or fixed)
        ("final_train_loss", _F),
        # metrics
        *((name, _F) for name in dir_metric_columns()),
        # pairing with the reg model trained on the same data and seed
        ("paired_reg_row_key", _S),
        ("paired_reg_test_mse", _F),
        ("paired_reg_test_mae", _F),
        # run
        ("wall_time_s", _F),
        *RUN_INFO_FIELDS,  # device, package versions, hostname, finished_at
    ]
)


def empty_dir_rows() -> pl.DataFrame:
    """A frame with no rows and every DIR schema column, typed."""
    return pl.from_arrow(DIR_ROW_SCHEMA.empty_table())


def read_dir_rows(path: str | Path) -> pl.DataFrame:
    """Every DIR results row under `<path>/rows/*.parquet`, conformed to `DIR_ROW_SCHEMA`.

    Reads with `results.synthetic_1d.schema.read_rows` (same files: temporaries skipped, missing
    columns null, extra columns kept), then drops the synthetic-1D columns that reader added and the
    files do not hold (entirely null), and conforms to the DIR schema. No files: an empty frame with
    the DIR schema."""
    rows = read_rows(path)
    dir_names = set(DIR_ROW_SCHEMA.names)
    added = [
        name
        for name in ROW_SCHEMA.names
        if name not in dir_names and rows[name].null_count() == rows.height
    ]
    return conform_dir_rows(rows.drop(added))


def conform_dir_rows(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with every DIR schema column present (missing ones null), cast to the schema's type.

    Extra columns are kept after the schema's.
    """
    return conform(df, empty_dir_rows().schema)

"""The results-row schema (one row per trained model) and reading the study's Parquet dataset.

The columns are the contract's "results rows" section, every one nullable: a `failed` row has
no metrics, a `reg` row has no class count or lambda. A study may append extra nullable columns;
`read_rows` keeps them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa

from results._tables import IDENTITY_FIELDS, RUN_INFO_FIELDS, check_columns, conform

_S, _I, _F = pa.string(), pa.int64(), pa.float64()

_METRICS = tuple(
    f"{split}_{name}"
    for split in ("val", "test")
    for name in ("mse", "mse_clean", "mae", "acc", "mse_many", "mse_medium", "mse_few")
)

# L_extra (core paper Eq. 8 and 9) at the end of training, test and noise stages only.
_L_EXTRA = tuple(
    f"{split}_l_extra_{kind}" for split in ("train", "test") for kind in ("gauss", "softmax")
)

# regcls.methods.method_columns: every MethodConfig field but `variant`, in its order.
METHOD_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("lds_kernel", _S),
    ("lds_size", _I),
    ("lds_sigma", _F),
    ("lds_inverse", _S),
    ("lds_bins", _I),
    ("focal_beta", _F),
    ("focal_gamma", _F),
    ("focal_activation", _S),
    ("bmc_sigma", _F),
    ("bmc_sigma_learned", pa.bool_()),
    ("bmc_sigma_lr", _F),
    ("denseweight_alpha", _F),
    ("denseweight_bandwidth", _S),
    ("hlgauss_sigma_ratio", _F),
    ("softlabel_beta", _F),
    ("softlabel_form", _S),
    ("hca_rule", _S),
    ("hca_heads", _I),
    ("fds_bins", _I),
    ("fds_kernel", _S),
    ("fds_ks", _I),
    ("fds_sigma", _F),
    ("fds_momentum", _F),
    ("fds_start_update", _I),
    ("fds_start_epoch", _I),
    ("fds_clip_min", _F),
    ("fds_clip_max", _F),
    ("fds_stats_from", _S),
    ("fds_empty_bins", _S),
    ("distill_epochs", _I),
)

ROW_SCHEMA: pa.Schema = pa.schema(
    [
        *IDENTITY_FIELDS,  # row_key, trial_key, config_hash, study, stage, search
        ("flip", _S),  # the protocol choice the sensitivity study flipped; "none": no flip
        # data
        ("scenario", _S),
        ("sampling", _S),
        ("noise_sigma", _F),
        ("noise_distribution", _S),
        ("function_id", _I),
        ("seed", _I),
        ("total_samples", _I),
        ("n_train", _I),
        ("peak_share", _F),
        ("function_set", _S),
        ("a", _F),
        ("b", _F),
        ("c", _I),
        ("d", _I),
        ("peak_bins", _S),
        ("validation_sampling", _S),
        ("balance_bins", _I),
        ("function_seed", _I),
        ("peak_center", _F),
        # model
        ("variant", _S),
        ("class_mode", _S),
        ("num_classes", _I),
        ("effective_classes", _I),
        ("lam", _F),
        ("lr", _F),
        ("epochs", _I),
        ("batch_size", _I),
        ("weight_decay", _F),
        ("optimizer", _S),  # "adam" (the paper's) | "adamw" | "sgd"; null in older rows: adam
        ("momentum", _F),  # SGD's momentum; null for adam and adamw
        ("tuned_hyperparameter", _S),  # reg-tuned: what its sweep tuned; null otherwise
        ("dtype", _S),
        ("backend", _S),
        ("hidden", _S),
        ("lambda_source", _S),
        ("equalize_rounding", _S),
        ("shot_bins", _I),
        ("shot_rule", _S),
        ("shot_many", _F),
        ("shot_few", _F),
        ("lambda_selection", _S),
        ("weight_decay_selection", _S),
        ("pair_init", _S),
        ("reg_pairing", _S),
        ("pair_key", _S),
        ("init_seed", _I),
        ("l_extra_bins", _I),
        ("l_extra_pseudo_count", _F),
        ("l_extra_samples", _I),
        ("l_extra_sigma2", _S),
        # the method zoo's hyperparameters (regcls.methods.MethodConfig; null where unused)
        *METHOD_FIELDS,
        # outcome
        ("status", _S),
        ("error", _S),
        ("epochs_trained", _I),
        ("bmc_sigma_final", _F),  # reg-bmc: sigma after training (learned or fixed)
        ("final_train_loss", _F),
        # metrics
        *((name, _F) for name in _METRICS),
        ("train_mse", _F),
        *((name, _F) for name in _L_EXTRA),
        # pairing with the reg model trained on the same data
        ("paired_reg_row_key", _S),
        ("paired_reg_val_mse", _F),
        ("paired_reg_test_mse", _F),
        # run
        ("wall_time_s", _F),
        ("trial_wall_time_s", _F),
        ("models_in_pack", _I),
        *RUN_INFO_FIELDS,  # device, package versions, hostname, finished_at
    ]
)


def empty_rows() -> pl.DataFrame:
    """A frame with no rows and every schema column, typed."""
    return pl.from_arrow(ROW_SCHEMA.empty_table())


def read_rows(path: str | Path) -> pl.DataFrame:
    """Every results row under `<path>/rows/*.parquet`, conformed to `ROW_SCHEMA`.

    Files whose names start with "." are a writer's temporary files (renamed into place when
    complete) and are skipped. Columns missing from older files are added as nulls; extra
    columns are kept after the schema's. No files: an empty frame with the schema.
    """
    rows_dir = Path(path) / "rows"
    files = (
        sorted(f for f in rows_dir.glob("*.parquet") if not f.name.startswith("."))
        if rows_dir.is_dir()
        else []
    )
    if not files:
        return empty_rows()
    frames = [pl.read_parquet(f) for f in files]
    return conform_rows(pl.concat(frames, how="diagonal_relaxed"))


def conform_rows(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with every schema column present (missing ones null) and cast to the schema's type."""
    return conform(df, empty_rows().schema)


def validate_rows(df: pl.DataFrame, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Return `df` unchanged; raise ValueError naming the schema columns (or `columns`) it lacks."""
    check_columns(df, ROW_SCHEMA.names if columns is None else columns)
    return df

"""The column dictionary: what every column of the results rows means, and in which unit.

`COLUMNS` covers the synthetic-1D rows (`ROW_SCHEMA`) and the real-data rows (`DIR_ROW_SCHEMA`);
`columns_markdown()` renders it as `docs/columns.md`. Regenerate that page after a schema change:

    python -m results.columns > docs/columns.md
"""

from __future__ import annotations

import pyarrow as pa

from results.cluster_inference import STAT_COLUMN_DOCS, STAT_COLUMNS
from results.dir.schema import DIR_METRICS, DIR_ROW_SCHEMA, DIR_SHOTS, DIR_SPLITS
from results.synthetic_1d.schema import ROW_SCHEMA

_NONE = "—"
_NATS = "nats"
_Y2 = "target units squared"
_Y = "target units"

_SPLIT = {
    "val": "validation set",
    "test": "test set",
    "train": "training set",
}
_SHOT_1D = {
    "many": "many-shot bins (more than `shot_many` training samples per bin)",
    "medium": "medium-shot bins (between `shot_few` and `shot_many` training samples per bin)",
    "few": "few-shot bins (fewer than `shot_few` training samples per bin)",
}
_SHOT_DIR = {
    "all": "all samples",
    "many": "many-shot samples (> 100 training samples in the target's bin)",
    "medium": "medium-shot samples (20-100 training samples in the target's bin)",
    "few": "few-shot samples (< 20 training samples in the target's bin)",
}
_DIR_METRIC = {
    "mae": ("mean absolute error", _Y),
    "mse": ("mean squared error", _Y2),
    "rmse": ("root mean squared error", _Y),
    "gm": ("geometric mean of the absolute errors", _Y),
    "pearson": ("Pearson correlation of prediction and target, in [-1, 1]", "fraction"),
    "delta1": ("share of predictions within a factor 1.25 of the target", "fraction"),
}


def _synthetic_metrics() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for split in ("val", "test"):
        where = _SPLIT[split]
        out[f"{split}_mse"] = (f"MSE on the {where} against the noisy targets y", _Y2)
        out[f"{split}_mse_clean"] = (f"MSE on the {where} against the clean targets f(x)", _Y2)
        out[f"{split}_mae"] = (f"mean absolute error on the {where} (noisy targets)", _Y)
        out[f"{split}_acc"] = (
            f"classification accuracy of the class head on the {where}; null for reg",
            "fraction",
        )
        for shot, bins in _SHOT_1D.items():
            out[f"{split}_mse_{shot}"] = (f"MSE on the {where} over the {bins}", _Y2)
    for split in ("train", "test"):
        where = _SPLIT[split]
        out[f"{split}_l_extra_gauss"] = (
            f"L_extra of Eq. 8 (Gaussian regression head) on the {where}; "
            "test and noise stages only",
            _NATS,
        )
        out[f"{split}_l_extra_softmax"] = (
            f"L_extra of Eq. 9 (softmax class head) on the {where}; "
            "test and noise stages, models with a class head only",
            _NATS,
        )
    return out


def _dir_metrics() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for split in DIR_SPLITS:
        for metric in DIR_METRICS:
            meaning, unit = _DIR_METRIC[metric]
            for shot in DIR_SHOTS:
                out[f"{split}_{metric}_{shot}"] = (
                    f"DIR rows: {meaning} on the {_SPLIT[split]}, {_SHOT_DIR[shot]}",
                    unit,
                )
    return out


COLUMNS: dict[str, tuple[str, str]] = {
    # identity (both schemas)
    "row_key": ("unique key of the row: trial key, function id and seed", _NONE),
    "trial_key": ("content hash of the Tune trial (grid point) that trained the model", _NONE),
    "config_hash": ("hash of the trial's config (equal to `trial_key`)", _NONE),
    "study": ("name of the study (the preset run)", _NONE),
    "stage": (
        "stage of the study: lambda_search, optuna, test, noise (1D); train, balanced_data (DIR)",
        _NONE,
    ),
    "search": ("how lambda was searched: grid or optuna", _NONE),
    "flip": ("protocol choice the sensitivity study flipped for the trial; none: no flip", _NONE),
    # synthetic-1D data
    "scenario": ("data scenario: clean, noisy or ood", _NONE),
    "sampling": ("training-set imbalance: uniform, mild, moderate or severe", _NONE),
    "noise_sigma": ("standard deviation of the target noise (noisy scenario)", _Y),
    "noise_distribution": ("distribution of the target noise: gaussian or uniform", _NONE),
    "function_id": ("index of the sine function f(x) = a sin(cx) + b sin(dx) (Eq. 14)", _NONE),
    "seed": ("repetition seed (1D: fixes the dataset version; DIR: the training seed)", _NONE),
    "total_samples": ("samples drawn over the three splits (one third each)", "samples"),
    "n_train": ("training samples of the model", "samples"),
    "peak_share": ("share of the training samples drawn from the peak region", "fraction"),
    "function_set": ("set of sine functions: paper or authors", _NONE),
    "a": ("amplitude a of f(x) = a sin(cx) + b sin(dx)", _Y),
    "b": ("amplitude b of f(x) = a sin(cx) + b sin(dx)", _Y),
    "c": ("frequency c of f(x) = a sin(cx) + b sin(dx)", "1/x units"),
    "d": ("frequency d of f(x) = a sin(cx) + b sin(dx)", "1/x units"),
    "peak_bins": ("bins the peak's samples are balanced over: global or region", _NONE),
    "validation_sampling": ("how validation is drawn: balanced or as_training", _NONE),
    "balance_bins": ("equal-width y bins used to balance the sampling", "bins"),
    "function_seed": ("seed that draws the paper's sine functions", _NONE),
    "peak_center": ("centre mu of the training peak region", _Y),
    # model
    "variant": (
        "model: reg, reg+cls, reg+cls-balanced, the controls reg-scaled, cls-only, reg-tuned, or "
        "a method-zoo variant (reg-lds, reg-focal, reg-bmc, reg-denseweight, reg+hlgauss, "
        "reg+softlabel, reg-lds+cls, hca, hca+lds, reg+hca, reg-fds, hca-d; regcls/methods.py)",
        _NONE,
    ),
    "class_mode": ("classification loss: none, imbalanced or balanced", _NONE),
    "num_classes": ("number of classes C of the class head; null for reg", "classes"),
    "effective_classes": ("classes C-bar left after equalizing (Eq. 12); null for reg", "classes"),
    "lam": ("weight lambda of the classification loss; null for reg", "dimensionless"),
    "lr": ("learning rate", "dimensionless"),
    "epochs": ("epochs of the training schedule", "epochs"),
    "batch_size": ("samples per batch", "samples"),
    "weight_decay": (
        "weight decay of the optimizer (adam, sgd: coupled L2 added to the gradient; adamw: "
        "decoupled, weights shrink by lr x weight_decay per step)",
        "dimensionless",
    ),
    "optimizer": (
        "optimizer: adam (coupled weight decay; the paper's), adamw (decoupled) or sgd (with "
        "momentum); rows written before the column existed read null and are adam",
        _NONE,
    ),
    "momentum": ("SGD's heavy-ball momentum; null for adam and adamw", "dimensionless"),
    "tuned_hyperparameter": (
        "what reg-tuned's validation sweep tuned, the knob lambda * MSE stands in for under the "
        "optimizer: weight_decay (adam), lr (adamw) or lr_scale (sgd: lr x s with weight "
        "decay / s); null for other variants",
        _NONE,
    ),
    "dtype": (
        "floating-point type of training: float32, float64 or bfloat16 (class-head matmuls in "
        "bf16, float32 weights and loss)",
        _NONE,
    ),
    "backend": (
        "1D rows: the packed trainer's backend that trained the model: fused (the compiled CPU "
        "kernel, regcls/training/fused) or torch; a pack the kernel does not cover, a GPU or a "
        "machine where the kernel does not load trains on torch",
        _NONE,
    ),
    "hidden": ("MLP hidden widths, comma separated", "units per layer"),
    "lambda_source": ("where lambda came from: grid, validation, optuna or given", _NONE),
    "equalize_rounding": (
        "rounding of the class counts when equalizing (Eq. 12): floor or ceil",
        _NONE,
    ),
    "shot_bins": ("equal-width y bins of the per-shot metrics", "bins"),
    "shot_rule": ("shot thresholds: dir (100 / 20) or scaled to the training size", _NONE),
    "shot_many": ("many-shot threshold", "training samples per bin"),
    "shot_few": ("few-shot threshold", "training samples per bin"),
    # the method zoo's hyperparameters (regcls/methods.py MethodConfig; null where unused)
    **{
        name: (f"method zoo: {meaning}; null for variants that do not use it", unit)
        for name, (meaning, unit) in {
            "lds_kernel": ("LDS smoothing kernel: gaussian, triangular or laplace", _NONE),
            "lds_size": ("LDS kernel window size (odd)", "bins"),
            "lds_sigma": ("LDS kernel sigma", "bins"),
            "lds_inverse": ("LDS weights: inverse or sqrt_inv of the smoothed density", _NONE),
            "lds_bins": (
                "equal-width bins of the LDS label density over the training range",
                "bins",
            ),
            "focal_beta": ("Focal-R beta (scale of |error| in the activation)", "1/target units"),
            "focal_gamma": ("Focal-R gamma (exponent of the activation)", "dimensionless"),
            "focal_activation": ("Focal-R activation: sigmoid or tanh", _NONE),
            "bmc_sigma": ("Balanced MSE noise sigma (its init when learned)", _Y),
            "bmc_sigma_learned": ("whether Balanced MSE's sigma is trained", _NONE),
            "bmc_sigma_lr": (
                "learning rate of a learned BMC sigma (its own group of the model's optimiser)",
                "dimensionless",
            ),
            "denseweight_alpha": ("DenseWeight alpha", "dimensionless"),
            "denseweight_bandwidth": ("DenseWeight KDE bandwidth rule: silverman or scott", _NONE),
            "hlgauss_sigma_ratio": ("HL-Gauss sigma over the mean class-bin width", "fraction"),
            "softlabel_beta": ("soft-label decrease per group of distance (004 Eq. 1)", "nats"),
            "softlabel_form": ("soft-label form (004)", _NONE),
            "hca_rule": ("HCA test-time rule: add (Eq. 7) or mul (Eq. 8)", _NONE),
            "hca_heads": ("HCA levels H (the finest has C classes)", "heads"),
            "fds_bins": ("FDS target bins", "bins"),
            "fds_kernel": ("FDS smoothing kernel", _NONE),
            "fds_ks": ("FDS kernel window size", "bins"),
            "fds_sigma": ("FDS kernel sigma", "bins"),
            "fds_momentum": ("FDS EMA momentum of the running statistics", "fraction"),
            "fds_start_update": ("first epoch FDS updates its statistics", "epochs"),
            "fds_start_epoch": ("first epoch FDS calibrates the features", "epochs"),
            "fds_clip_min": ("FDS lower clip of the variance ratio", "fraction"),
            "fds_clip_max": ("FDS upper clip of the variance ratio", "fraction"),
            "fds_stats_from": (
                "features FDS takes its end-of-epoch statistics from: calibrated or raw",
                _NONE,
            ),
            "fds_empty_bins": (
                "FDS bins without training samples: neighbours (filled, Yang et al.'s STS-B "
                "code) or keep (initial statistics)",
                _NONE,
            ),
            "distill_epochs": ("HCA-d stage-2 epochs (after the stage-1 epochs)", "epochs"),
        }.items()
    },
    "lambda_selection": ("rule that chose lambda from the lambda search", _NONE),
    "weight_decay_selection": (
        "rule that chose reg-tuned's (lr, weight decay) from its sweep; null otherwise",
        _NONE,
    ),
    "pair_init": ("models of a pair start from the same weights (shared) or not", _NONE),
    "reg_pairing": ("a reg+cls pairs with the shared reg (per_dataset) or its own", _NONE),
    "pair_key": ("key shared by a reg+cls and its own reg (per_model); empty: shared", _NONE),
    "init_seed": ("seed of the model's initial weights", _NONE),
    "l_extra_bins": ("target-histogram bins of the L_extra prior", "bins"),
    "l_extra_pseudo_count": ("pseudo count added to each bin of the L_extra priors", "samples"),
    "l_extra_samples": ("samples per split L_extra is measured on", "samples"),
    "l_extra_sigma2": ("rule for sigma^2 of Eq. 8 (train_mse: the model's training MSE)", _NONE),
    # outcome
    "status": ("ok, diverged, failed or early_stopped", _NONE),
    "error": ("error message of a failed trial; null otherwise", _NONE),
    "epochs_trained": ("epochs actually trained (fewer when stopped early)", "epochs"),
    "final_train_loss": ("training loss of the last epoch (total loss of the variant)", "loss"),
    "bmc_sigma_final": (
        "reg-bmc: Balanced MSE noise sigma after training (learned, or the fixed bmc_sigma); "
        "null for other variants",
        _Y,
    ),
    **_synthetic_metrics(),
    "train_mse": ("MSE on the training set against its noisy targets", _Y2),
    # pairing
    "paired_reg_row_key": ("row_key of the reg model trained on the same data", _NONE),
    "paired_reg_val_mse": ("val_mse of the paired reg model (noisy targets)", _Y2),
    "paired_reg_test_mse": (
        "test MSE of the paired reg model (1D: test_mse, noisy targets; DIR: test_mse_all)",
        _Y2,
    ),
    "paired_reg_test_mae": ("DIR rows: test_mae_all of the paired reg model", _Y),
    # run
    "wall_time_s": ("training time of the model (a pack's time shared by its models)", "s"),
    "trial_wall_time_s": ("training time of the whole pack (trial)", "s"),
    "models_in_pack": ("models trained together in the trial's pack", "models"),
    "device": ("device trained on (cpu, cuda, ...)", _NONE),
    "torch_version": ("PyTorch version", _NONE),
    "ray_version": ("Ray version", _NONE),
    "numpy_version": ("NumPy version", _NONE),
    "python_version": ("Python version", _NONE),
    "regcls_version": ("regcls version that trained the model", _NONE),
    "git_commit": ("git commit of the regcls checkout (or: not a git checkout)", _NONE),
    "command_line": ("command line that started the study (from provenance.json)", _NONE),
    "hostname": ("host the trial ran on", _NONE),
    "finished_at": ("time the trial finished (UTC, ISO 8601)", _NONE),
    # DIR only
    "preset": ("DIR rows: the study preset", _NONE),
    "dataset": ("DIR rows: imdb_wiki_dir, nyud2_dir, breakfast or stsb_dir", _NONE),
    "data_split": ("DIR rows: Breakfast split S1..S4; null elsewhere", _NONE),
    "task": ("DIR rows: Breakfast cooking task; null elsewhere", _NONE),
    "target": ("DIR rows: age, depth, progress_pct, frames or similarity", _NONE),
    "data_balance": ("DIR rows: natural or rebalanced (Table 4: Eq. 13 on both losses)", _NONE),
    "grad_accumulation": ("DIR rows: batches accumulated per optimizer step", "batches"),
    "backbone": ("DIR rows: the image or video backbone", _NONE),
    "img_size": ("DIR rows: input image side", "pixels"),
    "reg_loss": ("DIR rows: regression loss, mse or l1", _NONE),
    "model_selection": ("DIR rows: weights kept, best_val or final epoch", _NONE),
    "shot_bin_width": ("DIR rows: width of the target bins of the shot split", _Y),
    "encoder": ("DIR rows: STS-B-DIR's frozen sentence encoder; null elsewhere", _NONE),
    "best_epoch": ("DIR rows: epoch with the best validation metric", "epoch"),
    **_dir_metrics(),
}

SCHEMAS: dict[str, pa.Schema] = {"synthetic 1D": ROW_SCHEMA, "DIR": DIR_ROW_SCHEMA}


def columns_markdown() -> str:
    """`docs/columns.md`: one table per row schema, each column with its type, meaning and unit."""
    parts = [
        "# Columns of the results rows",
        "",
        "Generated by `python -m results.columns > docs/columns.md` from `results/columns.py`;"
        " do not edit by hand. Every column is nullable.",
    ]
    for title, schema in SCHEMAS.items():
        parts += [
            "",
            f"## {title} rows",
            "",
            "| column | type | meaning | unit |",
            "|---|---|---|---|",
        ]
        for field in schema:
            meaning, unit = COLUMNS[field.name]
            parts.append(f"| `{field.name}` | {field.type} | {meaning} | {unit} |")
    parts += [
        "",
        "## Statistics columns of the comparison tables",
        "",
        "Every comparison table (`helps_stats.csv`, `what_helps.csv`, the zoo's `league.csv`, "
        "`dir_helps_stats.csv`, ...) computes these with `results/cluster_inference.py`; tables "
        "that rename them say so in their docstring.",
        "",
        "| column | type | meaning | unit |",
        "|---|---|---|---|",
    ]
    for name, dtype in STAT_COLUMNS.items():
        meaning, unit = STAT_COLUMN_DOCS[name]
        parts.append(f"| `{name}` | {dtype} | {meaning} | {unit} |")
    return "\n".join(parts) + "\n"


def missing_columns() -> list[str]:
    """Schema columns without an entry in `COLUMNS`."""
    return [n for s in SCHEMAS.values() for n in s.names if n not in COLUMNS]


def unknown_columns() -> list[str]:
    """Entries of `COLUMNS` that name no schema column."""
    names = {n for s in SCHEMAS.values() for n in s.names}
    return [n for n in COLUMNS if n not in names]


if __name__ == "__main__":
    print(columns_markdown(), end="")

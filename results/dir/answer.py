"""Does the CE term help on STS-B-DIR? Per optimiser (issue 22): reg+cls against reg, reg-scaled
and reg-tuned, paired by seed, with intervals over seeds, the CE share and one verdict.

Choices on validation (the 1D study's rules, on `val_mse_all`, the mean over seeds of finished
models, ties to the smaller value): reg+cls's lambda per class mode pooled over C, and reg-tuned's
(lr, weight decay) from its sweep. Pairs: every reg+cls model at its chosen lambda (each C) with
the reg, the reg-scaled at that lambda and the chosen reg-tuned of the same seed and optimiser;
test MSE over all test pairs, pooled over C. The unit of independence is the seed (`n_clusters`):
every model of one seed shares its reg and its initial weights. Statistics:
`results._answer_inference`; verdict: `results.verdicts.ce_verdict`.
"""

from __future__ import annotations

import math

import polars as pl

from results._answer_figure import answer_forest
from results._answer_inference import STATS, gain_share, paired_by_cluster
from results._render import figure_div, html_table, note
from results._tables import checked_rows
from results.dir.schema import empty_dir_rows
from results.verdicts import ce_verdict

DATASET = "stsb_dir"
OPTIMIZER_ORDER = ("adam", "adamw", "sgd")
# Every comparison (A, B) of the long table; the first three are the answer's.
COMPARED = (
    ("reg+cls", "reg"),
    ("reg+cls", "reg-scaled"),
    ("reg+cls", "reg-tuned"),
    ("reg-scaled", "reg"),
    ("reg-tuned", "reg"),
    ("reg+cls-balanced", "reg"),
    ("reg+cls-balanced", "reg-scaled"),
    ("cls-only", "reg"),
)
# (comparison, column prefix in the wide table) for reg+cls against each baseline.
ANSWER = (("reg+cls vs reg", "vs_reg"), ("reg+cls vs reg-scaled", "vs_scaled"))
ANSWER += (("reg+cls vs reg-tuned", "vs_tuned"),)
_USED = (
    "dataset",
    "stage",
    "seed",
    "variant",
    "status",
    "num_classes",
    "lam",
    "lr",
    "weight_decay",
    "optimizer",
    "val_mse_all",
    "test_mse_all",
)


def stsb_answer_tables(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """`stsb_answer` (one row per optimiser: the three comparisons side by side, the CE share,
    the choices made on validation and the verdict) and `stsb_answer_comparisons`
    (the long form, with reg-scaled vs reg, reg-tuned vs reg, balanced classes and cls-only).
    Both empty for rows without reg-scaled and reg-tuned models.

    Example:
        >>> stsb_answer_tables(read_dir_rows("runs/stsb_dir-answer-grid"))["stsb_answer"]
    """
    rows = _rows(df)
    pairs = _pairs(rows)
    if pairs.height == 0:
        return {"stsb_answer": pl.DataFrame(), "stsb_answer_comparisons": pl.DataFrame()}
    stats = paired_by_cluster(pairs, ["optimizer", "comparison"], cluster="seed")
    return {"stsb_answer": _wide(rows, pairs, stats), "stsb_answer_comparisons": stats}


def standard_rows(df: pl.DataFrame) -> pl.DataFrame:
    """The rows the standard DIR sections read: Adam's (the paper's optimiser; null = adam), no
    lr pilot, no reg-tuned sweep (those sections know one setting per variant x C x lambda)."""
    if df.height == 0 or "optimizer" not in df.columns:
        return df
    return df.filter(
        (pl.col("optimizer").fill_null("adam") == "adam")
        & (pl.col("stage") != "lr_pilot")
        & (pl.col("variant") != "reg-tuned")
    )


def _rows(df: pl.DataFrame) -> pl.DataFrame:
    rows = checked_rows(df, "DIR results rows", empty_dir_rows, _USED)
    return rows.filter((pl.col("dataset") == DATASET) & (pl.col("stage") == "train")).with_columns(
        pl.col("optimizer").fill_null("adam")
    )


def _pairs(rows: pl.DataFrame) -> pl.DataFrame:
    """Every pair of `COMPARED` per optimiser: optimizer, comparison, seed, num_classes, lam,
    mse_a, mse_b, status_a, status_b."""
    frames = []
    for optimizer in [o for o in OPTIMIZER_ORDER if o in set(rows["optimizer"].to_list())]:
        own = rows.filter(pl.col("optimizer") == optimizer)
        if own.filter(pl.col("variant").is_in(("reg-scaled", "reg-tuned"))).height == 0:
            continue
        chosen = _at_chosen(own)
        sides = {
            "reg": own.filter(pl.col("variant") == "reg"),
            "reg-tuned": chosen.filter(pl.col("variant") == "reg-tuned"),
        }
        for a, b in COMPARED:
            side_a = chosen.filter(pl.col("variant") == a)
            if b == "reg-scaled":  # at A's lambda
                side_b, keys = own.filter(pl.col("variant") == b), ["seed", "lam"]
            else:
                side_b, keys = sides[b], ["seed"]
            frames.append(_joined(side_a, side_b, keys, f"{a} vs {b}", optimizer))
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def _at_chosen(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows at the choices made on validation: reg+cls (each class mode) at its lambda,
    reg-scaled at every lambda (paired by lambda), reg-tuned at its chosen (lr, weight decay)."""
    ok = pl.col("status") == "ok"
    val = pl.col("val_mse_all").filter(ok & pl.col("val_mse_all").is_finite()).mean()
    lam = (
        rows.filter(pl.col("variant").is_in(("reg+cls", "reg+cls-balanced")))
        .group_by("variant", "lam")
        .agg(val.alias("_val"))
        .drop_nulls("_val")
        .sort("_val", "lam")
        .group_by("variant", maintain_order=True)
        .agg(pl.col("lam").first().alias("_chosen"))
    )
    tuned = (
        rows.filter(pl.col("variant") == "reg-tuned")
        .group_by("lr", "weight_decay")
        .agg(val.alias("_val"))
        .drop_nulls("_val")
        .sort("_val", "lr", "weight_decay")
        .head(1)
    )
    cls = rows.join(lam, on="variant", how="inner").filter(pl.col("lam") == pl.col("_chosen"))
    reg_tuned = rows.filter(pl.col("variant") == "reg-tuned").join(
        tuned.select("lr", "weight_decay"), on=["lr", "weight_decay"], how="inner"
    )
    rest = rows.filter(pl.col("variant").is_in(("reg", "reg-scaled", "cls-only")))
    return pl.concat([cls.drop("_chosen"), reg_tuned, rest], how="vertical_relaxed")


def _joined(
    a: pl.DataFrame, b: pl.DataFrame, keys: list[str], name: str, optimizer: str
) -> pl.DataFrame:
    """A's rows beside their B's: each side's test MSE and status (the outcome rule of
    `results.cluster_inference.pair_outcomes`: a diverged side loses, a failed one drops)."""
    side_a = a.select(
        *keys,
        "num_classes",
        *([] if "lam" in keys else [pl.col("lam")]),
        pl.col("test_mse_all").alias("mse_a"),
        pl.col("status").alias("status_a"),
    )
    side_b = b.select(
        *keys, pl.col("test_mse_all").alias("mse_b"), pl.col("status").alias("status_b")
    )
    joined = side_a.join(side_b, on=keys, how="inner", nulls_equal=True)
    return joined.select(
        pl.lit(optimizer).alias("optimizer"),
        pl.lit(name).alias("comparison"),
        pl.col("seed").cast(pl.Int64),
        pl.col("num_classes").cast(pl.Int64),
        pl.col("lam").cast(pl.Float64),
        pl.col("mse_a").cast(pl.Float64),
        pl.col("mse_b").cast(pl.Float64),
        "status_a",
        "status_b",
    )


def _wide(rows: pl.DataFrame, pairs: pl.DataFrame, stats: pl.DataFrame) -> pl.DataFrame:
    """One row per optimiser: the three comparisons side by side, shares, choices, verdict."""
    out = []
    for optimizer in stats["optimizer"].unique(maintain_order=True).to_list():
        own = stats.filter(pl.col("optimizer") == optimizer)
        row: dict[str, object] = {"optimizer": optimizer}
        reg = rows.filter(
            (pl.col("optimizer") == optimizer)
            & (pl.col("variant") == "reg")
            & (pl.col("status") == "ok")
        )
        row["mse_reg"] = reg["test_mse_all"].mean()
        for name, prefix in ANSWER:
            part = own.filter(pl.col("comparison") == name)
            for column in STATS:
                row[f"{prefix}_{column}"] = part[column][0] if part.height else None
        row["n_clusters"] = row["vs_reg_n_clusters"]
        finished = (pl.col("status_a") == "ok") & (pl.col("status_b") == "ok")
        gains = pairs.filter(
            (pl.col("optimizer") == optimizer)
            & finished
            & pl.col("mse_a").is_finite().fill_null(False)
            & pl.col("mse_b").is_finite().fill_null(False)
        ).with_columns((pl.col("mse_b") - pl.col("mse_a")).alias("gain"))
        own_gain = gains.filter(pl.col("comparison") == "reg+cls vs reg")
        lams = own_gain["lam"].unique().implode()
        for control, name in (("reg-scaled", "ce_share"), ("reg-tuned", "beyond_tuned_share")):
            other = gains.filter(pl.col("comparison") == f"{control} vs reg")
            if control == "reg-scaled":
                other = other.filter(pl.col("lam").is_in(lams))
            values = (math.nan,) * 3
            if own_gain.height and other.height:
                values = gain_share(own_gain, other, "seed")[:3]
            row.update(zip((name, f"{name}_ci_low", f"{name}_ci_high"), values, strict=True))
        chosen = _at_chosen(rows.filter(pl.col("optimizer") == optimizer))
        cls = chosen.filter(pl.col("variant") == "reg+cls")
        tuned = chosen.filter(pl.col("variant") == "reg-tuned")
        row["lambda"] = cls["lam"][0] if cls.height else None
        row["reg_lr"] = reg["lr"][0] if reg.height else None
        row["tuned_lr"] = tuned["lr"][0] if tuned.height else None
        row["tuned_weight_decay"] = tuned["weight_decay"][0] if tuned.height else None
        row["verdict"] = ce_verdict(row)
        out.append(row)
    return pl.DataFrame(out)


def stsb_answer_sections(tables: dict[str, pl.DataFrame]) -> list[tuple[str, str]]:
    """(title, HTML) of "Does the CE term help? (STS-B-DIR)": the forest plot (one panel per
    optimiser) and the table with verdicts; none without the answer's rows."""
    table = tables["stsb_answer"]
    if table.height == 0:
        return []
    text = (
        "STS-B-DIR, per optimiser, pooled over C, on the test pairs: reg+cls (lambda per class "
        "mode chosen on validation) against reg, reg-scaled (lambda·MSE at reg+cls's lambda) "
        "and reg-tuned (what lambda stands in for under the optimiser, chosen on validation "
        "from as many values as lambdas). % wins and mean test-MSE difference reg+cls - B with "
        "95% intervals over seeds (the independent units, n_clusters); the verdict reads the "
        "intervals only (results/verdicts.py)."
    )
    figure = answer_forest(
        table.with_columns(pl.lit("STS-B-DIR").alias("label")),
        "Does the CE term help on STS-B-DIR? Mean test-MSE difference reg+cls - B, % of reg's "
        "MSE (95% intervals over seeds)",
    )
    return [
        (
            "Does the CE term help? (STS-B-DIR)",
            note(text)
            + figure_div(figure, "figure-stsb-answer", False)
            + f"<div class='wide'>{html_table(table)}</div>",
        )
    ]

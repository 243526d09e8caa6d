"""Does a speed mode change the study's answer? float32 vs bfloat16 (`--compare dtype`, on the
torch backend) or the torch vs the fused backend (`--compare backend`, float32) on one slice.

Slice: clean scenario, severe sampling, 10 functions x 3 test seeds, C in {4, 64, 1024} for reg+cls
(lambda 100, the paper's best on clean data) and their reg models; the paper's 80 epochs, 1
thread, in this process (`train_point`, the study's own grid-point trainer). Each grid point is
trained in both modes back to back (same data, seeds and init), so the per-point time ratio is
measured side by side.

Answer, per mode and per C: "% reg+cls beats reg" (test MSE, paired by function and seed) and
the mean paired test-MSE difference (reg+cls - reg), each with its 95% interval over functions
(`results.cluster_inference.paired_stats`, as the report); plus how many pairs change sides
between the modes.

Usage: python benchmarks/bf16_answer.py [--compare dtype | backend] [--epochs 80] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402
import torch  # noqa: E402

from results.cluster_inference import paired_stats  # noqa: E402
from search_spaces.synthetic_1d import PRESETS  # noqa: E402
from study.synthetic_1d.plan import test_specs  # noqa: E402
from study.synthetic_1d.point import train_point  # noqa: E402

SLICE = {
    "scenarios": ["clean"],
    "samplings": ["severe"],
    "functions": list(range(10)),
    "test_seeds": [0, 421, 8125],
    "class_counts": [4, 64, 1024],
    "controls": [],
}
LAMBDA = 100.0
# The spec field compared, its two values (the reference first) and the fixed other field.
MODES = {
    "dtype": (("float32", "bfloat16"), {"backend": "torch"}),
    "backend": (("torch", "fused"), {"dtype": "float32"}),
}
JSON = {
    "dtype": "benchmarks/results_bf16_answer.json",
    "backend": "benchmarks/results_backend_answer.json",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", choices=sorted(MODES), default="dtype")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--json", default=None, help="default: one file per --compare")
    args = parser.parse_args()
    field = args.compare
    values, fixed = MODES[field]
    torch.set_num_threads(1)
    preset = PRESETS["paper"].with_overrides(dict(SLICE, epochs=args.epochs))
    specs = test_specs(preset, {("clean", "imbalanced"): LAMBDA})
    rows: list[dict] = []
    seconds = {}
    for spec in specs:
        for value in values:
            started = time.process_time()
            rows += train_point(spec.with_values(**fixed, **{field: value}))
            seconds[(spec.num_classes or 0, value)] = time.process_time() - started
    # The row's own column: for the backend, the one that ran.
    frame = pl.DataFrame(rows).select(
        field, "variant", "num_classes", "function_id", "seed", "test_mse", "val_mse"
    )
    reg = frame.filter(pl.col("variant") == "reg").select(
        field, "function_id", "seed", pl.col("test_mse").alias("mse_b")
    )
    pairs = (
        frame.filter(pl.col("variant") == "reg+cls")
        .rename({"test_mse": "mse_a"})
        .join(reg, on=[field, "function_id", "seed"])
    )
    stats = paired_stats(pairs, [field, "num_classes"])
    wins = pairs.with_columns((pl.col("mse_a") < pl.col("mse_b")).alias("win")).pivot(
        on=field, index=["num_classes", "function_id", "seed"], values="win"
    )
    flips = wins.filter(pl.col(values[0]) != pl.col(values[1])).height
    val = frame.pivot(
        on=field, index=["variant", "num_classes", "function_id", "seed"], values="val_mse"
    )
    rel = ((val[values[1]] - val[values[0]]).abs() / val[values[0]].abs()).max()
    speed = {
        f"C={c}": seconds[(c, values[0])] / seconds[(c, values[1])]
        for c in sorted({c for c, _ in seconds})
    }
    load = os.getloadavg()
    print(f"slice: {len(rows) // 2} models per {field}, {args.epochs} epochs; load {load}")
    header = "| C | pairs | functions | % reg+cls beats reg (95% CI) | mean diff (95% CI) |"
    print(f"| {field} {header}")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in stats.iter_rows(named=True):
        print(
            f"| {r[field]} | {r['num_classes']} | {r['n_pairs']} | {r['n_clusters']} | "
            f"{r['pct_wins']:.0f}% "
            f"({r['ci_low']:.0f}-{r['ci_high']:.0f}) | {r['mean_diff']:.4g} "
            f"({r['mean_diff_ci_low']:.4g}, {r['mean_diff_ci_high']:.4g}) |"
        )
    a, b = values
    print(f"pairs whose win/loss differs between {a} and {b}: {flips} of {wins.height}")
    print(f"max rel. difference of val MSE, {b} vs {a}: {rel:.2e}")
    print(
        f"{a} / {b} CPU seconds per grid point: "
        + ", ".join(f"{k} {v:.2f}x" for k, v in speed.items())
    )
    result = {
        "compare": field,
        "values": list(values),
        "fixed": fixed,
        "slice": SLICE,
        "lambda": LAMBDA,
        "epochs": args.epochs,
        "stats": stats.to_dicts(),
        "flipped_pairs": flips,
        "pairs": wins.height,
        "max_rel_diff_val_mse": rel,
        "cpu_seconds": {f"C={c},{d}": s for (c, d), s in seconds.items()},
        f"speed_{a}_over_{b}": speed,
        "load": os.getloadavg(),
    }
    Path(args.json or JSON[field]).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

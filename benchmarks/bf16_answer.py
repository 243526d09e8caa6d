"""Does the bfloat16 mode change the study's answer? float32 vs bfloat16 on one fixed slice.

Slice: clean scenario, severe sampling, 10 functions x 3 test seeds, C in {4, 64, 1024} for reg+cls
(lambda 100, the paper's best on clean data) and their reg models; the paper's 80 epochs, 1
thread, in this process (`train_point`, the study's own grid-point trainer). Each grid point is
trained in float32 and in bfloat16 back to back (same data, seeds and init), so the per-point
time ratio is measured side by side.

Answer, per dtype and per C: "% reg+cls beats reg" (test MSE, paired by function and seed) and
the mean paired test-MSE difference (reg+cls - reg), each with its 95% interval over functions
(`results.cluster_inference.paired_stats`, as the report); plus how many pairs change sides
between the dtypes.

Usage: python benchmarks/bf16_answer.py [--epochs 80] [--json benchmarks/results_bf16_answer.json]
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
DTYPES = ("float32", "bfloat16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--json", default="benchmarks/results_bf16_answer.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    preset = PRESETS["paper"].with_overrides(dict(SLICE, epochs=args.epochs))
    specs = test_specs(preset, {("clean", "imbalanced"): LAMBDA})
    rows: list[dict] = []
    seconds = {}
    for spec in specs:
        for dtype in DTYPES:
            started = time.process_time()
            rows += train_point(spec.with_values(dtype=dtype))
            seconds[(spec.num_classes or 0, dtype)] = time.process_time() - started
    frame = pl.DataFrame(rows).select(
        "dtype", "variant", "num_classes", "function_id", "seed", "test_mse"
    )
    reg = frame.filter(pl.col("variant") == "reg").select(
        "dtype", "function_id", "seed", pl.col("test_mse").alias("mse_b")
    )
    pairs = (
        frame.filter(pl.col("variant") == "reg+cls")
        .rename({"test_mse": "mse_a"})
        .join(reg, on=["dtype", "function_id", "seed"])
    )
    stats = paired_stats(pairs, ["dtype", "num_classes"])
    wins = pairs.with_columns((pl.col("mse_a") < pl.col("mse_b")).alias("win")).pivot(
        on="dtype", index=["num_classes", "function_id", "seed"], values="win"
    )
    flips = wins.filter(pl.col("float32") != pl.col("bfloat16")).height
    speed = {
        f"C={c}": seconds[(c, "float32")] / seconds[(c, "bfloat16")]
        for c in sorted({c for c, _ in seconds})
    }
    print(f"slice: {len(rows) // 2} models per dtype, {args.epochs} epochs; load {os.getloadavg()}")
    print("| dtype | C | pairs | functions | % reg+cls beats reg (95% CI) | mean diff (95% CI) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in stats.iter_rows(named=True):
        print(
            f"| {r['dtype']} | {r['num_classes']} | {r['n_pairs']} | {r['n_clusters']} | "
            f"{r['pct_wins']:.0f}% "
            f"({r['ci_low']:.0f}-{r['ci_high']:.0f}) | {r['mean_diff']:.4g} "
            f"({r['mean_diff_ci_low']:.4g}, {r['mean_diff_ci_high']:.4g}) |"
        )
    print(f"pairs whose win/loss differs between float32 and bfloat16: {flips} of {wins.height}")
    print(
        "float32 / bfloat16 CPU seconds per grid point: "
        + ", ".join(f"{k} {v:.2f}x" for k, v in speed.items())
    )
    result = {
        "slice": SLICE,
        "lambda": LAMBDA,
        "epochs": args.epochs,
        "stats": stats.to_dicts(),
        "flipped_pairs": flips,
        "pairs": wins.height,
        "cpu_seconds": {f"C={c},{d}": s for (c, d), s in seconds.items()},
        "speed_float32_over_bfloat16": speed,
        "load": os.getloadavg(),
    }
    Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Class-head tile size A/B: L2-sized model chunks against the default, per C, in one run.

`regcls.objectives.cross_entropy.TILE_BYTES` bounds the logits of one tile of models (the head's
forward, CE and backward run tile by tile). This times packs of K models at each C with every
tile size, interleaved (round-robin over sizes), 1 thread, CPU time per step, min of `--repeats`;
ratios are to the default size. 1 MiB is this machine's L2 per core (AMD EPYC), 512 KiB half.

Usage: python benchmarks/tile_sizes.py [--ks 10,25] [--cs 64,256,1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from regcls.objectives import cross_entropy  # noqa: E402
from regcls.training.packed import train_packed  # noqa: E402
from regcls.training.tasks import ModelTask, TrainSettings  # noqa: E402

SIZES = {"512 KiB": 1 << 19, "1 MiB": 1 << 20, "4 MiB (default)": 1 << 22, "untiled": 1 << 40}
N, BATCH = 5_120, 256  # 20 steps per epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="10,25")
    parser.add_argument("--cs", default="64,256,1024")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    default = cross_entropy.TILE_BYTES
    x = torch.linspace(-1, 1, N).unsqueeze(1)
    y = torch.sin(5 * x[:, 0])
    print(f"load {os.getloadavg()}")
    print("| K | C | " + " | ".join(f"{name} ms/step" for name in SIZES) + " | best / default |")
    print("| --- | --- |" + " --- |" * (len(SIZES) + 1))
    try:
        for k in (int(v) for v in args.ks.split(",")):
            for c in (int(v) for v in args.cs.split(",")):
                labels = torch.arange(N) % c
                tasks = [ModelTask(x, y, i, 1e-3, 100.0, labels, c) for i in range(k)]
                best = dict.fromkeys(SIZES, float("inf"))
                for _ in range(args.repeats):
                    for name, size in SIZES.items():
                        cross_entropy.TILE_BYTES = size
                        train_packed(tasks, TrainSettings(epochs=0))  # buffers of this size
                        started = time.process_time()
                        train_packed(tasks, TrainSettings(epochs=1, batch_size=BATCH))
                        step = (time.process_time() - started) / (N // BATCH)
                        best[name] = min(best[name], step)
                ref = best["4 MiB (default)"]
                cells = " | ".join(f"{1e3 * v:.3f}" for v in best.values())
                print(f"| {k} | {c} | {cells} | {min(best.values()) / ref:.2f} |", flush=True)
    finally:
        cross_entropy.TILE_BYTES = default


if __name__ == "__main__":
    main()

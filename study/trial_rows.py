"""How a trial's results rows reach the driver: as a Tune checkpoint, not inside the metrics.

A trial reports its metrics to Tune and its rows as files of a checkpoint (one JSON file per
Parquet file the sink will write, named `<stage>-<key>.json`). Tune persists the checkpoint in
the trial's folder under `--out/tune/` and hands it to the driver's callback, which pairs the
rows and writes them to Parquet. Tune's experiment state then holds a few numbers per trial
instead of every model's row, so it stays small however many models a study trains.

JSON keeps every value exactly (floats round-trip by `repr`; NaN and inf are allowed), and the
sink casts the rows to the study's schema as before.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ray import tune

# (stage, trial key) -> the rows of one Parquet file
RowFiles = dict[tuple[str, str], list[dict]]


def report_rows(metrics: dict, files: RowFiles) -> None:
    """`tune.report(metrics)` with `files` attached as the trial's checkpoint (call in a trial)."""
    with tempfile.TemporaryDirectory(prefix="regcls-rows-") as folder:
        for (stage, key), rows in files.items():
            path = Path(folder) / f"{stage}-{key}.json"
            path.write_text(json.dumps(rows, separators=(",", ":")))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def read_rows(checkpoint: tune.Checkpoint) -> RowFiles:
    """The row files a trial attached with `report_rows` (empty for other checkpoints)."""
    files: RowFiles = {}
    with checkpoint.as_directory() as folder:
        for path in sorted(Path(folder).glob("*.json")):
            stage, _, key = path.stem.rpartition("-")
            files[(stage, key)] = json.loads(path.read_text())
    return files

"""The Parquet sink: one file per finished Tune trial under `<out>/rows/`, written atomically.

A file is first written under a dot-name and then renamed, so a reader (or a resumed study)
never sees half a trial. The file name carries the trial key, so rerunning a trial replaces its
file instead of adding rows. Every row gets the study's command line from `<out>/provenance.json`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from study.run_info import PROVENANCE_FILE


@dataclass(frozen=True)
class Pairing:
    """How a reg+cls row finds the `reg` model trained on the same data, and what it copies.

    `fields`: columns that identify the data; `stages`: stage of a row -> stage of its reg rows;
    `copies`: column of the reg+cls row -> column of the reg row copied into it; `defaults`: the
    value a field has in rows written before it existed (read back as null).
    """

    fields: tuple[str, ...]
    stages: dict[str, str]
    copies: dict[str, str]
    defaults: dict[str, object] = field(default_factory=dict)


SYNTHETIC_1D_PAIRING = Pairing(
    fields=(
        "scenario",
        "sampling",
        "noise_sigma",
        "noise_distribution",
        "function_id",
        "seed",
        "total_samples",
        "function_set",
        "peak_share",
        "peak_bins",
        "validation_sampling",
        "dtype",
        # The sensitivity study's protocol flip: a reg+cls row pairs with the reg of its flip.
        "flip",
        # reg_pairing = per_model: a reg+cls row pairs with its own reg ("" = the shared reg).
        "pair_key",
        # The answer study trains every optimiser: a row pairs with the reg of its optimiser.
        "optimizer",
    ),
    stages={
        "lambda_search": "lambda_search",
        "optuna": "lambda_search",
        "test": "test",
        "noise": "noise",
    },
    copies={
        "paired_reg_row_key": "row_key",
        "paired_reg_val_mse": "val_mse",
        "paired_reg_test_mse": "test_mse",
    },
    defaults={"flip": "none", "pair_key": "", "optimizer": "adam"},
)


class ParquetSink:
    """Writes and reads the rows of one study folder."""

    def __init__(
        self, out_dir: Path, schema: pa.Schema, pairing: Pairing = SYNTHETIC_1D_PAIRING
    ) -> None:
        self.rows_dir = Path(out_dir) / "rows"
        self.schema = schema
        self.pairing = pairing
        self._reg_index: dict[str, dict[tuple, dict]] = {}
        self._provenance_path = Path(out_dir) / PROVENANCE_FILE
        self._command_line: str | None = None

    def trial_path(self, stage: str, trial_key: str) -> Path:
        return self.rows_dir / f"{stage}-{trial_key}.parquet"

    def has_trial(self, stage: str, trial_key: str) -> bool:
        return self.trial_path(stage, trial_key).exists()

    def write_trial(self, stage: str, trial_key: str, rows: list[dict]) -> Path:
        """Pair reg+cls rows with their reg model, then write them atomically."""
        rows = [self._with_command_line(self._paired(row)) for row in rows]
        table = pa.Table.from_pylist(rows, schema=self.schema)
        self.rows_dir.mkdir(parents=True, exist_ok=True)
        final = self.trial_path(stage, trial_key)
        temporary = self.rows_dir / f".{final.name}.{os.getpid()}.tmp"
        pq.write_table(table, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        for row in rows:
            if row["variant"] == "reg" and row["stage"] in self._reg_index:
                self._reg_index[row["stage"]][self._key(row)] = row
        return final

    def can_pair(self, rows: list[dict]) -> bool:
        """Whether every reg+cls row's reg model is already written."""
        return all(self._reg_of(row) is not None for row in rows if row["variant"] != "reg")

    def read(self, stage: str | None = None) -> pa.Table:
        """Every row written so far (of one stage when given)."""
        pattern = f"{stage}-*.parquet" if stage else "*.parquet"
        files = sorted(self.rows_dir.glob(pattern)) if self.rows_dir.exists() else []
        if not files:
            return self.schema.empty_table()
        return pa.concat_tables(pq.read_table(f, schema=self.schema) for f in files)

    def remove_stage(self, stage: str) -> int:
        """Delete one stage's files (used to restart a search that cannot resume part-way)."""
        files = list(self.rows_dir.glob(f"{stage}-*.parquet")) if self.rows_dir.exists() else []
        for f in files:
            f.unlink()
        return len(files)

    def _reg_of(self, row: dict) -> dict | None:
        stage = self.pairing.stages.get(row["stage"], row["stage"])
        if stage not in self._reg_index:
            self._reg_index[stage] = {
                self._key(r): r for r in self.read(stage).to_pylist() if r["variant"] == "reg"
            }
        return self._reg_index[stage].get(self._key(row))

    def _with_command_line(self, row: dict) -> dict:
        """The row with the study's command line from `provenance.json` (a trial in a Ray
        worker cannot know it); unchanged when the row has one or the study recorded none."""
        if row.get("command_line") is not None:
            return row
        if self._command_line is None and self._provenance_path.exists():
            recorded = json.loads(self._provenance_path.read_text(encoding="utf-8"))
            self._command_line = recorded.get("command_line")
        return row if self._command_line is None else {**row, "command_line": self._command_line}

    def _key(self, row: dict) -> tuple:
        defaults = self.pairing.defaults
        return tuple(defaults.get(f) if row.get(f) is None else row[f] for f in self.pairing.fields)

    def _paired(self, row: dict) -> dict:
        if row.get("variant") == "reg":
            return row
        reg = self._reg_of(row)
        if reg is None:
            return row
        return {**row, **{mine: reg[theirs] for mine, theirs in self.pairing.copies.items()}}

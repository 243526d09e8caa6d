"""The protocol-sensitivity study end to end: every flip's test-stage trials as one Tune run.

Resumable like the main study: a trial whose Parquet file exists is not run again.
"""

from __future__ import annotations

import pyarrow as pa

from study.options import StudyOptions
from study.output_folder import check_output_folder
from study.sink import ParquetSink
from study.synthetic_1d.run import stage_runner
from study.synthetic_1d.sensitivity import (
    STUDY,
    declared_sensitivity_models,
    resolve_sensitivity_preset,
    sensitivity_config,
    sensitivity_specs,
)
from study.tune_runner import RunSummary


def run_sensitivity(options: StudyOptions, schema: pa.Schema) -> dict[str, RunSummary]:
    """Train the slice once per flip into `options.out`; return what the Tune run did."""
    preset = resolve_sensitivity_preset(options)
    config = sensitivity_config(options, preset)
    # Refuse a folder of another study before Ray starts; claim it only once Ray is up.
    check_output_folder(options.out, config, options.resume)
    sink = ParquetSink(options.out, schema)
    declared = declared_sensitivity_models(preset)
    print(
        f"{STUDY} preset={preset.name}: "
        + ", ".join(f"flip {flip} {count} models" for flip, count in declared.items())
        + f" (total {sum(declared.values())})",
        flush=True,
    )
    summaries: dict[str, RunSummary] = {}
    with stage_runner(options, config, sink, summaries, sum(declared.values())) as runner:
        runner.run(sensitivity_specs(preset), name="sensitivity")
    return summaries

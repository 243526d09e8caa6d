"""The answer study end to end (issue 22): lr pilot, lambda search and the test grid, per
optimiser, each stage one Tune run.

Resumable like the 1D study: a trial whose Parquet file exists is not run again, and every choice
is derived again from the rows on disk, so a resumed study ends with the rows of an
uninterrupted one. The choices are written to `<out>/selected_learning_rates.json`,
`selected_lambdas.json` and `selected_tuning.json`.
"""

from __future__ import annotations

import pyarrow as pa

from search_spaces.optimizers import TUNED_HYPERPARAMETER
from search_spaces.synthetic_1d_answer import AnswerPreset
from study.options import StudyOptions
from study.output_folder import check_output_folder, write_json_atomic
from study.sink import ParquetSink
from study.synthetic_1d.answer import (
    STUDY,
    LearningRates,
    answer_config,
    base_learning_rates,
    declared_answer_models,
    final_specs,
    pilot_specs,
    resolve_answer_preset,
    search_specs,
)
from study.synthetic_1d.run import stage_runner
from study.synthetic_1d.selection import (
    choose_lambdas,
    choose_pilot_lrs,
    choose_tuned,
    require_lambdas,
    require_scenarios,
)
from study.tune_runner import RunSummary


def run_answer(options: StudyOptions, schema: pa.Schema) -> dict[str, RunSummary]:
    """Train every stage into `options.out`; return what each Tune run did."""
    preset = resolve_answer_preset(options)
    config = answer_config(options, preset)
    # Refuse a folder of another study before Ray starts; claim it only once Ray is up.
    check_output_folder(options.out, config, options.resume)
    sink = ParquetSink(options.out, schema)
    declared = declared_answer_models(preset)
    print(
        f"{STUDY} preset={preset.name} optimizers={','.join(preset.optimizers)}: "
        + ", ".join(f"{stage} {count} models" for stage, count in declared.items() if count)
        + f" (total {sum(declared.values())})",
        flush=True,
    )
    summaries: dict[str, RunSummary] = {}
    with stage_runner(options, config, sink, summaries, sum(declared.values())) as runner:
        pilot = pilot_specs(preset)
        if pilot:
            runner.run(pilot, name="lr_pilot")
        rates = base_learning_rates(preset, _pilot_choice(preset, sink))
        write_json_atomic(options.out / "selected_learning_rates.json", rates)
        runner.run(search_specs(preset, rates), name="lambda_search")
        rows = sink.read("lambda_search").to_pylist()
        lambdas, tuned = {}, {}
        for optimizer in preset.optimizers:
            own = [r for r in rows if (r["optimizer"] or "adam") == optimizer]
            scenarios = preset.slice.scenarios
            lambdas[optimizer] = require_lambdas(choose_lambdas(own), scenarios)
            tuned[optimizer] = require_scenarios(
                choose_tuned(own), scenarios, f"reg-tuned ({optimizer})", "lambda_search"
            )
        write_json_atomic(
            options.out / "selected_lambdas.json",
            {o: {f"{s}/{m}": lam for (s, m), lam in sorted(c.items())} for o, c in lambdas.items()},
        )
        write_json_atomic(
            options.out / "selected_tuning.json",
            {
                o: {
                    s: {
                        "tuned_hyperparameter": TUNED_HYPERPARAMETER[o],
                        "lr": lr,
                        "weight_decay": wd,
                    }
                    for s, (lr, wd) in sorted(c.items())
                }
                for o, c in tuned.items()
            },
        )
        runner.run(final_specs(preset, rates, lambdas, tuned), name="test+noise")
    return summaries


def _pilot_choice(preset: AnswerPreset, sink: ParquetSink) -> LearningRates:
    """Per piloted optimiser, the lr per scenario its pilot chose on validation."""
    rows = sink.read("lr_pilot").to_pylist()
    chosen = {}
    for optimizer in (o for o in preset.optimizers if o in preset.piloted):
        own = [r for r in rows if r["optimizer"] == optimizer]
        chosen[optimizer] = require_scenarios(
            choose_pilot_lrs(own), preset.slice.scenarios, f"lr ({optimizer})", "lr_pilot"
        )
    return chosen

"""The method-zoo study end to end: the lambda search of the lambda variants, the lambda choice
per scenario and variant, then the test stage of every variant, through Tune.

Resumable like the main study: a trial whose Parquet file exists is not run again, and the test
stage's lambdas are chosen again from the rows already written.
"""

from __future__ import annotations

import pyarrow as pa

from study.options import StudyOptions
from study.output_folder import check_output_folder, write_json_atomic
from study.sink import ParquetSink
from study.synthetic_1d.run import stage_runner
from study.synthetic_1d.selection import choose_variant_lambdas
from study.synthetic_1d.zoo import (
    STUDY,
    VariantLambdas,
    declared_zoo_models,
    given_variant_lambdas,
    lambda_variants,
    resolve_zoo_preset,
    zoo_config,
    zoo_lambda_search_specs,
    zoo_test_specs,
)
from study.tune_runner import RunSummary


def run_zoo(options: StudyOptions, schema: pa.Schema) -> dict[str, RunSummary]:
    """Train the zoo into `options.out`; return what each Tune run did."""
    preset = resolve_zoo_preset(options)
    config = zoo_config(options, preset)
    # Refuse a folder of another study before Ray starts; claim it only once Ray is up.
    check_output_folder(options.out, config, options.resume)
    sink = ParquetSink(options.out, schema)
    declared = declared_zoo_models(preset)
    print(
        f"{STUDY} preset={preset.name}: {len(preset.variants)} variants; "
        + ", ".join(f"{stage} {count} models" for stage, count in declared.items())
        + f" (total {sum(declared.values())})",
        flush=True,
    )
    summaries: dict[str, RunSummary] = {}
    with stage_runner(options, config, sink, summaries, sum(declared.values())) as runner:
        search = zoo_lambda_search_specs(preset)
        if search:
            runner.run(search, name="lambda_search")
        lambdas = given_variant_lambdas(preset) or _chosen(
            sink.read("lambda_search").to_pylist(), preset.slice.scenarios, lambda_variants(preset)
        )
        write_json_atomic(
            options.out / "selected_lambdas.json",
            {f"{s}/{v}": lam for (s, v), lam in sorted(lambdas.items())},
        )
        runner.run(zoo_test_specs(preset, lambdas), name="test")
    return summaries


def _chosen(
    rows: list[dict], scenarios: tuple[str, ...], variants: tuple[str, ...]
) -> VariantLambdas:
    """The lambda per (scenario, variant) on validation; fails clearly when one has no
    finished validation model."""
    chosen = choose_variant_lambdas(rows, variants)
    missing = [f"{s}/{v}" for s in scenarios for v in variants if (s, v) not in chosen]
    if missing:
        raise RuntimeError(
            "lambda selection: no finished validation models for "
            + ", ".join(missing)
            + " (every model diverged or failed); see the lambda_search rows"
        )
    return chosen

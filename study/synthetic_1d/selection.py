"""Choosing lambda on validation (core paper Section 3.1, "Effect of the lambda hyperparameter").

Rule (`LAMBDA_SELECTION`, recorded in the study config): per scenario and class mode, the lambda
with the lowest mean validation MSE over samplings x class counts x functions x seeds, counting
only models that finished (`status == "ok"`). Ties go to the smaller lambda.
"""

from __future__ import annotations

import math
from collections import defaultdict

LAMBDA_SELECTION = "lowest_mean_val_mse_per_scenario_and_class_mode"
# reg-tuned's weight decay: the same rule over its sweep, per scenario.
WEIGHT_DECAY_SELECTION = "lowest_mean_val_mse_per_scenario"
# The method zoo's lambda variants: the same rule per scenario and variant.
VARIANT_LAMBDA_SELECTION = "lowest_mean_val_mse_per_scenario_and_variant"


def choose_lambdas(rows: list[dict]) -> dict[tuple[str, str], float]:
    """{(scenario, class_mode): lambda} from the lambda_search stage's rows."""
    variants = ("reg+cls", "reg+cls-balanced")
    return _lowest(rows, variants, lambda r: ((r["scenario"], r["class_mode"]), r["lam"]))


def choose_weight_decays(rows: list[dict]) -> dict[str, float]:
    """{scenario: weight decay} of reg-tuned from the lambda_search stage's rows."""
    return _lowest(rows, ("reg-tuned",), lambda r: (r["scenario"], r["weight_decay"]))


def choose_variant_lambdas(
    rows: list[dict], variants: tuple[str, ...]
) -> dict[tuple[str, str], float]:
    """{(scenario, variant): lambda} of `variants` from the lambda_search stage's rows (the
    method zoo: every lambda variant has its own)."""
    return _lowest(rows, variants, lambda r: ((r["scenario"], r["variant"]), r["lam"]))


def _lowest(rows: list[dict], variants: tuple[str, ...], key_value) -> dict:
    """Per key, the value with the lowest mean validation MSE over finished models; ties go to
    the smaller value."""
    errors: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        if row["stage"] != "lambda_search" or row["variant"] not in variants:
            continue
        if row["status"] != "ok" or row["val_mse"] is None or not math.isfinite(row["val_mse"]):
            continue
        errors[key_value(row)].append(row["val_mse"])
    best: dict = {}
    for (key, value), values in sorted(errors.items()):
        mean = sum(values) / len(values)
        if key not in best or mean < best[key][0]:
            best[key] = (mean, value)
    return {key: value for key, (_, value) in best.items()}


def require_lambdas(
    chosen: dict[tuple[str, str], float], scenarios: tuple[str, ...]
) -> dict[tuple[str, str], float]:
    """Fail clearly when a scenario has no finished validation model to choose from."""
    missing = [
        f"{s}/{m}" for s in scenarios for m in ("imbalanced", "balanced") if (s, m) not in chosen
    ]
    if missing:
        raise RuntimeError(
            "lambda selection: no finished validation models for "
            + ", ".join(missing)
            + " (every model diverged or failed); see the lambda_search rows"
        )
    return chosen


def require_weight_decays(chosen: dict[str, float], scenarios: tuple[str, ...]) -> dict[str, float]:
    """Fail clearly when a scenario has no finished reg-tuned validation model."""
    missing = [s for s in scenarios if s not in chosen]
    if missing:
        raise RuntimeError(
            "weight decay selection: no finished reg-tuned validation models for "
            + ", ".join(missing)
            + "; see the lambda_search rows"
        )
    return chosen

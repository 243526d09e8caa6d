"""Choosing lambda on validation (core paper Section 3.1, "Effect of the lambda hyperparameter").

Rule (`LAMBDA_SELECTION`, recorded in the study config): per scenario and class mode, the lambda
with the lowest mean validation MSE over samplings x class counts x functions x seeds, counting
only models that finished (`status == "ok"`). Ties go to the smaller lambda.
"""

from __future__ import annotations

import math
from collections import defaultdict

LAMBDA_SELECTION = "lowest_mean_val_mse_per_scenario_and_class_mode"


def choose_lambdas(rows: list[dict]) -> dict[tuple[str, str], float]:
    """{(scenario, class_mode): lambda} from the lambda_search stage's rows."""
    errors: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for row in rows:
        if row["stage"] != "lambda_search" or row["variant"] == "reg" or row["status"] != "ok":
            continue
        if row["val_mse"] is None or not math.isfinite(row["val_mse"]):
            continue
        errors[(row["scenario"], row["class_mode"], row["lam"])].append(row["val_mse"])
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for (scenario, mode, lam), values in sorted(errors.items()):
        mean = sum(values) / len(values)
        key = (scenario, mode)
        if key not in best or mean < best[key][0]:
            best[key] = (mean, lam)
    return {key: lam for key, (_, lam) in best.items()}


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

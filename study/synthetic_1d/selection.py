"""Choosing lambda on validation (core paper Section 3.1, "Effect of the lambda hyperparameter").

Rule (`LAMBDA_SELECTION`, recorded in the study config): per scenario and class mode, the lambda
with the lowest mean validation MSE over samplings x class counts x functions x seeds, counting
only models that finished (`status == "ok"`). Ties go to the smaller lambda.
"""

from __future__ import annotations

from study.validation_choice import lowest_mean

LAMBDA_SELECTION = "lowest_mean_val_mse_per_scenario_and_class_mode"
# reg-tuned's (lr, weight decay): the same rule over its sweep, per scenario (ties to the smaller
# lr, then the smaller weight decay); the answer study's learning-rate pilot of reg likewise.
WEIGHT_DECAY_SELECTION = "lowest_mean_val_mse_per_scenario"
LR_PILOT_SELECTION = "lowest_mean_val_mse_per_scenario"
# The method zoo's lambda variants: the same rule per scenario and variant.
VARIANT_LAMBDA_SELECTION = "lowest_mean_val_mse_per_scenario_and_variant"


def choose_lambdas(rows: list[dict]) -> dict[tuple[str, str], float]:
    """{(scenario, class_mode): lambda} from the lambda_search stage's rows."""
    variants = ("reg+cls", "reg+cls-balanced")
    return lowest_mean(rows, variants, lambda r: ((r["scenario"], r["class_mode"]), r["lam"]))


def choose_tuned(rows: list[dict]) -> dict[str, tuple[float, float]]:
    """{scenario: (lr, weight decay)} of reg-tuned from the lambda_search stage's rows."""
    return lowest_mean(
        rows, ("reg-tuned",), lambda r: (r["scenario"], (r["lr"], r["weight_decay"]))
    )


def choose_pilot_lrs(rows: list[dict]) -> dict[str, float]:
    """{scenario: lr} of reg from the lr_pilot stage's rows (the answer study)."""
    return lowest_mean(rows, ("reg",), lambda r: (r["scenario"], r["lr"]), stage="lr_pilot")


def choose_variant_lambdas(
    rows: list[dict], variants: tuple[str, ...]
) -> dict[tuple[str, str], float]:
    """{(scenario, variant): lambda} of `variants` from the lambda_search stage's rows (the
    method zoo: every lambda variant has its own)."""
    return lowest_mean(rows, variants, lambda r: ((r["scenario"], r["variant"]), r["lam"]))


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


def require_scenarios(chosen: dict, scenarios: tuple[str, ...], what: str, stage: str) -> dict:
    """Fail clearly when a scenario has no finished validation model to choose `what` from."""
    missing = [s for s in scenarios if s not in chosen]
    if missing:
        raise RuntimeError(
            f"{what} selection: no finished validation models for "
            + ", ".join(missing)
            + f"; see the {stage} rows"
        )
    return chosen

"""Choosing a value on validation, the rule every study uses: per key, the value whose finished
models have the lowest mean validation error; ties go to the smaller value."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable


def lowest_mean(
    rows: list[dict],
    variants: tuple[str, ...],
    key_value: Callable[[dict], tuple[object, object]],
    stage: str = "lambda_search",
    metric: str = "val_mse",
) -> dict:
    """{key: value} from the `rows` of `stage` and `variants`: `key_value(row)` gives a row's
    (key, value); per key, the value with the lowest mean `metric` over finished models
    (`status == "ok"`, finite metric). Ties go to the smaller value.

    Example:
        >>> lowest_mean(rows, ("reg-tuned",), lambda r: (r["scenario"], r["weight_decay"]))
    """
    errors: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        if row["stage"] != stage or row["variant"] not in variants:
            continue
        value = row[metric]
        if row["status"] != "ok" or value is None or not math.isfinite(value):
            continue
        errors[key_value(row)].append(value)
    best: dict = {}
    for (key, value), values in sorted(errors.items()):
        mean = sum(values) / len(values)
        if key not in best or mean < best[key][0]:
            best[key] = (mean, value)
    return {key: value for key, (_, value) in best.items()}

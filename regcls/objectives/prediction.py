"""Prediction rules: how one trained model turns inputs into a regression value.

`regression` reads the regression head (`reg`, `reg+cls`: the class head is a training-time aid,
Eq. 4). `class_expectation` is regression by classification: the expectation of the class
centre values under the class head's softmax, `sum_c softmax_c(x) * centre_c`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from regcls.mlp import forward

# (one model's params, x [N, in], its class centres or None) -> prediction [N]
PredictionRule = Callable[
    [dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None], torch.Tensor
]


def regression(
    params: dict[str, torch.Tensor], x: torch.Tensor, class_centres: torch.Tensor | None = None
) -> torch.Tensor:
    """The regression head's output `[N]` for x `[N, in]` (`class_centres` unused)."""
    return forward(params, x)[0]


def class_expectation(
    params: dict[str, torch.Tensor], x: torch.Tensor, class_centres: torch.Tensor | None = None
) -> torch.Tensor:
    """`sum_c softmax_c(logits(x)) * class_centres[c]`, `[N]`; needs a class head and centres
    `[C]` (cast to the logits' dtype and device)."""
    if class_centres is None:
        raise ValueError("class_centres: class_expectation needs the value of every class")
    logits = forward(params, x, with_logits=True)[1]
    return torch.softmax(logits, dim=-1) @ class_centres.to(logits)


RULES: dict[str, PredictionRule] = {
    "regression": regression,
    "class_expectation": class_expectation,
}

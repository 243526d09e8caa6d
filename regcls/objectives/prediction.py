"""Prediction rules: how one trained model turns inputs into a regression value.

`regression` reads the regression head (`reg`, `reg+cls`: the class head is a training-time aid,
Eq. 4). `class_expectation` is regression by classification: the expectation of the class
centre values under the class head's softmax, `sum_c softmax_c(x) * centre_c`. `hca_add` /
`hca_mul` (HCA, Xiong & Yao 2024, Sec. 3.3): the centre of the finest class with the largest
HCA-add (Eq. 7) / HCA-mul (Eq. 8) adjusted score; the paper predicts the argmax class's
representative value (Sec. 3.1), not an expectation (the HCA-add scores are not a distribution).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from regcls.models.mlp import forward
from regcls.objectives.hierarchical import hca_scores

# (one model's params, x [N, in], its class centres or None, its class_levels or None)
# -> prediction [N]
PredictionRule = Callable[
    [dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None, torch.Tensor | None],
    torch.Tensor,
]


def regression(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    class_centres: torch.Tensor | None = None,
    class_levels: torch.Tensor | None = None,
) -> torch.Tensor:
    """The regression head's output `[N]` for x `[N, in]` (`class_centres` unused)."""
    return forward(params, x)[0]


def class_expectation(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    class_centres: torch.Tensor | None = None,
    class_levels: torch.Tensor | None = None,
) -> torch.Tensor:
    """`sum_c softmax_c(logits(x)) * class_centres[c]`, `[N]`; needs a class head and centres
    `[C]` (cast to the logits' dtype and device)."""
    if class_centres is None:
        raise ValueError("class_centres: class_expectation needs the value of every class")
    logits = forward(params, x, with_logits=True)[1]
    return torch.softmax(logits, dim=-1) @ class_centres.to(logits)


def hca_add(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    class_centres: torch.Tensor | None = None,
    class_levels: torch.Tensor | None = None,
) -> torch.Tensor:
    """HCA-add (Eq. 7): `class_centres[argmax_c p^a_c]` `[N]`."""
    return _hca(params, x, class_centres, class_levels, "add")


def hca_mul(
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    class_centres: torch.Tensor | None = None,
    class_levels: torch.Tensor | None = None,
) -> torch.Tensor:
    """HCA-mul (Eq. 8): `class_centres[argmax_c p^m_c]` `[N]`."""
    return _hca(params, x, class_centres, class_levels, "mul")


RULES: dict[str, PredictionRule] = {
    "regression": regression,
    "class_expectation": class_expectation,
    "hca_add": hca_add,
    "hca_mul": hca_mul,
}


def _hca(params, x, class_centres, class_levels, rule: str) -> torch.Tensor:
    if class_centres is None:
        raise ValueError("class_centres: HCA predicts the value of the adjusted argmax class")
    logits = forward(params, x, with_logits=True)[1]
    best = hca_scores(logits, class_levels, rule).argmax(-1)
    return class_centres.to(logits)[best]

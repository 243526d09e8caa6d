"""MLP parameter layout and initialisation shared by the packed and the single-model trainer.

The network (core paper, supplementary Table 6): `in_features -> hidden[0] -> ... -> hidden[-1]`
with ReLU after every hidden layer, a regression head `hidden[-1] -> 1` and, for `reg+cls`, a
classification head `hidden[-1] -> C` used in training only (Eq. 4).

Parameters are named like the `state_dict` of `MLP` below (`trunk.0.weight`, ...,
`reg.weight`, `reg.bias`, `cls.weight`, `cls.bias`) so packed and single-model weights compare key
by key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn

# "bfloat16": float32 master weights, Adam state, data, softmax and loss; the class head's
# matmuls in bfloat16 (see `matmul_dtype`).
DTYPES = ("float32", "float64", "bfloat16")


@dataclass(frozen=True)
class MLPLayout:
    """Shapes and flat offsets of one MLP's parameters, in init order.

    `num_classes == 0` means no classification head (`reg`). In a pack the layout uses the
    largest class count; smaller heads occupy the first rows of `cls.weight` / `cls.bias`.
    """

    in_features: int
    hidden: tuple[int, ...]
    num_classes: int = 0

    def __post_init__(self) -> None:
        if self.in_features < 1:
            raise ValueError(f"in_features: must be >= 1, got {self.in_features}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden: must be a non-empty tuple of widths >= 1, got {self.hidden}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes: must be >= 0 (0 = no head), got {self.num_classes}")

    @property
    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """(name, shape) of every parameter: trunk, then regression head, then class head."""
        out: list[tuple[str, tuple[int, ...]]] = []
        fan_in = self.in_features
        for i, width in enumerate(self.hidden):
            out += [(f"trunk.{i}.weight", (width, fan_in)), (f"trunk.{i}.bias", (width,))]
            fan_in = width
        out += [("reg.weight", (1, fan_in)), ("reg.bias", (1,))]
        if self.num_classes:
            out += [("cls.weight", (self.num_classes, fan_in)), ("cls.bias", (self.num_classes,))]
        return tuple(out)

    @property
    def offsets(self) -> dict[str, tuple[int, int, tuple[int, ...]]]:
        """name -> (start, stop, shape) inside one flat parameter row."""
        table, start = {}, 0
        for name, shape in self.shapes:
            stop = start + math.prod(shape)
            table[name] = (start, stop, shape)
            start = stop
        return table

    @property
    def size(self) -> int:
        """Number of scalars in one flat parameter row."""
        return sum(math.prod(shape) for _, shape in self.shapes)

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-parameter views `[K, *shape]` of a flat `[K, size]` tensor (no copies)."""
        if flat.dim() != 2 or flat.shape[1] != self.size:
            raise ValueError(f"flat: expected shape [K, {self.size}], got {tuple(flat.shape)}")
        return {
            name: flat[:, start:stop].view(flat.shape[0], *shape)
            for name, (start, stop, shape) in self.offsets.items()
        }


def init_params(
    seed: int,
    in_features: int,
    hidden: tuple[int, ...],
    num_classes: int = 0,
    dtype: torch.dtype = torch.float32,
    class_blocks: tuple[int, ...] | None = None,
) -> dict[str, torch.Tensor]:
    """Xavier-uniform weights and zero biases drawn from `torch.Generator().manual_seed(seed)`.

    Draw order is trunk, regression head, classification head, so `reg` and `reg+cls` models with
    the same seed share the trunk and regression-head init. Values are drawn in float64 and then
    cast, so float32 and float64 runs of one seed start from the same (rounded) weights.
    `class_blocks` (sizes summing to `num_classes`): the class head is several heads stacked
    (HCA's levels, one linear layer each), each drawn with its own Xavier bound, in row order.
    """
    layout = MLPLayout(in_features, tuple(hidden), num_classes)
    if class_blocks is not None and sum(class_blocks) != num_classes:
        raise ValueError(f"class_blocks: must sum to num_classes={num_classes}, got {class_blocks}")
    generator = torch.Generator().manual_seed(int(seed))
    params: dict[str, torch.Tensor] = {}
    for name, shape in layout.shapes:
        value = torch.zeros(shape, dtype=torch.float64)
        if name == "cls.weight" and class_blocks is not None:
            for block in value.split(list(class_blocks)):
                torch.nn.init.xavier_uniform_(block, generator=generator)
        elif name.endswith(".weight"):
            torch.nn.init.xavier_uniform_(value, generator=generator)
        params[name] = value.to(dtype)
    return params


def torch_dtype(name: str) -> torch.dtype:
    """The dtype of the weights, optimiser state and data for a settings dtype name: float32 or
    float64; float32 for "bfloat16" (its master weights)."""
    if name not in DTYPES:
        raise ValueError(f"dtype: must be one of {DTYPES}, got {name!r}")
    return torch.float32 if name == "bfloat16" else getattr(torch, name)


def matmul_dtype(name: str) -> torch.dtype:
    """The dtype the class head's matmuls run in: bfloat16 for "bfloat16" (torch's CPU bf16
    matmuls use the AVX512-BF16 / AMX units where the CPU has them; a GPU's tensor cores; fp32
    accumulation, output rounded to bf16, as under torch.autocast), else the weights' dtype."""
    return torch.bfloat16 if name == "bfloat16" else torch_dtype(name)


def forward(
    params: dict[str, torch.Tensor], x: torch.Tensor, with_logits: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Regression output `[..., N]` (and class logits `[..., N, C]`) for one or more models.

    `params` values are either one model's tensors or `[K, ...]` stacks; `x` is `[N, in]` or
    `[K, N, in]`. Used for evaluation; the trainers have their own forward passes.
    """
    h = x
    i = 0
    while f"trunk.{i}.weight" in params:
        h = torch.relu(h @ params[f"trunk.{i}.weight"].transpose(-1, -2) + _row(params, i))
        i += 1
    pred = (h @ params["reg.weight"].transpose(-1, -2) + params["reg.bias"].unsqueeze(-2))[..., 0]
    if not with_logits:
        return pred, None
    if "cls.weight" not in params:
        raise ValueError("with_logits: this model has no classification head (reg model)")
    logits = h @ params["cls.weight"].transpose(-1, -2) + params["cls.bias"].unsqueeze(-2)
    return pred, logits


def _row(params: dict[str, torch.Tensor], i: int) -> torch.Tensor:
    # A bias `[width]` or `[K, width]` broadcast over the sample dimension.
    return params[f"trunk.{i}.bias"].unsqueeze(-2)


class MLP(nn.Module):
    """ReLU MLP with a regression head and an optional classification head (train only)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        widths = (in_features, *hidden)
        self.trunk = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.reg = nn.Linear(widths[-1], 1)
        self.cls = nn.Linear(widths[-1], num_classes) if num_classes else None

    def forward(
        self, x: torch.Tensor, calibrate: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(regression output, class logits); `calibrate` (FDS) maps the features the regression
        head reads."""
        h = self.features(x)
        logits = self.cls(h) if self.cls is not None else None
        return self.reg(h if calibrate is None else calibrate(h))[:, 0], logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer."""
        h = x
        for layer in self.trunk:
            h = torch.relu(layer(h))
        return h

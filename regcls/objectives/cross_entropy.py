"""The class head with hard-label (one-hot) cross-entropy, for every model of a pack.

Loss of one model on one minibatch: the mean CE of its class head over the samples kept by the
Eq. 13 / Eq. 16 draw (`u <= keep`, all samples when the model has no keep probabilities), zero
when none is kept; Eq. 4 adds it to `lam * MSE`. `OneHotCrossEntropy` runs the head's forward,
this CE and its hand-written backward (the exact gradient) for all K models at once.

Heads are padded to the largest class count in the pack; padded logits are masked with -inf, so
each model's CE is its own C-class CE and the padded rows keep zero weights and zero gradients.
Models without a head (class count 0) run a finite zero head with zero CE weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

# Widest class head computed class-major `[K, C, B]`; wider heads run sample-major `[K, B, C]`.
CLASS_MAJOR_MAX = 128
# Logits of one class-head tile (CPU). Measured (benchmarks/NOTES.md, item 6): 4 MiB tiles, which
# stay in the shared L3 across the passes over them, beat both L2-sized (0.5-1 MiB) tiles, whose
# extra per-tile op calls cost more than they save, and untiled packs (52 MB at K=50, C=1024).
TILE_BYTES = 1 << 22
_LOG2E = 1.0 / math.log(2.0)
_LN2 = math.log(2.0)


def draw_kept(keep_prob: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Eq. 16: sample i enters this epoch's CE iff u_i <= keep_i, one fresh u per sample (drawn
    in float64 on the CPU so every device and dtype sees the same draws). Bool `[N]`, CPU."""
    u = torch.rand(keep_prob.shape[0], generator=generator, dtype=torch.float64)
    return u <= keep_prob


class OneHotCrossEntropy:
    """Forward, hard-label CE and backward of the class heads of a pack.

    `weight`/`bias` `[K, C_max, H]`/`[K, C_max]` are the heads' parameter views, `grad_weight`/
    `grad_bias` the views their gradients are written into; `classes[k]` is model k's class count
    (0: no head, no CE).
    """

    def __init__(
        self,
        classes: Sequence[int],
        batch_size: int,
        weight: torch.Tensor,
        bias: torch.Tensor,
        grad_weight: torch.Tensor,
        grad_bias: torch.Tensor,
    ) -> None:
        k, c_max, width = weight.shape
        opts = {"dtype": weight.dtype, "device": weight.device}
        self.weight, self.bias = weight, bias
        self.grad_weight, self.grad_bias = grad_weight, grad_bias
        self.ce_on = torch.tensor([float(c > 0) for c in classes], **opts).unsqueeze(1)
        # Additive logit mask: -inf on padded classes; models without a head keep a finite one.
        self.class_mask = torch.zeros(k, c_max, **opts)
        for row, c in enumerate(classes):
            self.class_mask[row, c if c else c_max :] = -math.inf
        self.mixed_classes = any(0 < c < c_max for c in classes)
        self.class_major = c_max <= CLASS_MAJOR_MAX
        self.tile = _class_tile(k, batch_size, c_max, self.class_major, weight)
        tile_k, tile_b = self.tile
        shape = (tile_k, c_max, tile_b) if self.class_major else (tile_k, tile_b, c_max)
        self.logits = torch.empty(shape, **opts)
        if not self.class_major:
            self.h_aug = torch.ones(k, width + 1, batch_size, **opts)  # h with a row of ones
            self.grad_t = torch.empty(tile_k, width + 1, c_max, **opts)  # [grad_w^T; grad_b]

    def batch_weights(self, kept: torch.Tensor) -> torch.Tensor:
        """Per-sample CE weights `[..., K, B]` from the kept (valid and drawn) samples `[..., K,
        B]`: 1 / (kept count) on kept samples, so the CE is their mean; 0 for models without a
        head."""
        return kept / kept.sum(-1, keepdim=True).clamp_min(1.0) * self.ce_on

    def __call__(
        self,
        h: torch.Tensor,
        h_t: torch.Tensor,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
        d_h: torch.Tensor,
    ) -> None:
        """Class head forward, weighted CE (added to `loss` `[K]`) and backward (the head's grads,
        added into `d_h` `[K, H, B]`); `h` `[K, H, B]` is the last hidden layer, `h_t` its
        transpose, `labels`/`w_ce` `[K, B]`.

        The work runs tile by tile (`self.tile` models x samples, `TILE_BYTES` of logits) so that
        one tile's logits stay in cache across the ~10 passes over them (matmul, max, exp2, sum,
        scale, two backward matmuls); a whole pack's logits at C=1024 are ~1 MB per model.
        Small heads are class-major `[k, C, B]` (long last dim for the matmuls); large heads are
        sample-major `[k, B, C]` (softmax over the contiguous last dim)."""
        cls_w, cls_b = self.weight, self.bias
        grad_w, grad_b = self.grad_weight, self.grad_bias
        # -inf on padded classes, only needed when a pack mixes class counts.
        bias = cls_b + self.class_mask if self.mixed_classes else cls_b
        k, b = h.shape[0], h.shape[2]
        tile_k, tile_b = self.tile
        if not self.class_major:
            h_aug, grad_t = self.h_aug, self.grad_t
            h_aug[:, : h.shape[1]].copy_(h)  # the last row stays ones
        for lo in range(0, k, tile_k):
            hi = min(k, lo + tile_k)
            w = cls_w[lo:hi]
            for start in range(0, b, tile_b):
                stop = min(b, start + tile_b)
                cut = slice(start, stop)
                if self.class_major:
                    logits = self.logits[: hi - lo, :, : stop - start]
                else:
                    logits = self.logits[: hi - lo, : stop - start]
                d_logits = self._cross_entropy(
                    logits,
                    bias[lo:hi],
                    w,
                    h[lo:hi, :, cut],
                    labels[lo:hi, cut],
                    w_ce[lo:hi, cut],
                    loss[lo:hi],
                )
                if self.class_major:  # d_logits [k, C, b]
                    torch.bmm(d_logits, h_t[lo:hi], out=grad_w[lo:hi])
                    torch.sum(d_logits, dim=2, out=grad_b[lo:hi])
                    d_h[lo:hi].baddbmm_(w.transpose(1, 2), d_logits)
                    continue
                # d_logits [k, b, C]: [H+1, b] @ [b, C] gives grad_w^T and (ones row) grad_b in
                # one matmul with long output rows, ~2x faster than the [C, H]-shaped product.
                if start == 0:
                    torch.bmm(h_aug[lo:hi, :, cut], d_logits, out=grad_t[: hi - lo])
                else:  # later sample tiles of the same models accumulate
                    grad_t[: hi - lo].baddbmm_(h_aug[lo:hi, :, cut], d_logits)
                d_h[lo:hi, :, cut].baddbmm_(w.transpose(1, 2), d_logits.transpose(1, 2))
            if not self.class_major:
                width = h.shape[1]
                grad_w[lo:hi].copy_(grad_t[: hi - lo, :width].transpose(1, 2))
                grad_b[lo:hi].copy_(grad_t[: hi - lo, width])

    def _cross_entropy(
        self,
        logits: torch.Tensor,
        bias: torch.Tensor,
        w: torch.Tensor,
        h: torch.Tensor,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
    ) -> torch.Tensor:
        """One tile: logits into the `logits` buffer, CE added to `loss`, d(loss)/d(logits)
        returned in place of the logits.

        Logits are in base-2 units (scaled by log2(e) inside the matmul, at no extra pass),
        because torch.exp2 is ~4x faster than torch.exp and the softmax kernels on this CPU.
        """
        scale = {"alpha": _LOG2E, "beta": _LOG2E, "out": logits}
        if self.class_major:
            dim = 1
            torch.baddbmm(bias.unsqueeze(2), w, h, **scale)
        else:
            dim = 2
            torch.baddbmm(bias.unsqueeze(1), h.transpose(1, 2), w.transpose(1, 2), **scale)
        logits.sub_(logits.amax(dim, keepdim=True))  # shift so exp2 cannot overflow
        index = labels.unsqueeze(dim)
        label_logit = logits.gather(dim, index)
        probs = logits.exp2_()
        total = probs.sum(dim, keepdim=True)
        # CE = ln(sum_j e^z_j) - z_label = ln2 * (log2(sum_j 2^u_j) - u_label), u = log2(e) z.
        ce = total.log2().sub_(label_logit).squeeze(dim).mul_(_LN2)
        loss.add_((ce * w_ce).sum(-1))
        # (softmax - onehot) * weight, with the weight of not-kept / padded samples zero.
        weight = w_ce.unsqueeze(dim)
        return probs.mul_(weight / total).scatter_add_(dim, index, weight.neg())


def _class_tile(
    k: int, batch: int, classes: int, class_major: bool, like: torch.Tensor
) -> tuple[int, int]:
    """(models, samples) per class-head tile: as many as fit `TILE_BYTES` of logits.

    On a GPU one tile is the whole pack (one kernel per op; no cache to fit). Class-major heads
    (C <= CLASS_MAJOR_MAX) only tile over models, so their matmuls keep the full batch.
    """
    if like.device.type != "cpu":
        return k, batch
    row = classes * like.element_size()
    per_model = batch * row
    if per_model <= TILE_BYTES or class_major:
        return max(1, min(k, TILE_BYTES // per_model)), batch
    return 1, max(1, min(batch, TILE_BYTES // row))

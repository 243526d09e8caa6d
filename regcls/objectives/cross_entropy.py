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

from regcls.objectives.mse import batch_weights

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
    (0: no head, no CE); `matmul_dtype` (default: the weights') the dtype of the head's matmuls.
    """

    def __init__(
        self,
        classes: Sequence[int],
        batch_size: int,
        weight: torch.Tensor,
        bias: torch.Tensor,
        grad_weight: torch.Tensor,
        grad_bias: torch.Tensor,
        matmul_dtype: torch.dtype | None = None,
    ) -> None:
        k, c_max, width = weight.shape
        # bfloat16 matmuls (TrainSettings dtype "bfloat16"): weights, h and d(logits) are cast
        # to bf16 for the head's three matmuls; logits, softmax, CE and gradients stay float32.
        self.low = matmul_dtype if matmul_dtype not in (None, weight.dtype) else None
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
        models_only = self.class_major or self.low is not None  # bf16: tiles of whole models
        self.tile = _class_tile(k, batch_size, c_max, models_only, weight)
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
        return batch_weights(kept) * self.ce_on

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
        if self.low is not None:
            self._bf16(h, bias, labels, w_ce, loss, d_h)
            return
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

    def _bf16(
        self,
        h: torch.Tensor,
        bias: torch.Tensor,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
        d_h: torch.Tensor,
    ) -> None:
        """`__call__` with the head's three matmuls in `self.low` (bfloat16: fp32 accumulation,
        output rounded to bf16, as under torch.autocast), tiled over models only. The logits are
        formed in float32 (`log2(e) * (bias + product)` in one pass), and the softmax, CE, its
        gradient and the parameter gradients stay float32."""
        low, k, width = self.low, h.shape[0], h.shape[1]
        tile_k = self.tile[0]
        w_low = self.weight.to(low)
        bias = bias * _LOG2E
        if self.class_major:
            h_low = h.to(low)
        else:
            self.h_aug[:, :width].copy_(h)  # the last row stays ones
            h_low = self.h_aug.to(low)
        for lo in range(0, k, tile_k):
            hi = min(k, lo + tile_k)
            w, h_k = w_low[lo:hi], h_low[lo:hi]
            logits = self.logits[: hi - lo]
            cut = (labels[lo:hi], w_ce[lo:hi], loss[lo:hi])
            if self.class_major:  # logits [k, C, B]
                torch.add(bias[lo:hi].unsqueeze(2), torch.bmm(w, h_k), alpha=_LOG2E, out=logits)
                d_logits = self._softmax_grad(logits, 1, *cut)
                torch.sum(d_logits, dim=2, out=self.grad_bias[lo:hi])
                d_low = d_logits.to(low)
                self.grad_weight[lo:hi].copy_(torch.bmm(d_low, h_k.transpose(1, 2)))
                d_h[lo:hi].add_(torch.bmm(w.transpose(1, 2), d_low))
                continue
            # logits [k, B, C]; h_k is h with a row of ones: [H+1, B] @ [B, C] = [grad_w^T; grad_b]
            product = torch.bmm(h_k[:, :width].transpose(1, 2), w.transpose(1, 2))
            torch.add(bias[lo:hi].unsqueeze(1), product, alpha=_LOG2E, out=logits)
            d_low = self._softmax_grad(logits, 2, *cut).to(low)
            grad_t = torch.bmm(h_k, d_low)
            self.grad_weight[lo:hi].copy_(grad_t[:, :width].transpose(1, 2))
            self.grad_bias[lo:hi].copy_(grad_t[:, width])
            d_h[lo:hi].add_(torch.bmm(w.transpose(1, 2), d_low.transpose(1, 2)))

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
        dim = 1 if self.class_major else 2
        if self.class_major:
            torch.baddbmm(bias.unsqueeze(2), w, h, **scale)
        else:
            torch.baddbmm(bias.unsqueeze(1), h.transpose(1, 2), w.transpose(1, 2), **scale)
        return self._softmax_grad(logits, dim, labels, w_ce, loss)

    def _softmax_grad(
        self,
        logits: torch.Tensor,
        dim: int,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
    ) -> torch.Tensor:
        """CE of base-2 `logits` (in place) added to `loss`; returns (softmax - onehot) * w."""
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

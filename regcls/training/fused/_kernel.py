"""The compiled step loop of the fused backend: one call trains every model of a pack for one
epoch (forward, loss, hand-written backward and the optimiser, model after model).

The models of a pack are independent between epochs, so the loop runs each model's steps back
to back (its parameters and optimiser state stay in cache), not step after step across models.
Activations are feature-major `[features, B]` (the sample loop is the vectorised one). The
class head works on sample tiles: the tile's logits `[C, S]` (`S` samples, at most `TILE_BYTES`)
are formed by one BLAS product, turned into the softmax, the CE and its gradient in place, and
consumed by the two backward products before the next tile, so no `[B, C]` logits of a model
(or `[K, B, C]` of a pack) are ever in memory. Equations: Eq. 4 (lam * MSE + CE), Eq. 13/16
(the CE over the kept samples: their per-sample weights come in `w_ce`).

Arrays (`P` parameters per model row, `S_max` = steps of the longest model, `B` batch):
    flat, state_a, state_b [K, P]      torch's flat layout (`regcls.models.mlp.MLPLayout`); the
                                       optimiser's state: Adam's moments, or SGD's momentum
                                       buffer (and an unused array)
    layers [L + 1, 4] int64            (weight offset, bias offset, out, in): trunk layers, then
                                       the regression head
    head [2] int64                     class head (weight offset, bias offset); -1 without
    classes [K] int64                  each model's class count (0: no head)
    x_data [U, N, in]; y_data, sw_data [U, N]; labels [U, N] int64   the pack's stacked data
    data_ids [K, 4] int64              each model's rows of x, y, sample weights (-1: none), labels
    order [K, S_max * B] int64         the epoch's minibatch order; keep_rows the same shape
                                       (keep draws, Eq. 16) or [1, 1] when no model has any
    hyper [K, 5] float64               (MSE weight, lr, weight decay, steps per epoch, samples used)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from regcls.training.fused._blas import gemm
from regcls.training.fused._exp import exp_neg

# Reassociation lets reductions vectorise; no-NaN/no-inf flags are left out on purpose: a
# diverging model's non-finite loss must survive. Every function also takes numpy's error model:
# Python's (a ZeroDivisionError check per division) keeps a loop with a division scalar.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
# Logits of one class-head tile: 1 MiB, half the L2 of the dev machine's cores, measured best at
# C = 1024 by 5-6% and level with 128 KiB - 2 MiB elsewhere (benchmarks/NOTES.md, item 27).
TILE_BYTES = 1 << 20
# Optimisers the kernel runs (`regcls.training.optimizers.OPTIMIZERS`; the value is the kernel's
# code for it).
OPTIMIZER_CODES = {"adam": 0, "adamw": 1, "sgd": 2}
BETA1, BETA2 = 0.9, 0.999


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def train_epoch(
    flat,
    state_a,
    state_b,
    layers,
    head,
    classes,
    x_data,
    y_data,
    sw_data,
    labels,
    data_ids,
    order,
    keep_rows,
    batch,
    hyper,
    epoch,
    eps,
    optimizer,
    momentum,
    alive,
    loss_sum,
):
    """One epoch of every live model; `alive` [K] bool and `loss_sum` [K] float64 are updated
    (a model whose loss is not finite is frozen at its last parameters and marked dead)."""
    k_models, n_params = flat.shape
    top = layers.shape[0] - 1
    n_in = layers[0, 3]
    width = 1
    for i in range(layers.shape[0]):
        width = max(width, layers[i, 2], layers[i, 3])
    dtype = flat.dtype
    acts = np.zeros((top + 1, width, batch), dtype)
    d_a = np.zeros((width, batch), dtype)
    d_b = np.zeros((width, batch), dtype)
    d_pred = np.zeros(batch, dtype)
    y_b = np.zeros(batch, dtype)
    w_mse = np.zeros(batch, dtype)
    w_ce = np.zeros(batch, dtype)
    label_b = np.zeros(batch, np.int64)
    grad = np.zeros(n_params, dtype)
    # Scalars in the parameters' dtype (a float64 constant would promote float32 arithmetic):
    # [0] zero, [1] 2 * MSE weight, [2] the loss cast (an overflow is inf, as in torch), the
    # optimiser's constants from [3] on, [10] one, [11] a count.
    typed = np.zeros(12, dtype)
    typed[10] = 1.0
    c_max = 0
    for k in range(k_models):
        c_max = max(c_max, classes[k])
    tile = _tile_samples(c_max, batch, flat.itemsize) if c_max else batch
    logits = np.zeros(max(c_max, 1) * tile, dtype)  # one tile, reshaped to [C, S] per model
    row_stats = np.zeros((4, tile), dtype)  # max, sum, label logit, CE weight / sum
    for k in range(k_models):
        if not alive[k]:
            continue
        params = flat[k]
        steps, used = int(hyper[k, 3]), int(hyper[k, 4])
        typed[1] = hyper[k, 0]
        typed[1] *= 2.0
        for step in range(steps):
            _gather(
                x_data,
                y_data,
                sw_data,
                labels,
                data_ids[k],
                order[k],
                keep_rows,
                k,
                step,
                used,
                classes[k] > 0,
                n_in,
                typed,
                acts[0],
                y_b,
                w_mse,
                label_b,
                w_ce,
            )
            _forward_trunk(params, layers, acts, top)
            # Whole-array views only (a sliced one loses its unit stride in numba's typing and
            # with it the vectorised loops): the heads read the top rows they need.
            loss = _regression_head(
                params,
                layers[top],
                acts[top],
                y_b,
                w_mse,
                hyper[k, 0],
                typed,
                d_pred,
                grad,
                d_a,
            )
            if classes[k] > 0:
                loss += _class_head(
                    params,
                    head,
                    classes[k],
                    layers[top, 3],
                    acts[top],
                    label_b,
                    w_ce,
                    typed,
                    grad,
                    d_a,
                    logits,
                    row_stats,
                )
            typed[2] = loss
            if not np.isfinite(typed[2]):
                alive[k] = False
                break
            loss_sum[k] += loss
            _backward_trunk(params, layers, acts, top, typed, grad, d_a, d_b)
            stop = n_params
            state = (state_a[k], state_b[k])
            constants = (hyper[k], epoch, step, eps, momentum, typed)
            if head[0] >= 0:  # a model's padded class rows stay exactly zero: skip them
                end = head[1] + classes[k]
                _optimizer_step(optimizer, params, grad, *state, head[1], end, *constants)
                stop = head[0] + classes[k] * layers[top, 3]
            _optimizer_step(optimizer, params, grad, *state, 0, stop, *constants)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _gather(
    x_data,
    y_data,
    sw_data,
    labels,
    ids,
    order,
    keep_rows,
    k,
    step,
    used,
    with_head,
    n_in,
    typed,
    x_b,
    y_b,
    w_mse,
    label_b,
    w_ce,
):
    """Model k's minibatch `step` from its epoch order: inputs, targets, labels, and the MSE
    and CE weights as `regcls.objectives.mse.batch_weights` forms them (1 / count over the
    valid samples, times the sample weight; the CE's over the valid and kept ones). The data
    are the pack's stacked tensors (x [U, N, in], y, sample weights, labels [U, N]); `ids`
    [4] the model's rows of them (-1: no sample weights)."""
    batch = y_b.shape[0]
    first = step * batch
    valid = min(batch, used - first)
    typed[11] = valid
    inv = typed[10] / typed[11]
    kept = typed[0]
    for s in range(batch):
        index = order[first + s]
        on = s < valid
        for i in range(n_in):
            x_b[i, s] = x_data[ids[0], index, i]
        y_b[s] = y_data[ids[1], index]
        weight = inv if on else typed[0]
        if ids[2] >= 0:
            weight = weight * sw_data[ids[2], index]
        w_mse[s] = weight
        if with_head:
            label_b[s] = labels[ids[3], index]
            keep = typed[10] if on else typed[0]
            if keep_rows.shape[0] > 1:
                keep = keep * keep_rows[k, first + s]
            w_ce[s] = keep
            kept += keep
    if with_head:
        count = kept if kept > 1.0 else typed[10]  # clamp_min(1)
        for s in range(batch):
            w_ce[s] = w_ce[s] / count


@njit(cache=True, nogil=True)
def _tile_samples(classes, batch, itemsize):
    """Samples per class-head tile: `TILE_BYTES` of logits, a multiple of 16, at most B."""
    per = TILE_BYTES // max(1, classes * itemsize)
    if per >= batch:
        return batch
    return max(16, per - per % 16)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _forward_trunk(params, layers, acts, top):
    """ReLU layers into `acts[1..top]` (NaN passes, as through torch's `clamp_min`)."""
    batch = acts.shape[2]
    for layer in range(top):
        w_off, b_off, n_out, n_in = layers[layer]
        src, dst = acts[layer], acts[layer + 1]
        for i in range(n_out):
            bias = params[b_off + i]
            for s in range(batch):
                dst[i, s] = bias
            for j in range(n_in):
                w = params[w_off + i * n_in + j]
                for s in range(batch):
                    dst[i, s] += w * src[j, s]
            for s in range(batch):
                v = dst[i, s]
                if v < 0.0:
                    dst[i, s] = 0.0


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _regression_head(params, layer, h, y, w, scale, typed, d_pred, grad, d_h):
    """`scale * sum_b w_b (pred_b - y_b)^2` (`regcls.objectives.mse.MSETerm`), its gradient into
    `grad` and `d_h` (overwritten). A model without the term (scale 0) gets exactly 0."""
    w_off, b_off, _, n_in = layer
    batch = h.shape[1]
    bias = params[b_off]
    for s in range(batch):
        d_pred[s] = bias
    for j in range(n_in):
        coef = params[w_off + j]
        for s in range(batch):
            d_pred[s] += coef * h[j, s]
    loss = 0.0
    two_scale = typed[1]
    if scale == 0.0:
        for s in range(batch):
            d_pred[s] = 0.0
    else:
        total = typed[0]
        for s in range(batch):
            diff = d_pred[s] - y[s]
            weighted = diff * w[s]
            total += diff * weighted
            d_pred[s] = weighted * two_scale
        loss = float(total) * scale
    bias_grad = typed[0]
    for s in range(batch):
        bias_grad += d_pred[s]
    grad[b_off] = bias_grad
    for j in range(n_in):
        acc = typed[0]
        coef = params[w_off + j]
        for s in range(batch):
            acc += d_pred[s] * h[j, s]
            d_h[j, s] = coef * d_pred[s]
        grad[w_off + j] = acc
    return loss


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _class_head(params, head, classes, n_hidden, h, labels, w, typed, grad, d_h, logits, stats):
    """Forward, mean CE over the weighted samples and backward of one model's class head,
    sample tile by sample tile; gradients into `grad`, added into `d_h`. Returns the CE.

    Per tile: logits `z = W h + b` (BLAS), then per sample the max, `e = exp(z - max)`, their
    sum `l`, CE `w (ln l + max - z_label)`, and in place `d = e w / l - w onehot` (the gradient
    of `regcls.objectives.cross_entropy.OneHotCrossEntropy`), then grad W += d h^T and
    d_h += W^T d (BLAS)."""
    batch = h.shape[1]
    weight = params[head[0] : head[0] + classes * n_hidden].reshape((classes, n_hidden))
    bias = params[head[1] : head[1] + classes]
    g_weight = grad[head[0] : head[0] + classes * n_hidden].reshape((classes, n_hidden))
    g_bias = grad[head[1] : head[1] + classes]
    for c in range(classes):
        g_bias[c] = 0.0
    tile = stats.shape[1]
    loss = 0.0
    for start in range(0, batch, tile):
        size = min(tile, batch - start)
        z = logits[: classes * size].reshape((classes, size))
        h_tile = h[:n_hidden, start : start + size]
        gemm(weight, False, h_tile, False, z, 0.0)
        top, total, at_label, ratio = stats[0], stats[1], stats[2], stats[3]
        for s in range(size):
            top[s] = -np.inf
            total[s] = 0.0
        for c in range(classes):
            b = bias[c]
            for s in range(size):
                v = z[c, s] + b
                z[c, s] = v
                top[s] = v if v > top[s] else top[s]
        for s in range(size):
            at_label[s] = z[labels[start + s], s]
        for c in range(classes):
            for s in range(size):
                e = exp_neg(z[c, s] - top[s])
                z[c, s] = e
                total[s] += e
        for s in range(size):
            ws = w[start + s]
            loss += float(ws) * (np.log(float(total[s])) + float(top[s]) - float(at_label[s]))
            ratio[s] = ws / total[s]
        for c in range(classes):
            acc = typed[0]
            for s in range(size):
                d = z[c, s] * ratio[s]
                z[c, s] = d
                acc += d
            g_bias[c] += acc
        for s in range(size):
            label = labels[start + s]
            z[label, s] -= w[start + s]
            g_bias[label] -= w[start + s]
        gemm(z, False, h_tile, True, g_weight, 0.0 if start == 0 else 1.0)
        gemm(weight, True, z, False, d_h[:n_hidden, start : start + size], 1.0)
    return loss


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _backward_trunk(params, layers, acts, top, typed, grad, d_h, d_next):
    """ReLU' and the trunk's weight, bias and input gradients, top layer down; `d_h` holds
    d(loss)/d(last hidden layer) and is used as scratch."""
    batch = acts.shape[2]
    d_out, d_in = d_h, d_next
    for layer in range(top - 1, -1, -1):
        w_off, b_off, n_out, n_in = layers[layer]
        out, src = acts[layer + 1], acts[layer]
        for i in range(n_out):
            for s in range(batch):
                if not out[i, s] > 0.0:  # threshold_backward: the gradient where h > 0
                    d_out[i, s] = 0.0
        for i in range(n_out):
            acc = typed[0]
            for s in range(batch):
                acc += d_out[i, s]
            grad[b_off + i] = acc
            for j in range(n_in):
                acc = typed[0]
                for s in range(batch):
                    acc += d_out[i, s] * src[j, s]
                grad[w_off + i * n_in + j] = acc
        if layer:
            for j in range(n_in):
                for s in range(batch):
                    d_in[j, s] = 0.0
                for i in range(n_out):
                    w = params[w_off + i * n_in + j]
                    for s in range(batch):
                        d_in[j, s] += w * d_out[i, s]
            d_out, d_in = d_in, d_out


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _optimizer_step(
    optimizer,
    params,
    grad,
    state_a,
    state_b,
    start,
    stop,
    hyper,
    epoch,
    step,
    eps,
    momentum,
    typed,
):
    """One optimiser update of `params[start:stop]` (`optimizer`: an OPTIMIZER_CODES value).
    Slices are indexed from 0: an index from `start` could be negative for numba, whose
    wrap-around check would keep the loops scalar."""
    p, g = params[start:stop], grad[start:stop]
    a, b = state_a[start:stop], state_b[start:stop]
    if optimizer == 2:
        _sgd(p, g, a, hyper, momentum, typed)
    else:
        _adam(p, g, a, b, hyper, epoch, step, eps, optimizer == 1, typed)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _adam(p, g, m, v, hyper, epoch, step, eps, decoupled, typed):
    """torch.optim.Adam's (AdamW's, `decoupled`) single-tensor update as
    `regcls.training.optimizers.adam.FlatAdam` writes it: weight decay added to the gradient, or
    the weights shrunk by 1 - lr * wd first; the model's own step count t = steps * epoch +
    step + 1 gives its bias corrections (models with fewer steps per epoch)."""
    lr, decay, steps = hyper[1], hyper[2], hyper[3]
    t = steps * epoch + step + 1.0
    bc1 = 1.0 - BETA1**t
    # The step's constants in the parameters' dtype, as torch's scalar arguments are.
    typed[3] = np.sqrt(1.0 - BETA2**t)
    typed[4] = -lr / bc1
    typed[5] = 0.0 if decoupled else decay
    typed[6] = 1.0 - BETA1
    typed[7] = 1.0 - BETA2
    typed[8] = BETA2
    typed[9] = eps
    bc2_sqrt, neg_step, wd, w1, w2 = typed[3], typed[4], typed[5], typed[6], typed[7]
    beta2, eps_ = typed[8], typed[9]
    if decoupled:
        typed[5] = 1.0 - lr * decay
        shrink = typed[5]
        for i in range(p.shape[0]):
            p[i] *= shrink
    for i in range(p.shape[0]):
        gi = g[i] + wd * p[i]
        mi = m[i] + w1 * (gi - m[i])
        vi = v[i] * beta2 + w2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] += (mi * neg_step) / (np.sqrt(vi) / bc2_sqrt + eps_)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _sgd(p, g, buffer, hyper, momentum, typed):
    """torch.optim.SGD (momentum, coupled weight decay) as
    `regcls.training.optimizers.sgd.FlatSGD` writes it: buf = momentum * buf + g, p -= lr * buf
    (the zero buffer makes the first step plain g)."""
    typed[3] = -hyper[1]
    typed[4] = hyper[2]
    typed[5] = momentum
    neg_lr, wd, beta = typed[3], typed[4], typed[5]
    if momentum == 0.0:
        for i in range(p.shape[0]):
            p[i] += (g[i] + wd * p[i]) * neg_lr
        return
    for i in range(p.shape[0]):
        b = buffer[i] * beta + (g[i] + wd * p[i])
        buffer[i] = b
        p[i] += b * neg_lr

"""Feature distribution smoothing, FDS (Yang et al., ICML 2021, Sec. 3.2), for the models of a pack.

The last hidden layer z (the features before the regression head) is calibrated in the training
forward, per sample by the bin b of its target (Eq. 6 with the diagonal variances of the authors'
code, `calibrate_mean_var`):

    z~ = (z - mu_b) * sqrt(clip(var~_b / var_b, clip_min, clip_max)) + mu~_b,

with running per-bin statistics (mu_b, var_b; Eqs. 2-3) and their kernel-smoothed copies
(mu~_b, var~_b; Eqs. 4-5). Only the regression head sees z~; predictions use the raw z (the layer
is "used only in training"). The schedule follows the authors' `FDS.py` / `train.py`
(YyzHarry/imbalanced-regression), which fills in what the paper leaves to its appendix:

- after every epoch >= `start_update`, one extra forward pass over the whole training set
  collects the features (see `stats_from`); first the smoothed statistics are refreshed from
  the running ones (`update_last_epoch_stats`, from the epoch after `start_update` on), then
  the running statistics take an EMA step with this epoch's per-bin mean and unbiased variance
  (`running = (1 - m) * current + m * running`, m = 0 at `start_update`, only bins holding
  samples);
- training forwards of epochs >= `start_epoch` (the code's `start_smooth`) are calibrated; the
  statistics are fixed within an epoch. The code aliases `running_mean_last_epoch` to
  `running_mean`, so mu_b / var_b are the current running statistics (zeros / ones before the
  first refresh) while mu~ / var~ lag one epoch; reproduced here;
- a bin whose running variances sum to < 1e-10 is not calibrated, and feature dimensions with
  zero running variance are left as they are (`calibrate_mean_var`);
- the kernel is `gaussian_filter1d` of a delta (sum-normalised), `triang` or Laplace, over `ks`
  bins; bins are smoothed with reflect padding (conv1d over bins).

`stats_from`: in the code that extra pass runs the training forward, whose `FDS.smooth` writes
the calibration into the very tensor returned as the feature (`encoding_s = encoding`, then
`features[mask] = calibrate_mean_var(...)` in place), so from `start_smooth` on the statistics
are computed from calibrated features ("calibrated", the default: what the code does); "raw"
uses the un-calibrated z (what the digest and the paper's wording suggest).

`empty_bins`: a bin without training samples has no statistics of its own. Yang et al.'s STS-B
`fds.py` (`update_running_stats`, "make up for zero training samples buckets") sets its running
mean and variance after every update from its neighbours, in bin order: the first bin copies the
second, the last the one before it, any other the mean of the two beside it (the left one
already filled, the right one as it stands) ("neighbours", the default). Their age and NYUD2
`fds.py` have no such step: an empty bin keeps its initial statistics (mean 0, variance 1) and
those are smoothed into its neighbours ("keep").

Bins are `bins` equal-width bins over [min, max] of the model's training targets, assigned by
`regcls.data.binning.label_bins` from the targets at the precision the task holds them (give
float64: Yang's bins are 1-year / 0.1-wide label bins whose edges the labels sit on; the 1D
study's targets are continuous).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from regcls.data.binning import label_bins

FDS_KERNELS = ("gaussian", "triang", "laplace")
FDS_STATS_FROM = ("calibrated", "raw")
FDS_EMPTY_BINS = ("neighbours", "keep")
# scipy.ndimage.gaussian_filter1d's default truncation (radius = int(4 sigma + 0.5)).
_TRUNCATE = 4.0


@dataclass(frozen=True)
class FDSConfig:
    """FDS hyperparameters of one model (defaults: the authors' code / README: Gaussian, ks 5,
    sigma 2, momentum 0.9, start_update 0, start_smooth 1, IMDB-WIKI's 100 bins and clip; empty
    bins filled from their neighbours as their STS-B code, the only one of their FDS codes that
    treats them)."""

    bins: int = 100
    kernel: str = "gaussian"
    ks: int = 5
    sigma: float = 2.0
    momentum: float = 0.9
    start_update: int = 0  # first epoch whose features update the running statistics
    start_epoch: int = 1  # first epoch whose training forward is calibrated (start_smooth)
    clip_min: float = 0.1
    clip_max: float = 10.0
    stats_from: str = "calibrated"  # features of the end-of-epoch pass: "calibrated" | "raw"
    empty_bins: str = "neighbours"  # bins without samples: FDS_EMPTY_BINS (see the module)

    def __post_init__(self) -> None:
        if self.kernel not in FDS_KERNELS:
            raise ValueError(f"fds.kernel: must be one of {FDS_KERNELS}, got {self.kernel!r}")
        if self.stats_from not in FDS_STATS_FROM:
            raise ValueError(
                f"fds.stats_from: must be one of {FDS_STATS_FROM}, got {self.stats_from!r}"
            )
        if self.empty_bins not in FDS_EMPTY_BINS:
            raise ValueError(
                f"fds.empty_bins: must be one of {FDS_EMPTY_BINS}, got {self.empty_bins!r}"
            )
        if not (isinstance(self.ks, int) and self.ks >= 1 and self.ks % 2 == 1):
            raise ValueError(f"fds.ks: must be an odd integer >= 1, got {self.ks!r}")
        if not (isinstance(self.bins, int) and self.bins > (self.ks - 1) // 2):
            raise ValueError(f"fds.bins: must be an integer > (ks - 1) / 2, got {self.bins!r}")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"fds.sigma: must be finite and > 0, got {self.sigma}")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"fds.momentum: must be in [0, 1], got {self.momentum}")
        for field in ("start_update", "start_epoch"):
            value = getattr(self, field)
            if not (isinstance(value, int) and value >= 0):
                raise ValueError(f"fds.{field}: must be an integer >= 0, got {value!r}")
        if not 0 < self.clip_min <= self.clip_max < math.inf:
            raise ValueError("fds.clip_min: must satisfy 0 < clip_min <= clip_max < inf")


def kernel_window(kernel: str, ks: int, sigma: float) -> np.ndarray:
    """The FDS kernel over `ks` bins, normalised to sum 1 (the code's `_get_kernel_window`)."""
    FDSConfig(bins=ks, kernel=kernel, ks=ks, sigma=sigma)
    half = (ks - 1) // 2
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    if kernel == "gaussian":
        window = _gaussian_filter_of_delta(ks, sigma)
    elif kernel == "triang":  # scipy.signal.windows.triang, odd length
        window = 1.0 - np.abs(offsets) / (half + 1)
    else:
        window = np.exp(-np.abs(offsets) / sigma) / (2.0 * sigma)
    return window / window.sum()


def smoothing_matrix(window: np.ndarray, bins: int) -> np.ndarray:
    """S `[bins, bins]` with S @ stats = conv1d over bins with reflect padding (Eqs. 4-5):
    smoothed[b] = sum_j window[j] * stats[reflect(b - half + j)]."""
    half = (window.size - 1) // 2
    matrix = np.zeros((bins, bins))
    for b in range(bins):
        for j, w in enumerate(window):
            i = b - half + j
            i = -i if i < 0 else (2 * (bins - 1) - i if i >= bins else i)
            matrix[b, i] += w
    return matrix


def target_bins(y: torch.Tensor, bins: int) -> torch.Tensor:
    """int64 bin `[N]` of every training target: `bins` equal-width bins over [min, max]
    (`label_bins`, from `y` at its own precision; all in bin 0 when every target is equal)."""
    values = y.detach().to(torch.float64).cpu().numpy()
    low, high = float(values.min()), float(values.max())
    if not high > low:
        return torch.zeros(values.shape[0], dtype=torch.int64)
    return torch.from_numpy(label_bins(values, np.linspace(low, high, bins + 1)))


class FeatureSmoothing:
    """FDS state and calibration of a pack; models with `configs[k] = None` are untouched
    (their features pass through unchanged: `(z - 0) * 1 + 0`).

    `target_bin[k]` is model k's training-sample bins `[N_k]` (`target_bins`), `samples` the
    longest N_k of the pack, `features` the width D of the last hidden layer; `begin_epoch`,
    `calibrate`/`backward` (per step) and `end_epoch` run the schedule above.
    """

    def __init__(
        self,
        configs: Sequence[FDSConfig | None],
        target_bin: Sequence[torch.Tensor | None],
        features: int,
        samples: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        k = len(configs)
        opts = {"dtype": dtype, "device": device}
        used = [c for c in configs if c is not None]
        self.bins = max(c.bins for c in used)
        self.on = torch.tensor([c is not None for c in configs], device=device)
        plain = FDSConfig()  # placeholder values of models without FDS (masked by `on`)
        cfg = [plain if c is None else c for c in configs]

        def column(field: str, **kw) -> torch.Tensor:
            return torch.tensor([getattr(c, field) for c in cfg], device=device, **kw)

        self.momentum = column("momentum", dtype=dtype).view(k, 1, 1)
        self.clip = (column("clip_min", dtype=dtype), column("clip_max", dtype=dtype))
        self.start_update = column("start_update")
        self.start_epoch = column("start_epoch")
        self.stats_calibrated = torch.tensor(
            [c.stats_from == "calibrated" for c in cfg], device=device
        )
        self.model_bins = column("bins")
        self.epoch = self.start_update.clone()  # the code's `FDS.epoch` buffer
        self.linked = torch.zeros(k, dtype=torch.bool, device=device)  # running_*_last_epoch alias
        smoother = torch.zeros(k, self.bins, self.bins, dtype=torch.float64)
        for row, c in enumerate(configs):
            if c is not None:
                window = kernel_window(c.kernel, c.ks, c.sigma)
                smoother[row, : c.bins, : c.bins] = torch.from_numpy(
                    smoothing_matrix(window, c.bins)
                )
        self.smoother = smoother.to(**opts)
        shape = (k, self.bins, features)
        self.running_mean, self.running_var = torch.zeros(shape, **opts), torch.ones(shape, **opts)
        self.smoothed_mean, self.smoothed_var = (
            torch.zeros(shape, **opts),
            torch.ones(shape, **opts),
        )
        # Per-sample bin `[K, samples]` (the pack's longest training set); padding and models
        # without FDS -> the dump bin `bins`.
        self.sample_bin = torch.full((k, samples), self.bins, dtype=torch.int64, device=device)
        # Bins without a training sample, filled from their neighbours ("neighbours"; fixed for
        # the run: the end-of-epoch pass sees every training sample).
        self.empty = torch.zeros(k, self.bins, dtype=torch.bool)
        for row, b in enumerate(target_bin):
            if b is not None and configs[row] is not None:
                self.sample_bin[row, : b.shape[0]] = b.to(device)
                if configs[row].empty_bins == "neighbours":
                    count = torch.bincount(b.cpu(), minlength=configs[row].bins)
                    self.empty[row, : configs[row].bins] = count == 0
        self.empty_bins = [int(b) for b in torch.nonzero(self.empty.any(0)).flatten()]
        self.empty = self.empty.to(device)
        self.step_bins: torch.Tensor | None = None
        self.stats: tuple[torch.Tensor, ...] | None = None
        self.scale: torch.Tensor | None = None

    def begin_epoch(self, epoch: int, order: torch.Tensor, steps: int, batch: int) -> None:
        """Fix this epoch's calibration (`order` `[K, steps * batch]`: the epoch's sample order)."""
        active = self.on & (epoch >= self.start_epoch)
        if not bool(active.any()):
            self.stats = None
            return
        k = order.shape[0]
        bins = self.sample_bin.gather(1, order.clamp_max(self.sample_bin.shape[1] - 1))
        self.step_bins = bins.clamp_max(self.bins - 1).view(k, steps, batch).transpose(0, 1)
        linked = self.linked.view(k, 1, 1)
        m1 = torch.where(linked, self.running_mean, 0.0)
        v1 = torch.where(linked, self.running_var, 1.0)
        m2, v2 = self.smoothed_mean, self.smoothed_var
        ratio = v2 / torch.where(v1 == 0, 1.0, v1)
        scale = ratio.clamp_(self.clip[0].view(k, 1, 1), self.clip[1].view(k, 1, 1)).sqrt_()
        # Identity where the code skips: inactive models, bins with sum(var) < 1e-10, and
        # dimensions with zero variance.
        skip = (v1.sum(-1, keepdim=True) < 1e-10) | (v1 == 0) | ~active.view(k, 1, 1)
        self.stats = tuple(
            torch.where(skip, fill, value).transpose(1, 2).contiguous()  # [K, D, bins]
            for value, fill in ((m1, 0.0), (scale, 1.0), (m2, 0.0))
        )

    def calibrate(self, h: torch.Tensor, step: int) -> torch.Tensor:
        """z~ of the features `h` `[K, D, B]` of this step's samples (h itself when no model is
        calibrated this epoch)."""
        if self.stats is None:
            self.scale = None
            return h
        index = self.step_bins[step].unsqueeze(1).expand_as(h)
        m1, scale, m2 = (value.gather(2, index) for value in self.stats)
        self.scale = scale
        return (h - m1).mul_(scale).add_(m2)

    def backward(self, d_h: torch.Tensor) -> torch.Tensor:
        """d(loss)/dz from d(loss)/dz~ (the statistics are constants of the epoch)."""
        return d_h if self.scale is None else d_h.mul_(self.scale)

    def end_epoch(self, epoch: int, features: torch.Tensor, alive: torch.Tensor) -> None:
        """The code's `update_last_epoch_stats(epoch)` then `update_running_stats(features)`,
        from the features `[K, D, N]` of every training sample (un-calibrated; calibrated here
        by this epoch's statistics where `stats_from` is "calibrated"; N padded)."""
        k, _, n = features.shape
        if self.stats is not None and bool(self.stats_calibrated.any()):
            # The code's stats pass is a training forward: calibrated by this epoch's statistics.
            index = self.sample_bin[:, :n].clamp_max(self.bins - 1).unsqueeze(1).expand_as(features)
            m1, scale, m2 = (value.gather(2, index) for value in self.stats)
            calibrated = (features - m1).mul_(scale).add_(m2)
            features = torch.where(self.stats_calibrated.view(k, 1, 1), calibrated, features)
        on = self.on & alive
        refresh = on & (epoch == self.epoch + 1)
        self.epoch += refresh
        self.linked |= refresh
        rows = refresh.view(k, 1, 1)
        self.smoothed_mean = torch.where(
            rows, self.smoother @ self.running_mean, self.smoothed_mean
        )
        self.smoothed_var = torch.where(rows, self.smoother @ self.running_var, self.smoothed_var)
        update = on & (epoch >= self.epoch)
        if not bool(update.any()):
            return
        bins = self.sample_bin[:, :n]
        opts = {"dtype": features.dtype, "device": features.device}
        counts = torch.zeros(k, self.bins + 1, **opts).scatter_add_(
            1, bins, torch.ones(k, n, **opts)
        )
        index = bins.unsqueeze(1).expand_as(features)
        sums = features.new_zeros(k, features.shape[1], self.bins + 1).scatter_add_(
            2, index, features
        )
        mean = sums / counts.clamp_min(1.0).unsqueeze(1)
        deviation = (features - mean.gather(2, index)).square_()
        squares = torch.zeros_like(sums).scatter_add_(2, index, deviation)
        # Unbiased variance; one sample: the biased one, 0 (the code's `unbiased=n != 1`).
        many = counts.unsqueeze(1)
        var = torch.where(many > 1, squares / (many - 1).clamp_min(1.0), 0.0)
        current = (mean[..., : self.bins].transpose(1, 2), var[..., : self.bins].transpose(1, 2))
        factor = torch.where((epoch == self.start_update).view(k, 1, 1), 0.0, self.momentum)
        seen = update.view(k, 1, 1) & (counts[:, : self.bins] > 0).unsqueeze(2)
        self.running_mean = torch.where(
            seen, (1 - factor) * current[0] + factor * self.running_mean, self.running_mean
        )
        self.running_var = torch.where(
            seen, (1 - factor) * current[1] + factor * self.running_var, self.running_var
        )
        if self.empty_bins:
            fill = self.empty & update.view(k, 1)
            self.running_mean = self._fill_empty(self.running_mean, fill)
            self.running_var = self._fill_empty(self.running_var, fill)

    def _fill_empty(self, stats: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """Yang et al.'s STS-B fill of the bins `fill` `[K, bins]` of `stats` `[K, bins, D]`, in
        bin order: the first bin copies the second, a model's last bin the one before it, any
        other the mean of its left (already filled) and right neighbours."""
        stats = stats.clone()
        for b in self.empty_bins:
            if b == 0:
                value = stats[:, 1]
            else:
                left, right = stats[:, b - 1], stats[:, min(b + 1, self.bins - 1)]
                last = (self.model_bins == b + 1).view(-1, 1)
                value = torch.where(last, left, (left + right) / 2)
            stats[:, b] = torch.where(fill[:, b].view(-1, 1), value, stats[:, b])
        return stats

    def state(self, index: int, bins: int) -> dict[str, torch.Tensor]:
        """Model `index`'s statistics `[bins, D]` (copies)."""
        names = ("running_mean", "running_var", "smoothed_mean", "smoothed_var")
        return {name: getattr(self, name)[index, :bins].clone() for name in names}


def _gaussian_filter_of_delta(ks: int, sigma: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter1d(delta, sigma) of a centred delta of length `ks` (default
    truncate 4, mode "reflect": half-sample symmetric extension `d c b a | a b c d | d c b a`)."""
    radius = int(_TRUNCATE * sigma + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * taps**2 / sigma**2)
    weights /= weights.sum()
    delta = np.zeros(ks)
    delta[(ks - 1) // 2] = 1.0
    out = np.zeros(ks)
    for i in range(ks):
        for tap, w in zip(taps, weights, strict=True):
            j = int(i + tap)
            period = 2 * ks
            j %= period
            j = j if j < ks else period - 1 - j
            out[i] += w * delta[j]
    return out

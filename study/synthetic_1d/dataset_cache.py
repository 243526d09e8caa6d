"""Dataset versions shared by the packs of one Tune trial.

Every grid point of a stage trains on the same dataset versions (scenario, sampling, function,
seed): the lambda grid, the class counts and the variants all reuse them. A trial (a bundle of
packs, `study.synthetic_1d.bundles`) therefore draws each version once and builds its training
tensors once per dtype and device; the packs of the bundle and the models of a pack share them,
and `regcls.training.packed` stacks a shared tensor once. `make_dataset` is deterministic in its
config, so sharing changes no number.
"""

from __future__ import annotations

import torch

from regcls.data.synthetic import DataConfig, Dataset1D, make_dataset


class DatasetCache:
    """Datasets by `DataConfig`, and their float training tensors by (config, dtype, device).

    Lives as long as one trial: a bundle holds at most a few dozen versions (~0.7 MB each at
    30,000 samples), so nothing is evicted.
    """

    def __init__(self) -> None:
        self._datasets: dict[DataConfig, Dataset1D] = {}
        self._tensors: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self.requests = 0  # dataset() calls
        self.generated = 0  # of them, versions drawn (the rest reused)

    def dataset(self, config: DataConfig) -> Dataset1D:
        """The dataset version `config` names, drawn on its first request."""
        self.requests += 1
        return self._draw(config)

    def train_tensors(
        self, config: DataConfig, dtype: torch.dtype, device: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x `[N, 1]`, y `[N]`) of the version's training split in `dtype` on `device`; the same
        tensors for every model of the trial (read only: the trainer copies what it stacks)."""
        key = (config, dtype, str(device))
        tensors = self._tensors.get(key)
        if tensors is None:
            data = self._draw(config)
            x = torch.as_tensor(data.x_train, dtype=dtype, device=device).unsqueeze(1)
            y = torch.as_tensor(data.y_train, dtype=dtype, device=device)
            tensors = self._tensors[key] = (x, y)
        return tensors

    def _draw(self, config: DataConfig) -> Dataset1D:
        data = self._datasets.get(config)
        if data is None:
            data = self._datasets[config] = make_dataset(config)
            self.generated += 1
        return data

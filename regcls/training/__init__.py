"""How models are trained.

- `tasks`: the contract every trainer shares (`TrainSettings`, `ModelTask`, `TrainedModels`);
  `task_checks` validates it.
- `packed`: the packed trainer, K small MLPs as one vectorised torch program (the 1D studies).
- `single`: its deliberately plain single-model reference (nn.Module + torch.optim), for tests.
- `epochs`: the epoch trainer of the real-data studies (one model, a DataLoader, best-on-val).
- `distillation`: HCA-d's second stage.
- `optimizers/`: the flat optimisers the packed trainer steps (one module per optimiser).

A new trainer backend (e.g. a compiled kernel) is a module or subpackage here that trains a list
of `ModelTask`s into `TrainedModels` and is tested equal to `packed` in float64.
"""

"""regcls: the science of the studies, free of Ray. Each room holds one kind of thing:

- `data/`: the 1D generator, binning into classes and label bins, per-sample weights (LDS, INV,
  DenseWeight), soft targets, HCA's class hierarchy; the real datasets' loaders in
  `data/datasets/` (a new dataset is a loader there).
- `models/`: the 1D MLP (flat layout and nn.Module), the vision models, the frozen text encoder.
- `objectives/`: the training losses as pieces with hand-written gradients, and how a trained
  model predicts (a new loss or variant is a piece there plus a registry entry).
- `training/`: what a trainer trains (`tasks.py`), the packed trainer and its single-model
  reference, the epoch trainer of the real-data studies, HCA-d's second stage; the flat
  optimisers in `training/optimizers/` (a new optimiser goes there; a new trainer backend is a
  module or package in `training/`).
- `evaluation/`: metrics: MSE and friends, the DIR shot metrics, L_extra (Eq. 8-9).

`methods.py` is the method zoo's registry: a `MethodConfig` names a variant and its
hyperparameters, `build_method_task` turns it and a data set into a `training.tasks.ModelTask`.
Imports go one way: `data` and `models` import no `training`; `evaluation` imports no `training`
(`tests/test_layering.py`).
"""

"""Flat optimisers: one update over the packed trainer's `[K, P]` parameter tensor, per-model
learning rates, weight decays and step counts, equal to the matching `torch.optim` class per model
(tested in float64). One module per optimiser."""

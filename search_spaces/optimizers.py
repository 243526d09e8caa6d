"""The optimisers the studies train with, and what lambda * MSE stands in for under each.

Declared here because search spaces import nothing heavy; `regcls.training.optimizers` holds the
optimisers themselves and validates the names again.
"""

from __future__ import annotations

__all__ = ["OPTIMIZERS", "TUNED_HYPERPARAMETER"]

# "adam" with coupled weight decay is the paper's (supp. Table 6).
OPTIMIZERS = ("adam", "adamw", "sgd")
# What lambda * MSE stands in for under each optimiser, hence what reg-tuned tunes (issue 22):
# - adam (coupled L2): lam * MSE trains like MSE with weight decay wd / lam (and eps / lam), so
#   reg-tuned sweeps the weight decay over `weight_decays`;
# - sgd (coupled L2, momentum): lam * MSE at (lr, wd) is MSE at (lr * lam, wd / lam) step for step,
#   so reg-tuned sweeps that scale s over the lambda grid itself: MSE at (lr * s, wd / s), the
#   family reg-scaled spans, its s chosen for reg on validation ("lr_scale");
# - adamw (decoupled decay): lam * MSE trains like MSE with eps / lam, the decay untouched, so
#   lambda stands in for (almost) nothing. What lambda still moves is the CE term's share of
#   Adam's per-parameter normaliser in the shared trunk, which sets the regression loss's
#   effective step there: a learning rate. reg-tuned sweeps the lr over `tuned_learning_rates`.
# tests/test_objectives.py checks the three equivalences in float64.
TUNED_HYPERPARAMETER = {"adam": "weight_decay", "sgd": "lr_scale", "adamw": "lr"}

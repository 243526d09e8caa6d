"""A small 1D `TrialSpec` for tests that train grid points without Ray (float64, tiny data)."""

from __future__ import annotations

from study.synthetic_1d.trial_spec import TrialSpec


def tiny_spec(**changes: object) -> TrialSpec:
    """A `reg` test-stage spec on clean, severe data (10 functions, 900 samples, 0 epochs,
    float64); `changes` override any field."""
    values: dict = dict(
        study="synthetic_1d",
        stage="test",
        search="grid",
        scenario="clean",
        sampling="severe",
        noise_sigma=0.1,
        noise_distribution="gaussian",
        variant="reg",
        num_classes=None,
        lam=None,
        lr=1e-2,
        lambda_source="none",
        replicates=tuple((f, 0) for f in range(10)),
        total_samples=900,
        epochs=0,
        batch_size=64,
        weight_decay=1e-3,
        dtype="float64",
        hidden=(6, 16),
        shot_bins=100,
    )
    values.update(changes)
    return TrialSpec(**values)

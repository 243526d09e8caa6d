"""Protocol sensitivity of the 1D study: the paper's defaults with one choice at a time flipped to
the authors' code (`authors_code_choices.md`), at fixed lambda, on one fixed slice.

The slice is a `Synthetic1DPreset` of the test stage only: clean and noisy (sigma 0.1) data,
uniform and severe sampling, C in {4, 64, 1024}, the lambdas of the authors' run script (clean
1e2, noisy 1e3, as `given_lambdas`), reg, reg+cls and reg+cls-balanced, no controls, no noise
stage. The study trains it once without a flip (`none`, the paper's defaults) and once per flip
of `SensitivityPreset.flips`, whose overrides (`FLIPS`) replace fields of the slice.
Declarative data only, like every search space.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from search_spaces.synthetic_1d import AUTHORS_PEAK_SHARE, Synthetic1DPreset
from search_spaces.synthetic_1d import PRESETS as SYNTHETIC_1D_PRESETS

# The trials of the paper's defaults; every flip is compared with them.
BASELINE = "none"
# Flip name -> the fields of the slice it sets to the authors' value.
FLIPS: dict[str, dict[str, object]] = {
    "function_set": {"function_set": "authors"},
    "peak_share": {"peak_share": AUTHORS_PEAK_SHARE},
    "peak_bins": {"peak_bins": "region"},
    "pair_init": {"pair_init": "independent"},
    "equalize_rounding": {"equalize_rounding": "ceil"},
    "dtype": {"dtype": "float64"},
    "total_samples": {"total_samples": 60_000},
    "reg_pairing": {"reg_pairing": "per_model"},
}
# Choices of the authors' code no flip reproduces (none left; kept for the plan's note).
NOT_AVAILABLE: dict[str, str] = {}
# The authors' run script: lambda per scenario for their test runs.
AUTHORS_LAMBDAS = {"clean": 1e2, "noisy": 1e3}


@dataclass(frozen=True)
class SensitivityPreset:
    """One named size of the sensitivity study: the slice and the flips trained beside it."""

    name: str
    slice: Synthetic1DPreset
    flips: tuple[str, ...] = tuple(FLIPS)

    def __post_init__(self) -> None:
        bad = [f for f in self.flips if f not in FLIPS]
        if bad or not self.flips or len(set(self.flips)) != len(self.flips):
            raise ValueError(
                f"flips: got {list(self.flips)}; accepted values: one or more distinct of "
                f"{', '.join(FLIPS)}"
            )
        if not self.slice.lambdas_given:
            raise ValueError(
                "given_lambdas: the sensitivity study runs at fixed lambdas; give one for every "
                f"scenario of the slice ({', '.join(self.slice.scenarios)})"
            )
        if "reg-tuned" in self.slice.controls:
            raise ValueError(
                "controls: reg-tuned needs a lambda search, which the sensitivity study does not "
                "run; accepted values: reg-scaled, cls-only"
            )
        for flip in self.flips:
            if all(getattr(self.slice, k) == v for k, v in FLIPS[flip].items()):
                raise ValueError(
                    f"flips: {flip} changes nothing, the slice already has {FLIPS[flip]}"
                )
            self.flipped(flip)  # a flip must give a valid preset

    def flipped(self, flip: str) -> Synthetic1DPreset:
        """The slice with one flip applied (`BASELINE`: the slice itself)."""
        if flip == BASELINE:
            return self.slice
        if flip not in FLIPS:
            raise ValueError(f"flip: got {flip!r}; accepted values: {BASELINE}, {', '.join(FLIPS)}")
        return replace(self.slice, **FLIPS[flip])

    def with_overrides(self, overrides: dict[str, object]) -> SensitivityPreset:
        """A copy with `flips` and fields of the slice replaced; unknown fields are an error
        naming the valid ones."""
        known = set(self.slice.__dataclass_fields__) - {"name", "optuna"} | {"flips"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"search space: unknown field(s) {', '.join(unknown)}; "
                f"accepted fields: {', '.join(sorted(known))}"
            )
        rest = {k: v for k, v in overrides.items() if k != "flips"}
        flips = overrides.get("flips", self.flips)
        flips = tuple(flips) if isinstance(flips, list | tuple) else (flips,)
        return replace(self, slice=self.slice.with_overrides(rest), flips=flips)


_PAPER_SLICE = replace(
    SYNTHETIC_1D_PRESETS["paper"],
    scenarios=("clean", "noisy"),
    samplings=("uniform", "severe"),
    class_counts=(4, 64, 1024),
    lambdas=tuple(sorted(AUTHORS_LAMBDAS.values())),
    given_lambdas=dict(AUTHORS_LAMBDAS),
    noise_sigmas=(),
    controls=(),
)

PRESETS: dict[str, SensitivityPreset] = {
    # All 10 functions x 5 test seeds, 80 epochs, 30,000 samples (the paper's test stage).
    "paper": SensitivityPreset(name="paper", slice=_PAPER_SLICE),
    "quick": SensitivityPreset(
        name="quick",
        slice=replace(
            _PAPER_SLICE,
            name="quick",
            functions=(0, 1, 2),
            validation_seeds=(0, 421),
            test_seeds=(0, 421),
            epochs=40,
            total_samples=15_000,
        ),
    ),
}

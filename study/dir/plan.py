"""The trials of each real-data (DIR) study, built from its preset: reg, then reg+cls per class
mode and (C, lambda), and for the image studies the Table 4 balanced-data control."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from search_spaces.breakfast import TARGET_NAMES, BreakfastPreset
from search_spaces.optimizers import TUNED_HYPERPARAMETER
from search_spaces.real_data import VARIANT_OF_MODE, ImagePreset
from search_spaces.stsb_dir import PILOTED, ZOO_WITH_CLASSES, ZOO_WITH_LAMBDA, StsbPreset
from study.dir.spec import DirSpec

IMAGE_TARGETS = {"imdb_wiki_dir": "age", "nyud2_dir": "depth"}


def image_specs(study: str, preset: ImagePreset, data_root: str) -> list[DirSpec]:
    """IMDB-WIKI-DIR / NYUD2-DIR: one trial per model (seed); reg trials first."""
    base = {
        "study": study,
        "preset": preset.name,
        "dataset": study,
        "target": IMAGE_TARGETS[study],
        "data_split": None,
        "task": None,
        "weight_decay": preset.weight_decay,
        "backbone": preset.backbone,
        "img_size": preset.img_size,
        "model_selection": preset.model_selection,
        "shot_bin_width": preset.shot_bin_width,
        "equalize_rounding": preset.equalize_rounding,
        "data_root": data_root,
        "epochs": preset.epochs,
    }
    settings = {"loader_workers": preset.loader_workers, "train_subset": preset.train_subset}
    natural = {
        **base,
        "stage": "train",
        "lr": preset.lr,
        "batch_size": preset.batch_size,
        "grad_accumulation": preset.grad_accumulation,
        "reg_loss": preset.reg_loss,
        "settings": _settings(settings),
    }
    grid = _variant_grid(preset.class_modes, preset.class_lambdas)
    specs = [
        DirSpec(**natural, variant=v, num_classes=c, lam=lam, seeds=(seed,))
        for v, c, lam in grid
        for seed in preset.seeds
    ]
    if preset.balanced_data:
        control = {
            **base,
            "stage": "balanced_data",
            "lr": preset.balanced_data_lr,
            "batch_size": preset.balanced_data_batch_size,
            "grad_accumulation": preset.balanced_data_accumulation,
            "reg_loss": preset.balanced_data_reg_loss,
            "settings": _settings(
                {**settings, "balanced_data_classes": preset.balanced_data_classes}
            ),
        }
        # Table 4: reg and reg+cls (100 classes; the classes of re-balanced data are balanced).
        classes, lam = preset.balanced_data_classes, preset.balanced_data_lam
        for seed in preset.seeds:
            specs.append(
                DirSpec(**control, variant="reg", num_classes=None, lam=None, seeds=(seed,))
            )
            specs.append(
                DirSpec(**control, variant="reg+cls", num_classes=classes, lam=lam, seeds=(seed,))
            )
    return _reg_first(specs)


def breakfast_specs(preset: BreakfastPreset, data_root: str) -> list[DirSpec]:
    """One trial per split x target x task x variant x C (its seeds trained in turn)."""
    lambdas, widths = dict(preset.lambdas), dict(preset.shot_bin_widths)
    settings = _settings(
        {
            "lr_milestones": preset.lr_milestones,
            "val_fraction": preset.val_fraction,
            "skip_first_row": preset.skip_first_row,
        }
    )
    specs = []
    for split in preset.splits:
        for target in preset.targets:
            grid = _variant_grid(
                preset.class_modes, [(c, lambdas[target]) for c in preset.class_counts]
            )
            for task in preset.tasks:
                for variant, classes, lam in grid:
                    specs.append(
                        _mlp_spec(
                            "breakfast",
                            preset,
                            data_root,
                            target=TARGET_NAMES[target],
                            data_split=split.upper(),
                            task=task,
                            variant=variant,
                            num_classes=classes,
                            lam=lam,
                            shot_bin_width=widths[target],
                            settings=settings,
                        )
                    )
    return _reg_first(specs)


def stsb_specs(
    preset: StsbPreset, data_root: str, pilot_lrs: dict[str, float] | None = None
) -> list[DirSpec]:
    """One packed trial per grid point (variant x C x lambda, the preset's controls and its
    method-zoo variants) and optimiser, holding every seed.

    An optimiser without a published lr (`PILOTED`) trains at `pilot_lrs[optimizer]`, the lr its
    `lr_pilot` stage chose (`stsb_pilot_specs`); without it (planning) at the pilot grid's first
    value. reg-tuned trains at every value of its sweep (`_stsb_tuned`)."""
    pairs = [(c, lam) for c in preset.class_counts for lam in preset.lambdas]
    settings = _settings({"dtype": preset.dtype, "subset": preset.subset})
    zoo_settings = _settings({**dict(settings), "method": preset.method_settings()})
    grid = [(*point, settings) for point in _variant_grid(preset.class_modes, pairs)]
    grid += [(*point, settings) for point in _stsb_controls(preset)]
    grid += [(*point, zoo_settings) for point in _stsb_zoo(preset)]
    specs = []
    for optimizer in preset.optimizers:
        lr = preset.lr
        if optimizer in PILOTED:
            lr = (pilot_lrs or {}).get(optimizer, preset.pilot_learning_rates[0])
        base = _stsb_spec(preset, data_root, optimizer, lr, settings)
        specs += [
            replace(base, variant=variant, num_classes=classes, lam=lam, settings=point)
            for variant, classes, lam, point in grid
        ]
        if "reg-tuned" in preset.controls:
            specs += [
                replace(base, variant="reg-tuned", lr=rate, weight_decay=decay)
                for rate, decay in _stsb_tuned(preset, optimizer, lr)
            ]
    return specs


def stsb_pilot_specs(preset: StsbPreset, data_root: str) -> list[DirSpec]:
    """Stage `lr_pilot`: reg at every `pilot_learning_rates` value, per optimiser of the
    preset without a published lr (`PILOTED`); empty when there is none."""
    settings = _settings({"dtype": preset.dtype, "subset": preset.subset})
    return [
        replace(_stsb_spec(preset, data_root, optimizer, lr, settings), stage="lr_pilot")
        for optimizer in preset.optimizers
        if optimizer in PILOTED
        for lr in preset.pilot_learning_rates
    ]


def _stsb_spec(
    preset: StsbPreset,
    data_root: str,
    optimizer: str,
    lr: float,
    settings: tuple[tuple[str, object], ...],
) -> DirSpec:
    """The reg trial of one optimiser at its base lr and weight decay; the grid derives from it."""
    spec = _mlp_spec(
        "stsb_dir",
        preset,
        data_root,
        target="similarity",
        data_split=None,
        task=None,
        variant="reg",
        num_classes=None,
        lam=None,
        shot_bin_width=preset.shot_bin_width,
        encoder=preset.encoder,
        settings=settings,
    )
    return replace(
        spec,
        lr=float(lr),
        weight_decay=preset.optimizer_weight_decay(optimizer),
        optimizer=optimizer,
        momentum=preset.momentum if optimizer == "sgd" else None,
    )


def _stsb_tuned(preset: StsbPreset, optimizer: str, lr: float) -> list[tuple[float, float]]:
    """reg-tuned's (lr, weight decay) sweep under `optimizer`, as the 1D study's
    (`study.synthetic_1d.plan.reg_tuned_sweep`)."""
    decay = preset.optimizer_weight_decay(optimizer)
    tuned = TUNED_HYPERPARAMETER[optimizer]
    if tuned == "weight_decay":
        return [(lr, wd) for wd in preset.weight_decays]
    if tuned == "lr_scale":
        return [(lr * s, decay / s) for s in preset.lambdas]
    return [(rate, decay) for rate in preset.tuned_learning_rates]


def _stsb_zoo(preset: StsbPreset) -> list[tuple[str, int | None, float | None]]:
    """(variant, C, lambda) of the zoo: class variants at every zoo C, lambda variants at every
    lambda, the rest once."""
    out: list[tuple[str, int | None, float | None]] = []
    for variant in preset.zoo:
        classes = preset.zoo_classes if variant in ZOO_WITH_CLASSES else (None,)
        lambdas = preset.lambdas if variant in ZOO_WITH_LAMBDA else (None,)
        out += [(variant, c, lam) for c in classes for lam in lambdas]
    return out


def _stsb_controls(preset: StsbPreset) -> list[tuple[str, int | None, float | None]]:
    """(variant, C, lambda) of the controls: reg-scaled at every lambda, cls-only at every C."""
    out: list[tuple[str, int | None, float | None]] = []
    if "reg-scaled" in preset.controls:
        out += [("reg-scaled", None, lam) for lam in preset.lambdas]
    if "cls-only" in preset.controls:
        out += [("cls-only", c, None) for c in preset.class_counts]
    return out


def declared_models(specs: list[DirSpec]) -> dict[str, int]:
    """Models per stage."""
    counts: dict[str, int] = {}
    for spec in specs:
        counts[spec.stage] = counts.get(spec.stage, 0) + len(spec.seeds)
    return counts


def _variant_grid(
    class_modes: tuple[str, ...], class_lambdas: Iterable[tuple[int, float]]
) -> list[tuple[str, int | None, float | None]]:
    """(variant, C, lambda): reg, then each class mode at every (C, lambda) in order."""
    pairs = list(class_lambdas)
    return [("reg", None, None)] + [
        (VARIANT_OF_MODE[mode], c, lam) for mode in class_modes for c, lam in pairs
    ]


def _mlp_spec(
    study: str, preset: BreakfastPreset | StsbPreset, data_root: str, **point: object
) -> DirSpec:
    """A packed-MLP trial (Breakfast, STS-B-DIR): every seed of the grid point, MSE, no
    accumulation; `point` holds the grid point's own fields."""
    return DirSpec(
        study=study,
        preset=preset.name,
        stage="train",
        dataset=study,
        seeds=preset.seeds,
        lr=preset.lr,
        epochs=preset.epochs,
        batch_size=preset.batch_size,
        grad_accumulation=1,
        weight_decay=preset.weight_decay,
        backbone="mlp",
        img_size=None,
        reg_loss="mse",
        model_selection=preset.model_selection,
        equalize_rounding=preset.equalize_rounding,
        data_root=data_root,
        hidden=preset.hidden,
        **point,
    )


def _settings(values: dict[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(values.items()))


def _reg_first(specs: list[DirSpec]) -> list[DirSpec]:
    # reg trials first, so reg+cls rows find their pair early (stable: grid order otherwise).
    return sorted(specs, key=lambda s: s.variant != "reg")

"""The controlled 1D study (core paper Sections 2.1 and 3.1) on Ray Tune.

| module | what it holds |
| --- | --- |
| `trial_spec` | `TrialSpec`: one grid point and the replicates (functions x seeds) it packs |
| `plan` | the stages' trial specs from a preset (lambda search, test, noise, Optuna) |
| `selection` | the lambda chosen on validation per scenario and class mode |
| `packing` | the cost model that splits grid points into Tune trials |
| `point` | training one pack of grid points and turning every model into a results row (no Ray) |
| `trainables` | the Ray Tune function trainable around `point` |
| `run` | the study driver: stages in order, resume, Optuna search |
"""

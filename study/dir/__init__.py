"""The real-data (deep imbalanced regression) studies on Ray Tune: IMDB-WIKI-DIR, NYUD2-DIR,
Breakfast and STS-B-DIR.

| module | what it holds |
| --- | --- |
| `spec` | `DirSpec`: one trained model's config, recorded in its row |
| `plan` | the specs of a preset, per dataset |
| `rows` | prediction metrics per shot and the results row of one model |
| `epochs` | shared pieces of the epoch-trained studies (image, video) |
| `image` | IMDB-WIKI-DIR age and NYUD2-DIR depth with torchvision ResNets |
| `breakfast` | Breakfast video progress with per-task MLPs |
| `stsb` | STS-B-DIR with frozen sentence features and packed MLP heads |
| `trainables` | the Ray Tune trainable that dispatches on the dataset |
| `run` | the study driver: data-root checks, trials, resume |
"""

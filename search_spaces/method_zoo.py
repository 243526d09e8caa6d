"""The method zoo's variant names, declared once for every study that trains them.

The variants themselves live in `regcls.methods` (`METHODS`); this module only names them, so
that search spaces and reports (which may not import torch) agree with it
(`tests/test_zoo_study.py` and `tests/test_stsb_zoo.py` check the names and groups against
`METHODS`). The order is the 1D study's: `point.init_seed` offsets a variant's init by its index
in `study.variants.VARIANTS`, to which these are appended.
"""

from __future__ import annotations

# Focal-R's beta x the vanilla model's typical test error in the published settings (Yang et
# al. 2021, their code's weighted_focal_*_loss): IMDB-WIKI-DIR 0.2 / year x MAE 8.06 = 1.6,
# AgeDB-DIR 0.2 x 7.77 = 1.55 (imdb-wiki-dir/loss.py, beta=.2), STS-B-DIR 20 on scores / 5 =
# 4 per score x RMSE sqrt(0.974) = 3.95 (sts-b-dir/loss.py beta=20., models.py label / 5).
FOCAL_PUBLISHED_BETA_ERROR = (1.55, 3.95)
# A study's Focal-R beta: this over its own typical error (the range's geometric middle).
FOCAL_BETA_TIMES_ERROR = 2.5

# Every zoo variant beyond the paper's reg and reg+cls.
METHOD_ZOO = (
    "reg-lds",
    "reg-focal",
    "reg-bmc",
    "reg-denseweight",
    "reg+hlgauss",
    "reg+softlabel",
    "reg-lds+cls",
    "hca",
    "hca+lds",
    "reg+hca",
    "reg-fds",
    "hca-d",
    "hlgauss",
    "reg-inv",
    "reg-inv+fds",
)
# Their loss is lam * MSE + CE (MethodConfig.uses_lam): lambda chosen like reg+cls's, and each
# is also compared with reg-scaled (lam * MSE alone) at its lambda and lr.
WITH_LAMBDA = ("reg+hlgauss", "reg+softlabel", "reg-lds+cls", "reg+hca")
# They have classes (MethodConfig.has_classes): trained at every C of a grid.
WITH_CLASSES = (*WITH_LAMBDA, "hca", "hca+lds", "hca-d", "hlgauss")

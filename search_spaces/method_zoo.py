"""The method zoo's variant names, declared once for every study that trains them.

The variants themselves live in `regcls.methods` (`METHODS`); this module only names them, so
that search spaces and reports (which may not import torch) agree with it
(`tests/test_zoo_study.py` and `tests/test_stsb_zoo.py` check the names and groups against
`METHODS`). The order is the 1D study's: `point.init_seed` offsets a variant's init by its index
in `study.variants.VARIANTS`, to which these are appended.
"""

from __future__ import annotations

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
)
# Their loss is lam * MSE + CE (MethodConfig.uses_lam): lambda chosen like reg+cls's.
WITH_LAMBDA = ("reg+hlgauss", "reg+softlabel", "reg-lds+cls", "reg+hca")
# They have classes (MethodConfig.has_classes): trained at every C of a grid.
WITH_CLASSES = (*WITH_LAMBDA, "hca", "hca+lds", "hca-d")

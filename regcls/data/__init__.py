"""What the models learn from: the 1D generator (`synthetic`), binning of targets into classes
(`binning`), per-sample weights (`reweighting`: LDS, DenseWeight), soft class targets
(`soft_targets`: HL-Gauss, soft group labels), HCA's class hierarchy (`hierarchy`) and the
real-data loaders (`datasets/`, one module per dataset)."""

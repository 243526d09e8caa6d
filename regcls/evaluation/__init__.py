"""Metrics of trained models: regression and classification metrics (`metrics`), the DIR
evaluation by shot and the image / depth metrics (`dir_metrics`), and the paper's L_extra
(Eq. 8-9, `l_extra`)."""

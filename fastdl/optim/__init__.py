"""fastdl.optim: optimizers and learning-rate schedules."""

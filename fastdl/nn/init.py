"""fastdl.nn.init: parameter initialisation as PyTorch does it."""

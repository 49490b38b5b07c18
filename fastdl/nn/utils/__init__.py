"""fastdl.nn.utils: gradient clipping and friends."""

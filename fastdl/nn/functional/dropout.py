"""fastdl.nn.functional: dropout ops."""
__all__ = []

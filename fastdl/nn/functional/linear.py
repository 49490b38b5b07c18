"""fastdl.nn.functional: linear ops."""
__all__ = []

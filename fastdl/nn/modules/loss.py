"""loss layers."""
__all__ = []

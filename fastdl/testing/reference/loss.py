"""NumPy references: loss."""
__all__ = []

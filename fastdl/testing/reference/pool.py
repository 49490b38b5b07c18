"""NumPy references: pool."""
__all__ = []

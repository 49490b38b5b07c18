"""NumPy references: conv."""
__all__ = []

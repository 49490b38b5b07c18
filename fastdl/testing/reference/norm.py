"""NumPy references: norm."""
__all__ = []

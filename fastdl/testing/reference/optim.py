"""NumPy references: optim."""
__all__ = []

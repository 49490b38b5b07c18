"""NumPy references: nn."""
__all__ = []

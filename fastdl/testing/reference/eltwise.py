"""NumPy references: eltwise."""
__all__ = []

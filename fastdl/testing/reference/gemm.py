"""NumPy references: gemm."""
__all__ = []

"""NumPy reference of embedding_bag (csrc/kernels/embag/): one loop over bags, float64."""
import numpy as np

__all__ = ["embedding_bag_ref"]


def embedding_bag_ref(weight, indices, offsets, mode="mean", per_sample_weights=None,
                      padding_idx=None, include_last_offset=False):
    """(B, D) sums / means / maxima of the bags ``indices[offsets[b]:offsets[b + 1]]``
    (padding entries left out; empty bags give zeros). Without ``include_last_offset`` the
    last bag runs to the end of ``indices``; with it ``offsets`` holds B + 1 bounds (CSR)."""
    idx = np.asarray(indices).reshape(-1)
    offs = list(np.asarray(offsets)) + ([] if include_last_offset else [idx.size])
    B, D = len(offs) - 1, weight.shape[1]
    out = np.zeros((B, D))
    for b in range(B):
        rows = []
        for e in range(offs[b], offs[b + 1]):
            if padding_idx is not None and idx[e] == padding_idx:
                continue
            w = 1.0 if per_sample_weights is None else float(per_sample_weights[e])
            rows.append(weight[idx[e]].astype(np.float64) * w)
        if not rows:
            continue
        rows = np.stack(rows)
        out[b] = rows.max(0) if mode == "max" else rows.sum(0) / (len(rows) if mode == "mean"
                                                                   else 1)
    return out

"""Per-image metrics over large stacks without large float64 temporaries.

A Market test set is 19,200 images: as uint8 that is 0.5 GB, as float64 RGB
3.8 GB. Metric functions therefore convert (gray, mask, float) chunk by chunk.
"""

from __future__ import annotations

import numpy as np

CHUNK = 64


def map_chunks(fn, *arrays, size: int = CHUNK):
    """fn(*chunks) over the leading axis; concatenates the (N,) result(s).

    `None` arrays are passed through as None. If fn returns a tuple, each
    element is concatenated separately and a tuple is returned.
    """
    n = len(next(a for a in arrays if a is not None))
    parts = []
    for start in range(0, n, size):
        chunk = [None if a is None else a[start:start + size] for a in arrays]
        parts.append(fn(*chunk))
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)

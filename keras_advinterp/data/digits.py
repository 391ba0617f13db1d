"""scikit-learn's handwritten digits (8x8, 1797 images), upscaled.

Real data that ships with a dependency: no download. Split: a fixed,
stratified 80/20 shuffle from a seed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

IMAGE_SIZE = 32
CLASS_NAMES = tuple(str(d) for d in range(10))


@lru_cache(maxsize=4)
def generate(split: str = "test", seed: int = 0):
    """(x, y): x (N, 32, 32, 1) float32 in [0, 1], y int32 digit."""
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for digits. Received: split={split!r}")
    d = load_digits()
    idx_train, idx_test = train_test_split(
        np.arange(len(d.target)), test_size=0.2, random_state=seed, stratify=d.target
    )
    idx = idx_train if split == "train" else idx_test
    small = (d.images[idx] / 16.0).astype(np.float32)[..., None]
    x = tf.image.resize(small, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear").numpy()
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    y = d.target[idx].astype(np.int32)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y

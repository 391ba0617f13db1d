"""Input checks shared by every public entry point.

Everything fails before any work starts, with the bad value in the message.
"""

from __future__ import annotations

import numpy as np


def as_images(x, channels: int | None = None, name: str = "x") -> np.ndarray:
    """Returns ``x`` as float32 NHWC in [0, 1], or raises ValueError.

    A single HWC image is accepted and given a batch axis.
    """
    if hasattr(x, "numpy"):
        x = x.numpy()
    x = np.asarray(x)
    if x.dtype == np.uint8:
        raise ValueError(
            f"{name} must be float pixels in [0, 1], not uint8 in [0, 255]; divide by 255 first. "
            f"Received: {name}.dtype=uint8"
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} must be a float array of images. Received: {name}.dtype={x.dtype}")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(
            f"{name} must be a batch of images shaped (N, H, W, C). Received: {name}.shape={x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch. Received: {name}.shape={x.shape}")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(
            f"{name} must have {channels} channel(s) (NHWC, channels last) for this model. "
            f"Received: {name}.shape={x.shape}"
        )
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s).")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} must hold pixels in [0, 1]. Received: {name} in [{lo:.4g}, {hi:.4g}]"
        )
    return x.astype(np.float32, copy=False)


def as_labels(y, n: int, num_classes: int, name: str = "y") -> np.ndarray:
    """Returns ``y`` as int32 of shape (n,), each in [0, num_classes)."""
    if hasattr(y, "numpy"):
        y = y.numpy()
    y = np.asarray(y)
    if y.ndim == 0:
        y = np.full((n,), y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must hold one class index per image ({n}). Received: {name}.shape={y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices. Received: {name}.dtype={y.dtype}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"{name} must hold class indices in [0, {num_classes}). "
            f"Received: {name} in [{int(y.min())}, {int(y.max())}]"
        )
    return y.astype(np.int32)


def positive(value, name: str, *, allow_zero: bool = False, integer: bool = False):
    """Checks a hyper-parameter is a positive number (an int if ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number. Received: {name}={value!r}")
    if integer and int(value) != value:
        raise ValueError(f"{name} must be an integer. Received: {name}={value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}. Received: {name}={value!r}")
    return int(value) if integer else float(value)


def choice(value, name: str, options):
    """Checks ``value`` is one of ``options`` (strings compared lower-case)."""
    key = value.lower() if isinstance(value, str) else value
    if key not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}. Received: {name}={value!r}")
    return key


def in_range(value, name: str, lo: float, hi: float, *, integer: bool = False):
    """Checks a hyper-parameter is a number in the closed range [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number. Received: {name}={value!r}")
    if integer and int(value) != value:
        raise ValueError(f"{name} must be an integer. Received: {name}={value!r}")
    if not np.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}]. Received: {name}={value!r}")
    return int(value) if integer else float(value)

"""Comparing maps: top-k% IoU, Lp distance, Kendall tau, overlap with a mask.

All functions take batches: maps (N, H, W), masks (N, H, W) bool, and
return one value per image.
"""

from __future__ import annotations

import numpy as np


def _check_pair(a, b, what="maps"):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"{what} must be two (N, H, W) arrays of one shape. Received: {a.shape} and {b.shape}")
    return a, b


def top_region(maps, fraction: float = 0.2) -> np.ndarray:
    """Boolean (N, H, W): the ``fraction`` of pixels with the highest value per map.

    Ties at the threshold are broken by pixel order, so exactly
    round(fraction * H * W) pixels are set.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1]. Received: fraction={fraction}")
    maps = np.asarray(maps)
    flat = maps.reshape(len(maps), -1)
    k = max(1, int(round(fraction * flat.shape[1])))
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(flat, dtype=bool)
    np.put_along_axis(out, order, True, axis=1)
    return out.reshape(maps.shape)


def iou(a, b) -> np.ndarray:
    """Intersection over union of two boolean batches (N, H, W); 1 when both are empty."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    inter = (a & b).reshape(len(a), -1).sum(1)
    union = (a | b).reshape(len(a), -1).sum(1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def top_iou(maps_a, maps_b, fraction: float = 0.2) -> np.ndarray:
    """IoU of the top-``fraction`` regions of two map batches (AdvEdge's IoU test)."""
    a, b = _check_pair(maps_a, maps_b)
    return iou(top_region(a, fraction), top_region(b, fraction))


def mask_iou(maps, masks, fraction: float = 0.2) -> np.ndarray:
    """IoU of each map's top-``fraction`` region with a ground-truth object mask."""
    maps = np.asarray(maps)
    masks = np.asarray(masks, bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps and masks must have one shape. Received: {maps.shape} and {masks.shape}")
    return iou(top_region(maps, fraction), masks)


def lp_distance(maps_a, maps_b, p: int = 1) -> np.ndarray:
    """Mean-normalised Lp distance between maps in [0, 1]: (mean |a-b|^p)^(1/p)."""
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2. Received: p={p}")
    a, b = _check_pair(maps_a, maps_b)
    d = np.abs(a - b).reshape(len(a), -1) ** p
    return d.mean(axis=1) ** (1.0 / p)


def kendall_tau(maps_a, maps_b) -> np.ndarray:
    """Kendall rank correlation (tau-b, SciPy) between paired maps, one per image."""
    from scipy.stats import kendalltau

    a, b = _check_pair(maps_a, maps_b)
    out = np.empty(len(a))
    for i in range(len(a)):
        tau = kendalltau(a[i].ravel(), b[i].ravel()).statistic
        out[i] = 0.0 if np.isnan(tau) else tau  # a constant map ranks nothing
    return out


def interpretability_score(cams, delta, quantile: float = 0.7) -> np.ndarray:
    """IS(delta) = ||B o delta||_2 / ||delta||_2, B = CAM >= its ``quantile`` (per image).

    ``cams`` (N, H, W), ``delta`` (N, H, W, C) perturbations; B is broadcast
    over channels. 1 when the perturbation lies inside the discriminative
    region, 0 when it lies outside (seeds/001_13ab3436c62e81d7.txt, Sec. 3.2, Eq. 5-6, Table 2;
    nu = the 70% quantile). An all-zero perturbation scores 0.
    """
    if not 0.0 <= quantile < 1.0:
        raise ValueError(f"quantile must be in [0, 1). Received: quantile={quantile}")
    cams = np.asarray(cams, np.float64)
    delta = np.asarray(delta, np.float64)
    if delta.ndim != 4 or delta.shape[:3] != cams.shape:
        raise ValueError("delta must be (N, H, W, C) over maps (N, H, W). "
                         f"Received: delta {delta.shape}, maps {cams.shape}")
    nu = np.quantile(cams.reshape(len(cams), -1), quantile, axis=1)[:, None, None]
    inside = (cams >= nu)[..., None]
    num = np.sqrt(((inside * delta) ** 2).reshape(len(delta), -1).sum(1))
    den = np.sqrt((delta**2).reshape(len(delta), -1).sum(1))
    return np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)


def ssim_noise(x, x_adv) -> np.ndarray:
    """1 - SSIM (scikit-image) between clean and adversarial images, per image (003's noise measure)."""
    from skimage.metrics import structural_similarity

    x, x_adv = np.asarray(x, np.float64), np.asarray(x_adv, np.float64)
    if x.shape != x_adv.shape or x.ndim != 4:
        raise ValueError("x and x_adv must be two (N, H, W, C) arrays of one shape. "
                         f"Received: {x.shape}, {x_adv.shape}")
    return np.array([1.0 - structural_similarity(a, b, channel_axis=-1, data_range=1.0) for a, b in zip(x, x_adv)])

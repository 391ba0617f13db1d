"""Graph-based visual saliency (GBVS), label-free, for AdVis's saliency difference.

AdVis (seeds/004_3483dc02f8dd9934.txt, "Visualization Experiments" 1-3)
compares the graph-based saliency of an image with that of its adversarial
version: saliency difference = S(perturbed) - S(original). Its saliency is
Harel et al.'s GBVS, whose edge weight between grid cells (i, j) and (p, q)
is the paper's Eq. (2),

    w1((i, j), (p, q)) = d((i, j), (p, q)) * F(i - p, j - q),
    d = |log(M(i, j) / M(p, q))|,  F(a, b) = exp(-(a^2 + b^2) / (2 sigma^2)),

on each feature map M. A random walk on that graph spends its time on cells
unlike their neighbourhood: the stationary distribution is the activation
map. A second walk with weights A(p, q) * F concentrates the activation
(GBVS's normalisation). Feature maps: intensity, red-green and
blue-yellow opponency, and oriented edge energy at 0, 45, 90 and 135
degrees, on a ``grid`` x ``grid`` lattice.

This is a compact GBVS (one scale, four orientations from Sobel
derivatives instead of Gabor filters); it needs NumPy and OpenCV only.

References:
    Harel, Koch & Perona, "Graph-Based Visual Saliency", NIPS 2007.
"""

from __future__ import annotations

import functools

import numpy as np

_TINY = 1e-6
_CONVERGED = 1e-4  # stop when no node's probability moves by more than this fraction of a uniform share


def features(image: np.ndarray, grid: int) -> np.ndarray:
    """(F, grid, grid) non-negative feature maps of an (H, W, C) image in [0, 1]."""
    import cv2

    image = np.asarray(image, np.float32)
    small = cv2.resize(image, (grid, grid), interpolation=cv2.INTER_AREA).reshape(grid, grid, -1)
    intensity = small.mean(axis=-1)
    maps = [intensity]
    if small.shape[-1] == 3:
        r, g, b = small[..., 0], small[..., 1], small[..., 2]
        maps += [np.abs(r - g), np.abs(b - (r + g) / 2)]
    grey = image.mean(axis=-1) if image.ndim == 3 else image
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    for angle in (0.0, 45.0, 90.0, 135.0):
        t = np.deg2rad(angle)
        energy = np.abs(gx * np.cos(t) + gy * np.sin(t))
        maps.append(cv2.resize(energy, (grid, grid), interpolation=cv2.INTER_AREA))
    return np.stack(maps).astype(np.float64)


@functools.lru_cache(maxsize=8)
def _proximity(grid: int, sigma: float) -> np.ndarray:
    """F between every pair of the grid's cells, (grid^2, grid^2)."""
    ij = np.stack(np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij"), -1).reshape(-1, 2)
    d2 = ((ij[:, None, :] - ij[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2.0 * (sigma * grid) ** 2)).astype(np.float32)


def _stationary(weights: np.ndarray, iterations: int) -> np.ndarray:
    """Stationary distributions of the walks with edge weights (F, N, N) (rows: from), by power iteration."""
    weights = weights + _TINY  # a flat map gives a uniform walk instead of empty rows
    transition = weights / weights.sum(axis=2, keepdims=True)
    n = weights.shape[1]
    pi = np.full((weights.shape[0], 1, n), 1.0 / n, np.float32)
    for i in range(1, iterations + 1):
        new = pi @ transition  # batched vector-matrix products
        if i % 8 == 0 and np.abs(new - pi).max() < _CONVERGED / n:  # checking costs as much as a step
            return new[:, 0]
        pi = new
    return pi[:, 0]


def graph_saliency(image: np.ndarray, *, grid: int = 20, sigma: float = 0.15, iterations: int = 200) -> np.ndarray:
    """GBVS map of one image.

    Args:
        image: (H, W, C) float in [0, 1], C = 1 or 3.
        grid: cells per side of the graph (grid^2 nodes).
        sigma: width of the proximity kernel F, as a fraction of the grid side.
        iterations: cap on power iterations per walk.

    Returns:
        (H, W) float32 saliency, min-max scaled to [0, 1].
    """
    import cv2

    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"image must be (H, W, 1 or 3). Received: image.shape={image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"image must be finite pixels in [0, 1]. Received: {int((~np.isfinite(image)).sum())} "
                         "NaN or infinite values")
    if image.min() < 0 or image.max() > 1:
        raise ValueError(f"image must be finite pixels in [0, 1]. Received: min={image.min():.4g}, "
                         f"max={image.max():.4g}")
    if not (isinstance(grid, int) and grid >= 4):
        raise ValueError(f"grid must be an int >= 4. Received: grid={grid!r}")
    if not 0 < sigma <= 1:
        raise ValueError(f"sigma must be in (0, 1]. Received: sigma={sigma!r}")
    logs = np.log(features(image, grid).reshape(-1, grid * grid) + 1e-3).astype(np.float32)  # positive values
    prox = _proximity(grid, float(sigma))
    dissimilarity = np.abs(logs[:, :, None] - logs[:, None, :])
    activation = _stationary(dissimilarity * prox, iterations)
    activation /= activation.max(axis=1, keepdims=True) + _TINY
    concentrated = _stationary(activation[:, None, :] * prox, iterations)
    total = (concentrated / (concentrated.max(axis=1, keepdims=True) + _TINY)).sum(0).reshape(grid, grid)
    full = cv2.resize(total.astype(np.float32), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    lo, hi = float(full.min()), float(full.max())
    return ((full - lo) / (hi - lo + 1e-7)).astype(np.float32)


def saliency_difference(clean: np.ndarray, perturbed: np.ndarray, **kwargs) -> np.ndarray:
    """AdVis's saliency difference S(perturbed) - S(clean), (H, W) in [-1, 1]."""
    return graph_saliency(perturbed, **kwargs) - graph_saliency(clean, **kwargs)

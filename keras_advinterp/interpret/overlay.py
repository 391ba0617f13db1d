"""Heat maps drawn on images with matplotlib."""

from __future__ import annotations

import numpy as np


def overlay(image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """RGB (H, W, 3) float image with ``heatmap`` (H, W) in [0, 1] blended on top.

    ``image`` is (H, W, C) in [0, 1] with C = 1 or 3.
    """
    from matplotlib import colormaps

    image = np.asarray(image, np.float32)
    heatmap = np.asarray(heatmap, np.float32)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"image must be (H, W, 1 or 3). Received: image.shape={image.shape}")
    if heatmap.shape != image.shape[:2]:
        raise ValueError(f"heatmap must be (H, W) = {image.shape[:2]}. Received: heatmap.shape={heatmap.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]. Received: alpha={alpha}")
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    heat = colormaps[cmap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    return np.clip((1 - alpha) * rgb + alpha * heat, 0.0, 1.0)


def show(ax, image, heatmap=None, title: str | None = None, **kwargs) -> None:
    """Draws ``image`` (with ``heatmap`` blended, if given) on a matplotlib axis."""
    img = np.asarray(image)
    if heatmap is not None:
        ax.imshow(overlay(img, heatmap, **kwargs))
    elif img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.clip(img, 0, 1))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)

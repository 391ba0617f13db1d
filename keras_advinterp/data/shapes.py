"""The generated ``shapes`` set: coloured shapes on textured backgrounds.

Each image holds one object whose class is its shape; its colour and the
background texture are drawn independently and returned as concept labels,
with the object's pixel mask. It stands in for ImageNet-style localisation
(the mask is ground truth for CAM overlap) and for Broden-style concept masks
(network dissection). Every image is a pure function of (seed, split, index),
so ``limit`` takes a prefix of the same set.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
from skimage import data as skdata
from skimage.draw import polygon as draw_polygon
from skimage.transform import rescale

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring")
COLOURS = {
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.8, 0.2),
    "blue": (0.15, 0.3, 0.95),
    "yellow": (0.95, 0.9, 0.1),
    "magenta": (0.9, 0.15, 0.85),
    "cyan": (0.1, 0.85, 0.9),
    "orange": (1.0, 0.55, 0.05),
    "white": (0.97, 0.97, 0.97),
}
TEXTURES = ("noise", "stripes", "checker", "brick", "grass", "gravel")
SPLITS = {"train": (0, 6000), "val": (1, 1000), "test": (2, 1200)}
IMAGE_SIZE = 64


@cache
def _photo_texture(name: str) -> np.ndarray:
    img = getattr(skdata, name)().astype(np.float32) / 255.0
    return rescale(img, 0.5, anti_aliasing=True).astype(np.float32)


def _background(rng: np.random.Generator, texture: str, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if texture == "noise":
        coarse = rng.random((size // 8 + 1, size // 8 + 1)).astype(np.float32)
        g = np.kron(coarse, np.ones((8, 8), np.float32))[:size, :size]
        g = 0.6 * g + 0.4 * rng.random((size, size), dtype=np.float32)
    elif texture == "stripes":
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(5, 12)
        g = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    elif texture == "checker":
        cell = int(rng.integers(4, 11))
        g = (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    else:
        src = _photo_texture(texture)
        top, left = rng.integers(0, src.shape[0] - size), rng.integers(0, src.shape[1] - size)
        g = src[top : top + size, left : left + size]
        g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    tint = rng.uniform(0.35, 0.75, size=3).astype(np.float32)
    lo = rng.uniform(0.05, 0.25)
    g = lo + (0.6 - lo) * g
    return g[..., None] * tint[None, None, :] / tint.max()


def _regular_polygon(cx, cy, radii, angle, size):
    k = len(radii)
    theta = angle + 2 * np.pi * np.arange(k) / k
    rows = cy + np.asarray(radii) * np.sin(theta)
    cols = cx + np.asarray(radii) * np.cos(theta)
    mask = np.zeros((size, size), bool)
    rr, cc = draw_polygon(rows, cols, shape=(size, size))
    mask[rr, cc] = True
    return mask


def shape_mask(shape: str, cx: float, cy: float, r: float, angle: float, size: int = IMAGE_SIZE) -> np.ndarray:
    """Boolean (size, size) mask of one shape centred at (cx, cy) with radius r."""
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.hypot(xx - cx, yy - cy)
    if shape == "circle":
        return d <= r
    if shape == "ring":
        return (d <= r) & (d >= 0.55 * r)
    if shape == "square":
        return _regular_polygon(cx, cy, [r * 1.05] * 4, angle, size)
    if shape == "triangle":
        return _regular_polygon(cx, cy, [r * 1.15] * 3, angle, size)
    if shape == "star":
        return _regular_polygon(cx, cy, [r * 1.15, r * 0.45] * 5, angle, size)
    if shape == "cross":
        w = 0.32 * r
        pts = [(r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w),
               (-r, -w), (-w, -w), (-w, -r), (w, -r), (w, -w), (r, -w)]
        pts = np.asarray(pts, np.float64)
        c, s = np.cos(angle), np.sin(angle)
        cols = cx + pts[:, 0] * c - pts[:, 1] * s
        rows = cy + pts[:, 0] * s + pts[:, 1] * c
        mask = np.zeros((size, size), bool)
        rr, cc = draw_polygon(rows, cols, shape=(size, size))
        mask[rr, cc] = True
        return mask
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def render(seed: int, split_id: int, index: int, size: int = IMAGE_SIZE):
    """One image: (image HxWx3 float32 in [0,1], label, mask, colour id, texture id)."""
    rng = np.random.default_rng((seed, split_id, index))
    label = int(rng.integers(len(SHAPES)))
    colour = int(rng.integers(len(COLOURS)))
    texture = int(rng.integers(len(TEXTURES)))
    img = _background(rng, TEXTURES[texture], size)
    r = rng.uniform(0.12, 0.26) * size  # small enough that position varies: no centre bias to exploit
    margin = r * 1.15 + 1
    cx, cy = rng.uniform(margin, size - margin, size=2)
    mask = shape_mask(SHAPES[label], cx, cy, r, rng.uniform(0, 2 * np.pi), size)
    rgb = np.asarray(list(COLOURS.values())[colour], np.float32)
    shade = 1.0 - 0.25 * ((np.mgrid[0:size, 0:size][0] - cy) / size)  # soft light from the top
    obj = np.clip(rgb[None, None, :] * shade[..., None] + rng.normal(0, 0.03, (size, size, 3)), 0, 1)
    img = np.where(mask[..., None], obj, img)
    img = np.clip(img + rng.normal(0, 0.015, img.shape), 0.0, 1.0).astype(np.float32)
    return img, label, mask, colour, texture


@lru_cache(maxsize=8)
def generate(split: str = "test", seed: int = 0, limit: int | None = None):
    """Arrays (x, y, masks, colours, textures) of a split; cached per call."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {tuple(SPLITS)}. Received: split={split!r}")
    split_id, n = SPLITS[split]
    n = n if limit is None else min(n, limit)
    items = [render(seed, split_id, i) for i in range(n)]
    x, y, m, c, t = (np.stack(v) for v in zip(*items))
    for a in (x, y, m, c, t):
        a.setflags(write=False)  # shared through the cache
    return x, y.astype(np.int32), m, c.astype(np.int32), t.astype(np.int32)

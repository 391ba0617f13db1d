"""Pixel edits inside the CAM region, and pixel-value histograms (Ding et al., Sec. 4.3).

seeds/000_f66802178e087466.txt, Sec. 4.3, picks 100 random pixels in the
"red" (most activated) area of a clean image's CAM, sets them, and the
pixels at the same positions of the image's adversarial version, to 0, 127,
200 or 255, and compares the top-1 prediction before and after (Tables 2
and 3). Fig. 2 compares the pixel-value histograms of clean and adversarial
images.

    masks = cam_region(maps, top=0.2)                # (N, H, W) bool, the top 20% of each map
    res = pixel_change(clf, x, masks, x_other=x_adv)  # same positions in x and x_adv
    res.after[0].confidence, res.after_other[0].label  # top-1 after setting the pixels to values[0]
    counts, edges = pixel_histograms(x)              # (N, C, bins) counts over 0..255

Images are floats in [0, 1] (N, H, W, C); a pixel value v in 0..255 is
written as v / 255 in every channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .change import Top1, top1

PAPER_VALUES = (0, 127, 200, 255)


def _images(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name} must be a batch of images (N, H, W, C). Received: {name}.shape={x.shape}")
    return x


def cam_region(maps, top: float = 0.2) -> np.ndarray:
    """Boolean masks of the ``top`` fraction of each map's pixels (the CAM's "red" region).

    Each mask holds exactly ``max(1, round(top * H * W))`` pixels: the
    highest-valued ones of its map, ties broken by position (row-major), so
    a flat map still yields a region of the stated size.

    Args:
        maps: (N, H, W) attention maps (any scale; higher is more attended).
        top: share of pixels in the region, in (0, 1].

    Returns:
        (N, H, W) bool.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, H, W). Received: maps.shape={maps.shape}")
    if not np.issubdtype(maps.dtype, np.number) or maps.dtype == bool:
        raise ValueError(f"maps must be numeric. Received: maps.dtype={maps.dtype}")
    if not 0.0 < float(top) <= 1.0:
        raise ValueError(f"top must be a fraction in (0, 1]. Received: top={top}")
    n, h, w = maps.shape
    k = max(1, int(round(float(top) * h * w)))
    flat = maps.reshape(n, h * w).astype(np.float64)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]  # highest first, earlier position on ties
    masks = np.zeros((n, h * w), bool)
    np.put_along_axis(masks, order, True, axis=1)
    return masks.reshape(n, h, w)


def _check_values(values) -> tuple[int, ...]:
    vals = np.atleast_1d(np.asarray(values))
    if vals.ndim != 1 or vals.size == 0:
        raise ValueError(f"values must be one or more pixel values in 0..255. Received: values={values!r}")
    if not np.issubdtype(vals.dtype, np.number) or vals.dtype == bool:
        raise ValueError(f"values must be numbers in 0..255. Received: values={values!r}")
    bad = [v for v in vals.tolist() if not (0 <= v <= 255 and float(v) == int(v))]
    if bad:
        raise ValueError(f"pixel values must be integers in 0..255. Received: values={values!r} (bad: {bad})")
    return tuple(int(v) for v in vals.tolist())


def pick_pixels(masks, n_pixels: int = 100, seed=0) -> np.ndarray:
    """``n_pixels`` random, distinct (row, col) positions inside each mask: (N, n_pixels, 2) int.

    Args:
        masks: (N, H, W) bool regions.
        n_pixels: positions per image (drawn without replacement).
        seed: an int (one generator for the batch, images drawn in
            order), or one seed per image (an int or a tuple of ints each;
            an image's positions then do not depend on its batch).

    Raises:
        ValueError: a region holds fewer than ``n_pixels`` pixels (we do
            not silently take fewer: the paper's count would not hold).
    """
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype != bool:
        raise ValueError(f"masks must be (N, H, W) bool. Received: shape={masks.shape}, dtype={masks.dtype}")
    if isinstance(n_pixels, bool) or not isinstance(n_pixels, (int, np.integer)) or n_pixels < 1:
        raise ValueError(f"n_pixels must be a positive integer. Received: n_pixels={n_pixels!r}")
    n, h, w = masks.shape
    sizes = masks.reshape(n, -1).sum(1)
    small = np.flatnonzero(sizes < n_pixels)
    if small.size:
        i = int(small[0])
        raise ValueError(f"n_pixels={n_pixels} is larger than the region of {small.size} image(s) (image {i} has "
                         f"{int(sizes[i])} pixels in its region of {h}x{w}): use fewer pixels or a larger region")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        rngs = [np.random.default_rng(int(seed))] * n
    elif isinstance(seed, Sequence) and len(seed) == n:
        rngs = [np.random.default_rng(s) for s in seed]
    else:
        raise ValueError(f"seed must be an int or one seed per image ({n}). Received: seed={seed!r}")
    out = np.empty((n, n_pixels, 2), np.int64)
    for i in range(n):
        flat = np.flatnonzero(masks[i].ravel())
        chosen = np.sort(rngs[i].choice(flat, size=n_pixels, replace=False))
        out[i, :, 0], out[i, :, 1] = np.divmod(chosen, w)
    return out


def set_pixels(x, positions, values=PAPER_VALUES) -> np.ndarray:
    """Copies of ``x`` with the pixels at ``positions`` set to v / 255 in every channel, one per value.

    Args:
        x: (N, H, W, C) images in [0, 1].
        positions: (N, n, 2) (row, col) per image, as ``pick_pixels`` gives.
        values: pixel values in 0..255.

    Returns:
        (len(values), N, H, W, C), the dtype of ``x``.
    """
    x = _images(x)
    vals = _check_values(values)
    pos = np.asarray(positions)
    n, h, w, _ = x.shape
    if pos.ndim != 3 or pos.shape[0] != n or pos.shape[2] != 2 or not np.issubdtype(pos.dtype, np.integer):
        raise ValueError(f"positions must be (N={n}, n_pixels, 2) integer (row, col). Received: "
                         f"positions.shape={pos.shape}, dtype={pos.dtype}")
    if pos.size and (pos.min() < 0 or pos[..., 0].max() >= h or pos[..., 1].max() >= w):
        raise ValueError(f"positions must lie inside the {h}x{w} images. Received: rows {pos[..., 0].min()}.."
                         f"{pos[..., 0].max()}, cols {pos[..., 1].min()}..{pos[..., 1].max()}")
    out = np.repeat(x[None], len(vals), axis=0)
    img = np.repeat(np.arange(n), pos.shape[1])
    rows, cols = pos[..., 0].ravel(), pos[..., 1].ravel()
    for j, v in enumerate(vals):
        out[j, img, rows, cols, :] = np.asarray(v / 255.0, dtype=x.dtype)
    return out


@dataclass
class PixelChange:
    """What ``pixel_change`` returns.

    ``images[j]`` are the images with the chosen pixels set to
    ``values[j]``; ``before`` and ``after[j]`` the top-1 predictions on the
    unchanged and changed images (None without a classifier). The
    ``*_other`` fields describe ``x_other`` edited at the same positions.
    """

    values: tuple[int, ...]
    masks: np.ndarray
    positions: np.ndarray
    images: np.ndarray
    before: Top1 | None = None
    after: list[Top1] | None = None
    images_other: np.ndarray | None = None
    before_other: Top1 | None = None
    after_other: list[Top1] | None = None


def _slice(t: Top1, lo: int, hi: int) -> Top1:
    return Top1(t.label[lo:hi], t.confidence[lo:hi], t.names[lo:hi])


def pixel_change(clf, x, maps_or_masks, values=PAPER_VALUES, n_pixels: int = 100, seed=0,
                 region_top: float = 0.2, *, x_other=None, positions=None, batch_size: int = 64) -> PixelChange:
    """Sets ``n_pixels`` random pixels of each image's CAM region to each value and predicts again.

    The positions are drawn once per image inside its region and reused for
    every value and for ``x_other`` (the paper edits a clean image's red
    region and the same positions of its adversarial version). All edited
    images, with the unchanged ones, go through one prediction.

    Args:
        clf: the Classifier, or None to only edit the images.
        x: (N, H, W, C) images in [0, 1].
        maps_or_masks: (N, H, W) CAM maps (the region is their top
            ``region_top`` share, ``cam_region``) or bool masks (the region).
        values: pixel values in 0..255 (the paper's 0, 127, 200, 255).
        n_pixels: pixels per image (the paper's 100); larger than a region
            is an error.
        seed: ``pick_pixels``'s seed (an int, or one per image).
        region_top: the region's share of each map, when maps are given.
        x_other: images of the same shape edited at the same positions
            (the adversarial versions), or None.
        positions: (N, n, 2) positions to reuse instead of drawing them.

    Returns:
        A ``PixelChange``.
    """
    x = _images(x)
    vals = _check_values(values)
    region = np.asarray(maps_or_masks)
    if region.ndim != 3 or region.shape != x.shape[:3]:
        raise ValueError(f"maps_or_masks must be (N, H, W) = {x.shape[:3]}, one per image of x. Received: "
                         f"maps_or_masks.shape={region.shape}")
    masks = region if region.dtype == bool else cam_region(region, region_top)
    if x_other is not None:
        x_other = _images(x_other, "x_other")
        if x_other.shape != x.shape:
            raise ValueError(f"x_other must have the shape of x {x.shape}. Received: x_other.shape={x_other.shape}")
    if positions is None:
        positions = pick_pixels(masks, n_pixels, seed)
    images = set_pixels(x, positions, vals)
    res = PixelChange(values=vals, masks=masks, positions=np.asarray(positions), images=images)
    if x_other is not None:
        res.images_other = set_pixels(x_other, positions, vals)
    if clf is None:
        return res
    groups = [x, images.reshape(-1, *x.shape[1:])]
    if x_other is not None:
        groups += [x_other, res.images_other.reshape(-1, *x.shape[1:])]
    t = top1(clf, np.concatenate(groups), batch_size=batch_size)
    n, v = len(x), len(vals)
    res.before = _slice(t, 0, n)
    res.after = [_slice(t, n + j * n, n + (j + 1) * n) for j in range(v)]
    if x_other is not None:
        base = n * (1 + v)
        res.before_other = _slice(t, base, base + n)
        res.after_other = [_slice(t, base + n + j * n, base + n + (j + 1) * n) for j in range(v)]
    return res


def pixel_histograms(x, bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-image, per-channel histograms of the 8-bit pixel values (Ding et al., Fig. 2).

    Pixels in [0, 1] are rounded to 0..255 and counted in ``bins`` equal
    bins over 0..256 (bins=256: one bin per value).

    Returns:
        ``(counts, edges)``: counts (N, C, bins) int64, each row summing to
        H * W; edges (bins + 1,) in pixel-value units.
    """
    x = _images(x)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 256:
        raise ValueError(f"bins must be an integer in 1..256. Received: bins={bins!r}")
    n, h, w, c = x.shape
    q = np.clip(np.rint(np.asarray(x, np.float64) * 255), 0, 255).astype(np.int64)
    b = q * bins // 256
    flat = b.transpose(0, 3, 1, 2).reshape(n * c, h * w) + (np.arange(n * c) * bins)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n * c * bins).reshape(n, c, bins)
    return counts, np.linspace(0, 256, bins + 1)

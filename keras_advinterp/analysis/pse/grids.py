"""Grids: the image split into m equal, non-overlapping rectangles (Xu et al., Sec. 3).

    layout = grid_layout((64, 64), grids=8)          # 8 x 8 grids of 8 x 8 pixels, m = 64
    layout = grid_layout((224, 224), cell=16)        # 14 x 14 grids of 16 x 16 pixels
    norms = grid_norms(x_adv - x, layout)            # {"l2": (N, m), "linf": (N, m)}
    pixels = layout.expand(keep)                     # (N, m) bool per grid -> (N, H, W) bool

Grid i covers rows ``(i // cols) * cell_h ...`` and columns
``(i % cols) * cell_w ...`` (row-major), so grid vectors reshape to
``(rows, cols)`` maps with ``layout.as_maps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _pair(value, name: str) -> tuple[int, int]:
    v = value if isinstance(value, (tuple, list)) else (value, value)
    if len(v) != 2 or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1 for a in v):
        raise ValueError(f"{name} must be a positive int or a pair (rows, cols) of them. Received: {name}={value!r}")
    return int(v[0]), int(v[1])


@dataclass(frozen=True)
class GridLayout:
    """``rows`` x ``cols`` grids of ``cell`` = (cell_h, cell_w) pixels tiling an ``height`` x ``width`` image."""

    height: int
    width: int
    rows: int
    cols: int

    @property
    def cell(self) -> tuple[int, int]:
        return self.height // self.rows, self.width // self.cols

    @property
    def m(self) -> int:
        """The number of grids."""
        return self.rows * self.cols

    def ids(self) -> np.ndarray:
        """(H, W) int32: the grid index of every pixel."""
        ch, cw = self.cell
        r = np.arange(self.height) // ch
        c = np.arange(self.width) // cw
        return (r[:, None] * self.cols + c[None, :]).astype(np.int32)

    def as_maps(self, values) -> np.ndarray:
        """Per-grid values (N, m) -> (N, rows, cols)."""
        values = np.asarray(values)
        if values.ndim != 2 or values.shape[1] != self.m:
            raise ValueError(f"values must be (N, m={self.m}) per-grid values. Received: shape={values.shape}")
        return values.reshape(len(values), self.rows, self.cols)

    def expand(self, values) -> np.ndarray:
        """Per-grid values (N, m) -> per-pixel (N, H, W): each pixel takes its grid's value."""
        ch, cw = self.cell
        return np.repeat(np.repeat(self.as_maps(values), ch, axis=1), cw, axis=2)

    def blocks(self, images) -> np.ndarray:
        """(N, H, W, C) -> (N, m, cell_h * cell_w * C): each grid's values, grids in row-major order."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:3] != (self.height, self.width):
            raise ValueError(f"images must be (N, {self.height}, {self.width}, C) for this layout. "
                             f"Received: shape={images.shape}")
        n, c = len(images), images.shape[3]
        ch, cw = self.cell
        b = images.reshape(n, self.rows, ch, self.cols, cw, c).transpose(0, 1, 3, 2, 4, 5)
        return b.reshape(n, self.m, ch * cw * c)

    def boxes(self) -> np.ndarray:
        """(m, 4) int32: each grid's y0, y1, x0, x1 in pixels (ends exclusive), row-major."""
        ch, cw = self.cell
        r, c = np.divmod(np.arange(self.m), self.cols)
        return np.stack([r * ch, (r + 1) * ch, c * cw, (c + 1) * cw], axis=1).astype(np.int32)

    def describe(self) -> dict:
        return {"grids": [self.rows, self.cols], "cell": list(self.cell), "m": self.m}


def grid_layout(image_size, grids=13, *, cell=None) -> GridLayout:
    """The grid layout of ``image_size`` = (H, W) (or an (N, H, W, C) shape).

    Args:
        grids: grids per side (an int, or (rows, cols)); Xu et al. use 13 x 13
            on ImageNet. Ignored when ``cell`` is given.
        cell: grid size in pixels instead (an int or (cell_h, cell_w)).

    Raises:
        ValueError: a grid larger than the image, or a size that does not
            divide the image (grids must tile it exactly: the sensitivity
            of Eqs. 1-3 compares grids of equal size).
    """
    size = tuple(image_size)
    if len(size) == 4:
        size = size[1:3]
    if len(size) != 2:
        raise ValueError(f"image_size must be (H, W) or an (N, H, W, C) shape. Received: image_size={image_size!r}")
    h, w = _pair(tuple(size), "image_size")
    if cell is not None:
        ch, cw = _pair(cell, "cell")
        if ch > h or cw > w:
            raise ValueError(f"cell {ch}x{cw} is larger than the {h}x{w} image. Received: cell={cell!r}")
        if h % ch or w % cw:
            raise ValueError(f"cell {ch}x{cw} must divide the {h}x{w} image exactly (e.g. cell="
                             f"{_divisor_near(h, ch)}). Received: cell={cell!r}")
        return GridLayout(h, w, h // ch, w // cw)
    rows, cols = _pair(grids, "grids")
    if rows > h or cols > w:
        raise ValueError(f"{rows}x{cols} grids need at least one pixel each; the image is {h}x{w}. "
                         f"Received: grids={grids!r}")
    if h % rows or w % cols:
        raise ValueError(f"{rows}x{cols} grids must divide the {h}x{w} image exactly (e.g. grids="
                         f"{_divisor_near(h, rows)}, or images of {rows * max(1, round(h / rows))}x"
                         f"{cols * max(1, round(w / cols))}). Received: grids={grids!r}")
    return GridLayout(h, w, rows, cols)


def _divisor_near(n: int, k: int) -> int:
    """The divisor of ``n`` closest to ``k``."""
    divs = [d for d in range(1, n + 1) if n % d == 0]
    return min(divs, key=lambda d: (abs(d - k), d))


def grid_norms(delta, layout: GridLayout) -> dict[str, np.ndarray]:
    """Per-grid ``||delta_G||_2`` and ``||delta_G||_inf`` of perturbations ``delta`` (N, H, W, C).

    Returns:
        ``{"l2": (N, m), "linf": (N, m)}`` float64 (Xu et al., Fig. 2, rows 1-2).
    """
    delta = np.asarray(delta)
    if not np.issubdtype(delta.dtype, np.floating) or not np.all(np.isfinite(delta)):
        raise ValueError(f"delta must be finite floats. Received: dtype={delta.dtype}"
                         + ("" if not np.issubdtype(delta.dtype, np.floating) else
                            f", {int(np.sum(~np.isfinite(delta)))} NaN or infinite value(s)"))
    b = layout.blocks(delta).astype(np.float64)
    return {"l2": np.sqrt(np.square(b).sum(axis=2)), "linf": np.abs(b).max(axis=2)}

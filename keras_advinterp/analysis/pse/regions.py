"""CAM regions, the interpretability score, the refinement sets S1 / S2, and sensitivity correlations.

seeds/001_13ab3436c62e81d7.txt, Sec. 4 and Appendix 3:

- B(x, c) (Eq. 5): the CAM's most discriminative region, pixels at or
  above the map's ``quantile`` (70 % in the paper) -> ``cam_region_at``;
- IS(delta) = ||B o delta||_2 / ||delta||_2 (Eq. 6, Table 2)
  -> ``interpretability_score``;
- S1 = {grids with s_i > beta}, beta dropping the least sensitive grids
  that together hold ``drop`` (30 %) of the total s (footnote 3)
  -> ``sensitive_grids``; S2 = B(x0, t0) -> ``cam_region_at``; the refined
  attack runs with the perturbation masked to them inside its loop
  -> ``refined_attack`` (Eq. 11);
- the top 70 % grids by s shown in Figs. 4-5 -> ``top_grids``;
- Table 1's correlations of d0 / dt / s with ||delta_G||_2 per image
  -> ``sensitivity_correlation``.
"""

from __future__ import annotations

import numpy as np

from ..._checks import in_range
from ..pixels import cam_region


def cam_region_at(maps, quantile: float = 0.7) -> np.ndarray:
    """B of Eq. 5: (N, H, W) bool, each map's pixels above its ``quantile`` (the top 1 - quantile share).

    The region holds ``round((1 - quantile) * H * W)`` pixels (at least
    one), the highest of each map, ties broken by position
    (``analysis.cam_region``): a CAM that is zero over most of the image
    (ReLU) still gives a region of the stated size, where a plain
    ``map >= quantile value`` test would take the whole image.
    """
    quantile = in_range(quantile, "quantile", 0.0, 1.0)
    if quantile >= 1.0:
        raise ValueError(f"quantile must be < 1 (1 leaves an empty region). Received: quantile={quantile!r}")
    maps = np.asarray(maps)
    if maps.ndim == 3 and np.issubdtype(maps.dtype, np.floating) and not np.all(np.isfinite(maps)):
        raise ValueError(f"maps contain {int(np.sum(~np.isfinite(maps)))} NaN or infinite value(s)")
    return cam_region(maps, top=1.0 - quantile)


def interpretability_score(delta, region) -> np.ndarray:
    """Eq. 6: ``||B o delta||_2 / ||delta||_2`` per image, (N,) float64 in [0, 1].

    Args:
        delta: perturbations (N, H, W, C).
        region: B, (N, H, W) bool (``cam_region_at``), applied to every channel.

    Images whose perturbation is zero (a failed attack) have no score: NaN.
    """
    delta = np.asarray(delta)
    region = np.asarray(region)
    if delta.ndim != 4 or not np.issubdtype(delta.dtype, np.floating):
        raise ValueError(f"delta must be float (N, H, W, C). Received: shape={delta.shape}, dtype={delta.dtype}")
    if not np.all(np.isfinite(delta)):
        raise ValueError(f"delta contains {int(np.sum(~np.isfinite(delta)))} NaN or infinite value(s)")
    if region.shape != delta.shape[:3] or region.dtype != bool:
        raise ValueError(f"region must be bool (N, H, W) = {delta.shape[:3]}. Received: shape={region.shape}, "
                         f"dtype={region.dtype}")
    sq = np.square(delta.astype(np.float64)).sum(axis=3)
    total = sq.reshape(len(sq), -1).sum(1)
    inside = (sq * region).reshape(len(sq), -1).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.sqrt(inside / np.where(total > 0, total, 1.0)), np.nan)


def _scores(s, name: str = "s") -> np.ndarray:
    s = np.asarray(s, np.float64)
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"{name} must be (N, m) per-grid values. Received: {name}.shape={s.shape}")
    if not np.all(np.isfinite(s)) or s.min() < 0:
        raise ValueError(f"{name} must be finite and >= 0 (Eq. 3's s is). Received: {name} in "
                         f"[{np.nanmin(s):.4g}, {np.nanmax(s):.4g}]")
    return s


def sensitive_grids(s, drop: float = 0.3) -> np.ndarray:
    """S1 (Appendix 3, footnote 3): (N, m) bool, the grids kept after dropping the least sensitive ones.

    Per image, sort s ascending; beta is the smallest sorted value at which
    the cumulative sum reaches ``drop`` of the total; S1 = {i : s_i > beta}.
    The kept grids hold the top ~(1 - drop) of the cumulative sensitivity.
    The most sensitive grid is always kept (with all s equal the rule
    itself would keep none).
    """
    s = _scores(s)
    drop = in_range(drop, "drop", 0.0, 1.0)
    if drop >= 1.0:
        raise ValueError(f"drop must be < 1 (1 drops every grid). Received: drop={drop!r}")
    srt = np.sort(s, axis=1)
    total = srt.sum(1, keepdims=True)
    share = np.cumsum(srt, axis=1) / np.where(total > 0, total, 1.0)
    k = np.argmax(share >= drop - 1e-12, axis=1)
    beta = srt[np.arange(len(s)), k]
    keep = s > beta[:, None] if drop > 0 else np.ones_like(s, bool)
    keep[np.arange(len(s)), s.argmax(1)] = True
    return keep


def top_grids(s, share: float = 0.7) -> np.ndarray:
    """(N, m) bool: each image's ``share`` of grids with the largest s (Figs. 4-5 show the top 70 %).

    Holds ``max(1, round(share * m))`` grids, ties broken by grid index.
    """
    s = _scores(s)
    share = in_range(share, "share", 0.0, 1.0)
    if share <= 0:
        raise ValueError(f"share must be > 0. Received: share={share!r}")
    k = max(1, int(round(share * s.shape[1])))
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    keep = np.zeros(s.shape, bool)
    np.put_along_axis(keep, order, True, axis=1)
    return keep


def _pearson_rows(a, b):
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(1) / np.where(den > 0, den, 1.0), np.nan)


def sensitivity_correlation(values, norms) -> dict[str, np.ndarray]:
    """Per-image Pearson and Spearman correlation over grids of ``values`` (d0, dt or s) with ``norms``.

    Args:
        values, norms: (N, m) each, e.g. ``sens.s`` and ``grid_norms(...)["l2"]``.

    Returns:
        ``{"pearson": (N,), "spearman": (N,)}``; NaN for an image where
        either row is constant (no correlation defined). Table 1 reports
        their mean over images.
    """
    from scipy.stats import rankdata

    a, b = np.asarray(values, np.float64), np.asarray(norms, np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"values and norms must both be (N, m). Received: {a.shape} and {b.shape}")
    if a.shape[1] < 2:
        raise ValueError(f"a correlation needs at least 2 grids. Received: m={a.shape[1]}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("values and norms must be finite (no NaN or infinite values)")
    return {"pearson": _pearson_rows(a, b),
            "spearman": _pearson_rows(rankdata(a, axis=1), rankdata(b, axis=1))}


def refined_attack(attack, clf, x, y, target=None, *, keep, **kwargs):
    """Runs ``attack`` with its perturbation held at zero outside ``keep`` (Eq. 11), inside the attack's loop.

    Args:
        keep: (N, H, W) bool: S1 as pixels (``layout.expand(sensitive_grids(sens.s))``)
            or S2 (``cam_region_at(F(x0, t0))``).
        kwargs: passed to the attack call (batch_size, seed, ...).

    Returns:
        The attack's ``AttackResult``; ``x_adv`` equals ``x`` exactly outside ``keep``.
    """
    keep = np.asarray(keep)
    if keep.dtype != bool or keep.ndim != 3:
        raise ValueError(f"keep must be (N, H, W) bool. Received: shape={keep.shape}, dtype={keep.dtype}")
    return attack(clf, x, y, target, mask=keep, **kwargs)

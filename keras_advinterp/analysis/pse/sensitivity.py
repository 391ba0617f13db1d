"""Grid sensitivity (Eqs. 1-3) and the promotion-suppression ratio (Eq. 4) of Xu et al.

seeds/001_13ab3436c62e81d7.txt, Sec. 3: for an adversarial example
x' = x0 + delta with true label t0 and target t, and grids G_1..G_m,

    d0_i = max(Z(x' - delta_Gi)_t0 - Z(x')_t0, xi)     suppression of t0 by grid i   (1)
    dt_i = max(Z(x')_t - Z(x' - delta_Gi)_t, xi)       promotion of t by grid i      (2)
    s_i  = d0_i + dt_i                                                               (3)
    r_i  = log2(dt_i / d0_i)                           PSR: < -1 suppression,       (4)
                                                       > 1 promotion, else balance

``x' - delta_Gi`` is x' with grid i's pixels put back to x0's. All masked
copies of all images go through one compiled forward, ``chunk`` copies per
call (the copies are built inside the compiled function from the two
images and a grid index, so host memory stays at ``chunk`` pairs). Grids
the attack left untouched need no forward: there x' - delta_Gi = x', so
both changes are exactly 0 (``skip_unperturbed``).

``method="incremental"`` computes each masked copy's feature maps only
on the window its grid can reach, reading the rest from x' 's own maps,
up to the layer where the windows would cover half a map
(``surgery.IncrementalForward``; the same logits up to float
round-off). On ResNet50 with 13 x 13 grids that leaves out about 46% of
the convolutions' multiply-adds. ``auto`` (the default) takes it wherever
it leaves out at least ``surgery.incremental.MIN_SAVING`` of them, else the
plain forward.

    sens = grid_sensitivity(clf, x, x_adv, y, target, grids=8)
    sens.d0, sens.dt, sens.s, sens.psr      # (N, m) each
    sens.classes()                          # (N, m) int8: -1 suppression, 0 balance, 1 promotion
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..._batching import _pad, bucket_size, map_batches
from ..._checks import as_labels, positive
from ..._compile import compile_fn, resolve_jit
from ...models import Classifier
from ...surgery.incremental import check_max_fraction, check_method, forward_for
from .grids import GridLayout, grid_layout

SUPPRESSION, BALANCE, PROMOTION = -1, 0, 1
CLASS_NAMES = {SUPPRESSION: "suppression", BALANCE: "balance", PROMOTION: "promotion"}


def promotion_suppression_ratio(d0, dt) -> np.ndarray:
    """Eq. 4: ``log2(dt / d0)`` elementwise; both must be positive (Eqs. 1-2 floor them at xi > 0)."""
    d0, dt = np.asarray(d0, np.float64), np.asarray(dt, np.float64)
    if d0.shape != dt.shape:
        raise ValueError(f"d0 and dt must have one shape. Received: d0.shape={d0.shape}, dt.shape={dt.shape}")
    for name, v in (("d0", d0), ("dt", dt)):
        if not np.all(np.isfinite(v)) or (v.size and v.min() <= 0):
            raise ValueError(f"{name} must be finite and > 0 (floored at xi). Received: {name} in "
                             f"[{np.nanmin(v) if v.size else 0:.4g}, {np.nanmax(v) if v.size else 0:.4g}]"
                             f"{'' if np.all(np.isfinite(v)) else ' with NaN or infinite values'}")
    return np.log2(dt / d0)


def psr_classes(psr, threshold: float = 1.0) -> np.ndarray:
    """-1 (suppression, r < -threshold), 1 (promotion, r > threshold), 0 (balance) per grid; int8."""
    threshold = positive(threshold, "threshold", allow_zero=True)
    r = np.asarray(psr, np.float64)
    if np.isnan(r).any():
        raise ValueError(f"psr contains {int(np.isnan(r).sum())} NaN value(s)")
    return np.where(r < -threshold, SUPPRESSION, np.where(r > threshold, PROMOTION, BALANCE)).astype(np.int8)


@dataclass
class GridSensitivity:
    """What ``grid_sensitivity`` measured, per image (N) and grid (m).

    Attributes:
        change0: Z(x' - delta_G)_t0 - Z(x')_t0, before the floor at xi.
        changet: Z(x')_t - Z(x' - delta_G)_t, before the floor at xi.
        xi: the floor of Eqs. 1-2.
        layout: the grids.
        labels, target: t0 and t per image.
        z_adv: (N, 2) Z(x')_t0 and Z(x')_t.
        perturbed: (N, m) bool, grids where delta is not zero (the others
            were not evaluated: their changes are exactly 0).
    """

    change0: np.ndarray
    changet: np.ndarray
    xi: float
    layout: GridLayout
    labels: np.ndarray
    target: np.ndarray
    z_adv: np.ndarray
    perturbed: np.ndarray

    @property
    def d0(self) -> np.ndarray:
        """Eq. 1, (N, m)."""
        return np.maximum(self.change0, self.xi)

    @property
    def dt(self) -> np.ndarray:
        """Eq. 2, (N, m)."""
        return np.maximum(self.changet, self.xi)

    @property
    def s(self) -> np.ndarray:
        """Eq. 3, (N, m)."""
        return self.d0 + self.dt

    @property
    def psr(self) -> np.ndarray:
        """Eq. 4, (N, m)."""
        return promotion_suppression_ratio(self.d0, self.dt)

    def classes(self, threshold: float = 1.0) -> np.ndarray:
        """PSR classes (N, m): -1 suppression, 0 balance, 1 promotion (``psr_classes``)."""
        return psr_classes(self.psr, threshold)

    def __len__(self) -> int:
        return len(self.change0)


def _masked_logits(clf: Classifier, layout: GridLayout, jit: bool):
    """Compiled ``fn(x0, xa, grid, t0, t) -> (k, 2)``: logits t0 and t of ``xa`` with ``grid`` put back to ``x0``.

    ``grid`` -1 leaves ``xa`` as it is (the Z(x') row, computed by the same
    program at the same batch size as the masked rows).
    """
    ids = tf.constant(layout.ids())

    def fn(x0, xa, grid, t0, t):
        inside = tf.equal(ids[None], grid[:, None, None])[..., None]
        logits = clf.model(tf.where(inside, x0, xa), training=False)
        pick = tf.stack([t0, t], axis=1)
        return tf.gather(logits, pick, axis=1, batch_dims=1)

    key = ("pse_masked_logits", layout.height, layout.width, layout.rows, layout.cols, jit)
    return clf.compiled(key, lambda: compile_fn(fn, jit))


def _incremental(clf: Classifier, layout: GridLayout, channels: int, max_fraction: float, jit: bool,
                 method: str = "auto"):
    """``(IncrementalForward, compiled fn(x0, xa, grids, t0, t) -> ((2,), (k, 2)))`` for one image at a time,
    or ``(None, None)`` where ``method`` takes the plain forward (``surgery.incremental.forward_for``)."""
    key = ("pse_incremental", layout.height, layout.width, layout.rows, layout.cols, channels, max_fraction, jit,
           method)

    def build():
        fwd = forward_for(method, clf.model, layout.boxes(), (layout.height, layout.width, channels),
                          max_fraction=max_fraction, name=clf.name, caller="grid_sensitivity")
        if fwd is None:
            return None, None

        def fn(x0, xa, grid, t0, t):
            z_clean, z = fwd(xa, x0, grid)
            pick = tf.stack([t0, t])
            return tf.gather(z_clean, pick), tf.gather(z, pick, axis=1)

        return fwd, compile_fn(fn, jit)

    return clf.compiled(key, build)


def grid_sensitivity(clf: Classifier, x, x_adv, y, target=None, *, grids=13, cell=None, xi: float = 1e-6,
                     chunk: int = 64, skip_unperturbed: bool = True, method: str = "auto",
                     max_fraction: float = 0.5, jit_compile="auto", progress: bool = False) -> GridSensitivity:
    """Eqs. 1-3 for every grid of every image, in chunked, compiled, batched forwards.

    Args:
        clf: the Classifier (logits Z).
        x, x_adv: natural and adversarial images (N, H, W, C) in [0, 1].
        y: true labels t0 (N,).
        target: target labels t (N,) or a scalar; None takes the class
            predicted on ``x_adv`` (an untargeted attack's outcome). Every
            image needs t != t0: pass successful adversarial examples.
        grids, cell: the layout (``grid_layout``): grids per side, or grid
            size in pixels; they must tile the H x W images exactly.
        xi: the positive floor of Eqs. 1-2.
        chunk: masked copies per compiled call (bounds memory: activations
            of ``chunk`` images at a time).
        skip_unperturbed: give grids where x_adv equals x their exact value
            (0 change) without a forward pass.
        method: ``incremental`` (each copy's feature maps computed only on
            the window its grid reaches, up to ``max_fraction`` of a map;
            see ``surgery.IncrementalForward``), ``full`` (every copy
            through the whole network) or ``auto`` (incremental where it
            leaves out at least ``MIN_SAVING`` of the conv multiply-adds).
        max_fraction: incremental only: the share of a feature map beyond
            which the copies are written out whole.
        jit_compile: True, False or "auto" (``_compile.resolve_jit``).

    Returns:
        A ``GridSensitivity``.
    """
    if not isinstance(clf, Classifier):
        raise ValueError(f"clf must be a keras_advinterp Classifier. Received: clf={type(clf).__name__}")
    x = clf.check_images(x, "x")
    x_adv = clf.check_images(x_adv, "x_adv")
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have one shape. Received: x.shape={x.shape}, x_adv.shape={x_adv.shape}")
    layout = grid_layout(x.shape, grids, cell=cell)
    xi = positive(xi, "xi")
    chunk = positive(chunk, "chunk", integer=True)
    method = check_method(method)
    max_fraction = check_max_fraction(max_fraction)
    n = len(x)
    y = as_labels(y, n, clf.num_classes, "y")
    if target is None:
        t = clf.predict(x_adv, batch_size=chunk).argmax(1).astype(np.int32)
    else:
        t = as_labels(target, n, clf.num_classes, "target")
    same = np.flatnonzero(t == y)
    if same.size:
        raise ValueError(f"the target must differ from the true label (Eqs. 1-2 compare the two classes); "
                         f"{same.size} image(s) have t == t0, first image {int(same[0])} (class {int(y[same[0]])})"
                         f"{': the attack did not change their prediction' if target is None else ''}. "
                         f"Pass successful adversarial examples only.")

    perturbed = np.any(layout.blocks(x_adv - x) != 0, axis=2)
    if not skip_unperturbed:
        perturbed[:] = True
    jit = resolve_jit(jit_compile, clf)
    fwd, fn = _incremental(clf, layout, x.shape[-1], max_fraction, jit, method)
    if fwd is not None:
        change0, changet, base = _by_windows(fn, x, x_adv, y, t, perturbed, chunk, progress)
        return GridSensitivity(change0=change0, changet=changet, xi=xi, layout=layout, labels=y, target=t,
                               z_adv=base, perturbed=perturbed)
    # one row per (image, grid) pair to evaluate, each image's rows led by its Z(x') row (grid -1)
    counts = perturbed.sum(1) + 1
    image = np.repeat(np.arange(n, dtype=np.int32), counts)
    grid = np.concatenate([np.concatenate([[-1], np.flatnonzero(p)]) for p in perturbed]).astype(np.int32)
    starts = np.cumsum(counts) - counts
    fn = _masked_logits(clf, layout, jit)

    def step(ib, gb):
        return fn(tf.constant(x[ib]), tf.constant(x_adv[ib]), tf.constant(gb), tf.constant(y[ib]),
                  tf.constant(t[ib]))

    z = map_batches(step, [image, grid], chunk, progress=progress and "grid sensitivity").astype(np.float64)
    base = z[starts]  # (N, 2): Z(x')_t0, Z(x')_t
    change0 = np.zeros((n, layout.m))
    changet = np.zeros((n, layout.m))
    masked = grid >= 0
    img, g = image[masked], grid[masked]
    change0[img, g] = z[masked, 0] - base[img, 0]
    changet[img, g] = base[img, 1] - z[masked, 1]
    return GridSensitivity(change0=change0, changet=changet, xi=xi, layout=layout, labels=y, target=t,
                           z_adv=base, perturbed=perturbed)


def _by_windows(fn, x, x_adv, y, t, perturbed, chunk: int, progress: bool):
    """Eqs. 1-3's changes by incremental inference, image by image, ``chunk`` grids per call."""
    n, m = perturbed.shape
    change0, changet, base = np.zeros((n, m)), np.zeros((n, m)), np.zeros((n, 2))
    calls = [(i, start) for i in range(n) for start in range(0, max(int(perturbed[i].sum()), 1), chunk)]
    bar = tqdm(calls, desc="grid sensitivity", unit="batch", disable=not progress or len(calls) < 2, leave=False)
    for i, start in bar:
        grid = np.flatnonzero(perturbed[i])[start:start + chunk].astype(np.int32)
        count = len(grid)
        padded = _pad(grid if count else np.zeros(1, np.int32), bucket_size(max(count, 1), chunk))
        z_clean, z = fn(tf.constant(x[i]), tf.constant(x_adv[i]), tf.constant(padded), tf.constant(y[i]),
                        tf.constant(t[i]))
        z_clean, z = z_clean.numpy().astype(np.float64), z.numpy()[:count].astype(np.float64)
        base[i] = z_clean
        change0[i, grid] = z[:, 0] - z_clean[0]
        changet[i, grid] = z_clean[1] - z[:, 1]
    return change0, changet, base

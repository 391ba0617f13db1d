"""MASK: meaningful perturbation, optimised in one compiled loop.

Finds the smallest smooth region whose deletion (blending with a blurred
copy) destroys the class score: minimise
    l1 * mean(1 - m) + tv * mean(|grad m|^beta) + softmax(f(x'))_c,
    x' = m * x + (1 - m) * blur(x),
over a low-resolution mask m in [0, 1] (sigmoid of free parameters p,
upsampled bilinearly), with Adam. The map ranks pixels by 1 - m (what had
to go), reported as the min-max normalised -p, upsampled.

References:
    Fong and Vedaldi, "Interpretable Explanations of Black Boxes by
    Meaningful Perturbation" (ICCV 2017); the MASK interpreter of seeds/003_95601c10b3bd7c9c.txt, Sec. IV.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .._checks import choice, positive
from .._compile import compile_fn, compiled_loop
from .._tensor import adam_update
from .base import Interpreter
from .differentiable import class_scores, normalize, upsample

FILLS = ("blur", "mean")
MODES = ("delete", "preserve")


def gaussian_blur(x, sigma: float):
    """Depthwise Gaussian blur of NHWC images (reflect padding), differentiable."""
    radius = max(1, int(round(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-(t**2) / (2 * sigma**2))
    k /= k.sum()
    c = x.shape[-1]
    kx = tf.constant(np.tile(k[None, :, None, None], (1, 1, c, 1)))
    ky = tf.constant(np.tile(k[:, None, None, None], (1, 1, c, 1)))
    pad = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    y = tf.nn.depthwise_conv2d(pad, kx, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(y, ky, [1, 1, 1, 1], "VALID")


def total_variation(m, beta: float):
    dy = tf.abs(m[:, 1:, :] - m[:, :-1, :]) + 1e-8
    dx = tf.abs(m[:, :, 1:] - m[:, :, :-1]) + 1e-8
    return tf.reduce_mean(dy**beta, axis=[1, 2]) + tf.reduce_mean(dx**beta, axis=[1, 2])


class MASK(Interpreter):
    """Meaningful-perturbation masks, batched and compiled.

    Args:
        steps: Adam iterations (the paper uses 500 at 224x224).
        lr: Adam learning rate on the mask parameters.
        l1: weight of the deleted area.
        tv: weight of the total variation of the mask; ``tv_beta`` its exponent.
        mask_scale: mask resolution as a fraction of the input (28/224 in the paper).
        blur_sigma: Gaussian blur of the deletion image, as a fraction of the input size.
        fill: what deleted pixels become: ``blur`` (the paper's blurred copy)
            or ``mean`` (the image's mean colour).
        mode: ``delete`` (the paper's deletion game: the smallest region
            whose removal destroys the score) or ``preserve`` (the smallest
            region that alone keeps it, the paper's preservation variant).
    """

    name = "mask"
    needs_feature_layer = False

    def __init__(self, clf, *, steps: int = 300, lr: float = 0.1, l1: float = 0.05, tv: float = 0.2,
                 tv_beta: float = 3.0, mask_scale: float = 0.125, blur_sigma: float = 0.05,
                 fill: str = "blur", mode: str = "delete", **kwargs):
        super().__init__(clf, **kwargs)
        self.steps = positive(steps, "steps", integer=True)
        self.lr = positive(lr, "lr")
        self.l1 = positive(l1, "l1", allow_zero=True)
        self.tv = positive(tv, "tv", allow_zero=True)
        self.tv_beta = positive(tv_beta, "tv_beta")
        self.mask_scale = positive(mask_scale, "mask_scale")
        self.blur_sigma = positive(blur_sigma, "blur_sigma")
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}. Received: fill={fill!r}")
        self.fill = fill
        self.mode = choice(mode, "mode", MODES)
        if self.mask_scale > 1:
            raise ValueError(f"mask_scale must be in (0, 1]. Received: mask_scale={mask_scale}")

    def params(self) -> dict:
        return {**super().params(), "steps": self.steps, "lr": self.lr, "l1": self.l1, "tv": self.tv,
                "tv_beta": self.tv_beta, "mask_scale": self.mask_scale, "blur_sigma": self.blur_sigma,
                "fill": self.fill, "mode": self.mode}

    def explain_batch(self, x, class_index):
        fn = self.compiled(self._build_run, build=True)
        return fn(tf.constant(x), tf.constant(class_index, tf.int32)).numpy()

    def _build_run(self, jit):
        """The same optimisation as ``maps``, its steps run by ``compiled_loop`` (chunks: ~4x faster on CPU)."""
        setup, step, finish = self._parts()
        iterate = compiled_loop(lambda i, state, consts: step(i, state, *consts), self.steps, jit=jit)
        setup, finish = compile_fn(setup, jit), compile_fn(finish, jit)

        def run(x, class_index):
            p0, deleted = setup(x)
            p, _, _ = iterate((p0, tf.zeros_like(p0), tf.zeros_like(p0)), (x, class_index, deleted))
            return finish(p, x)

        return run

    def maps(self, x, class_index):
        """(N, H, W) maps as one TensorFlow expression (a ``tf.while_loop``)."""
        setup, step, finish = self._parts()
        p0, deleted = setup(x)
        zeros = tf.zeros_like(p0)
        _, p, _, _ = tf.while_loop(lambda i, *_: i < self.steps,
                                   lambda i, p, m, v: (i + 1, *step(i, (p, m, v), x, class_index, deleted)),
                                   (tf.constant(0), p0, zeros, zeros))
        return finish(p, x)

    def _parts(self):
        """``setup(x) -> (p0, deleted)``, an Adam ``step`` on the mask parameters, ``finish(p, x) -> maps``."""

        def setup(x):
            n, h, w = x.shape[0], x.shape[1], x.shape[2]
            mh, mw = max(2, int(round(h * self.mask_scale))), max(2, int(round(w * self.mask_scale)))
            if self.fill == "blur":
                deleted = gaussian_blur(x, self.blur_sigma * max(h, w))
            else:  # the image's mean colour: deletion that cannot smear edges into the background
                deleted = tf.broadcast_to(tf.reduce_mean(x, axis=[1, 2], keepdims=True), x.shape)
            return tf.fill([n, mh, mw], 3.0), deleted  # sigmoid(3) ~ 0.95: start by keeping everything

        preserve = self.mode == "preserve"

        def loss_fn(p, x, class_index, deleted):
            m_small = tf.sigmoid(p)
            m = upsample(m_small, x.shape[1], x.shape[2])[..., None]
            x_del = m * x + (1.0 - m) * deleted
            prob = class_scores(tf.nn.softmax(self.clf.model(x_del, training=False)), class_index)
            if preserve:  # keep little, keep the score
                area, score = tf.reduce_mean(m_small, axis=[1, 2]), 1.0 - prob
            else:  # delete little, destroy the score
                area, score = tf.reduce_mean(1.0 - m_small, axis=[1, 2]), prob
            return tf.reduce_sum(self.l1 * area + self.tv * total_variation(m_small, self.tv_beta) + score)

        def step(i, state, x, class_index, deleted):
            p, mom, vel = state
            with tf.GradientTape() as tape:
                tape.watch(p)
                loss = loss_fn(p, x, class_index, deleted)
            return adam_update(p, tape.gradient(loss, p), mom, vel, i, self.lr)

        def finish(p, x):
            # Rank by -p (what had to go) or p (what had to stay), min-max
            # normalised: the order of the mask without a saturated sigmoid's ties.
            return normalize(upsample(p if preserve else -p, x.shape[1], x.shape[2]))

        self._loss_fn = loss_fn  # what attacks differentiate (attacks/interpretation.py)
        return setup, step, finish

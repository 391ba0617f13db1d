"""StAdv: adversarial examples by a smooth per-pixel flow (spatial transform).

References:
    Xiao et al., "Spatially Transformed Adversarial Examples", ICLR 2018
    (Sec. 3, Eq. 1-4). Used as an attack framework by
    seeds/003_95601c10b3bd7c9c.txt, Sec. III, Eq. 4-5 (AdvEdge, "StAdv").
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import tensorflow as tf

from .._batching import map_batches
from .._checks import choice, positive
from .._compile import LOOPS, cache_key, check_jit, compile_fn, compiled_loop, resolve_jit
from .._tensor import adam_update
from .base import Attack
from .objectives import StepWeight, check_step_weight, get_objective, loop_context, margin
from .optimization import _objective_extras

_FLOW_EPS = 1e-8


def flow_warp(x, flow):
    """Bilinearly resamples ``x`` at positions displaced by ``flow``.

    ``out[n, i, j] = x[n, i + flow[n, i, j, 0], j + flow[n, i, j, 1]]``,
    interpolated between the four neighbouring pixels; sample positions are
    clamped to the image border. Built from gather ops, so it compiles under
    XLA and is differentiable w.r.t. ``flow`` (and ``x``).

    Args:
        x: (N, H, W, C) float images.
        flow: (N, H, W, 2) displacement in pixels, (rows, columns) order:
            a constant flow of (1, 0) reads each pixel from the row below.
    Returns:
        (N, H, W, C) warped images; zero flow returns ``x`` exactly.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    flow = tf.convert_to_tensor(flow, tf.float32)
    n, h, w, c = tf.unstack(tf.shape(x))
    rows = tf.cast(tf.range(h), tf.float32)[None, :, None]
    cols = tf.cast(tf.range(w), tf.float32)[None, None, :]
    hmax, wmax = tf.cast(h - 1, tf.float32), tf.cast(w - 1, tf.float32)
    py = tf.clip_by_value(rows + flow[..., 0], 0.0, hmax)
    px = tf.clip_by_value(cols + flow[..., 1], 0.0, wmax)
    y0, x0 = tf.floor(py), tf.floor(px)
    wy, wx = (py - y0)[..., None], (px - x0)[..., None]
    y0, x0 = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    y1, x1 = tf.minimum(y0 + 1, h - 1), tf.minimum(x0 + 1, w - 1)
    flat = tf.reshape(x, [-1, c])
    base = (tf.range(n) * h * w)[:, None, None]

    def at(yi, xi):
        return tf.gather(flat, base + yi * w + xi)

    top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy


def flow_loss(flow):
    """Xiao et al.'s L_flow per image: (N,).

    Sum over pixels p and their right and lower neighbours q of
    ``sqrt(||flow_p - flow_q||^2 + eps)`` (each neighbouring pair once).
    """
    dy = flow[:, 1:, :, :] - flow[:, :-1, :, :]
    dx = flow[:, :, 1:, :] - flow[:, :, :-1, :]
    term = lambda d: tf.reduce_sum(tf.sqrt(tf.reduce_sum(tf.square(d), -1) + _FLOW_EPS), [1, 2])  # noqa: E731
    return term(dy) + term(dx)


class StAdv(Attack):
    """Spatially transformed adversarial examples, optimised by Adam.

    Finds a flow field ``f`` (N, H, W, 2), starting at zero, minimising per
    image ``margin(flow_warp(x, f)) + tau * flow_loss(f)``, where ``margin``
    is C&W's logit margin clipped at ``-confidence``. The paper used
    L-BFGS; here Adam runs ``steps`` iterations inside one compiled loop
    (no line search, batched images stay independent). The kept result per
    image is the successful iterate with the smallest ``flow_loss``; an image
    never fooled gets the last iterate. ``x_adv`` is a resampling of ``x``,
    so it stays in [0, 1] without clipping pixel values.

    The flow itself: ``StAdv.flows(clf, x, y, target=None)`` returns the
    fields (N, H, W, 2) the attack picks, with ``flow_warp(x, flows)`` equal
    to ``x_adv`` (it reuses the same compiled function).

    Args:
        tau: weight of the flow smoothness loss (paper: 0.05).
        steps: Adam iterations.
        learning_rate: Adam step size (flow in pixels).
        confidence: C&W kappa, logit margin required for success.
        max_flow: optional bound on each pixel's displacement length, in
            pixels (the flow is rescaled into it after every step).
        loop: loop form (``_compile.compiled_loop``; ``auto``: chunks of 10
            compiled, unrolled steps).
        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).
        objective: optional ``objectives.Objective`` whose ``penalty`` (per
            image, e.g. the interpretation loss of ADV2 / AdvEdge) is added
            to the minimised loss and to the flow loss that picks the kept
            iterate.
        step_weight: optional ``objectives.StepWeight``: the perturbation is
            ``weight * (flow_warp(x, f) - x)`` (AdvEdge's edge weights,
            seeds/003_95601c10b3bd7c9c.txt Eq. 12; 0 keeps a pixel clean).
    """

    name = "stadv"

    def __init__(self, *, tau: float = 0.05, steps: int = 100, learning_rate: float = 0.01,
                 confidence: float = 0.0, max_flow: float | None = None, loop: str = "auto", jit_compile="auto",
                 objective=None, step_weight: StepWeight | None = None):
        self.tau = positive(tau, "tau", allow_zero=True)
        self.steps = positive(steps, "steps", integer=True)
        self.learning_rate = positive(learning_rate, "learning_rate")
        self.confidence = positive(confidence, "confidence", allow_zero=True)
        self.max_flow = None if max_flow is None else positive(max_flow, "max_flow")
        self.loop = choice(loop, "loop", LOOPS)
        self.jit_compile = check_jit(jit_compile)
        self.objective = None if objective is None else get_objective(objective)
        self.step_weight = check_step_weight(step_weight)

    def params(self) -> dict:
        return {"tau": self.tau, "steps": self.steps, "learning_rate": self.learning_rate,
                "confidence": self.confidence, "max_flow": self.max_flow, "loop": self.loop,
                "jit_compile": self.jit_compile, "objective": self.objective, "step_weight": self.step_weight}

    def _search(self, clf, targeted, jit=None):
        """Compiled ``(x, y, t) -> (x_adv, flow)``, cached on ``clf``."""
        jit = resolve_jit(self.jit_compile, clf) if jit is None else jit
        return clf.compiled(cache_key("attack-flow", self, targeted, jit),
                            lambda: self._build_search(clf, targeted, jit))

    def _build_search(self, clf, targeted, jit):
        kappa, tau, lr, steps, max_flow = self.confidence, self.tau, self.learning_rate, self.steps, self.max_flow
        extra_term = self.objective
        prepare = _objective_extras(clf, targeted, extra_term, self.step_weight)
        prepare = None if prepare is None else compile_fn(prepare, jit)

        def warp(x, flow, extras):
            x_adv = flow_warp(x, flow)
            if "_step_weight" in extras:  # the perturbation scaled per pixel (0: the pixel stays x)
                x_adv = x + extras["_step_weight"] * (x_adv - x)
            return x_adv

        def objective(x, labels, flow, extras, ctx=None):
            x_adv = warp(x, flow, extras)
            diff = margin(clf.model(x_adv, training=False), labels, targeted, kappa=float("inf"))
            smooth = flow_loss(flow)
            loss = tf.maximum(diff, -kappa) + tau * smooth
            extra = None if ctx is None or extra_term is None else extra_term.penalty(clf, x_adv, labels, ctx)
            if extra is not None:  # counted in the loss and in the choice of the kept iterate
                loss, smooth = loss + extra, smooth + extra
            return loss, diff < -kappa, smooth

        def body(k, state, consts):
            flow, m, v, best_flow, best_loss, found, ostate = state
            x, labels, extras = consts
            ctx = loop_context(x, labels, targeted, k, extras, ostate)
            if ostate:  # the objective's inner state follows the current image (not differentiated)
                ostate = extra_term.advance(clf, warp(x, flow, extras), labels, ctx)
                ctx = replace(ctx, state=ostate)
            with tf.GradientTape() as tape:
                tape.watch(flow)
                loss, ok, smooth = objective(x, labels, flow, extras, ctx)
                total = tf.reduce_sum(loss)  # a sum keeps per-image gradients independent
            grad = tape.gradient(total, flow)
            better = ok & (smooth < best_loss)
            best_flow = tf.where(better[:, None, None, None], flow, best_flow)
            best_loss = tf.where(better, smooth, best_loss)
            flow, m, v = adam_update(flow, grad, m, v, k, lr)
            if max_flow is not None:
                length = tf.sqrt(tf.reduce_sum(tf.square(flow), -1, keepdims=True) + 1e-12)
                flow = flow * tf.minimum(1.0, max_flow / length)
            return flow, m, v, best_flow, best_loss, found | ok, ostate

        iterate = compiled_loop(body, steps, loop=self.loop, jit=jit)

        def finish(x, labels, flow, best_flow, best_loss, found, extras, ostate):
            # the loop checks each flow before its step: check the last iterate too
            ctx = loop_context(x, labels, targeted, None, extras, ostate)
            _, ok, smooth = objective(x, labels, flow, extras, ctx)
            keep_last = ~(found | ok) | (ok & (smooth < best_loss))
            flow = tf.where(keep_last[:, None, None, None], flow, best_flow)
            return tf.clip_by_value(warp(x, flow, extras), 0.0, 1.0), flow

        finish = compile_fn(finish, jit)

        def search(x, y, t):
            labels = t if targeted else y
            extras = {} if prepare is None else prepare(x, y, labels)
            n = x.shape[0]
            zeros = tf.zeros(x.shape[:3] + [2])
            state = (zeros, zeros, zeros, zeros, tf.fill([n], np.float32(np.inf)), tf.zeros([n], tf.bool),
                     extras.get("_state0", ()))
            flow, _, _, best_flow, best_loss, found, ostate = iterate(state, (x, labels, extras))
            return finish(x, labels, flow, best_flow, best_loss, found, extras, ostate)

        return search

    def build(self, clf, targeted, jit):
        search = self._search(clf, targeted, jit)

        def run(x, y, t, seed):
            return search(x, y, t)[0]

        return run

    def flows(self, clf, x, y, target=None, *, batch_size: int = 32) -> np.ndarray:
        """Flow fields (N, H, W, 2), (rows, columns) in pixels, the attack picks for ``x``."""
        x, y, t, batch_size = self.check_call(clf, x, y, target, batch_size)
        search = self._search(clf, target is not None)
        step = lambda xb, yb, tb: search(tf.constant(xb), tf.constant(yb), tf.constant(tb))[1]  # noqa: E731
        return map_batches(step, [x, y, t], batch_size)

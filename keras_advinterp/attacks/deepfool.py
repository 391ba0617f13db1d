"""DeepFool: the smallest step to the nearest linearised decision boundary.

References:
    Moosavi-Dezfooli, Fawzi and Frossard, "DeepFool: a simple and accurate
    method to fool deep neural networks", CVPR 2016 (Algorithm 2, the
    multi-class case; Section 3.3 for the l_inf variant). Compared with
    FGSM in seeds/004_3483dc02f8dd9934.txt, Sec. 5 (AdVis.js).
"""

from __future__ import annotations

import tensorflow as tf

from .._checks import choice, positive
from .._compile import check_jit, compile_fn, compiled_loop
from .base import Attack

_TINY = 1e-8
# Added to each step's distance (as in the authors' code) so a point
# landing exactly on the linearised boundary still crosses it.
_STEP_MARGIN = 1e-4


def _flat_norm(t, order):
    axes = list(range(2, t.shape.rank))  # t is (N, candidates, H, W, C)
    return tf.reduce_sum(tf.abs(t) if order == 1 else tf.square(t), axis=axes) ** (1.0 if order == 1 else 0.5)


class DeepFool(Attack):
    """Untargeted DeepFool (l2 or l_inf), stopping per image when its label flips.

    Each iteration linearises the differences ``z_k - z_y`` between the
    logits of the ``candidates - 1`` runner-up classes (ranked once on the
    clean image) and the true class, steps to the closest of those
    hyperplanes, and sets ``x_adv = clip(x + (1 + overshoot) * r_total, 0, 1)``.
    Images already misclassified are returned unchanged with 0 iterations.

    Args:
        steps: maximum iterations per image.
        overshoot: relative push past the boundary (0.02 in the paper).
        candidates: classes considered, the true class included (clipped to
            the number of classes; fewer is faster, 10 as in Foolbox/ART).
        norm: ``l2`` (step ``|f_l| / ||w_l||_2^2 * w_l``) or ``linf``
            (the l1-dual step ``|f_l| / ||w_l||_1 * sign(w_l)``).

        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).

    The compiled ``run`` returns ``(x_adv, iterations)``.
    """

    name = "deepfool"
    targeted_supported = False

    def __init__(self, *, steps: int = 50, overshoot: float = 0.02, candidates: int = 10, norm: str = "l2",
                 jit_compile="auto"):
        self.steps = positive(steps, "steps", integer=True)
        self.overshoot = positive(overshoot, "overshoot", allow_zero=True)
        self.candidates = positive(candidates, "candidates", integer=True)
        if self.candidates < 2:
            raise ValueError("candidates must be >= 2 (the true class and one other). "
                             f"Received: candidates={candidates!r}")
        self.norm = choice(norm, "norm", ("l2", "linf"))
        self.jit_compile = check_jit(jit_compile)

    def params(self) -> dict:
        return {"steps": self.steps, "overshoot": self.overshoot, "candidates": self.candidates, "norm": self.norm,
                "jit_compile": self.jit_compile}

    def build(self, clf, targeted, jit):
        # Most images flip within 2-5 iterations: one compiled iteration per
        # call with an all-flipped check after each (state stays on the
        # device) beats XLA's CPU while loop (about 2x on shapes) and wastes
        # no iterations, which a longer unrolled chunk would.
        setup, body = self._parts(clf)
        setup = compile_fn(setup, jit)
        iterate = compiled_loop(body, self.steps, loop="chunked", chunk=1, until=lambda s: ~tf.reduce_any(s[2]),
                                jit=jit)

        def run(x, y, t, seed):
            consts, state = setup(x, y)
            _, x_adv, _, iterations = iterate(state, consts)
            return x_adv, iterations

        return run

    def loop(self, clf):
        """The uncompiled ``run(x, y, t, seed) -> (x_adv, iterations)`` as one ``tf.while_loop``,
        for use inside other compiled code (the universal perturbation)."""
        setup, body = self._parts(clf)

        def run(x, y, t, seed):
            consts, state = setup(x, y)
            _, out = tf.while_loop(lambda i, s: (i < self.steps) & tf.reduce_any(s[2]),
                                   lambda i, s: (i + 1, body(i, s, consts)), (tf.constant(0), state))
            return out[1], out[3]

        return run

    def _parts(self, clf):
        """``setup(x, y) -> (consts, state)`` and one iteration ``body(i, state, consts) -> state``."""
        scale, order = 1.0 + self.overshoot, 2 if self.norm == "l2" else 1
        num = min(self.candidates, clf.num_classes)

        def linearise(x_adv, classes):
            """Logits gaps f (N, num-1) to the runner-ups and their input gradients w (N, num-1, H, W, C)."""
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x_adv)
                z = tf.gather(clf.model(x_adv, training=False), classes, batch_dims=1)
                gaps = z[:, 1:] - z[:, :1]
                sums = [tf.reduce_sum(gaps[:, k]) for k in range(num - 1)]  # a batch sum keeps gradients per image
            w = tf.stack([tape.gradient(s, x_adv) for s in sums], axis=1)
            del tape
            return gaps, w

        def mask(a, like):
            return tf.reshape(tf.cast(a, like.dtype), [-1] + [1] * (like.shape.rank - 1))

        def setup(x, y):
            logits = clf.model(x, training=False)
            # The true class first, then the top others of the clean image.
            others = tf.math.top_k(logits - 1e9 * tf.one_hot(y, clf.num_classes), k=num - 1).indices
            classes = tf.concat([y[:, None], others], axis=1)
            active = tf.argmax(logits, axis=1, output_type=tf.int32) == y
            return (x, y, classes), (tf.zeros_like(x), x, active, tf.zeros_like(y))

        def body(i, state, consts):
            r_total, x_adv, active, iterations = state
            x, y, classes = consts
            f, w = linearise(x_adv, classes)
            w_norm = _flat_norm(w, order) + _TINY
            dist = tf.abs(f) / w_norm
            best = tf.argmin(dist, axis=1, output_type=tf.int32)
            d_l, w_l = tf.gather(dist, best, batch_dims=1) + _STEP_MARGIN, tf.gather(w, best, batch_dims=1)
            if order == 2:
                r = mask(d_l / tf.gather(w_norm, best, batch_dims=1), x) * w_l
            else:
                r = mask(d_l, x) * tf.sign(w_l)
            r_total = r_total + mask(active, x) * r
            x_adv = tf.clip_by_value(x + scale * r_total, 0.0, 1.0)
            iterations = iterations + tf.cast(active, tf.int32)
            pred = tf.argmax(clf.model(x_adv, training=False), axis=1, output_type=tf.int32)
            return r_total, x_adv, active & (pred == y), iterations

        return setup, body

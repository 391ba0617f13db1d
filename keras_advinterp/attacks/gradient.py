"""Gradient attacks: FGSM, BIM / I-FGSM, MIM and PGD (Linf, L2, L1).

One loop serves them all (``PGD``): a random start in the norm ball, a step
along the norm's steepest-ascent direction (optionally with momentum), a
projection back into the ball and the [0, 1] box; random restarts keep, per
image, a successful result if any restart found one (else the highest-loss
one). BIM and MIM are PGD with their papers' defaults.

References:
    Goodfellow et al., "Explaining and Harnessing Adversarial Examples" (FGSM).
    Kurakin et al., "Adversarial examples in the physical world" (BIM / I-FGSM).
    Dong et al., "Boosting Adversarial Attacks with Momentum" (MIM).
    Madry et al., "Towards Deep Learning Models Resistant to Adversarial
    Attacks" (PGD). Tramer & Boneh, "Adversarial Training and Robustness for
    Multiple Perturbations" (L1 PGD with sparse steps, SLIDE).
    Used throughout seeds 000-004 (see seeds/INDEX.md).
"""

from __future__ import annotations

import tensorflow as tf

from .._checks import choice, in_range, positive
from .base import LOOPS, LOSSES, Attack, compiled_loop, loss_gradient, objective
from .norms import L1, get_norm



class FGSM(Attack):
    """Fast gradient (sign) method: one step of size ``eps``.

    Args:
        eps: perturbation budget in pixel units ([0, 1] scale), e.g. 8/255.
        norm: ``linf`` (sign step) or ``l2`` (normalised gradient step).
    """

    name = "fgsm"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "linf"):
        self.eps = positive(eps, "eps", allow_zero=True)
        self.norm = get_norm(norm)
        if self.norm is L1:
            raise ValueError("fgsm supports norm 'linf' or 'l2' (an L1 step is PGD with norm='l1'). "
                             f"Received: norm={norm!r}")

    def params(self) -> dict:
        return {"eps": self.eps, "norm": self.norm.name}

    def build(self, clf, targeted):
        norm, eps = self.norm, self.eps

        @tf.function(jit_compile=True)
        def run(x, y, t, seed):
            g = loss_gradient(clf, x, t if targeted else y, targeted)
            return tf.clip_by_value(x + eps * norm.direction(g), 0.0, 1.0)

        return run


class PGD(Attack):
    """Projected gradient descent in an Linf, L2 or L1 ball, one compiled loop.

    Args:
        eps: ball radius in pixel units ([0, 1] scale), e.g. 8/255 (Linf),
            1.0 (L2 at 64x64x3), 10 (L1).
        steps: gradient steps.
        step_size: size of each step; defaults to 2.5 * eps / steps.
        norm: ``linf``, ``l2`` or ``l1`` (sparse SLIDE steps).
        random_start: start from a uniform point in the ball.
        restarts: independent random starts (the first is the single run's);
            each image keeps its highest-loss successful result, else its
            highest-loss result.
        momentum: decay ``mu`` of MIM's accumulated, L1-normalised gradient
            (0 is plain PGD).
        loss: ``ce`` (cross-entropy) or ``margin`` (C&W's logit margin).
        l1_sparsity: with ``norm="l1"``, the gradient-magnitude quantile
            above which coordinates move (0.99: the top 1 %).
        loop: ``unroll`` (every step in one XLA program), ``chunked``
            (a Python loop over a compiled chunk of 10 unrolled steps),
            ``while`` (``tf.while_loop``) or ``auto`` (unroll up to 20 steps,
            else chunked); see ``base.compiled_loop``.
    """

    name = "pgd"
    _default_step = 2.5  # step_size = factor * eps / steps

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 norm: str = "linf", random_start: bool = True, restarts: int = 1, momentum: float = 0.0,
                 loss: str = "ce", l1_sparsity: float = 0.99, loop: str = "auto"):
        self.eps = positive(eps, "eps", allow_zero=True)
        self.steps = positive(steps, "steps", integer=True)
        if step_size is None:  # with eps = 0 the step is irrelevant
            step_size = self._default_step * self.eps / self.steps if self.eps > 0 else 1e-3
        self.step_size = positive(step_size, "step_size")
        self.norm = get_norm(norm)
        self.random_start = bool(random_start)
        self.restarts = positive(restarts, "restarts", integer=True)
        self.momentum = positive(momentum, "momentum", allow_zero=True)
        self.loss = choice(loss, "loss", LOSSES)
        self.l1_sparsity = in_range(l1_sparsity, "l1_sparsity", 0.0, 1.0)
        self.loop = choice(loop, "loop", LOOPS)

    def params(self) -> dict:
        p = {"eps": self.eps, "steps": self.steps, "step_size": self.step_size, "norm": self.norm.name,
             "random_start": self.random_start, "restarts": self.restarts, "momentum": self.momentum,
             "loss": self.loss, "loop": self.loop}
        if self.norm is L1:
            p["l1_sparsity"] = self.l1_sparsity
        return p

    @property
    def iterations(self) -> int:
        return self.steps * self.restarts

    def build(self, clf, targeted):
        eps, alpha, steps, mu, loss = self.eps, self.step_size, self.steps, self.momentum, self.loss
        norm = L1(self.l1_sparsity) if self.norm is L1 else self.norm

        def step(i, state, consts):
            x_adv, g_acc = state
            x, labels = consts
            g = loss_gradient(clf, x_adv, labels, targeted, loss)
            if mu > 0:  # MIM: accumulate L1-normalised gradients
                g_acc = mu * g_acc + g / (tf.reduce_sum(tf.abs(g), axis=[1, 2, 3], keepdims=True) + 1e-12)
                g = g_acc
            d = norm.direction(g, x_adv) if norm.name == "l1" else norm.direction(g)
            delta = norm.project(x_adv + alpha * d - x, eps)
            return tf.clip_by_value(x + delta, 0.0, 1.0), g_acc

        iterate = compiled_loop(step, steps, loop=self.loop)

        @tf.function(jit_compile=True)
        def start(x, seed):
            return tf.clip_by_value(x + norm.random_start(x.shape.as_list(), eps, seed), 0.0, 1.0)

        def once(x, labels, seed):
            x_adv = start(x, seed) if self.random_start else x
            return iterate((x_adv, tf.zeros_like(x)), (x, labels))[0]

        if self.restarts == 1:
            return lambda x, y, t, seed: once(x, t if targeted else y, seed)

        @tf.function(jit_compile=True)
        def score(x_adv, labels, y):
            # success first, then loss: a successful restart is never replaced by a failed one
            logits = clf.model(x_adv, training=False)
            pred = tf.argmax(logits, axis=1, output_type=tf.int32)
            won = tf.equal(pred, labels) if targeted else tf.not_equal(pred, y)
            return objective(logits, labels, targeted, loss) + tf.where(won, 1e9, 0.0)

        def run(x, y, t, seed):
            labels = t if targeted else y
            best, best_score = None, None
            for r in range(self.restarts):  # an outer loop over compiled loops
                # restart 0 is the single run's start, so restarts only ever add successes
                x_adv = once(x, labels, seed if r == 0 else tf.random.experimental.stateless_fold_in(seed, r))
                s = score(x_adv, labels, y)
                if best is None:
                    best, best_score = x_adv, s
                else:
                    better = s > best_score
                    best = tf.where(better[:, None, None, None], x_adv, best)
                    best_score = tf.maximum(s, best_score)
            return best

        return run


class BIM(PGD):
    """Basic iterative method / I-FGSM: PGD from the clean image, step eps / steps.

    Args:
        eps, steps, norm, loss, loop: as ``PGD``; step_size defaults to
            eps / steps (the budget is reachable in exactly ``steps`` steps).
    """

    name = "bim"
    _default_step = 1.0

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 norm: str = "linf", loss: str = "ce", loop: str = "auto"):
        super().__init__(eps=eps, steps=steps, step_size=step_size, norm=norm, random_start=False,
                         loss=loss, loop=loop)

    def params(self) -> dict:
        return {k: v for k, v in super().params().items() if k not in ("random_start", "restarts", "momentum")}


class MIM(PGD):
    """Momentum iterative method (MI-FGSM): BIM with accumulated gradients.

    Args:
        decay: momentum ``mu`` (Dong et al. use 1.0).
        eps, steps, step_size, norm, loss, loop: as ``BIM``.
    """

    name = "mim"
    _default_step = 1.0

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 decay: float = 1.0, norm: str = "linf", loss: str = "ce", loop: str = "auto"):
        decay = positive(decay, "decay", allow_zero=True)
        super().__init__(eps=eps, steps=steps, step_size=step_size, norm=norm, random_start=False,
                         momentum=decay, loss=loss, loop=loop)

    def params(self) -> dict:
        p = {k: v for k, v in super().params().items() if k not in ("random_start", "restarts", "momentum")}
        return {**p, "decay": self.momentum}

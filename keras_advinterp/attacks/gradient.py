"""Gradient attacks: FGSM, BIM / I-FGSM, MIM and PGD (Linf, L2, L1).

One loop serves them all (``PGD``): a random start in the norm ball, a step
along the norm's steepest-ascent direction of the ``objective`` (optionally
with momentum, optionally weighted per pixel by a ``step_weight`` hook), a
projection back into the ball and the [0, 1] box; random restarts keep, per
image, a successful result if any restart found one (else the highest-loss
one). BIM and MIM are PGD with their papers' defaults; the attention attack
and the attacks on interpreters are objectives on this loop.

Every attack here also has ``graph_function``: the same attack as pure
TensorFlow for a Keras ``train_step``, an exported graph or
``strategy.run``.

References:
    Goodfellow et al., "Explaining and Harnessing Adversarial Examples" (FGSM).
    Kurakin et al., "Adversarial examples in the physical world" (BIM / I-FGSM).
    Dong et al., "Boosting Adversarial Attacks with Momentum" (MIM).
    Madry et al., "Towards Deep Learning Models Resistant to Adversarial
    Attacks" (PGD). Tramer & Boneh, "Adversarial Training and Robustness for
    Multiple Perturbations" (L1 PGD with sparse steps, SLIDE).
    Used throughout the five papers of seeds/INDEX.md.
"""

from __future__ import annotations

from dataclasses import replace

import tensorflow as tf

from .._checks import choice, in_range, positive
from .._compile import LOOPS, check_jit, compile_fn, compiled_loop, graph_loop
from .._tensor import input_gradient, keep_best
from ..surgery.precision import PRECISIONS, precision_copy
from .base import Attack
from .norms import L1, get_norm
from .objectives import (
    CrossEntropy,
    Margin,
    StepWeight,
    batch_constants,
    check_step_weight,
    get_objective,
    loop_context,
)


def _graph_inputs(x, y, target, targeted: bool, seed):
    """Converts a graph-function call's arguments; draws a seed when none is given."""
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.cast(y, tf.int32)
    if targeted and target is None:
        raise ValueError("this graph function was built with targeted=True: pass target=")
    labels = tf.cast(target, tf.int32) if targeted else y
    if seed is None:  # a fresh random start per call (e.g. per training batch)
        seed = tf.random.uniform([2], 0, 2**31 - 1, dtype=tf.int32)
    return x, y, labels, tf.cast(seed, tf.int32)


class FGSM(Attack):
    """Fast gradient (sign) method: one step of size ``eps``.

    Args:
        eps: perturbation budget in pixel units ([0, 1] scale), e.g. 8/255.
        norm: ``linf`` (sign step) or ``l2`` (normalised gradient step).
        objective: what the step ascends: ``ce``, ``margin``, an
            ``Objective`` or a function (see ``objectives``).
        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).
    """

    name = "fgsm"

    def __init__(self, *, eps: float = 8 / 255, norm: str = "linf", objective="ce", jit_compile="auto"):
        self.eps = positive(eps, "eps", allow_zero=True)
        self.norm = get_norm(norm)
        if self.norm is L1:
            raise ValueError("fgsm supports norm 'linf' or 'l2' (an L1 step is PGD with norm='l1'). "
                             f"Received: norm={norm!r}")
        self.objective = get_objective(objective)
        self.jit_compile = check_jit(jit_compile)

    def params(self) -> dict:
        return {"eps": self.eps, "norm": self.norm.name, "objective": self.objective,
                "jit_compile": self.jit_compile}

    def _step(self, clf, targeted):
        norm, eps, objective = self.norm, self.eps, self.objective

        def run(x, y, labels):
            extras, _ = batch_constants(clf, objective, None, x, y, labels, targeted)
            ctx = loop_context(x, labels, targeted, None, extras)
            _, g = input_gradient(lambda a: objective(clf, a, labels, ctx), x)
            return tf.clip_by_value(x + eps * norm.direction(g), 0.0, 1.0)

        return run

    def build(self, clf, targeted, jit):
        run = compile_fn(self._step(clf, targeted), jit)
        return lambda x, y, t, seed: run(x, y, t if targeted else y)

    def graph_function(self, clf, *, targeted: bool = False):
        run = self._step(clf, targeted)

        def fgsm(x, y, target=None, seed=None):
            x, y, labels, _ = _graph_inputs(x, y, target, targeted, seed)
            return run(x, y, labels)

        return fgsm


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
        objective: the per-image quantity ascended: ``ce`` (cross-entropy),
            ``margin`` (C&W's logit margin), an ``objectives.Objective`` or a
            function ``fn(clf, x_adv, labels, context) -> (N,)``.
        step_weight: optional ``objectives.StepWeight``: a per-image weight
            map the step is multiplied by before projection (AdvEdge).
        l1_sparsity: with ``norm="l1"``, the gradient-magnitude quantile
            above which coordinates move (0.99: the top 1 %).
        loop: ``unroll`` (every step in one compiled program), ``chunked``
            (a Python loop over a compiled chunk of 10 unrolled steps),
            ``while`` (``tf.while_loop``) or ``auto`` (unroll up to 20 steps,
            else chunked); see ``_compile.compiled_loop``.
        precision: ``float32``, or ``bfloat16``: the step's gradient comes
            from a bfloat16 copy of the model (``surgery.MixedPrecision``;
            about 1.2x faster on ResNet50 on a CPU with AVX512-BF16), while
            restarts and the result are judged by the float32 model. Only
            with the ``ce`` and ``margin`` objectives.
        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).
    """

    name = "pgd"
    supports_mask = True
    _default_step = 2.5  # step_size = factor * eps / steps

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 norm: str = "linf", random_start: bool = True, restarts: int = 1, momentum: float = 0.0,
                 objective="ce", step_weight: StepWeight | None = None, l1_sparsity: float = 0.99,
                 loop: str = "auto", precision: str = "float32", jit_compile="auto"):
        self.eps = positive(eps, "eps", allow_zero=True)
        self.steps = positive(steps, "steps", integer=True)
        if step_size is None:  # with eps = 0 the step is irrelevant
            step_size = self._default_step * self.eps / self.steps if self.eps > 0 else 1e-3
        self.step_size = positive(step_size, "step_size")
        self.norm = get_norm(norm)
        self.random_start = bool(random_start)
        self.restarts = positive(restarts, "restarts", integer=True)
        self.momentum = positive(momentum, "momentum", allow_zero=True)
        self.objective = get_objective(objective)
        self.step_weight = check_step_weight(step_weight)
        self.l1_sparsity = in_range(l1_sparsity, "l1_sparsity", 0.0, 1.0)
        self.loop = choice(loop, "loop", LOOPS)
        self.precision = choice(precision, "precision", PRECISIONS)
        if self.precision != "float32" and type(self.objective) not in (CrossEntropy, Margin):
            raise ValueError(f"precision={precision!r} works with the 'ce' and 'margin' objectives only (another "
                             f"objective may read interpreters or state built on the float32 model). Received: "
                             f"objective={self.objective!r}")
        self.jit_compile = check_jit(jit_compile)

    def params(self) -> dict:
        return {"eps": self.eps, "steps": self.steps, "step_size": self.step_size, "norm": self.norm.name,
                "random_start": self.random_start, "restarts": self.restarts, "momentum": self.momentum,
                "objective": self.objective, "step_weight": self.step_weight, "l1_sparsity": self.l1_sparsity,
                "loop": self.loop, "precision": self.precision, "jit_compile": self.jit_compile}

    @property
    def iterations(self) -> int:
        return self.steps * self.restarts

    def _parts(self, clf, targeted):
        """``begin(x, y, labels, seed) -> (x0, extras)``, one ``step``, the restart ``score`` and ``finish``.

        ``finish(x_adv, x, labels, extras, ostate) -> x_adv`` is the
        objective's ``pick`` on the last iterate and loop state, or None
        where the objective does not pick (the last iterate is the result).
        """
        eps, alpha, mu = self.eps, self.step_size, self.momentum
        objective, weigh, random_start = self.objective, self.step_weight, self.random_start
        norm = L1(self.l1_sparsity) if self.norm is L1 else self.norm
        step_clf = precision_copy(clf, self.precision)  # the model the step's gradient comes from

        def begin(x, y, labels, seed, mask=None, x_init=None):
            extras, state0 = batch_constants(clf, objective, weigh, x, y, labels, targeted)
            start = norm.random_start(x, eps, seed)
            if mask is not None:  # the perturbation stays zero outside the mask (masked start, gradient, step)
                extras["_mask"] = mask
                start = start * mask
            if x_init is not None:  # a given start (inside the ball), e.g. a warm-up attack's result
                x0 = x_init
            else:
                x0 = tf.clip_by_value(x + start, 0.0, 1.0) if random_start else x
            return x0, extras, state0

        def step(i, state, consts):
            x_adv, g_acc, ostate = state
            x, y, labels, extras = consts
            ctx = loop_context(x, labels, targeted, i, extras, ostate)
            if ostate:  # the objective's inner state follows x_adv (not differentiated)
                ostate = objective.advance(clf, x_adv, labels, ctx)
                ctx = replace(ctx, state=ostate)
            _, g = input_gradient(lambda a: objective(step_clf, a, labels, ctx), x_adv)
            if "_mask" in extras:
                g = g * extras["_mask"]
            if mu > 0:  # MIM: accumulate L1-normalised gradients
                g_acc = mu * g_acc + g / (tf.reduce_sum(tf.abs(g), axis=[1, 2, 3], keepdims=True) + 1e-12)
                g = g_acc
            d = norm.direction(g, x_adv) if norm.name == "l1" else norm.direction(g)
            if weigh is not None:
                d = d * extras["_step_weight"]
            if "_mask" in extras:
                d = d * extras["_mask"]
            delta = norm.project(x_adv + alpha * d - x, eps)
            return tf.clip_by_value(x + delta, 0.0, 1.0), g_acc, ostate

        def score(x_adv, y, labels, extras, x, ostate=()):
            # success first, then the objective: a successful restart is never replaced by a failed one
            logits = clf.model(x_adv, training=False)
            pred = tf.argmax(logits, axis=1, output_type=tf.int32)
            won = tf.equal(pred, labels) if targeted else tf.not_equal(pred, y)
            return objective(clf, x_adv, labels, loop_context(x, labels, targeted, None, extras, ostate)) \
                + tf.where(won, 1e9, 0.0)

        def finish(x_adv, x, labels, extras, ostate):
            return objective.pick(clf, x_adv, labels, loop_context(x, labels, targeted, None, extras, ostate))

        return begin, step, score, (finish if objective.picks(clf) else None)

    def _restarts(self, begin, loop, score, finish, x, y, labels, seed, mask=None, x_init=None):
        """Runs the attack from each restart's start; per image keeps the best result (``score``).

        Restart 0 is the single run's start, so restarts only ever add
        successes. ``loop(state, consts) -> state`` is the compiled loop
        (host) or the graph loop (graph-safe entry); ``finish`` (or None)
        turns each run's last iterate into its result. ``x_init`` replaces
        restart 0's start.
        """
        best = best_score = None
        for r in range(self.restarts):
            x0, extras, ostate = begin(x, y, labels,
                                       seed if r == 0 else tf.random.experimental.stateless_fold_in(seed, r),
                                       mask, x_init if r == 0 else None)
            x_adv, _, ostate = loop((x0, tf.zeros_like(x), ostate), (x, y, labels, extras))
            if finish is not None:
                x_adv = finish(x_adv, x, labels, extras, ostate)
            if self.restarts == 1:
                return x_adv
            s = score(x_adv, y, labels, extras, x, ostate)
            if best is None:
                best, best_score = x_adv, s
            else:
                best, best_score = keep_best(s > best_score, (x_adv, s), (best, best_score))
        return best

    def build(self, clf, targeted, jit):
        begin, step, score, finish = self._parts(clf, targeted)
        begin, score = compile_fn(begin, jit), compile_fn(score, jit)
        finish = None if finish is None else compile_fn(finish, jit)
        iterate = compiled_loop(step, self.steps, loop=self.loop, jit=jit)

        def run(x, y, t, seed, mask=None, x_init=None):  # an outer Python loop over compiled loops
            return self._restarts(begin, iterate, score, finish, x, y, t if targeted else y, seed, mask, x_init)

        return run

    def graph_function(self, clf, *, targeted: bool = False):
        begin, step, score, finish = self._parts(clf, targeted)
        form = {"unroll": "unroll", "while": "while"}.get(self.loop, "auto")

        def loop(state, consts):
            return graph_loop(step, self.steps, state, consts, form=form)

        def pgd(x, y, target=None, seed=None, x_init=None):
            x, y, labels, seed = _graph_inputs(x, y, target, targeted, seed)
            return self._restarts(begin, loop, score, finish, x, y, labels, seed, x_init=x_init)

        return pgd


class BIM(PGD):
    """Basic iterative method / I-FGSM: PGD from the clean image, step eps / steps.

    Args:
        eps, steps, norm, objective, loop, jit_compile: as ``PGD``;
            step_size defaults to eps / steps (the budget is reachable in
            exactly ``steps`` steps).
    """

    name = "bim"
    _default_step = 1.0

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 norm: str = "linf", objective="ce", loop: str = "auto", jit_compile="auto"):
        super().__init__(eps=eps, steps=steps, step_size=step_size, norm=norm, random_start=False,
                         objective=objective, loop=loop, jit_compile=jit_compile)

    def params(self) -> dict:
        drop = ("random_start", "restarts", "momentum", "step_weight", "l1_sparsity", "precision")
        return {k: v for k, v in super().params().items() if k not in drop}


class MIM(BIM):
    """Momentum iterative method (MI-FGSM): BIM with accumulated gradients.

    Args:
        decay: momentum ``mu`` (Dong et al. use 1.0).
        eps, steps, step_size, norm, objective, loop, jit_compile: as ``BIM``.
    """

    name = "mim"

    def __init__(self, *, eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                 decay: float = 1.0, norm: str = "linf", objective="ce", loop: str = "auto", jit_compile="auto"):
        super().__init__(eps=eps, steps=steps, step_size=step_size, norm=norm, objective=objective, loop=loop,
                         jit_compile=jit_compile)
        self.momentum = positive(decay, "decay", allow_zero=True)

    def params(self) -> dict:
        return {**super().params(), "decay": self.momentum}

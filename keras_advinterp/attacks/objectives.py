"""What a gradient attack ascends: objectives, and the context they see.

PGD's loop takes an ``objective``: an object (or plain function) with
``__call__(clf, x_adv, labels, context) -> (N,)`` per-image loss to ascend.
``labels`` are the classes the loss is about (the true labels, or the
targets in a targeted attack: ``context.targeted`` says which). Objectives
that need per-batch constants (the clean image's map for ADV2, the clean
runner-up class for the attention attack) compute them once in ``setup``,
before the loop; they come back in ``context.extras``. Objectives whose
value depends on an inner optimisation that follows the attack (MASK's
mask, seeds/003_95601c10b3bd7c9c.txt Sec. IV-E) also carry a loop state:
``init_state`` before the loop, ``advance`` at each step before the
gradient, read back as ``context.state``.

An objective may also have a ``penalty`` (per image, lower is better): the
part of it that is not about the label. Minimal-perturbation attacks (C&W,
StAdv) keep their own label term and add the penalty to their loss, so one
objective serves PGD, C&W and StAdv (the interpretation loss of
``interpretation.py``).

Cross-entropy and C&W's margin are two objectives; the attention attack is a
third (``attention.py``), and attacks on interpreters add theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import keras
import tensorflow as tf


@dataclass(frozen=True)
class Context:
    """What an objective may read besides ``x_adv`` (all TensorFlow values).

    Attributes:
        x: clean images (N, H, W, C) in [0, 1].
        y: true labels (N,) int32.
        labels: the labels the loss is about: ``target`` if targeted, else ``y``.
        targeted: Python bool.
        step: the loop's step index (int32 scalar) or None outside the loop.
        extras: per-batch constants returned by the objective's ``setup``.
        state: the objective's loop state (``init_state`` / ``advance``), a tuple.
    """

    x: tf.Tensor
    y: tf.Tensor
    labels: tf.Tensor
    targeted: bool
    step: tf.Tensor | None = None
    extras: dict = field(default_factory=dict)
    state: tuple = ()

    def at(self, step) -> Context:
        return replace(self, step=step)


class Objective:
    """Base class: a per-image quantity a gradient attack ascends.

    Subclasses set ``name``, implement ``__call__`` and, if they have
    settings, ``params()`` (every constructor argument: it is part of the
    attack's compile-cache key).
    """

    name = "objective"

    def params(self) -> dict:
        return {}

    def setup(self, clf, context: Context) -> dict:
        """Per-batch constants (a dict of tensors), computed once before the loop."""
        return {}

    def init_state(self, clf, context: Context) -> tuple:
        """The loop state before the first step (a tuple of tensors; empty for stateless objectives)."""
        return ()

    def advance(self, clf, x_adv, labels, context: Context) -> tuple:
        """The loop state for ``x_adv``, from ``context.state``; called before each gradient, not differentiated."""
        return context.state

    def picks(self, clf) -> bool:
        """Whether ``pick`` chooses a gradient attack's result (else its last iterate is the result)."""
        return False

    def pick(self, clf, x_adv, labels, context: Context):
        """The attack's result per image from its last iterate and the final loop state (``picks`` only)."""
        return x_adv

    def penalty(self, clf, x_adv, labels, context: Context):
        """Per-image term a minimal-perturbation attack adds to its loss (None: nothing to add)."""
        return None

    def __call__(self, clf, x_adv, labels, context: Context):
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def margin(logits, labels, targeted: bool, kappa: float = 0.0):
    """C&W's logit margin, clipped at ``-kappa``; <= -kappa means success.

    Untargeted: ``z_y - max_{j != y} z_j``; targeted: ``max_{j != t} z_j - z_t``.
    Minimising it drives the image across the decision boundary with
    confidence ``kappa`` (Carlini & Wagner, f_6).
    """
    onehot = tf.one_hot(labels, tf.shape(logits)[-1], dtype=logits.dtype)
    own = tf.reduce_sum(onehot * logits, axis=-1)
    other = tf.reduce_max(logits - 1e9 * onehot, axis=-1)
    diff = other - own if targeted else own - other
    return tf.maximum(diff, -kappa)


def cross_entropy(logits, labels, targeted: bool):
    """Per-image CE of ``labels`` (untargeted: ascend it; targeted: ascend minus it)."""
    ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return -ce if targeted else ce


class CrossEntropy(Objective):
    """Cross-entropy of the true label (untargeted) or minus that of the target."""

    name = "ce"

    def __call__(self, clf, x_adv, labels, context):
        return cross_entropy(clf.model(x_adv, training=False), labels, context.targeted)


class Margin(Objective):
    """Minus C&W's logit margin, unclipped: keeps pushing once the label has changed."""

    name = "margin"

    def __call__(self, clf, x_adv, labels, context):
        return -margin(clf.model(x_adv, training=False), labels, context.targeted, kappa=float("inf"))


class FunctionObjective(Objective):
    """Wraps a plain function ``fn(clf, x_adv, labels, context) -> (N,)`` as an objective."""

    def __init__(self, fn):
        if not callable(fn):
            raise ValueError(f"objective must be a name, an Objective or a function. Received: objective={fn!r}")
        self.fn = fn
        self.name = getattr(fn, "__name__", "function")

    def params(self) -> dict:
        return {"fn": self.fn}

    def __call__(self, clf, x_adv, labels, context):
        return self.fn(clf, x_adv, labels, context)


OBJECTIVES = {"ce": CrossEntropy, "margin": Margin}


def get_objective(objective) -> Objective:
    """An Objective from a name (``ce``, ``margin``), an Objective, or a function."""
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, str):
        key = objective.lower()
        if key not in OBJECTIVES:
            raise ValueError(f"objective must be one of {tuple(OBJECTIVES)}, an Objective or a function. "
                             f"Received: objective={objective!r}")
        return OBJECTIVES[key]()
    return FunctionObjective(objective)


class StepWeight:
    """Per-image step weighting: the update is multiplied by a weight map before projection.

    ``__call__(clf, context) -> weights`` broadcastable to the images
    ((N, H, W, 1) or (N, H, W, C)), computed once per batch before the loop
    (AdvEdge weights the step by the clean image's edge strength,
    seeds/003_95601c10b3bd7c9c.txt Sec. V, Eqs. 10-12).
    """

    name = "step_weight"

    def params(self) -> dict:
        return {}

    def __call__(self, clf, context: Context):
        raise NotImplementedError


def check_step_weight(step_weight):
    """``step_weight`` if it is None or callable (a ``StepWeight``), else a ValueError."""
    if step_weight is not None and not callable(step_weight):
        raise ValueError(f"step_weight must be a StepWeight (or a function of (clf, context)). "
                         f"Received: step_weight={step_weight!r}")
    return step_weight


def batch_constants(clf, objective, step_weight, x, y, labels, targeted: bool) -> tuple[dict, tuple]:
    """``(extras, state0)`` for a batch: the objective's ``setup``, the step weights, its first loop state.

    ``extras`` holds the true labels under ``"_y"`` (``loop_context`` reads
    them back) and the step weights under ``"_step_weight"``. Every
    attack that takes an objective or a step weight prepares its batch here.
    """
    ctx = Context(x=x, y=y, labels=labels, targeted=targeted)
    extras = {"_y": y}
    state0 = ()
    if objective is not None:
        extras.update(objective.setup(clf, ctx))
        ctx = replace(ctx, extras=dict(extras))
        state0 = objective.init_state(clf, ctx)
    if step_weight is not None:
        extras["_step_weight"] = step_weight(clf, ctx)
    return extras, state0


def loop_context(x, labels, targeted: bool, step, extras: dict, state=()) -> Context:
    """An objective's context inside an attack's loop (``extras`` from ``batch_constants``)."""
    return Context(x=x, y=extras.get("_y", labels), labels=labels, targeted=targeted, step=step, extras=extras,
                   state=state)

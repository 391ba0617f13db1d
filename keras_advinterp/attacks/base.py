"""What every attack shares: validation, batching, the result type.

An attack is a configured object called on a batch; subclasses only build
one function ``run(x, y, target, seed)`` returning ``x_adv`` or
``(x_adv, iterations)`` (iterations per image, int32 (N,)). The iteration
loop lives inside ``tf.function(jit_compile=True)``; an outer search (the
binary search over C&W's constant) may be a Python loop over compiled inner
loops. ``run`` is cached on the Classifier per (attack, settings, targeted),
so a second call with the same settings never recompiles; the last partial
batch is padded so compiled shapes never change.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from .._batching import map_batches
from .._checks import as_labels, positive
from ..models import Classifier
from .norms import perturbation_norms


@dataclass
class AttackResult:
    """What an attack produced for a batch.

    Attributes:
        x_adv: adversarial images (N, H, W, C) float32 in [0, 1].
        success: (N,) bool; label changed (untargeted) or target reached.
        logits: (N, classes) logits on ``x_adv``.
        labels: (N,) true labels given; ``target`` the targets or None.
        norms: per-image ``l0`` (changed values), ``l1``, ``l2``, ``linf``.
        iterations: (N,) gradient steps the loop ran per image (early abort
            or success-stopping attacks report fewer than their budget).
        seconds: wall time of the call (compilation included on first call).
    """

    x_adv: np.ndarray
    success: np.ndarray
    logits: np.ndarray
    labels: np.ndarray
    target: np.ndarray | None
    norms: dict[str, np.ndarray]
    iterations: np.ndarray
    seconds: float
    attack: str
    params: dict = field(default_factory=dict)

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    @property
    def success_rate(self) -> float:
        return float(self.success.mean())

    def summary(self) -> dict:
        """Plain-data summary: success rate, mean norms, time per image."""
        n = len(self.success)
        return {
            "attack": self.attack,
            "params": self.params,
            "count": n,
            "success_rate": round(self.success_rate, 4),
            "mean_norms": {k: round(float(v.mean()), 6) for k, v in self.norms.items()},
            "max_norms": {k: round(float(v.max()), 6) for k, v in self.norms.items()},
            "mean_iterations": round(float(np.mean(self.iterations)), 2),
            "seconds_per_image": round(self.seconds / n, 5),
        }


class Attack(ABC):
    """Base class: subclasses set ``name`` and implement ``build``."""

    name = "attack"
    targeted_supported = True

    @abstractmethod
    def params(self) -> dict:
        """Hyper-parameters (plain data); part of the compiled-function cache key."""

    @abstractmethod
    def build(self, clf: Classifier, targeted: bool):
        """Returns a compiled ``run(x, y, target, seed) -> x_adv`` for ``clf``."""

    @property
    def iterations(self) -> int:
        """Step budget per image, reported when ``run`` returns no count."""
        return int(self.params().get("steps", 1))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def check_call(self, clf, x, y, target, batch_size, *, labels_required: bool = True):
        """Validates a call before any work: returns ``(x, y, t, batch_size)``.

        ``t`` is the target per image (``y`` when untargeted); ``y`` may be
        None when not ``labels_required``.
        """
        if not isinstance(clf, Classifier):
            raise ValueError(f"clf must be a keras_advinterp Classifier (see models.load / "
                             f"Classifier.from_keras). Received: clf={type(clf).__name__}")
        x = clf.check_images(x)
        if y is not None or labels_required:
            y = as_labels(y, len(x), clf.num_classes, "y")
        if target is not None and not self.targeted_supported:
            raise ValueError(f"{self.name} has no targeted mode. Received: target={target!r}")
        t = as_labels(target, len(x), clf.num_classes, "target") if target is not None else y
        return x, y, t, positive(batch_size, "batch_size", integer=True)

    def __call__(self, clf: Classifier, x, y, target=None, *, batch_size: int = 32,
                 seed: int = 0, progress: bool = False) -> AttackResult:
        """Attacks images ``x`` (N, H, W, C) in [0, 1] with true labels ``y``.

        Args:
            target: class index (scalar or (N,)) for a targeted attack.
            batch_size: images per compiled call (the last batch is padded).
            seed: seed of random starts (stateless: the same seed gives the same result).
        """
        x, y, t, batch_size = self.check_call(clf, x, y, target, batch_size)
        targeted = target is not None

        key = ("attack", self.name, tuple(sorted(self.params().items())), targeted)
        run = clf.compiled(key, lambda: self.build(clf, targeted))
        forward = clf.compiled_forward()
        counter = iter(range(10**9))

        def step(xb, yb, tb):
            s = tf.constant([seed, next(counter)], tf.int32)
            out = run(tf.constant(xb), tf.constant(yb), tf.constant(tb), s)
            x_adv, its = out if isinstance(out, tuple) else (out, np.full(len(xb), self.iterations, np.int32))
            return x_adv, forward(x_adv), its

        start = time.perf_counter()
        x_adv, logits, iterations = map_batches(step, [x, y, t], batch_size, progress=progress and self.name)
        seconds = time.perf_counter() - start
        pred = logits.argmax(axis=1)
        success = pred == t if targeted else pred != y
        return AttackResult(
            x_adv=x_adv, success=success, logits=logits, labels=y,
            target=t if targeted else None, norms=perturbation_norms(x_adv - x),
            iterations=iterations.astype(np.int32), seconds=seconds, attack=self.name, params=self.params(),
        )


LOOPS = ("auto", "unroll", "chunked", "while")
# XLA on CPU runs a tf.while_loop 3.6-5x slower than the same steps unrolled
# (benchmarks/pgd_floor.py; the body loses intra-op parallelism), while
# unrolling costs compile time that grows with the step count. So "auto"
# unrolls short loops whole and runs long ones as a Python loop over one
# compiled, unrolled chunk (state stays on the device; the only host read is
# one early-stop flag per chunk).
UNROLL_MAX_STEPS = 20
CHUNK = 10


def compiled_loop(body, steps: int, *, loop: str = "auto", chunk: int = CHUNK, until=None):
    """Builds ``run(state, consts) -> state`` applying ``body`` ``steps`` times.

    Args:
        body: ``body(i, state, consts) -> state``, TensorFlow code; ``i`` is
            the step index (int32 scalar tensor), ``state`` and ``consts``
            nests of tensors (``consts`` never change).
        loop: ``unroll`` (one XLA program with every step), ``chunked``
            (``chunk`` unrolled steps per compiled call), ``while``
            (``tf.while_loop`` in one XLA program) or ``auto`` (unroll up to
            ``UNROLL_MAX_STEPS`` steps, else chunked).
        until: optional ``until(state) -> bool tensor``; the loop stops early
            once it is true (checked per chunk, or per step in ``while``).
    """
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {LOOPS}. Received: loop={loop!r}")
    if loop == "while":
        @tf.function(jit_compile=True)
        def run_while(state, consts):
            def cond(i, s):
                go = i < steps
                return go if until is None else go & ~until(s)
            return tf.while_loop(cond, lambda i, s: (i + 1, body(i, s, consts)), (tf.constant(0), state))[1]
        return run_while
    size = steps if loop == "unroll" or (loop == "auto" and steps <= UNROLL_MAX_STEPS) else min(chunk, steps)

    def part(n):
        @tf.function(jit_compile=True)
        def unrolled(i0, state, consts):
            for j in range(n):
                state = body(i0 + j, state, consts)
            return state
        return unrolled

    full, rest = part(size), part(steps % size) if steps % size else None

    def run(state, consts):
        i = 0
        while i < steps:
            n = min(size, steps - i)
            state = (full if n == size else rest)(tf.constant(i, tf.int32), state, consts)
            i += n
            if until is not None and i < steps and bool(until(state)):
                break
        return state

    return run


def tracing_count(fn) -> int:
    """Total traces of the compiled functions behind ``fn`` (found through closures).

    Constant across two calls means the second call did not recompile; the
    tests and ``benchmarks/attacks.py`` check this for every attack.
    """
    seen, total, todo = set(), 0, [fn]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        if hasattr(f, "experimental_get_tracing_count"):
            total += f.experimental_get_tracing_count()
            f = getattr(f, "python_function", None)
        for cell in getattr(f, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            todo.extend(v if isinstance(v, (list, tuple)) else [v])
    return total


LOSSES = ("ce", "margin")


def objective(logits, labels, targeted: bool, loss: str = "ce"):
    """Per-image quantity an attack ascends: (N,).

    ``ce``: cross-entropy of the true label (untargeted) or minus that of
    the target (targeted). ``margin``: minus C&W's logit margin (unclipped),
    which keeps pushing once the label has changed.
    """
    if loss == "margin":
        return -margin(logits, labels, targeted, kappa=float("inf"))
    ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return -ce if targeted else ce


def loss_gradient(clf: Classifier, x_adv, labels, targeted: bool, loss: str = "ce"):
    """Gradient of the attack objective (``objective``) w.r.t. the input (ascent direction)."""
    with tf.GradientTape() as tape:
        tape.watch(x_adv)
        logits = clf.model(x_adv, training=False)
        total = tf.reduce_sum(objective(logits, labels, targeted, loss))  # a sum keeps per-image gradients batch-independent
    return tape.gradient(total, x_adv)


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

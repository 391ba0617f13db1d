"""What every attack shares: validation, batching, the result type.

An attack is a configured object called on a batch; subclasses only build
one function ``run(x, y, target, seed)`` returning ``x_adv`` or
``(x_adv, iterations)`` (iterations per image, int32 (N,)). Attacks with
``supports_mask = True`` also take ``run(..., mask)``: a 0/1 map of where
the perturbation may be non-zero, applied inside their loop (Xu et al.'s
refined attacks, seeds/001_13ab3436c62e81d7.txt, Appendix 3, Eq. 11). The iteration
loop is compiled (``_compile.compiled_loop``; XLA where ``jit_compile``
resolves to it); an outer search (the binary search over C&W's constant)
may be a Python loop over compiled inner loops. ``run`` is cached on the
Classifier under ``_compile.cache_key`` (every ``params()`` entry,
targeted, the XLA choice), so a second call with the same settings never
recompiles; the last partial batch is padded so compiled shapes never
change. Gradient attacks also give ``graph_function``: the same attack as
pure TensorFlow for other people's graphs.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from .._batching import map_batches
from .._checks import as_labels, positive
from .._compile import cache_key, hashable, resolve_jit
from .._tensor import input_gradient
from ..models import Classifier
from .norms import perturbation_norms
from .objectives import Context, get_objective


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
            "params": plain(self.params),
            "count": n,
            "success_rate": round(self.success_rate, 4),
            # nine significant digits: rounding to a few decimals could show a norm above its budget
            "mean_norms": {k: float(f"{v.mean():.9g}") for k, v in self.norms.items()},
            "max_norms": {k: float(f"{v.max():.9g}") for k, v in self.norms.items()},
            "mean_iterations": round(float(np.mean(self.iterations)), 2),
            "seconds_per_image": round(self.seconds / n, 5),
        }


class AttackBase(ABC):
    """What every attack in the registry has: a name, ``params()``, call checks.

    Per-batch attacks derive from ``Attack``; the universal perturbation,
    which fits one perturbation to a whole set, has its own ``fit`` /
    ``apply`` contract on this base.
    """

    name = "attack"
    targeted_supported = True
    supports_mask = False  # whether __call__ takes mask= (the perturbation kept at zero outside it)
    jit_compile = "auto"

    @abstractmethod
    def params(self) -> dict:
        """Every constructor argument (plain data): the compiled-function cache key."""

    @property
    def iterations(self) -> int:
        """Step budget per image, reported when ``run`` returns no count."""
        return int(self.params().get("steps", 1))

    def __repr__(self) -> str:
        """The settings that differ from the defaults (all of them if the defaults cannot be built)."""
        params = self.params()
        try:
            defaults = {k: hashable(v) for k, v in type(self)().params().items()}
        except (TypeError, ValueError):
            defaults = {}
        args = ", ".join(f"{k}={v!r}" for k, v in params.items() if k not in defaults or hashable(v) != defaults[k])
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


class Attack(AttackBase):
    """Base class of per-batch attacks: subclasses implement ``params`` and ``build``.

    ``jit_compile`` (True, False or ``"auto"``, see ``_compile.resolve_jit``)
    is every attack's setting: whether its steps are XLA-compiled.
    """

    @abstractmethod
    def build(self, clf: Classifier, targeted: bool, jit: bool):
        """Returns ``run(x, y, target, seed) -> x_adv`` (or ``(x_adv, iterations)``) for ``clf``.

        ``run`` may be a Python loop over compiled functions (XLA iff ``jit``).
        """

    @property
    def graph_safe(self) -> bool:
        """True when the attack has a ``graph_function`` (a subclass provides one)."""
        return type(self).graph_function is not Attack.graph_function

    def graph_function(self, clf: Classifier, *, targeted: bool = False):
        """A pure-TensorFlow ``fn(x, y, target=None, seed=None) -> x_adv`` (graph-safe).

        No host round-trip and no Python-side loop: callable inside a Keras
        ``train_step``, a ``tf.function`` being exported and a
        ``tf.distribute`` replica context. Gradient attacks (FGSM, BIM, MIM,
        PGD and what is built on PGD) have one; the others raise.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no graph-safe form (it runs a host-side search); "
            f"graph-safe attacks: FGSM, BIM, MIM, PGD and objectives on PGD")

    def compiled_run(self, clf: Classifier, targeted: bool):
        """The cached ``run`` for ``clf`` (built once per settings, targeted and XLA choice)."""
        jit = resolve_jit(self.jit_compile, clf)
        return clf.compiled(cache_key("attack", self, targeted, jit), lambda: self.build(clf, targeted, jit))

    def check_mask(self, mask, x) -> np.ndarray:
        """Validates a perturbation mask for images ``x``: returns float32 (N, H, W, 1 or C) of 0s and 1s.

        Accepted: (N, H, W), (N, H, W, 1) or (N, H, W, C), bool or numbers
        that are all 0 or 1.
        """
        if not self.supports_mask:
            masked = sorted(n for n, c in _mask_attacks().items() if c.supports_mask)
            raise ValueError(f"{self.name} cannot restrict its perturbation to a mask; attacks that can: {masked}. "
                             f"Received: mask of shape {np.shape(mask)}")
        m = np.asarray(mask.numpy() if hasattr(mask, "numpy") else mask)
        n, h, w, c = x.shape
        if m.ndim == 3:
            m = m[..., None]
        if m.ndim != 4 or m.shape[:3] != (n, h, w) or m.shape[3] not in (1, c):
            raise ValueError(f"mask must be (N, H, W), (N, H, W, 1) or (N, H, W, C) for images {x.shape}. "
                             f"Received: mask.shape={np.shape(mask)}")
        if m.dtype != bool:
            if not np.issubdtype(m.dtype, np.number):
                raise ValueError(f"mask must be bool or 0/1 numbers. Received: mask.dtype={m.dtype}")
            bad = ~((m == 0) | (m == 1))
            if bad.any():
                raise ValueError(f"mask must hold only 0 and 1 (or bool). Received: {int(bad.sum())} other "
                                 f"value(s), e.g. {m[bad].flat[0]!r}")
        return m.astype(np.float32)

    def __call__(self, clf: Classifier, x, y, target=None, *, batch_size: int = 32,
                 seed: int = 0, progress: bool = False, mask=None) -> AttackResult:
        """Attacks images ``x`` (N, H, W, C) in [0, 1] with true labels ``y``.

        Args:
            target: class index (scalar or (N,)) for a targeted attack.
            batch_size: images per compiled call (the last batch is padded).
            seed: seed of random starts (stateless: the same seed gives the same result).
            mask: optional (N, H, W[, 1 or C]) bool or 0/1: where the
                perturbation may be non-zero. It is applied inside the
                attack's loop, so ``x_adv`` equals ``x`` exactly outside it
                (attacks with ``supports_mask``: PGD, BIM, MIM, C&W, EAD,
                StrAttack).
        """
        x, y, t, batch_size = self.check_call(clf, x, y, target, batch_size)
        arrays = [x, y, t] if mask is None else [x, y, t, self.check_mask(mask, x)]
        targeted = target is not None
        run = self.compiled_run(clf, targeted)
        forward = clf.compiled_forward()
        counter = iter(range(10**9))

        def step(xb, yb, tb, mb=None):
            s = tf.constant([seed, next(counter)], tf.int32)
            args = (tf.constant(xb), tf.constant(yb), tf.constant(tb), s)
            out = run(*args) if mb is None else run(*args, tf.constant(mb))
            x_adv, its = out if isinstance(out, tuple) else (out, np.full(len(xb), self.iterations, np.int32))
            return x_adv, forward(x_adv), its

        start = time.perf_counter()
        x_adv, logits, iterations = map_batches(step, arrays, batch_size, progress=progress and self.name)
        seconds = time.perf_counter() - start
        pred = logits.argmax(axis=1)
        success = pred == t if targeted else pred != y
        return AttackResult(
            x_adv=x_adv, success=success, logits=logits, labels=y,
            target=t if targeted else None, norms=perturbation_norms(x_adv - x),
            iterations=iterations.astype(np.int32), seconds=seconds, attack=self.name, params=self.params(),
        )


def _mask_attacks() -> dict:
    from . import REGISTRY  # the registry is built after this module

    return REGISTRY


def plain(params: dict) -> dict:
    """``params`` as JSON-ready data: objects with settings (objectives, hooks) become their repr."""
    return {k: v if v is None or isinstance(v, (bool, int, float, str)) else repr(v) for k, v in params.items()}


def loss_gradient(clf: Classifier, x_adv, labels, targeted: bool, loss: str = "ce"):
    """Gradient of the attack objective w.r.t. the input (ascent direction).

    ``loss``: ``ce``, ``margin`` or an Objective. Kept for benchmarks and
    FGSM-like one-step uses; PGD's loop calls its objective directly.
    """
    objective = get_objective(loss)
    context = Context(x=x_adv, y=labels, labels=labels, targeted=targeted)
    return input_gradient(lambda a: objective(clf, a, labels, context), x_adv)[1]

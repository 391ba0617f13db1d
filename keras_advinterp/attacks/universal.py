"""Universal adversarial perturbation: one image-agnostic ``v`` for a whole set.

References:
    Moosavi-Dezfooli, Fawzi, Fawzi and Frossard, "Universal adversarial
    perturbations", CVPR 2017 (Algorithm 1; the fooling rate of Eq. 1 is
    the share of images whose prediction changes). seeds/000_f66802178e087466.txt (Ding et al.)
    interprets universal adversarial examples (DAmageNet) and cites it as
    [14]. The ``sgd`` method is the mini-batch projected gradient ascent of
    later work (e.g. Shafahi et al., "Universal adversarial training", AAAI
    2020, cited by seeds/002_3d875c39384c5e79.txt).
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from .._checks import choice, in_range, positive
from .._compile import cache_key, check_jit, compile_fn, resolve_jit
from .._tensor import per_image
from ..models import Classifier
from .base import AttackBase, AttackResult
from .deepfool import DeepFool
from .norms import get_norm, perturbation_norms

METHODS = ("deepfool", "sgd")


class UniversalPerturbation(AttackBase):
    """Fits one perturbation ``v`` (H, W, C) that fools a classifier on most images of a set.

    ``fit`` passes over the (shuffled) images in mini-batches until the
    fooling rate on them reaches ``target_fooling_rate`` or ``max_passes``
    passes are done; ``apply(x, v)`` adds ``v`` to any images; calling the
    attack does both on the same images and returns an ``AttackResult``
    whose ``params`` hold the fitted ``fooling_rate`` and ``passes``.

    Methods (one update of ``v`` per mini-batch, then projection onto the
    ``eps`` ball of ``norm``):

    - ``deepfool`` (the paper's Algorithm 1, batched): l2 DeepFool on
      ``clip(x + v)`` for the images of the batch not yet fooled, their
      minimal perturbations summed into ``v``. The paper adds them one image
      at a time, projecting after each; a batch sum projects once per batch
      (``batch_size=1`` gives the sequential algorithm).
    - ``sgd``: one ascent step of size ``step_size`` on the batch's mean
      cross-entropy of ``clip(x + v)`` w.r.t. the labels (sign step for
      ``linf``, normalised gradient for ``l2``).

    Args:
        eps: radius of the ball ``v`` lives in, pixel units ([0, 1] scale).
        norm: ``linf`` or ``l2``.
        max_passes: passes over the data at most.
        target_fooling_rate: stop once this share of the images is fooled.
        deepfool_steps: DeepFool iterations per batch (``deepfool``).
        overshoot: DeepFool's push past the boundary (``deepfool``).
        method: ``sgd`` (default: one compiled step per batch; on the
            shapes model it fools 0.73 at 25/255 in 3 s where ``deepfool``
            fools 0.16 in 130 s) or ``deepfool`` (the paper's algorithm).
        step_size: ascent step (``sgd``); defaults to ``eps / 4``.
        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).
    """

    name = "uap"
    targeted_supported = False

    def __init__(self, *, eps: float = 10 / 255, norm: str = "linf", max_passes: int = 5,
                 target_fooling_rate: float = 0.8, deepfool_steps: int = 10, overshoot: float = 0.02,
                 method: str = "sgd", step_size: float | None = None, jit_compile="auto"):
        self.eps = positive(eps, "eps")
        self.norm = get_norm(norm)
        if self.norm.name not in ("linf", "l2"):
            raise ValueError(f"norm must be one of ('linf', 'l2'). Received: norm={norm!r}")
        self.max_passes = positive(max_passes, "max_passes", integer=True)
        self.target_fooling_rate = in_range(target_fooling_rate, "target_fooling_rate", 0.0, 1.0)
        self.deepfool_steps = positive(deepfool_steps, "deepfool_steps", integer=True)
        self.overshoot = positive(overshoot, "overshoot", allow_zero=True)
        self.method = choice(method, "method", METHODS)
        self.step_size = positive(self.eps / 4 if step_size is None else step_size, "step_size")
        self.jit_compile = check_jit(jit_compile)

    def params(self) -> dict:
        return {"eps": self.eps, "norm": self.norm.name, "max_passes": self.max_passes,
                "target_fooling_rate": self.target_fooling_rate, "deepfool_steps": self.deepfool_steps,
                "overshoot": self.overshoot, "method": self.method, "step_size": self.step_size,
                "jit_compile": self.jit_compile}

    @property
    def iterations(self) -> int:
        return self.max_passes

    def update_function(self, clf):
        """The cached, compiled ``update(x, labels, weight, v) -> v`` for one mini-batch."""
        jit = resolve_jit(self.jit_compile, clf)
        return clf.compiled(cache_key("uap-update", self, jit), lambda: self._build_update(clf, jit))

    def _build_update(self, clf, jit):
        """``update(x, labels, weight, v) -> v`` for one mini-batch (``weight`` 0 on padding)."""
        norm, eps, alpha = self.norm, self.eps, self.step_size
        deepfool = DeepFool(steps=self.deepfool_steps, overshoot=self.overshoot).loop(clf)

        def deepfool_step(x, labels, weight, v):
            x_v = tf.clip_by_value(x + v, 0.0, 1.0)
            x_adv, _ = deepfool(x_v, labels, labels, tf.zeros([2], tf.int32))  # fooled images do not move
            return v + tf.reduce_sum(per_image(weight, x_adv) * (x_adv - x_v), axis=0, keepdims=True)

        def sgd_step(x, labels, weight, v):
            with tf.GradientTape() as tape:
                tape.watch(v)
                logits = clf.model(tf.clip_by_value(x + v, 0.0, 1.0), training=False)
                ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
                loss = tf.reduce_sum(weight * ce) / tf.reduce_sum(weight)
            return v + alpha * norm.direction(tape.gradient(loss, v))

        step = deepfool_step if self.method == "deepfool" else sgd_step
        return compile_fn(lambda x, labels, weight, v: norm.project(step(x, labels, weight, v), eps), jit)

    def fit(self, clf: Classifier, x, y=None, *, batch_size: int = 32, seed: int = 0,
            progress: bool = False) -> np.ndarray:
        """Fits ``v`` (H, W, C) float32 on images ``x`` (N, H, W, C) in [0, 1].

        Args:
            y: labels to move away from; ``None`` uses the clean predictions
                (the paper's fooling rate: the prediction changes).
            batch_size: images per update of ``v``.
            seed: seed of the shuffling (the same seed gives the same ``v``).
        """
        x, y, _, batch_size = self.check_call(clf, x, y, None, batch_size, labels_required=False)
        return self._fit(clf, x, y, batch_size, seed, progress)[0]

    @staticmethod
    def apply(x, v) -> np.ndarray:
        """``clip(x + v, 0, 1)`` for images ``x`` (N, H, W, C) and a perturbation ``v`` (H, W, C)."""
        x, v = np.asarray(x, np.float32), np.asarray(v, np.float32)
        if v.shape != x.shape[-3:]:
            raise ValueError(f"v must have the shape of one image {x.shape[-3:]}. Received: v.shape={v.shape}")
        return np.clip(x + v, 0.0, 1.0)

    def __call__(self, clf: Classifier, x, y, target=None, *, batch_size: int = 32, seed: int = 0,
                 progress: bool = False) -> AttackResult:
        """Fits ``v`` on ``x`` (labels ``y``) and returns ``x + v`` as an ``AttackResult``.

        ``iterations`` holds the passes run (the same for every image).
        """
        x, y, _, batch_size = self.check_call(clf, x, y, target, batch_size)
        start = time.perf_counter()
        v, rate, passes = self._fit(clf, x, y, batch_size, seed, progress)
        x_adv = self.apply(x, v)
        logits = clf.predict(x_adv, batch_size=batch_size)
        return AttackResult(
            x_adv=x_adv, success=logits.argmax(axis=1) != y, logits=logits, labels=y, target=None,
            norms=perturbation_norms(x_adv - x), iterations=np.full(len(x), passes, np.int32),
            seconds=time.perf_counter() - start, attack=self.name,
            params={**self.params(), "fooling_rate": rate, "passes": passes},
        )

    def budget_search(self, clf: Classifier, x, y=None, *, ladder=(8, 10, 16, 24, 32, 48, 64, 96, 128),
                      limit: int = 32, passes: int = 3, batch_size: int = 32, seed: int = 0) -> dict:
        """Measures the smallest budget that reaches ``target_fooling_rate`` on (a sample of) ``x``.

        Fits a quick ``sgd`` perturbation (``passes`` passes over the first
        ``limit`` images) at each budget of ``ladder`` above this attack's
        ``eps`` (in /255 for ``linf``, pixel units for ``l2``), smallest
        first, and stops at the first that reaches the target.

        Returns:
            ``{"eps": the budget found or None, "rates": {eps: fooling rate}, "images": count}``.
        """
        x, y, _, batch_size = self.check_call(clf, x, y, None, batch_size, labels_required=False)
        x, y = x[:limit], (None if y is None else y[:limit])
        scale = 255.0 if self.norm.name == "linf" else 1.0
        rates = {}
        for step in ladder:
            eps = step / scale
            if eps <= self.eps:
                continue
            quick = UniversalPerturbation(eps=eps, norm=self.norm.name, max_passes=passes, method="sgd",
                                          target_fooling_rate=self.target_fooling_rate, jit_compile=self.jit_compile)
            rates[eps] = quick._fit(clf, x, y, batch_size, seed, False)[1]
            if rates[eps] >= self.target_fooling_rate:
                return {"eps": eps, "rates": rates, "images": len(x)}
        return {"eps": None, "rates": rates, "images": len(x)}

    def _fit(self, clf, x, y, batch_size, seed, progress):
        """Returns ``(v, fooling rate on x, passes run)``."""
        update = self.update_function(clf)
        labels = clf.predict(x, batch_size=batch_size).argmax(axis=1).astype(np.int32) if y is None else y
        n, size = len(x), min(batch_size, len(x))
        rng = np.random.default_rng(seed)
        v = tf.zeros((1, *x.shape[1:]), tf.float32)

        def fooling_rate():
            return float(np.mean(clf.predict(self.apply(x, v[0].numpy()), batch_size=size).argmax(axis=1) != labels))

        rate, passes = fooling_rate(), 0
        bar = tqdm(total=self.max_passes, desc=self.name, unit="pass", disable=not progress, leave=False)
        while rate < self.target_fooling_rate and passes < self.max_passes:
            order = rng.permutation(n)
            for start in range(0, n, size):
                idx = order[start:start + size]
                weight = np.zeros(size, np.float32)
                weight[:len(idx)] = 1.0
                idx = np.concatenate([idx, np.repeat(idx[-1:], size - len(idx))])
                v = update(tf.constant(x[idx]), tf.constant(labels[idx]), tf.constant(weight), v)
            rate, passes = fooling_rate(), passes + 1
            bar.update()
            bar.set_postfix(fooling_rate=f"{rate:.3f}")
        bar.close()
        return v[0].numpy(), rate, passes

"""Attacks on interpreters: ADV2, AdvEdge and AdvEdge+ over PGD, C&W or StAdv.

An interpretable deep-learning system pairs a classifier with an
interpreter. These attacks fool the classifier while the adversarial
image's map stays close to the benign one. They minimise

    l_cls(x') + lam * l_int(x'),   l_int = mean over pixels of (g(x'; c) - g(x; y))^2

with ``g`` the interpreter's map (min-max normalised), ``y`` the true class
and ``c`` the class the adversarial image is explained as (the target in a
targeted attack, else its current prediction). ADV2 adds nothing more;
AdvEdge multiplies each update by the clean image's Sobel edge strength
``E`` (its perturbation concentrates on edges) and AdvEdge+ by the
binarised edges ``E > threshold`` (it changes no other pixel).

One family, three frameworks, no copies of their loops:

* ``pgd``: ``InterpretationLoss`` is the objective on PGD's hook (ascended:
  ``-l_cls - lam * l_int``), ``EdgeWeight`` the step-weighting hook
  (Eq. 10: ``x' <- Proj(x' - alpha * E * sign(grad))``). A warm-up PGD of
  ``warmup_steps`` on the label term alone comes first, as ADV2 and
  AdvEdge's code do (stage 1, then the joint stage 2).
* ``cw``: C&W L2 takes the objective's ``penalty`` (``lam * l_int``) in its
  loss and the edge weights on its perturbation (Eq. 11).
* ``stadv``: StAdv the same, its perturbation ``E * (warp(x, f) - x)``
  (Eq. 12).

Interpreters (the four families of the paper, Sec. IV-B..E):

* ``grad``: the gradient map of a copy of the model whose ReLUs are
  softplus(beta x) / beta (``relu_beta``), so the map has second
  derivatives (Sec. IV-B);
* ``cam`` (and ``gradcam``): differentiable CAM / Grad-CAM (Sec. IV-C);
* ``rts``: the trained masking model on the classifier's own features
  (Sec. IV-D). The paper adds a term pulling the RTS encoder's prediction
  to the target; here the encoder is the classifier itself, so the label
  term already does it;
* ``mask``: MASK's own optimisation follows the attack (Sec. IV-E, Eq. 18-19,
  ADV2's bi-level scheme): the benign image's mask (a full MASK run) is
  the warm start; at every attack step the mask takes ``inner_steps``
  Adam steps on the current image (not differentiated), and the map the
  loss sees is the mask after one more, differentiated step, so the
  gradient reaches the image through the mask's update. Every
  ``mask_reset`` attack steps (10; the first joint step included) the
  mask is replaced by a fresh MASK run on the current image and Adam's
  state is reset (ADV2's reset, Sec. V), so the loss sees the map a fresh
  run gives, not a warm-started mask that lags behind it. On PGD
  (``mask_select``) each reset also scores the current image by that fresh
  map's distance to the benign map, and the attack returns, per image, the
  closest image that fools the model among the reset points and the last
  iterate (one more fresh run): a selection by the real map, where ADV2
  binary-searches the step size. All of it runs in the attack's compiled
  loop; the mask never leaves the device. Cost: one fresh MASK run per
  reset (``steps / mask_reset`` of them) on top of the tracked steps.

Not reproduced: ADV2's step-size binary search for MASK (the projected
sign steps of PGD keep the budget here; the pick among the reset points
takes its place).

References:
    Zhang et al., "Interpretable Deep Learning under Fire" (USENIX Security
    2020), ADV2. Abdukhamidov et al., AdvEdge / AdvEdge+,
    seeds/003_95601c10b3bd7c9c.txt, Sec. IV-V, Eqs. 6-19.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .._checks import choice, in_range, positive
from .._compile import graph_loop
from .._tensor import keep_best, per_image
from .base import Attack
from .gradient import PGD
from .objectives import Objective, StepWeight, cross_entropy, margin
from .optimization import CarliniWagnerL2
from .spatial import StAdv

FRAMEWORKS = ("pgd", "cw", "stadv")
INTERPRETERS = ("grad", "cam", "gradcam", "rts", "mask")
LABEL_LOGITS = ("shared", "model")
EDGE_THRESHOLD = 0.1  # AdvEdge+'s binarisation of Sobel magnitudes (AdvEdge's code: E > 0.1)
EDGE_SCALES = ("raw", "max")

_SMOOTH = np.array([1.0, 2.0, 1.0], np.float32) / 4.0
_EDGE = np.array([1.0, 0.0, -1.0], np.float32)


def sobel(x):
    """Sobel edge magnitude of the grey (channel-mean) images: (N, H, W, C) -> (N, H, W).

    The same numbers as ``skimage.filters.sobel`` on each grey image
    (``mode="reflect"``: ``sqrt((G_rows^2 + G_cols^2) / 2)`` with the
    [1, 2, 1] / 4 smoothing), as TensorFlow ops so it runs inside compiled
    and exported graphs (tests/attacks/test_interpretation.py compares them).
    """
    x = tf.convert_to_tensor(x, tf.float32)
    grey = tf.reduce_mean(x, axis=-1, keepdims=True)
    padded = tf.pad(grey, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # scipy's "reflect"
    rows = tf.constant(np.outer(_EDGE, _SMOOTH)[:, :, None, None])
    cols = tf.constant(np.outer(_SMOOTH, _EDGE)[:, :, None, None])
    g_rows = tf.nn.conv2d(padded, rows, 1, "VALID")
    g_cols = tf.nn.conv2d(padded, cols, 1, "VALID")
    return tf.sqrt((tf.square(g_rows) + tf.square(g_cols)) / 2.0)[..., 0]


def edge_weights(x, threshold: float | None = None):
    """AdvEdge's weights ``E`` (N, H, W, 1): Sobel magnitudes, or 0/1 above ``threshold`` (AdvEdge+)."""
    e = sobel(x)
    if threshold is not None:
        e = tf.cast(e > threshold, tf.float32)
    return e[..., None]


class EdgeWeight(StepWeight):
    """Step weighting by the clean image's edges (AdvEdge; AdvEdge+ with ``threshold``).

    Computed once per batch before the loop, from the clean images.
    ``scale="max"`` divides each image's weights by its largest one, so its
    strongest edge takes a whole step (raw Sobel magnitudes of flat images
    are small: median 0.05 on the shapes set).
    """

    name = "edges"

    def __init__(self, threshold: float | None = None, scale: str = "raw"):
        self.threshold = None if threshold is None else positive(threshold, "threshold", allow_zero=True)
        self.scale = choice(scale, "edge_scale", EDGE_SCALES)

    def params(self) -> dict:
        return {"threshold": self.threshold, "scale": self.scale}

    def __call__(self, clf, context):
        e = edge_weights(context.x, self.threshold)
        if self.scale == "max":
            e = e / (tf.reduce_max(e, axis=[1, 2, 3], keepdims=True) + 1e-12)
        return e

    def __repr__(self) -> str:
        return f"EdgeWeight(threshold={self.threshold!r}, scale={self.scale!r})"


# -- the maps an attack differentiates -------------------------------------------------------------


class _Maps:
    """A differentiable interpreter as the attack sees it: per-batch setup, loop state, maps."""

    def __init__(self, interp):
        self.interp = interp

    def setup(self, x, y) -> dict:
        return {}

    def init_state(self, extras) -> tuple:
        return ()

    def advance(self, x_adv, cls, won, state, extras) -> tuple:
        return state

    def maps(self, x_adv, cls, state, extras):
        return self.interp.maps(x_adv, cls)


class _MaskMaps(_Maps):
    """MASK's optimisation carried along the attack (warm start, inner steps, one differentiated step).

    With ``reset_every`` > 0 the tracked mask is replaced, every
    ``reset_every`` attack steps (the first included), by a fresh MASK run
    on the current image (the interpreter's own start and steps, Adam state
    reset: ADV2's reset), so the loss sees the map a fresh run gives. With
    ``select`` each reset also scores the current image by that fresh map's
    distance to the benign map, and the state keeps, per image, the closest
    image that fools the model (``pick`` compares the last one too).
    """

    def __init__(self, interp, inner_steps: int, reset_every: int = 0, select: bool = False):
        super().__init__(interp)
        self.inner_steps = inner_steps
        self.reset_every = reset_every
        self.select = bool(select) and reset_every > 0
        self.start, self.step, self.finish = interp._parts()

    def _deleted(self, x):
        return self.start(x)[1]

    def _fresh(self, x, cls):
        """A full MASK run from the interpreter's start: the mask parameters (not differentiated)."""
        p0, deleted = self.start(x)
        zeros = tf.zeros_like(p0)
        body = lambda i, s, c: self.step(i, s, x, cls, deleted)  # noqa: E731
        p, _, _ = graph_loop(body, self.interp.steps, (p0, zeros, zeros), (), form="while")
        return tf.stop_gradient(p)

    def _distance(self, p, x, extras):
        """Per-image mean squared difference of the map of mask parameters ``p`` and the benign map: (N,)."""
        return tf.reduce_mean(tf.square(self.finish(p, x) - extras["mask_map"]), axis=[1, 2])

    def setup(self, x, y):
        p = self._fresh(x, y)
        extras = {"mask_p": p}
        if self.select:
            extras.update(mask_map=self.finish(p, x), mask_x=x)
        return extras

    def init_state(self, extras):
        p = extras["mask_p"]
        state = (p, tf.zeros_like(p), tf.zeros_like(p), tf.constant(0, tf.int32), tf.constant(0, tf.int32))
        if self.select:  # the closest fooling image so far (the clean one and an infinite distance before any)
            x = extras["mask_x"]
            state += (x, tf.fill(tf.shape(x)[:1], np.float32(np.inf)))
        return state

    def _keep(self, x_adv, d, won, best_x, best_d):
        better = won & (d < best_d)
        return keep_best(better, (x_adv, d), (best_x, best_d))

    def advance(self, x_adv, cls, won, state, extras):
        p, m, v, t, k = state[:5]
        best = state[5:]
        x_adv = tf.stop_gradient(x_adv)
        if self.reset_every:
            def fresh():
                q = self._fresh(x_adv, cls)
                kept = self._keep(x_adv, self._distance(q, x_adv, extras), won, *best) if self.select else ()
                return (q, tf.zeros_like(q), tf.zeros_like(q), tf.constant(0, tf.int32), *kept)

            p, m, v, t, *best = tf.cond(tf.equal(k % self.reset_every, 0), fresh, lambda: (p, m, v, t, *best))
        deleted = self._deleted(x_adv)
        for _ in range(self.inner_steps):
            p, m, v = self.step(t, (p, m, v), x_adv, cls, deleted)
            t = t + 1
        return (tf.stop_gradient(p), tf.stop_gradient(m), tf.stop_gradient(v), t, k + 1, *best)

    def pick(self, x_adv, cls, won, state, extras):
        """The attack's result per image: the closest fooling image among the resets' and ``x_adv`` (fresh map)."""
        best_x, best_d = state[5:]
        d = self._distance(self._fresh(x_adv, cls), x_adv, extras)
        take = (won & (d < best_d)) | tf.math.is_inf(best_d)  # x_adv also where no earlier image fooled the model
        return tf.where(per_image(take, x_adv), x_adv, best_x)

    def maps(self, x_adv, cls, state, extras):
        p = state[0]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(p)
            loss = self.interp._loss_fn(p, x_adv, cls, self._deleted(x_adv))
        # one plain gradient step (Eq. 19), differentiated w.r.t. x_adv; an Adam step would not do: its
        # update is about lr * sign(gradient), whose derivative is zero
        p1 = p - self.interp.lr * tape.gradient(loss, p)
        return self.finish(p1, x_adv)


def _interpreter(clf, spec, params: dict):
    from .. import interpret

    if spec == "grad":
        params = {"relu_beta": 10.0, **params}  # second derivatives through the map (Sec. IV-B)
    interp = interpret.compiled(spec, clf, **params)
    if isinstance(interp, interpret.MASK):
        return interp
    if not callable(getattr(interp, "maps", None)):
        raise ValueError(f"the {interp.name!r} interpreter has no differentiable maps; use one of {INTERPRETERS}. "
                         f"Received: interpreter={spec!r}")
    return interp


class InterpretationLoss(Objective):
    """ADV2's joint objective: the label term minus ``lam`` times the map distance to the benign map.

    On PGD's hook it is ascended: ``-CE(target)`` (targeted) or ``CE(y)``
    minus ``lam * l_int``. ``penalty`` is ``lam * l_int`` alone, the term
    C&W and StAdv add to their loss.

    Args:
        interpreter: ``grad``, ``cam``, ``gradcam``, ``rts``, ``mask`` or a
            differentiable interpreter instance built on the attacked
            classifier (``interpret.CAM``, ``Grad``, ``GradCAMXLA``,
            ``RTS``, ``MASK``).
        lam: weight of the interpretation loss.
        label_loss: ``ce`` (cross-entropy) or ``margin`` (C&W's logit margin).
        label_smoothing: the label term's cross-entropy uses labels
            smoothed by this much (ADV2 smooths them for Grad, whose map
            needs a non-saturated prediction loss).
        label_confidence: the label term stops pushing once the target's
            probability reaches it (targeted) or the true class's falls
            below ``1 - label_confidence`` (untargeted), so the map term has the
            last word once the label is won; None never stops.
        interpreter_params: keyword arguments for the interpreter built by
            name (e.g. ``{"relu_beta": 5}`` for ``grad``, ``{"steps": 100}``
            for ``mask``).
        inner_steps: MASK only: Adam steps of the mask per attack step.
        mask_reset: MASK only: every this many attack steps (the first
            included) the mask restarts as a fresh MASK run on the current
            image; 0 keeps the warm-started mask throughout.
        mask_select: MASK only, with ``mask_reset``: the loop state keeps
            each image's closest fooling image (fresh map at the resets);
            ``pick`` returns it (PGD calls it at the end of each run: ``picks``).
        label_logits: ``shared``: the label term reads the logits of the
            map's own forward pass where the interpreter has one (CAM and
            Grad-CAM: the model's; Grad: its smoothed-ReLU copy's, so the
            step costs one forward and backward pass less and the attack
            pushes the copy's logits, while success is judged by the model);
            ``model``: always a separate pass through the model. Only PGD's
            joint loss has this label term: C&W and StAdv take the map term
            alone (``penalty``) and keep their own loss on the model's logits.
    """

    name = "interpretation"

    def __init__(self, interpreter="cam", *, lam: float = 10.0, label_loss: str = "ce",
                 label_smoothing: float = 0.0, label_confidence: float | None = 0.9,
                 interpreter_params: dict | None = None, inner_steps: int = 2, mask_reset: int = 10,
                 mask_select: bool = False, label_logits: str = "shared"):
        if isinstance(interpreter, str):
            interpreter = choice(interpreter.lower().replace("-", "").replace("_", ""), "interpreter", INTERPRETERS)
        self.interpreter = interpreter
        self.lam = positive(lam, "lam", allow_zero=True)
        self.label_loss = choice(label_loss, "label_loss", ("ce", "margin"))
        self.label_smoothing = in_range(label_smoothing, "label_smoothing", 0.0, 1.0)
        self.label_confidence = None if label_confidence is None else float(label_confidence)
        if self.label_confidence is not None and not 0 < self.label_confidence < 1:
            raise ValueError(f"label_confidence must be in (0, 1) or None. "
                             f"Received: label_confidence={label_confidence!r}")
        self.interpreter_params = dict(interpreter_params or {})
        self.inner_steps = positive(inner_steps, "inner_steps", integer=True)
        self.mask_reset = positive(mask_reset, "mask_reset", integer=True, allow_zero=True)
        self.mask_select = bool(mask_select)
        self.label_logits = choice(label_logits, "label_logits", LABEL_LOGITS)
        self._maps = {}

    def params(self) -> dict:
        return {"interpreter": self.interpreter, "lam": self.lam, "label_loss": self.label_loss,
                "label_smoothing": self.label_smoothing, "label_confidence": self.label_confidence,
                "interpreter_params": self.interpreter_params, "inner_steps": self.inner_steps,
                "mask_reset": self.mask_reset, "mask_select": self.mask_select, "label_logits": self.label_logits}

    def maps_for(self, clf) -> _Maps:
        """The interpreter on ``clf`` as the attack differentiates it (built once per classifier)."""
        if id(clf) not in self._maps:
            from ..interpret import MASK

            interp = _interpreter(clf, self.interpreter, self.interpreter_params)
            mask = isinstance(interp, MASK)
            self._maps[id(clf)] = (clf, _MaskMaps(interp, self.inner_steps, self.mask_reset, self.mask_select)
                                   if mask else _Maps(interp))
        return self._maps[id(clf)][1]

    def setup(self, clf, context):
        term = self.maps_for(clf)
        extras = term.setup(context.x, context.y)
        benign = term.maps(context.x, context.y, term.init_state(extras), extras)
        return {**extras, "benign_map": tf.stop_gradient(benign)}

    def init_state(self, clf, context):
        return self.maps_for(clf).init_state(context.extras)

    def _explained(self, logits, labels, context):
        """The class the adversarial image is explained as: the target, else its current prediction."""
        if context.targeted:
            return labels
        return tf.argmax(tf.stop_gradient(logits), axis=-1, output_type=tf.int32)

    def _won(self, logits, labels, context):
        """Per image: does the classifier's prediction fool it (the target, else any class but the true one)?"""
        pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return tf.equal(pred, labels) if context.targeted else tf.not_equal(pred, context.y)

    def advance(self, clf, x_adv, labels, context):
        logits = clf.model(x_adv, training=False)
        cls = self._explained(logits, labels, context)
        return self.maps_for(clf).advance(x_adv, cls, self._won(logits, labels, context), context.state,
                                          context.extras)

    def picks(self, clf) -> bool:
        return getattr(self.maps_for(clf), "select", False)

    def pick(self, clf, x_adv, labels, context):
        """MASK with ``mask_select``: per image the closest fooling image the attack met (see ``_MaskMaps``)."""
        term = self.maps_for(clf)
        if not self.picks(clf):
            return x_adv
        logits = clf.model(x_adv, training=False)
        return term.pick(x_adv, self._explained(logits, labels, context), self._won(logits, labels, context),
                         context.state, context.extras)

    def distance(self, clf, x_adv, cls, context):
        """Per-image mean squared difference of the adversarial and benign maps: (N,)."""
        term = self.maps_for(clf)
        return self._map_distance(term.maps(x_adv, cls, context.state, context.extras), context)

    def _maps_and_logits(self, clf, x_adv, labels, context):
        """The adversarial map (explained class: ``_explained``) and the classifier's logits.

        CAM and Grad-CAM read both from one forward pass (``maps_and_logits``);
        calling the model for the logits and again inside the map costs a second
        forward and backward pass per step (ADV2-CAM on PGD, shapes: 1.87x
        plain PGD before, 1.00x after, the same adversarial images). Grad too
        under ``label_logits="shared"``: its logits are the smoothed-ReLU
        copy's (ADV2-Grad on PGD, ResNet50: 3.16x plain PGD before, 2.5x after;
        ``benchmarks/results/advedge_ratio.md``).
        """
        from ..interpret import CAM, Grad, GradCAMXLA

        term = self.maps_for(clf)
        shared = (CAM, GradCAMXLA, Grad) if self.label_logits == "shared" else (CAM, GradCAMXLA)
        if type(term) is _Maps and isinstance(term.interp, shared):
            return term.interp.maps_and_logits(x_adv, labels if context.targeted else None)
        logits = clf.model(x_adv, training=False)
        cls = self._explained(logits, labels, context)
        return term.maps(x_adv, cls, context.state, context.extras), logits

    def _map_distance(self, adv, context):
        return tf.reduce_mean(tf.square(adv - context.extras["benign_map"]), axis=[1, 2])

    def penalty(self, clf, x_adv, labels, context):
        adv, _ = self._maps_and_logits(clf, x_adv, labels, context)
        return self.lam * self._map_distance(adv, context)

    def _label_term(self, logits, labels, targeted):
        if self.label_loss == "margin":
            return -margin(logits, labels, targeted, kappa=float("inf"))
        if self.label_smoothing == 0:
            ce = -cross_entropy(logits, labels, True)
        else:
            k = tf.shape(logits)[-1]
            soft = tf.one_hot(labels, k) * (1 - self.label_smoothing) + self.label_smoothing / tf.cast(k, tf.float32)
            ce = tf.nn.softmax_cross_entropy_with_logits(soft, logits)
        if self.label_confidence is None:
            return -ce if targeted else ce
        if targeted:  # CE(target) <= -log(label_confidence): p_target >= label_confidence
            return -tf.maximum(ce, -np.log(self.label_confidence))
        return tf.minimum(ce, -np.log(1.0 - self.label_confidence))

    def __call__(self, clf, x_adv, labels, context):
        if self.lam == 0:
            return self._label_term(clf.model(x_adv, training=False), labels, context.targeted)
        adv, logits = self._maps_and_logits(clf, x_adv, labels, context)
        return self._label_term(logits, labels, context.targeted) - self.lam * self._map_distance(adv, context)


# -- the family --------------------------------------------------------------------------------------


_FRAMEWORK_CLASSES = {"pgd": PGD, "cw": CarliniWagnerL2, "stadv": StAdv}
_FRAMEWORK_DEFAULTS = {
    # ADV2 / AdvEdge's PGD: eps 0.031, step 1/255 (their stage 2 runs 1000 steps at 224x224)
    "pgd": {"eps": 8 / 255, "steps": 100, "step_size": 1 / 255},
    "cw": {"steps": 100, "binary_search_steps": 3, "initial_const": 1.0},
    "stadv": {"steps": 100},
}
_OWNED = ("objective", "step_weight", "random_start", "restarts", "momentum")


class InterpretationAttack(Attack):
    """Base of ADV2, AdvEdge and AdvEdge+: the interpretation loss on a chosen framework.

    Args:
        interpreter: ``grad``, ``cam``, ``gradcam``, ``rts``, ``mask`` or a
            differentiable interpreter instance (see ``InterpretationLoss``).
        framework: ``pgd``, ``cw`` or ``stadv``.
        lam: weight of the interpretation loss.
        warmup_steps: PGD only: steps on the label term alone before the
            joint steps (ADV2's stage 1); 0 skips it.
        label_loss, label_smoothing, label_confidence, interpreter_params,
            inner_steps, mask_reset, label_logits: as ``InterpretationLoss``.
        mask_select: MASK on PGD only: return, per image, the image that
            fools the model with the smallest fresh-run MASK map distance
            among the reset points and the last iterate (else the last
            iterate). Measured on the shapes model (16 images, 8/255,
            10 + 30 steps, fresh 300-step maps): map L2 0.19 against plain
            PGD's 0.33 (40 steps), all fooled; resets alone 0.31.
        threshold: AdvEdge+'s binarisation of the Sobel magnitudes.
        edge_scale: AdvEdge's weights as Sobel gives them (``raw``, the
            paper's) or divided by each image's largest (``max``).
        **framework_params: the framework's own settings (``eps``,
            ``steps``, ``step_size``, ``norm`` for PGD; ``steps``,
            ``learning_rate``, ``binary_search_steps``, ``initial_const``,
            ``confidence`` for C&W; ``steps``, ``tau``, ``learning_rate``
            for StAdv; ``loop`` and ``jit_compile`` for all). Defaults:
            ``_FRAMEWORK_DEFAULTS``.
    """

    edges: str | None = None  # None (ADV2), "weight" (AdvEdge), "binary" (AdvEdge+)
    owned_params = _OWNED  # framework settings the family sets itself

    def __init__(self, interpreter="cam", *, framework: str = "pgd", lam: float = 10.0, warmup_steps: int = 20,
                 label_loss: str = "ce", label_smoothing: float = 0.0, label_confidence: float | None = 0.9,
                 interpreter_params: dict | None = None, inner_steps: int = 2, mask_reset: int = 10,
                 mask_select: bool = True, label_logits: str = "shared", threshold: float = EDGE_THRESHOLD,
                 edge_scale: str = "raw", **framework_params):
        self.framework = choice(framework, "framework", FRAMEWORKS)
        self.objective = InterpretationLoss(interpreter, lam=lam, label_loss=label_loss,
                                            label_smoothing=label_smoothing, label_confidence=label_confidence,
                                            interpreter_params=interpreter_params,
                                            inner_steps=inner_steps, mask_reset=mask_reset,
                                            mask_select=bool(mask_select) and self.framework == "pgd",
                                            label_logits=label_logits)
        self.mask_select = bool(mask_select)
        self.warmup_steps = positive(warmup_steps, "warmup_steps", integer=True, allow_zero=True)
        self.threshold = positive(threshold, "threshold", allow_zero=True)
        self.edge_scale = choice(edge_scale, "edge_scale", EDGE_SCALES)
        owned = sorted(set(framework_params) & set(_OWNED))
        if owned:
            raise ValueError(f"{self.name} sets {owned} itself (the objective, the edge weights and a start at the "
                             f"clean image). Received: {({k: framework_params[k] for k in owned})}")
        self.framework_params = {**_FRAMEWORK_DEFAULTS[self.framework], **framework_params}
        try:
            self._framework = self._make(objective=self.objective, step_weight=self.step_weight())
        except TypeError as e:
            raise ValueError(f"bad parameters for the {self.framework!r} framework: {e}. "
                             f"Received: {framework_params}") from e
        self.jit_compile = self._framework.jit_compile

    def step_weight(self) -> EdgeWeight | None:
        if self.edges is None:
            return None
        if self.edges == "binary":
            return EdgeWeight(self.threshold)
        return EdgeWeight(None, self.edge_scale)

    def _make(self, **extra):
        """The framework attack with these settings and ``extra`` (which may override ``steps``)."""
        params = {**self.framework_params, **extra}
        if self.framework == "pgd":
            params["random_start"] = False  # from the clean image: a random start would break AdvEdge+'s support
        return _FRAMEWORK_CLASSES[self.framework](**params)

    @staticmethod
    def framework_class(framework: str = "pgd") -> type[Attack]:
        """The attack class a framework name stands for (its settings are this attack's ``**framework_params``)."""
        return _FRAMEWORK_CLASSES[choice(framework, "framework", FRAMEWORKS)]

    @property
    def interpreter(self):
        return self.objective.interpreter

    def params(self) -> dict:
        return {"interpreter": self.objective.interpreter, "framework": self.framework,
                "lam": self.objective.lam, "warmup_steps": self.warmup_steps,
                "label_loss": self.objective.label_loss, "label_smoothing": self.objective.label_smoothing,
                "label_confidence": self.objective.label_confidence,
                "interpreter_params": self.objective.interpreter_params, "inner_steps": self.objective.inner_steps,
                "mask_reset": self.objective.mask_reset, "mask_select": self.mask_select,
                "label_logits": self.objective.label_logits, "threshold": self.threshold,
                "edge_scale": self.edge_scale, **self.framework_params}

    @property
    def iterations(self) -> int:
        warm = self.warmup_steps if self.framework == "pgd" else 0
        return warm + self._framework.iterations

    def _warmup(self):
        if self.framework != "pgd" or self.warmup_steps == 0:
            return None
        return self._make(steps=self.warmup_steps, objective=self.objective.label_loss,
                          step_weight=self.step_weight())

    def build(self, clf, targeted, jit):
        self.objective.maps_for(clf)  # a bad interpreter fails here, before any compilation
        main = self._framework.build(clf, targeted, jit)
        warm = self._warmup()
        if warm is None:
            return main
        warm = warm.build(clf, targeted, jit)

        def run(x, y, t, seed):
            return main(x, y, t, seed, None, warm(x, y, t, seed))

        return run

    @property
    def graph_safe(self) -> bool:
        return self.framework == "pgd"

    def graph_function(self, clf, *, targeted: bool = False):
        if self.framework != "pgd":
            return super().graph_function(clf, targeted=targeted)
        self.objective.maps_for(clf)
        main = self._framework
        warm = self._warmup()
        main_fn = main.graph_function(clf, targeted=targeted)
        warm_fn = None if warm is None else warm.graph_function(clf, targeted=targeted)

        def attack(x, y, target=None, seed=None):
            x_init = None if warm_fn is None else warm_fn(x, y, target, seed)
            return main_fn(x, y, target, seed, x_init=x_init)

        return attack


class ADV2(InterpretationAttack):
    """ADV2: the joint classification + interpretation loss, no edge weighting (Zhang et al. 2020)."""

    name = "adv2"


class AdvEdge(InterpretationAttack):
    """AdvEdge: ADV2 with every update multiplied by the clean image's Sobel edge magnitudes (Eq. 10-12)."""

    name = "advedge"
    edges = "weight"


class AdvEdgePlus(InterpretationAttack):
    """AdvEdge+: ADV2 perturbing only pixels whose Sobel magnitude exceeds ``threshold`` (0.1)."""

    name = "advedge_plus"
    edges = "binary"


FAMILY = {cls.name: cls for cls in (ADV2, AdvEdge, AdvEdgePlus)}

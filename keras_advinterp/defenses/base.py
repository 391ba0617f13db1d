"""What every detector shares: scores, a threshold fit on clean data, verdicts, evaluation, a Keras layer.

    det = SaliencyDetector(clf, theta=0.1)        # or FeatureSqueezing(clf), ...
    det.fit(x_clean, fpr=0.05)                     # threshold at 5% false positives on clean data
    flags = det.detect(x)                          # (N,) bool, True = adversarial
    report = det.evaluate(x_clean_test, x_adv)     # detection rate, false-positive rate, ROC-AUC

Scores grow with suspicion; an input is flagged when its score is strictly
above ``threshold``. A detector with a natural rule (the saliency detector's
"the label changed" is score > 0) starts with that threshold; the others
must be fit first. ``tf_outputs`` is the pure-TensorFlow form of the score
(and the classifier's logits, computed on the way), which ``DetectorLayer``
puts into an exported serving graph.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf

from .._batching import map_batches
from .._checks import in_range, positive
from .._compile import cache_key, check_jit, compile_fn, resolve_jit
from ..models import Classifier


class NotFittedError(ValueError):
    """``detect`` was called on a detector with no threshold: call ``fit(x_clean)`` first."""


class NotGraphSafeError(ValueError):
    """The detector has a step that runs outside TensorFlow (OpenCV), so it cannot sit in a graph."""


@dataclass
class DetectionReport:
    """A detector's figures on one clean set and one adversarial set.

    ``detection_rate`` is the fraction of adversarial inputs flagged,
    ``false_positive_rate`` the fraction of clean inputs flagged (Ye et al.'s
    OSPA, the clean inputs whose prediction the detector lets through, is
    ``1 - false_positive_rate``), ``roc_auc`` the area under the ROC curve of
    the scores (threshold-free; None if a set is empty).
    """

    detection_rate: float
    false_positive_rate: float
    roc_auc: float | None
    threshold: float
    n_clean: int
    n_adv: int

    @property
    def clean_pass_rate(self) -> float:
        """Fraction of clean inputs not flagged (Ye et al.'s OSPA when the clean inputs are classified correctly)."""
        return 1.0 - self.false_positive_rate

    def as_dict(self) -> dict:
        return {**asdict(self), "clean_pass_rate": self.clean_pass_rate}

    def __str__(self) -> str:
        auc = "n/a" if self.roc_auc is None else f"{self.roc_auc:.3f}"
        return (f"detection {self.detection_rate:.1%} of {self.n_adv} adversarial, false positives "
                f"{self.false_positive_rate:.1%} of {self.n_clean} clean, ROC-AUC {auc}, "
                f"threshold {self.threshold:.4g}")


def threshold_at_fpr(clean_scores, fpr: float) -> float:
    """The lowest threshold that flags (score > threshold) at most ``fpr`` of ``clean_scores``.

    With n clean scores at most floor(fpr * n) are flagged (ties can make it
    fewer); fpr = 1 gives -inf (everything flagged).
    """
    s = np.sort(np.asarray(clean_scores, np.float64))[::-1]
    if s.size == 0:
        raise ValueError("clean_scores is empty: fit needs at least one clean input.")
    k = int(np.floor(in_range(fpr, "fpr", 0.0, 1.0) * s.size + 1e-9))
    return -np.inf if k >= s.size else float(s[k])


def roc_auc(clean_scores, adv_scores) -> float | None:
    """ROC-AUC of telling ``adv_scores`` from ``clean_scores`` (scikit-learn); None if one side is empty."""
    from sklearn.metrics import roc_auc_score

    clean, adv = np.asarray(clean_scores, np.float64), np.asarray(adv_scores, np.float64)
    if clean.size == 0 or adv.size == 0:
        return None
    labels = np.concatenate([np.zeros(clean.size), np.ones(adv.size)])
    return float(roc_auc_score(labels, np.concatenate([clean, adv])))


class Detector(ABC):
    """Base class: subclasses set ``name`` and implement ``tf_outputs`` (or ``scores_batch``).

    Subclasses with settings extend ``params()`` with every constructor
    argument they add (it is the compile-cache key, as for attacks and
    interpreters).

    Args:
        clf: the Classifier the detector guards.
        threshold: flag inputs whose score is above it; None until ``fit``.
        batch_size: images per compiled call.
        jit_compile: True, False or ``auto`` (``_compile.resolve_jit``).
    """

    name = "detector"
    graph_safe = True  # tf_outputs is pure TensorFlow (a detector using OpenCV sets False)

    def __init__(self, clf: Classifier, *, threshold: float | None = None, batch_size: int = 32,
                 jit_compile="auto"):
        if not isinstance(clf, Classifier):
            raise ValueError(f"clf must be a keras_advinterp Classifier. Received: clf={type(clf).__name__}")
        self.clf = clf
        if threshold is not None and (isinstance(threshold, bool) or not np.isfinite(float(threshold))):
            raise ValueError(f"threshold must be a finite number or None. Received: threshold={threshold!r}")
        self.threshold = None if threshold is None else float(threshold)
        self.batch_size = positive(batch_size, "batch_size", integer=True)
        self.jit_compile = check_jit(jit_compile)
        self.fit_info: dict | None = None

    # -- what subclasses provide --------------------------------------------
    def params(self) -> dict:
        """Every constructor argument but ``clf`` and ``threshold``: the compile-cache key."""
        return {"batch_size": self.batch_size, "jit_compile": self.jit_compile}

    @abstractmethod
    def tf_outputs(self, x) -> dict:
        """``{"logits": (N, classes), "score": (N,)}`` for a float32 batch, in pure TensorFlow."""

    def scores_batch(self, x: np.ndarray) -> np.ndarray:
        """Scores of one checked batch (compiled ``tf_outputs`` by default)."""
        fn = self.compiled(lambda t: self.tf_outputs(t)["score"])
        return fn(tf.constant(x)).numpy()

    def compiled(self, fn, *extra):
        """``fn`` compiled once per setting and cached on the classifier (XLA per ``jit_compile``)."""
        jit = resolve_jit(self.jit_compile, self.clf)
        return self.clf.compiled(cache_key("detect", self, jit, *extra), lambda: compile_fn(fn, jit))

    # -- the interface -------------------------------------------------------
    def scores(self, x, *, progress: bool = False) -> np.ndarray:
        """(N,) float scores, higher = more likely adversarial."""
        x = self.clf.check_images(x)
        out = map_batches(self.scores_batch, [x], self.batch_size, progress=progress and self.name)
        return np.asarray(out, np.float32)

    def fit(self, x_clean, x_adv=None, *, fpr: float = 0.05) -> Detector:
        """Sets ``threshold`` so that at most ``fpr`` of ``x_clean`` is flagged; returns self.

        ``x_adv``, if given, is only scored, to record the detection rate
        the threshold gives on it in ``fit_info``.
        """
        fpr = in_range(fpr, "fpr", 0.0, 1.0)
        clean = self.scores(x_clean)
        self.threshold = threshold_at_fpr(clean, fpr)
        self.fit_info = {"fpr_target": fpr, "n_clean": int(clean.size),
                         "fpr_fit": float(np.mean(clean > self.threshold)), "threshold": self.threshold}
        if x_adv is not None:
            adv = self.scores(x_adv)
            self.fit_info.update(n_adv=int(adv.size), detection_rate_fit=float(np.mean(adv > self.threshold)),
                                 roc_auc_fit=roc_auc(clean, adv))
        return self

    def checked_threshold(self) -> float:
        """The threshold, or NotFittedError saying how to set it."""
        if self.threshold is None:
            raise NotFittedError(
                f"{type(self).__name__} has no threshold: call fit(x_clean, fpr=0.05) first, or give threshold=."
            )
        return self.threshold

    def detect(self, x, *, progress: bool = False) -> np.ndarray:
        """(N,) bool, True where the input is flagged as adversarial."""
        threshold = self.checked_threshold()
        return self.scores(x, progress=progress) > threshold

    def evaluate(self, x_clean, x_adv) -> DetectionReport:
        """Detection rate on ``x_adv``, false-positive rate on ``x_clean``, ROC-AUC of the scores."""
        threshold = self.checked_threshold()
        clean, adv = self.scores(x_clean), self.scores(x_adv)
        return DetectionReport(
            detection_rate=float(np.mean(adv > threshold)), false_positive_rate=float(np.mean(clean > threshold)),
            roc_auc=roc_auc(clean, adv), threshold=threshold, n_clean=int(clean.size), n_adv=int(adv.size),
        )

    # -- in a Keras graph ------------------------------------------------------
    def as_layer(self) -> DetectorLayer:
        """The detector as a Keras layer: pixels -> {"logits", "score", "adversarial"}."""
        return DetectorLayer(self)

    def as_model(self) -> keras.Model:
        """A Keras model (pixels -> {"logits", "probabilities", "score", "adversarial"}) to export for serving."""
        raw = keras.Input((None, None, self.clf.channels), name="pixels")
        out = self.as_layer()(raw)
        out = {**out, "probabilities": keras.layers.Softmax(name="probabilities")(out["logits"])}
        return keras.Model(raw, out, name=f"{self.clf.name}_{self.name}_guarded")

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}(clf={self.clf.name!r}, {shown}, threshold={self.threshold!r})"


class DetectorLayer(keras.layers.Layer):
    """A fitted detector inside a Keras model: pixels -> logits, score, adversarial flag.

    The threshold is frozen at construction. Only graph-safe detectors (pure
    TensorFlow scores) can be wrapped; TensorFlow backend only.
    """

    def __init__(self, detector: Detector, **kwargs):
        if not detector.graph_safe:
            raise NotGraphSafeError(
                f"{type(detector).__name__} runs a step outside TensorFlow ({detector.params()}), so it cannot sit "
                "in a Keras or serving graph; drop that step (e.g. the OpenCV non-local means squeezer) to export it."
            )
        threshold = detector.checked_threshold()
        super().__init__(name=kwargs.pop("name", f"{detector.name}_detector"), trainable=False, **kwargs)
        self.detector = detector
        self.threshold = float(threshold)

    def call(self, x):
        out = self.detector.tf_outputs(tf.cast(x, tf.float32))
        return {"logits": out["logits"], "score": out["score"], "adversarial": out["score"] > self.threshold}

    def compute_output_spec(self, x):
        n = x.shape[0]
        return {
            "logits": keras.KerasTensor((n, self.detector.clf.num_classes), dtype="float32"),
            "score": keras.KerasTensor((n,), dtype="float32"),
            "adversarial": keras.KerasTensor((n,), dtype="bool"),
        }

    def get_config(self):
        # The detector (and its classifier) are Python objects: rebuild the layer in code, or load the export.
        return {**super().get_config(), "threshold": self.threshold,
                "detector": json.dumps({"name": self.detector.name, **self.detector.params()}, default=str)}

"""Subject-emphasis detection with a saliency map (Ye et al., seeds/002_3d875c39384c5e79.txt, Sec. III).

For an input x the model predicts class c. Its Grad-CAM map W^c (Eqs. 5-6,
min-max scaled to [0, 1] and upsampled to the image) is added to the image,
``x_e = clip(x + theta * W^c, 0, 1)`` (the "subject emphasis image", Fig. 2),
optionally enhanced (colour reversing RGB -> BGR, zero mean; Sec. III-C), and
the input is flagged when the model's label on the result differs from c
(Fig. 3). The paper reads theta in 0.1-0.3.

Our score is the probability margin of the best other class over c on the
enhanced emphasis image, ``max_{j != c} p_j(x') - p_c(x')``: it is > 0
exactly when the label changed, so the default threshold 0 is the paper's
rule, and ``fit(x_clean, fpr=...)`` moves it to a false-positive target.
One compiled call costs a forward pass with Grad-CAM's partial backward
pass, plus one forward pass on the emphasis image.

Our reading where the paper is silent: the map explains the label predicted
on x as received; the enhancement is applied to the emphasis image (at
theta = 0 the check compares the labels of x and of enhance(x), which is
what the paper's theta = 0 rows of Tables II and III measure); zero mean
subtracts each image's per-channel mean and adds ``center``, by default the
pixel value the model's own preprocessing maps to 0 (``neutral_pixel``: 0.5
for a [-1, 1] model, the ImageNet mean for Keras's caffe- and torch-style
ImageNet models), so the network sees an input of zero mean, as the paper's
"zero mean" does on preprocessed images. Zero-mean images can leave [0, 1];
they are not clipped, which would move the mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from .._batching import map_batches
from .._checks import choice, in_range
from ..interpret import differentiable
from .base import Detector, roc_auc

ENHANCEMENTS = ("none", "color_reverse", "zero_mean", "color_reverse+zero_mean")
_ALIASES = {"both": "color_reverse+zero_mean", "zero_mean+color_reverse": "color_reverse+zero_mean",
            "color_reversing": "color_reverse", "bgr": "color_reverse", "": "none"}


def color_reverse(x):
    """RGB -> BGR: the channel axis reversed (TensorFlow or numpy)."""
    return x[..., ::-1]


def zero_mean(x, center=0.5):
    """Each image's per-channel mean over (H, W) replaced by ``center`` (TensorFlow or numpy)."""
    if isinstance(x, np.ndarray):
        return x - x.mean(axis=(1, 2), keepdims=True) + np.asarray(center, x.dtype)
    return x - tf.reduce_mean(x, axis=[1, 2], keepdims=True) + tf.constant(center, x.dtype)


def emphasis_image(x, maps, theta: float):
    """``clip(x + theta * maps, 0, 1)``, maps (N, H, W) broadcast over channels (TensorFlow or numpy)."""
    if isinstance(x, np.ndarray):
        return np.clip(x + theta * np.asarray(maps, x.dtype)[..., None], 0.0, 1.0)
    return tf.clip_by_value(x + theta * tf.cast(maps, x.dtype)[..., None], 0.0, 1.0)


def check_enhance(enhance: str, channels: int) -> str:
    """The canonical enhancement name, or ValueError (colour reversing needs 3 channels)."""
    if not isinstance(enhance, str):
        raise ValueError(f"enhance must be one of {ENHANCEMENTS}. Received: enhance={enhance!r}")
    key = enhance.lower().replace("-", "_").replace(" ", "")
    key = _ALIASES.get(key, key)
    key = choice(key, "enhance", ENHANCEMENTS)
    if "color_reverse" in key and channels != 3:
        raise ValueError(f"enhance={enhance!r} reverses RGB channels; this model takes {channels} channel(s). "
                         "Use 'none' or 'zero_mean'.")
    return key


def enhance_images(x, enhance: str, center=0.5):
    """Applies a canonical enhancement (``check_enhance``) to a batch."""
    if "color_reverse" in enhance:
        x = color_reverse(x)
    if "zero_mean" in enhance:
        x = zero_mean(x, center)
    return x


class SaliencyDetector(Detector):
    """Flags an input when its label changes on the saliency-emphasised (and enhanced) image.

    Args:
        clf: the Classifier to guard.
        theta: weight of the saliency map added to the image (>= 0; the
            paper sweeps 0-0.5 and recommends 0.1-0.3).
        enhance: ``none``, ``color_reverse`` (RGB -> BGR), ``zero_mean`` or
            ``color_reverse+zero_mean`` (alias ``both``).
        interpreter: ``gradcam`` (the paper's), ``cam``, ``grad``, or a
            differentiable interpreter instance built on ``clf``.
        center: the per-channel mean zero-mean images are given: a number,
            one per channel, or ``auto`` (``neutral_pixel(clf)``).
        threshold: flag when the score is above it; 0 (the default) is the
            paper's rule "the label changed".
        batch_size, jit_compile: as every detector.

    References:
        Ye, Chen, Liu, Wang, Jiang, "Detection Defense Against Adversarial
        Attacks with Saliency Map" (seeds/002_3d875c39384c5e79.txt).
    """

    name = "saliency"

    def __init__(self, clf, *, theta: float = 0.1, enhance: str = "none", interpreter="gradcam", center="auto",
                 threshold: float | None = 0.0, batch_size: int = 32, jit_compile="auto"):
        super().__init__(clf, threshold=threshold, batch_size=batch_size, jit_compile=jit_compile)
        self.theta = in_range(theta, "theta", 0.0, 1.0)
        self.enhance = check_enhance(enhance, clf.channels)
        self.center = _check_center(neutral_pixel(clf) if _is_auto(center) else center, clf.channels)
        self.interpreter = differentiable(interpreter, clf, jit_compile=jit_compile)

    def params(self) -> dict:
        interp = self.interpreter
        return {**super().params(), "theta": self.theta, "enhance": self.enhance, "center": self.center,
                "interpreter": (interp.name, interp.params())}

    # -- the computation -----------------------------------------------------
    def _emphasis(self, x):
        maps, logits = self.interpreter.maps_and_logits(x)
        return maps, logits, tf.argmax(logits, axis=-1, output_type=tf.int32)

    def _margin(self, x_enhanced, label):
        p = tf.nn.softmax(self.clf.model(x_enhanced, training=False), axis=-1)
        own = tf.gather(p, label, axis=1, batch_dims=1)
        others = tf.where(tf.one_hot(label, tf.shape(p)[-1]) > 0, tf.fill(tf.shape(p), -1.0), p)
        return tf.reduce_max(others, axis=-1) - own

    def tf_outputs(self, x, theta=None) -> dict:
        """``logits``, ``score`` and the ``maps`` the score was computed from (a serving graph reuses them)."""
        theta = self.theta if theta is None else theta
        maps, logits, label = self._emphasis(x)
        x_e = enhance_images(emphasis_image(x, maps, theta), self.enhance, self.center)
        return {"logits": logits, "score": self._margin(x_e, label), "maps": maps}

    def sweep_scores(self, x, thetas: Sequence[float]) -> np.ndarray:
        """(N, len(thetas)) scores, one column per theta, from one map per image (one compiled call per batch)."""
        thetas = tuple(in_range(t, "theta", 0.0, 1.0) for t in thetas)
        if not thetas:
            raise ValueError("thetas is empty: give at least one theta in [0, 1].")
        x = self.clf.check_images(x)

        def sweep(t):
            maps, _, label = self._emphasis(t)
            cols = [self._margin(enhance_images(emphasis_image(t, maps, th), self.enhance, self.center), label)
                    for th in thetas]
            return tf.stack(cols, axis=1)

        fn = self.compiled(sweep, "sweep", thetas)
        return np.asarray(self._batches(lambda b: fn(tf.constant(b)).numpy(), x), np.float32)

    def explain(self, x) -> dict:
        """Every intermediate, for figures: maps, emphasis and enhanced images, labels before and after, scores."""
        x = self.clf.check_images(x)

        def parts(t):
            maps, _, label = self._emphasis(t)
            x_emph = emphasis_image(t, maps, self.theta)
            x_enh = enhance_images(x_emph, self.enhance, self.center)
            logits_e = self.clf.model(x_enh, training=False)
            return {"maps": maps, "emphasis": x_emph, "enhanced": x_enh, "label": label,
                    "label_emphasis": tf.argmax(logits_e, axis=-1, output_type=tf.int32),
                    "score": self._margin(x_enh, label)}

        fn = self.compiled(parts, "explain")
        return self._batches(lambda b: {k: v.numpy() for k, v in fn(tf.constant(b)).items()}, x)

    def _batches(self, fn, x):
        return map_batches(fn, [x], self.batch_size)


def theta_sweep(clf, x_clean, x_adv, *, thetas=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5), enhance: str = "none",
                interpreter="gradcam", center="auto", batch_size: int = 32, jit_compile="auto") -> list[dict]:
    """Detection rate and clean pass rate (OSPA) against theta, at the paper's rule (threshold 0).

    Returns one dict per theta: ``theta``, ``clean_pass_rate`` (the paper's
    OSPA: clean inputs whose label the emphasis leaves unchanged),
    ``false_positive_rate``, ``detection_rate`` (adversarial inputs whose
    label changes) and ``roc_auc`` of the scores (threshold-free).
    """
    det = SaliencyDetector(clf, enhance=enhance, interpreter=interpreter, center=center, batch_size=batch_size,
                           jit_compile=jit_compile)
    clean = det.sweep_scores(x_clean, thetas)
    adv = det.sweep_scores(x_adv, thetas)
    rows = []
    for j, th in enumerate(thetas):
        fpr = float(np.mean(clean[:, j] > 0))
        rows.append({"theta": float(th), "clean_pass_rate": 1.0 - fpr, "false_positive_rate": fpr,
                     "detection_rate": float(np.mean(adv[:, j] > 0)), "roc_auc": roc_auc(clean[:, j], adv[:, j]),
                     "n_clean": len(clean), "n_adv": len(adv)})
    return rows


def plot_theta_sweep(rows: list[dict], path, *, title: str = "", paper: dict | None = None) -> None:
    """Draws detection rate and clean pass rate (OSPA) against theta into ``path`` (PNG).

    ``paper`` optionally maps a label to ``(thetas, values)`` drawn dashed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    th = [r["theta"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(th, [r["detection_rate"] for r in rows], "o-", label="detection rate (adversarial)")
    ax.plot(th, [r["clean_pass_rate"] for r in rows], "s-", label="OSPA (clean passed)")
    for label, (xs, ys) in (paper or {}).items():
        ax.plot(xs, ys, "--", alpha=0.7, label=label)
    ax.set_xlabel("theta (saliency weight)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def neutral_pixel(clf):
    """The pixel value (one per channel) that ``clf``'s preprocessing maps to 0, or 0.5 if it cannot tell.

    Probes the model's ``preprocess`` layer (every model this package builds
    or wraps has one) as the affine map it is, on constant images: 0.5 for
    a [-1, 1] model, (0.485, 0.458, 0.408) for Keras's caffe-style ResNet50
    and VGG16, the ImageNet mean for torch-style DenseNet. A model without
    that layer, or whose preprocessing is not affine, gets 0.5.
    """
    import keras

    try:
        layer = clf.model.get_layer("preprocess")
    except ValueError:
        return 0.5
    c, (h, w) = clf.channels, clf.input_size
    probes = np.zeros((c + 2, h, w, c), np.float32)
    for i in range(c):
        probes[i + 1, ..., i] = 1.0
    probes[c + 1] = 0.5
    out = np.asarray(keras.Model(clf.model.inputs[0], layer.output)(probes), np.float64).mean(axis=(1, 2))
    b, a = out[0], (out[1 : c + 1] - out[0]).T  # a[j, i]: output channel j per unit of input channel i
    try:
        center = np.linalg.solve(a, -b)
    except np.linalg.LinAlgError:
        return 0.5
    if not np.allclose(out[c + 1], b + a @ np.full(c, 0.5), atol=1e-3 * (1 + np.abs(out).max())):
        return 0.5  # not affine: no single neutral value
    center = np.round(center, 6)
    return float(center[0]) if c == 1 or np.allclose(center, center[0]) else tuple(float(v) for v in center)


def _check_center(center, channels: int):
    values = np.atleast_1d(np.asarray(center, np.float64))
    if values.ndim != 1 or values.size not in (1, channels) or not np.all(np.isfinite(values)):
        raise ValueError(f"center must be a number or {channels} numbers (one per channel). "
                         f"Received: center={center!r}")
    return float(values[0]) if values.size == 1 else tuple(float(v) for v in values)


def _is_auto(value) -> bool:
    return isinstance(value, str) and value.lower() == "auto"


__all__ = ["SaliencyDetector", "neutral_pixel", "theta_sweep", "plot_theta_sweep", "emphasis_image", "color_reverse",
           "zero_mean", "enhance_images", "check_enhance", "ENHANCEMENTS"]

"""Occlusion maps: how much the class score drops when a patch of the image is covered.

Each patch (``patch`` pixels, moved by ``stride``) is replaced by a
baseline, the image's per-channel mean by default, and the class score
(softmax probability, or the logit) is read again. A pixel's value is the
mean drop over the patches that cover it, floored at 0 (covering it made
the class more likely: no evidence for it), then min-max normalised as
every map here.

All covered copies of an image differ from it only inside their patch,
so they run by incremental inference (``surgery.IncrementalForward``):
each convolution computes a copy only on the window its patch reaches and
reads the rest from the image's own feature maps. ``method="auto"`` takes
it where it leaves out at least ``surgery.incremental.MIN_SAVING`` of the convolutions'
multiply-adds, else (and for a model the window rules cannot run, with a
warning) every copy goes through the whole network. Both give the same
maps up to float round-off.

    occ = Occlusion(clf, patch=8, stride=4)
    maps = occ(x, class_index)          # (N, H, W) in [0, 1]
    drops = occ.drops(x, class_index)   # (N, rows, cols): score drop per patch position
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from .._batching import _pad, bucket_size
from .._checks import as_labels, choice, positive
from .._compile import compile_fn
from ..surgery.incremental import check_max_fraction, check_method, forward_for
from .base import Interpreter, normalize_maps

SCORES = ("probability", "logit")


def patch_grid(height: int, width: int, patch: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Patch boxes (rows * cols, 4) as y0, y1, x0, x1: every ``stride`` pixels, the last flush with the edge."""
    def starts(extent, size, step):
        out = list(range(0, extent - size + 1, step))
        if out[-1] != extent - size:
            out.append(extent - size)
        return np.asarray(out, np.int32)

    ys, xs = starts(height, patch[0], stride[0]), starts(width, patch[1], stride[1])
    y0, x0 = np.repeat(ys, len(xs)), np.tile(xs, len(ys))
    return np.stack([y0, y0 + patch[0], x0, x0 + patch[1]], axis=1).astype(np.int32)


def _pair(value, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or (height, width). Received: {name}={value!r}")
    return tuple(positive(v, name, integer=True) for v in pair)


class Occlusion(Interpreter):
    """Occlusion sensitivity (Zeiler & Fergus, 2014): the class score's drop with each patch covered.

    Args:
        clf: the Classifier to explain.
        patch: patch size in pixels, int or (h, w); default an eighth of
            the image's shorter side (at least 1).
        stride: step between patches, int or (h, w); default half the
            patch. The last patch of a row or column is flush with the edge.
        baseline: what covers a patch: ``mean`` (the image's per-channel
            mean), or a pixel value in [0, 1] (0 black, 0.5 grey).
        score: ``probability`` (softmax of the logits) or ``logit``.
        method: ``auto``, ``incremental`` (window by window; an error for
            a model the window rules cannot run) or ``full``.
        max_fraction: incremental only: the share of a feature map beyond
            which the copies are written out whole.
        chunk: covered copies per compiled call (bounds memory).
        batch_size, jit_compile: as every interpreter.
    """

    name = "occlusion"
    needs_feature_layer = False

    def __init__(self, clf, *, patch=None, stride=None, baseline="mean", score: str = "probability",
                 method: str = "auto", max_fraction: float = 0.5, chunk: int = 64, **kwargs):
        super().__init__(clf, **kwargs)
        self.patch, self.stride = _pair(patch, "patch"), _pair(stride, "stride")
        if isinstance(baseline, str):
            baseline = choice(baseline, "baseline", ("mean",))
        elif not (np.isscalar(baseline) and 0.0 <= float(baseline) <= 1.0):
            raise ValueError(f"baseline must be 'mean' or a pixel value in [0, 1]. Received: baseline={baseline!r}")
        else:
            baseline = float(baseline)
        self.baseline = baseline
        self.score = choice(score, "score", SCORES)
        self.method = check_method(method)
        self.max_fraction = check_max_fraction(max_fraction)
        self.chunk = positive(chunk, "chunk", integer=True)

    def params(self) -> dict:
        return {**super().params(), "patch": self.patch, "stride": self.stride, "baseline": self.baseline,
                "score": self.score, "method": self.method, "max_fraction": self.max_fraction, "chunk": self.chunk}

    # ------------------------------------------------------------------ layout
    def boxes(self, height: int, width: int) -> np.ndarray:
        """The patch boxes (m, 4) for ``height`` x ``width`` images; a patch larger than the image is an error."""
        patch = self.patch or (max(1, min(height, width) // 8),) * 2
        stride = self.stride or tuple(max(1, p // 2) for p in patch)
        if patch[0] > height or patch[1] > width:
            raise ValueError(f"patch {patch} is larger than the {height} x {width} images; pass a smaller patch=")
        if stride[0] > patch[0] or stride[1] > patch[1]:
            raise ValueError(f"stride {stride} is larger than patch {patch}: pixels between the patches would get "
                             f"no value; pass a stride of at most the patch size")
        return patch_grid(height, width, patch, stride)

    def _program(self, shape: tuple[int, int, int]):
        """``(how, compiled fn(x, x0, ids, cls) -> (score of x, scores of the covered copies))`` for one shape."""
        boxes = self.boxes(*shape[:2])
        probability = self.score == "probability"

        def read(z):
            return tf.nn.softmax(z, axis=-1) if probability else z

        def build(jit):
            fwd = forward_for(self.method, self.clf.model, boxes, shape, max_fraction=self.max_fraction,
                              name=self.clf.name, caller="Occlusion")
            if fwd is not None:
                def fn(x, x0, ids, cls):
                    z_clean, z = fwd(x, x0, ids)
                    return read(z_clean[None])[0, cls], read(z)[:, cls]

                return f"incremental ({fwd.saving:.0%} of the conv multiply-adds left out)", compile_fn(fn, jit)

            rows = tf.range(shape[0])[:, None]
            cols = tf.range(shape[1])[None, :]
            b = tf.constant(boxes)

            def fn(x, x0, ids, cls):
                box = tf.gather(b, ids)
                inside = ((rows[None] >= box[:, 0, None, None]) & (rows[None] < box[:, 1, None, None])
                          & (cols[None] >= box[:, 2, None, None]) & (cols[None] < box[:, 3, None, None]))
                copies = tf.where(inside[..., None], x0[None], x[None])
                z = self.clf.model(tf.concat([x[None], copies], 0), training=False)
                s = read(z)[:, cls]
                return s[0], s[1:]

            return "full", compile_fn(fn, jit)

        return boxes, *self.compiled(build, shape, build=True)

    def how(self, shape) -> str:
        """How maps of ``shape`` (H, W, C) images are computed: ``incremental (...)`` or ``full``."""
        return self._program(tuple(int(v) for v in shape))[1]

    def _cover(self, x: np.ndarray) -> np.ndarray:
        if self.baseline == "mean":
            return np.broadcast_to(x.mean(axis=(0, 1), keepdims=True), x.shape).astype(x.dtype)
        return np.full_like(x, self.baseline)

    # ----------------------------------------------------------------- running
    def _drops(self, x: np.ndarray, idx: np.ndarray, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Score drop per patch (N, m) and the boxes (m, 4), for checked images."""
        boxes, _, fn = self._program(x.shape[1:])
        m = len(boxes)
        out = np.zeros((len(x), m), np.float32)
        covers = np.stack([self._cover(image) for image in x])
        calls = [(i, s) for i in range(len(x)) for s in range(0, m, self.chunk)]
        bar = tqdm(calls, desc=self.name, unit="batch", disable=not progress or len(calls) < 2, leave=False)
        for i, start in bar:
            ids = np.arange(start, min(start + self.chunk, m), dtype=np.int32)
            padded = _pad(ids, bucket_size(len(ids), self.chunk))
            clean, covered = fn(tf.constant(x[i]), tf.constant(covers[i]), tf.constant(padded),
                                tf.constant(int(idx[i])))
            out[i, ids] = float(clean) - covered.numpy()[:len(ids)]
        return out, boxes

    def drops(self, x, class_index, *, progress: bool = False) -> np.ndarray:
        """The class score's drop for each patch position, (N, rows, cols); positive: the patch supported it."""
        x = self.clf.check_images(x)
        idx = as_labels(class_index, len(x), self.clf.num_classes, "class_index")
        d, boxes = self._drops(x, idx, progress)
        rows, cols = len(np.unique(boxes[:, 0])), len(np.unique(boxes[:, 2]))
        return d.reshape(len(x), rows, cols)

    def explain_batch(self, x, class_index):
        d, boxes = self._drops(np.asarray(x, np.float32), np.asarray(class_index))
        h, w = x.shape[1:3]
        total = np.zeros((len(x), h, w), np.float64)
        count = np.zeros((h, w), np.float64)
        for j, (y0, y1, x0, x1) in enumerate(boxes):
            total[:, y0:y1, x0:x1] += d[:, j, None, None]
            count[y0:y1, x0:x1] += 1
        return normalize_maps(np.maximum(total / count, 0.0))

"""Network dissection of a layer, and how its units react to attacks (Xu et al., Sec. 5; Bau et al.).

seeds/001_13ab3436c62e81d7.txt, Sec. 5 (Eqs. 7-8, Fig. 7):

- M_k(x): unit k's activation map upsampled to the image (bilinear) and cut
  at the dataset-level threshold T_k, the ``quantile`` of all of unit k's
  activations (the paper's text: top 5 %; Bau et al.'s network dissection:
  top 0.5 %, ``quantile=0.995``) -> ``unit_thresholds``, ``unit_masks``;
- IoU(k, c) = sum_x |M_k(x) & L_c(x)| / sum_x |M_k(x) | L_c(x)| over a data
  set with concept masks L_c (Eq. 7) -> ``concept_iou``, ``dissect`` (streams batches,
  accumulating counts), ``concept_detectors`` (max_c IoU > 0.04);
- v(k) = E ||M_k(x) - M_k(x')||_2 over natural / adversarial pairs (Eq. 8)
  -> ``unit_sensitivity``; the p-value of the top-N sensitive units'
  summed IoU(k) against N random units -> ``sensitivity_p_value``.

Concept masks for the generated shapes set (object shape, object colour,
background texture): ``shapes_concepts`` (``shapes_concept_batches`` as a
stream); a real Broden folder: ``analysis.broden``.

``dissect`` holds one layer's activations over the whole set (exact
``np.quantile`` thresholds). ``dissect_stream`` reads a ``tf.data`` pipeline
(or any re-iterable of ``(images, masks)`` batches) with memory bounded by
one batch and a (K, bins) histogram, never the set: it passes over the
stream three times, all compiled -- per-unit min / max, then a per-unit
histogram of ``bins`` equal bins over that range from which T_k is read
(linear inside its bin; a quantile that falls on the minimum's point mass,
the zeros of a ReLU, is the minimum exactly), then the IoU counts. We chose
a fixed-range histogram (one pass for the range, one to fill it) over a
one-pass sketch (a reservoir sample or mergeable quantile summaries) because
its error is bounded and known: T_k is within
one bin, (max_k - min_k) / bins, of the activation np.quantile interpolates
up from (the exact T_k lies between it and the next one), and with the default
4096 bins the IoUs on the shapes set agree with ``dissect``'s within 0.002
(tests/analysis/test_dissection_stream.py). Given ``thresholds`` (say from a
subset) it makes the counting pass only.

    diss = dissect(clf, "features", d.x, *shapes_concepts(d))
    diss.iou                                   # (K units, C concepts)
    diss = dissect_stream(clf, "features", shapes_concept_batches(d, 64), names, cats)
    v = unit_sensitivity(clf, "features", x, x_adv, diss.thresholds)
    p = sensitivity_p_value(v, diss.iou.mean(1), n=10)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .._checks import in_range, positive
from .._compile import compile_fn, resolve_jit
from ..interpret.differentiable import upsample
from ..surgery import FeatureCapture


def unit_thresholds(activations, quantile: float = 0.995) -> np.ndarray:
    """T_k: the ``quantile`` of unit k's activations over every image and position; (K,) float32.

    Args:
        activations: (N, h, w, K) feature maps of one layer over the data set.
    """
    a = np.asarray(activations)
    if a.ndim != 4:
        raise ValueError(f"activations must be (N, h, w, K). Received: shape={a.shape}")
    quantile = in_range(quantile, "quantile", 0.0, 1.0)
    if quantile >= 1.0:
        raise ValueError(f"quantile must be < 1 (no activation lies above the maximum). Received: quantile={quantile}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"activations contain {int(np.sum(~np.isfinite(a)))} NaN or infinite value(s)")
    return np.quantile(a.reshape(-1, a.shape[-1]), quantile, axis=0).astype(np.float32)


def unit_masks(activations, thresholds, size) -> np.ndarray:
    """M_k(x): (N, H, W, K) bool, each unit's map upsampled to ``size`` = (H, W) and kept where >= T_k."""
    a = np.asarray(activations, np.float32)
    t = np.asarray(thresholds, np.float32)
    if a.ndim != 4 or t.shape != (a.shape[3],):
        raise ValueError(f"activations must be (N, h, w, K) and thresholds (K,). Received: {a.shape} and {t.shape}")
    n, h, w, k = a.shape
    maps = tf.reshape(tf.transpose(tf.constant(a), [0, 3, 1, 2]), [n * k, h, w])
    up = upsample(maps, int(size[0]), int(size[1])).numpy().reshape(n, k, size[0], size[1])
    return up.transpose(0, 2, 3, 1) >= t


def _counts(units, concepts):
    """|M_k & L_c| (K, C), |M_k| (K,), |L_c| (C,) summed over a batch of masks (N, H, W, K) and (N, H, W, C)."""
    m = units.reshape(-1, units.shape[-1]).astype(np.float32)
    lab = concepts.reshape(-1, concepts.shape[-1]).astype(np.float32)
    return (m.T @ lab).astype(np.float64), m.sum(0, dtype=np.float64), lab.sum(0, dtype=np.float64)


def _iou(inter, unit_area, concept_area):
    union = unit_area[:, None] + concept_area[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def concept_iou(units, concepts) -> np.ndarray:
    """Eq. 7 over a set: IoU(k, c) from unit masks (N, H, W, K) and concept masks (N, H, W, C), both bool; (K, C)."""
    units, concepts = np.asarray(units), np.asarray(concepts)
    if units.dtype != bool or concepts.dtype != bool or units.ndim != 4 or units.shape[:3] != concepts.shape[:3]:
        raise ValueError(f"units and concepts must be bool (N, H, W, K) and (N, H, W, C) over the same images. "
                         f"Received: {units.shape} {units.dtype} and {concepts.shape} {concepts.dtype}")
    return _iou(*_counts(units, concepts))


@dataclass
class Dissection:
    """IoU(k, c) of every unit of ``layer`` with every concept, and what it was computed with."""

    layer: str
    iou: np.ndarray
    thresholds: np.ndarray
    concepts: list[str]
    categories: list[str]
    quantile: float

    def detectors(self, threshold: float = 0.04) -> dict[str, np.ndarray]:
        return concept_detectors(self.iou, threshold)


def _concept_masks(masks, n, size) -> np.ndarray:
    m = np.asarray(masks)
    if m.ndim != 4 or m.dtype != bool or m.shape[:3] != (n, *size):
        raise ValueError(f"concept masks must be bool (N, H, W, C) = ({n}, {size[0]}, {size[1]}, C). Received: "
                         f"shape={m.shape}, dtype={m.dtype}")
    return m


def dissect(clf, layer: str, x, masks, concepts, categories=None, *, quantile: float = 0.995,
            batch_size: int = 32) -> Dissection:
    """Eq. 7 for every unit of ``layer`` and every concept, streaming ``batch_size`` images at a time.

    Args:
        x: (N, H, W, C) images in [0, 1].
        masks: (N, H, W, C_concepts) bool concept masks L_c.
        concepts: one name per concept; ``categories`` one category each.
        quantile: the threshold quantile T_k of each unit's activations.

    Activations are read once (kept for the thresholds); the masks, the
    (N, H, W, K) unit segmentations, are made and counted per batch.
    """
    x = clf.check_images(x)
    size = x.shape[1:3]
    masks = _concept_masks(masks, len(x), size)
    if len(concepts) != masks.shape[3]:
        raise ValueError(f"concepts must name the {masks.shape[3]} masks. Received: {len(concepts)} names")
    categories = list(categories) if categories is not None else ["concept"] * len(concepts)
    batch_size = positive(batch_size, "batch_size", integer=True)
    acts = FeatureCapture(clf, layer, batch_size=batch_size)(x)[layer]
    thresholds = unit_thresholds(acts, quantile)
    totals = None
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        counts = _counts(unit_masks(acts[sl], thresholds, size), masks[sl])
        totals = counts if totals is None else tuple(a + b for a, b in zip(totals, counts))
    return Dissection(layer, _iou(*totals), thresholds, list(concepts), categories, float(quantile))


def concept_detectors(iou, threshold: float = 0.04) -> dict[str, np.ndarray]:
    """Per unit: its top concept, that IoU, and whether it is a detector (max_c IoU > ``threshold``)."""
    iou = np.asarray(iou, np.float64)
    if iou.ndim != 2:
        raise ValueError(f"iou must be (K, C). Received: shape={iou.shape}")
    threshold = in_range(threshold, "threshold", 0.0, 1.0)
    best = iou.argmax(1)
    top = iou[np.arange(len(iou)), best]
    return {"concept": best, "iou": top, "detector": top > threshold}


def unit_sensitivity(clf, layer: str, x, x_adv, thresholds, *, batch_size: int = 32) -> np.ndarray:
    """Eq. 8: v(k) = mean over pairs of ||M_k(x) - M_k(x')||_2 (the square root of the pixels that flip); (K,)."""
    x = clf.check_images(x, "x")
    x_adv = clf.check_images(x_adv, "x_adv")
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have one shape. Received: {x.shape} and {x_adv.shape}")
    cap = FeatureCapture(clf, layer, batch_size=positive(batch_size, "batch_size", integer=True))
    total = None
    for start in range(0, len(x), batch_size):
        a = unit_masks(cap(x[start : start + batch_size])[layer], thresholds, x.shape[1:3])
        b = unit_masks(cap(x_adv[start : start + batch_size])[layer], thresholds, x.shape[1:3])
        flips = np.sqrt((a != b).sum(axis=(1, 2)))  # (n, K)
        total = flips.sum(0) if total is None else total + flips.sum(0)
    return total / len(x)


def sensitivity_p_value(sensitivity, interpretability, n: int, *, draws: int = 10000, seed: int = 0) -> float:
    """P(sum of IoU(k) over n random units >= that over the n most sensitive units), by permutation.

    Args:
        sensitivity: v(k), (K,).
        interpretability: IoU(k), (K,) (the paper: the mean of IoU(k, c) over concepts).
        n: the number of top sensitive units (1 <= n <= K).
        draws: random unit sets drawn (without replacement within a set).

    Returns:
        ``(1 + #{random sums >= observed}) / (1 + draws)``: small when the
        most sensitive units are also the most interpretable.
    """
    v, iou = np.asarray(sensitivity, np.float64), np.asarray(interpretability, np.float64)
    if v.ndim != 1 or v.shape != iou.shape:
        raise ValueError(f"sensitivity and interpretability must be (K,) each. Received: {v.shape} and {iou.shape}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(iou))):
        raise ValueError("sensitivity and interpretability must be finite (no NaN)")
    n = int(in_range(n, "n", 1, len(v), integer=True))
    draws = positive(draws, "draws", integer=True)
    observed = iou[np.argsort(-v, kind="stable")[:n]].sum()
    rng = np.random.default_rng(seed)
    picks = np.argsort(rng.random((draws, len(v))), axis=1)[:, :n]
    random_sums = iou[picks].sum(1)
    return float((1 + np.sum(random_sums >= observed - 1e-12)) / (1 + draws))


def shapes_concepts(d) -> tuple[np.ndarray, list[str], list[str]]:
    """Concept masks of a ``data.load("shapes")`` set: each shape and colour on the object, each texture off it.

    Returns:
        ``(masks (N, H, W, C) bool, names, categories)`` with categories
        ``shape``, ``colour`` and ``texture`` (Broden's object, colour and
        texture stand-ins).
    """
    from ..data import shapes

    if d.masks is None or "colour" not in d.concepts or "texture" not in d.concepts:
        raise ValueError(f"shapes_concepts needs the shapes set's masks and concepts. Received: data {d.name!r}")
    obj = d.masks
    out, names, cats = [], [], []
    for i, name in enumerate(shapes.SHAPES):
        out.append(obj & (d.y == i)[:, None, None])
        names.append(name)
        cats.append("shape")
    for i, name in enumerate(shapes.COLOURS):
        out.append(obj & (d.concepts["colour"] == i)[:, None, None])
        names.append(name)
        cats.append("colour")
    for i, name in enumerate(shapes.TEXTURES):
        out.append(~obj & (d.concepts["texture"] == i)[:, None, None])
        names.append(name)
        cats.append("texture")
    return np.stack(out, axis=-1), names, cats


# -- streaming ----------------------------------------------------------------------------------
def _batches(source, what="batches"):
    """Iterates ``(images, masks)`` numpy pairs of a tf.data.Dataset or a re-iterable; rejects one-shot iterators."""
    if iter(source) is source:
        raise ValueError(f"{what} must be re-iterable (a tf.data.Dataset, a list, ...): dissect_stream reads it up "
                         "to three times; a one-shot iterator or generator cannot be. "
                         f"Received: {type(source).__name__}")
    items = source.as_numpy_iterator() if isinstance(source, tf.data.Dataset) else source
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(f"each element of {what} must be an (images, masks) pair. Received: {type(item).__name__}")
        yield item


def _stream_fns(clf, layer, size, jit):
    """Compiled per-batch steps: (min, max) of each unit; histogram and the minimum's count; IoU counts."""
    cap = FeatureCapture(clf, layer, jit_compile=jit)
    net = cap.model

    def acts(x):
        return tf.cast(net(x, training=False)[layer], tf.float32)

    def extremes(x):
        a = acts(x)
        return tf.reduce_min(a, [0, 1, 2]), tf.reduce_max(a, [0, 1, 2])

    def histogram(x, lo, width, bins):
        a = tf.reshape(acts(x), [-1, tf.shape(lo)[0]])
        k = tf.shape(lo)[0]
        idx = tf.clip_by_value(tf.cast(tf.floor((a - lo) / width), tf.int32), 0, bins - 1)
        flat = tf.reshape(idx + tf.range(k)[None, :] * bins, [-1])
        counts = tf.math.bincount(flat, minlength=k * bins, maxlength=k * bins, dtype=tf.int64)
        at_min = tf.reduce_sum(tf.cast(a <= lo, tf.int64), 0)
        return tf.reshape(counts, [k, bins]), at_min

    def counts(x, masks, thresholds):
        a = acts(x)
        n, h, w, k = tf.shape(a)[0], a.shape[1], a.shape[2], a.shape[3]
        maps = tf.reshape(tf.transpose(a, [0, 3, 1, 2]), [-1, h, w])
        up = tf.reshape(upsample(maps, int(size[0]), int(size[1])), [n, k, size[0], size[1]])
        m = tf.cast(tf.transpose(up, [0, 2, 3, 1]) >= thresholds, tf.float32)
        m = tf.reshape(m, [-1, k])
        lab = tf.reshape(tf.cast(masks, tf.float32), [tf.shape(m)[0], -1])
        return tf.matmul(m, lab, transpose_a=True), tf.reduce_sum(m, 0), tf.reduce_sum(lab, 0)

    key = ("dissect_stream", layer, tuple(size), jit)
    return clf.compiled(key, lambda: tuple(compile_fn(f, jit, reduce_retracing=True)
                                           for f in (extremes, histogram, counts)))


def histogram_quantile(counts, at_min, lo, hi, quantile: float) -> np.ndarray:
    """T_k from per-unit histograms: counts (K, bins) of equal bins over [lo_k, hi_k], at_min (K,) values == lo_k.

    The rank ``quantile * (n - 1)`` of np.quantile's linear rule, found in its bin and placed inside the bin
    as if the bin's values were evenly spread; a rank inside the minimum's point mass gives lo_k exactly.
    """
    counts = np.asarray(counts, np.float64)
    k, bins = counts.shape
    total = counts.sum(1)
    rank = quantile * (total - 1)
    cum = np.cumsum(counts, 1)
    b = np.minimum((cum <= rank[:, None]).sum(1), bins - 1)
    below = np.take_along_axis(cum, b[:, None], 1)[:, 0] - counts[np.arange(k), b]
    inside = counts[np.arange(k), b]
    frac = np.clip((rank - below + 0.5) / np.maximum(inside, 1), 0.0, 1.0)
    width = (np.asarray(hi, np.float64) - lo) / bins
    t = np.asarray(lo, np.float64) + (b + frac) * width
    return np.where(rank < np.asarray(at_min) - 0.5, lo, np.minimum(t, hi)).astype(np.float32)


def dissect_stream(clf, layer: str, batches, concepts, categories=None, *, quantile: float = 0.995,
                   bins: int = 4096, thresholds=None, jit_compile="auto") -> Dissection:
    """Eq. 7 like ``dissect``, over a stream of ``(images, masks)`` batches in bounded memory.

    Args:
        batches: a ``tf.data.Dataset`` (or a list or other re-iterable) of ``(images (n, H, W, C) in
            [0, 1], masks (n, H, W, C_concepts) bool)``; every batch with the same H, W and C_concepts.
        quantile: T_k's quantile, as ``dissect``; ``bins`` the histogram's resolution (see the module
            docstring for the error this allows).
        thresholds: (K,) T_k to use as they are: one counting pass, ``quantile`` only recorded.

    Memory: one batch, its (n, H, W, K) unit masks inside the compiled step, and (K, bins) int64.
    """
    categories = list(categories) if categories is not None else ["concept"] * len(concepts)
    if len(categories) != len(concepts):
        raise ValueError(f"categories must give one category per concept. Received: {len(categories)} categories "
                         f"for {len(concepts)} concepts")
    quantile = in_range(quantile, "quantile", 0.0, 1.0)
    if quantile >= 1.0:
        raise ValueError(f"quantile must be < 1 (no activation lies above the maximum). Received: quantile={quantile}")
    bins = positive(bins, "bins", integer=True)
    units = FeatureCapture(clf, layer).model.output[layer].shape[-1]  # an unknown layer fails here, named
    if thresholds is not None and np.shape(thresholds) != (units,):
        raise ValueError(f"thresholds must be ({units},), one per unit of {layer!r}. Received: "
                         f"shape={np.shape(thresholds)}")
    jit = resolve_jit(jit_compile, clf)
    fns, size = None, None

    def checked():
        nonlocal fns, size
        for x, m in _batches(batches):
            x = clf.check_images(np.asarray(x), "images")
            if size is None:
                size = x.shape[1:3]
                fns = _stream_fns(clf, layer, size, jit)
            m = _concept_masks(np.asarray(m), len(x), size)
            if m.shape[3] != len(concepts):
                raise ValueError(f"concepts must name the {m.shape[3]} masks of each batch. Received: "
                                 f"{len(concepts)} names")
            yield x, m

    if thresholds is None:
        lo = hi = None
        for x, _ in checked():
            a, b = (v.numpy() for v in fns[0](x))
            lo, hi = (a, b) if lo is None else (np.minimum(lo, a), np.maximum(hi, b))
        if lo is None:
            raise ValueError("batches is empty: no image to dissect")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"activations of layer {layer!r} contain NaN or infinite values")
        width = np.maximum((hi - lo) / bins, np.finfo(np.float32).tiny).astype(np.float32)
        hist, at_min = np.zeros((len(lo), bins), np.int64), np.zeros(len(lo), np.int64)
        for x, _ in checked():
            h, z = fns[1](x, tf.constant(lo), tf.constant(width), tf.constant(bins))
            hist += h.numpy()
            at_min += z.numpy()
        thresholds = histogram_quantile(hist, at_min, lo, hi, quantile)
    thresholds = np.asarray(thresholds, np.float32)
    totals = None
    for x, m in checked():
        c = tuple(v.numpy().astype(np.float64) for v in fns[2](x, m, tf.constant(thresholds)))
        totals = c if totals is None else tuple(a + b for a, b in zip(totals, c))
    if totals is None:
        raise ValueError("batches is empty: no image to dissect")
    return Dissection(layer, _iou(*totals), thresholds, list(concepts), categories, float(quantile))


def shapes_concept_batches(d, batch_size: int = 64) -> tf.data.Dataset:
    """``(images, concept masks)`` batches of a shapes set, the masks made per batch (``shapes_concepts``).

    Holds the set's images and object masks, never the (N, H, W, 20) concept masks.
    """
    from dataclasses import replace

    def part(sl):
        return replace(d, x=d.x[sl], y=d.y[sl], masks=None if d.masks is None else d.masks[sl],
                       concepts={k: v[sl] for k, v in d.concepts.items()})

    batch_size = positive(batch_size, "batch_size", integer=True)
    names = shapes_concepts(part(slice(0, 1)))[1]  # checks d is a shapes set before the stream is built

    def gen():
        for start in range(0, len(d), batch_size):
            sl = slice(start, start + batch_size)
            yield d.x[sl], shapes_concepts(part(sl))[0]

    h, w, c = d.x.shape[1:]
    sig = (tf.TensorSpec((None, h, w, c), tf.float32), tf.TensorSpec((None, h, w, len(names)), tf.bool))
    return tf.data.Dataset.from_generator(gen, output_signature=sig)

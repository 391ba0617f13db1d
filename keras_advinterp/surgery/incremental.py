"""Logits of many copies of one image, each changed only inside its own box: incremental inference.

Grid sensitivity (seeds/001_13ab3436c62e81d7.txt, Eqs. 1-3) runs the
network on m copies of x', copy i differing from x' only inside grid i.
A convolution's output changes only where its window meets the change, so
for the first layers each copy needs just a window of every feature map:
the unchanged image's feature maps are computed once, and each copy
computes its window, reading the unchanged values around it from them.
The window grows with every layer; where it would cover more than
``max_fraction`` of a map, the copies are written out whole and the rest of
the network runs as usual. (The same idea as incremental inference for
occlusion maps, Nakandala et al., SIGMOD 2019.) The result is exact: every
window value is computed from exact inputs, and outside the windows the
copies equal the unchanged image.

Layers the windows pass through: Conv2D (ungrouped), DepthwiseConv2D,
MaxPooling2D, AveragePooling2D (valid padding), ZeroPadding2D, the
pointwise layers (batch normalisation, activations, rescaling, the
package's pixel preprocessing, inference-time dropout and noise), and Add,
Subtract, Multiply, Average, Maximum, Minimum and channel Concatenate.
``ResizeTo`` (our bilinear input resize) is run whole on the copies and the
windows start again after it. Any other layer writes the copies out whole
first, so every Keras model gives the right logits; only the saving varies
(``plan`` reports it).

    fwd = IncrementalForward(clf.model, boxes, (H, W, C))   # boxes (m, 4): y0, y1, x0, x1 in input pixels
    fwd.saving                                     # share of conv multiply-adds not computed
    z_clean, z = fwd(xa, x0, ids)                  # logits of xa, and of xa with box ids[j] taken from x0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from .._checks import choice
from ..models.layers import PixelPreprocessing, ResizeTo

METHODS = ("auto", "incremental", "full")
MIN_SAVING = 0.2  # auto: windows only where they leave out at least this share of the conv multiply-adds

POINTWISE = (
    keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
    keras.layers.ELU, keras.layers.Rescaling, keras.layers.Dropout, keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise, keras.layers.GaussianDropout, keras.layers.AlphaDropout, keras.layers.Identity,
    PixelPreprocessing,
)
MERGE = (keras.layers.Add, keras.layers.Subtract, keras.layers.Multiply, keras.layers.Average,
         keras.layers.Maximum, keras.layers.Minimum, keras.layers.Concatenate)


def check_max_fraction(max_fraction) -> float:
    """``max_fraction`` as a float in (0, 1], else a ValueError naming it."""
    if not 0 < max_fraction <= 1:
        raise ValueError(f"max_fraction must be in (0, 1]. Received: max_fraction={max_fraction!r}")
    return float(max_fraction)


def check_method(method) -> str:
    """``method`` checked against ``METHODS`` (``auto``, ``incremental``, ``full``)."""
    return choice(method, "method", METHODS)


def forward_for(method: str, model, boxes, image_shape, *, max_fraction: float = 0.5, name: str = "model",
                caller: str = "incremental inference"):
    """The ``IncrementalForward`` to run the copies with under ``method``, or None for the plain forward.

    ``full``: None. ``incremental``: the forward; a model the window rules
    cannot run is a ValueError. ``auto``: the forward where it leaves out
    at least ``MIN_SAVING`` of the conv multiply-adds, else None; a model
    the rules cannot run gives a warning (from ``caller``) and None.
    """
    if check_method(method) == "full":
        return None
    try:
        fwd = IncrementalForward(model, boxes, image_shape, max_fraction=max_fraction)
    except Exception as e:  # noqa: BLE001 -- any model the window rules cannot run takes the plain forward
        reason = f"{type(e).__name__}: {e}"
        if method == "incremental":
            raise ValueError(f"method='incremental' cannot run model {name!r}: {reason}. Use method='full'.") from e
        warnings.warn(f"{caller}: incremental inference cannot run model {name!r} ({reason}); using the plain "
                      f"forward", stacklevel=3)
        return None
    return fwd if method == "incremental" or fwd.saving >= MIN_SAVING else None


@dataclass
class _Windows:
    """A batch of copies of one tensor that differ from ``clean`` only inside per-copy windows.

    ``clean`` (1, H, W, C); ``patch`` (k, h, w, C) the copies' values on
    their windows; ``top`` / ``left`` (m,) int32 numpy: each grid's window
    offset (static); ``ids`` (k,) the grid of each copy; ``box`` (m, 4) the
    changed region per grid (y0, y1, x0, x1; inside the window).
    """

    clean: tf.Tensor
    patch: tf.Tensor
    top: np.ndarray
    left: np.ndarray
    box: np.ndarray
    ids: tf.Tensor

    @property
    def size(self) -> tuple[int, int]:
        return int(self.patch.shape[1]), int(self.patch.shape[2])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.clean.shape[1]), int(self.clean.shape[2])


def _window_offsets(lo: np.ndarray, hi: np.ndarray, extent: int) -> tuple[np.ndarray, int]:
    """One window size for every grid (the largest change) and each grid's offset, kept inside ``extent``."""
    size = int(max(1, (hi - lo).max()))
    return np.clip(lo, 0, max(extent - size, 0)).astype(np.int32), min(size, extent)


def _read(t: _Windows, top: np.ndarray, left: np.ndarray, size: tuple[int, int]) -> tf.Tensor:
    """(k, h, w, C): each copy's values on the window at (top, left) of ``size``: its patch where it has one,
    the clean tensor elsewhere."""
    clean = t.clean
    rows = tf.gather(tf.constant(top), t.ids)[:, None] + tf.range(size[0])[None]      # (k, h)
    cols = tf.gather(tf.constant(left), t.ids)[:, None] + tf.range(size[1])[None]     # (k, w)
    base = tf.gather(tf.gather(clean[0], rows), cols, axis=2, batch_dims=1)
    py = rows - tf.gather(tf.constant(t.top), t.ids)[:, None]
    px = cols - tf.gather(tf.constant(t.left), t.ids)[:, None]
    ph, pw = t.size
    inside = ((py >= 0) & (py < ph))[:, :, None, None] & ((px >= 0) & (px < pw))[:, None, :, None]
    own = tf.gather(t.patch, tf.clip_by_value(py, 0, ph - 1), axis=1, batch_dims=1)
    own = tf.gather(own, tf.clip_by_value(px, 0, pw - 1), axis=2, batch_dims=1)
    return tf.where(inside, own, base)


def _whole(t: _Windows) -> tf.Tensor:
    """(k, H, W, C): every copy written out in full."""
    h, w = t.shape
    zeros = np.zeros_like(t.top)
    return _read(t, zeros, zeros, (h, w))


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class IncrementalForward:
    """Logits of k copies of one image, copy j changed only inside box ``ids[j]``, computed window by window.

    Args:
        model: a single-input Keras functional model taking (N, H, W, C)
            images (nested models are opened first).
        boxes: (m, 4) int: y0, y1, x0, x1 (end exclusive) of each box, in
            input pixels; box i is where copy ``ids == i`` may differ.
        image_shape: (H, W, C) of the images the forward will take.
        max_fraction: a feature map is written out whole once a copy's
            window would cover more than this share of it.

    Call ``fwd(xa, x0, ids)`` inside or outside ``tf.function``: ``xa``,
    ``x0`` (H, W, C) the image and the source of the changed pixels, ``ids``
    (k,) int32 box indices. Returns ``(z_clean (classes,), z (k, classes))``:
    the logits of ``xa`` and of each copy (xa with box ``ids[j]`` taken from
    x0). ``plan`` lists how each layer ran; ``saving`` is the share of the
    convolutions' multiply-adds the windows leave out.
    """

    def __init__(self, model: keras.Model, boxes, image_shape, *, max_fraction: float = 0.5):
        from .graph import is_flat, rebuild

        if not isinstance(model, keras.Model) or len(model.inputs) != 1:
            raise ValueError(f"model must be a single-input keras.Model. Received: {type(model).__name__}")
        if not is_flat(model):
            model = rebuild(model, copy=False)[0]
        if not hasattr(model, "_nodes_by_depth"):
            raise ValueError(f"incremental inference needs a functional Keras model (a graph of layers); "
                             f"{model.name!r} is a subclassed model. Use the plain forward instead.")
        if len(model.inputs[0].shape) != 4:
            raise ValueError(f"the model's input must be images (N, H, W, C). Received: input shape "
                             f"{model.inputs[0].shape}")
        shape = tuple(int(v) for v in image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be (H, W, C). Received: image_shape={image_shape!r}")
        boxes = np.asarray(boxes).astype(np.int32)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
            raise ValueError(f"boxes must be (m, 4): y0, y1, x0, x1 per box. Received: shape={boxes.shape}")
        h, w = shape[:2]
        bad = (boxes[:, 0] < 0) | (boxes[:, 1] > h) | (boxes[:, 0] >= boxes[:, 1]) | \
              (boxes[:, 2] < 0) | (boxes[:, 3] > w) | (boxes[:, 2] >= boxes[:, 3])
        if bad.any():
            raise ValueError(f"every box must lie inside the {h} x {w} input with y0 < y1, x0 < x1; "
                             f"box {int(np.flatnonzero(bad)[0])} is {boxes[bad][0].tolist()}")
        self.model, self.boxes = model, boxes
        self.max_fraction = check_max_fraction(max_fraction)
        self.plan: list[tuple[str, str, float]] = []   # (layer, how it ran, share of its output computed)
        self._macs: list[tuple[float, float]] = []       # per conv layer: (full, computed) multiply-adds
        self._planning = True
        probe = tf.zeros((1, *shape), model.inputs[0].dtype)
        self(probe[0], probe[0], tf.zeros((1,), tf.int32))  # records the plan on concrete shapes
        self._planning = False

    @property
    def saving(self) -> float:
        """Share of the conv layers' multiply-adds that the windows leave out (0: none)."""
        full = sum(f for f, _ in self._macs)
        return 0.0 if full == 0 else 1.0 - sum(c for _, c in self._macs) / full

    # ---------------------------------------------------------------- running
    def __call__(self, xa, x0, ids):
        xa = tf.convert_to_tensor(xa)
        x0 = tf.cast(tf.convert_to_tensor(x0), xa.dtype)
        ids = tf.cast(tf.convert_to_tensor(ids), tf.int32)
        b = self.boxes
        top, left = b[:, 0].astype(np.int32), b[:, 2].astype(np.int32)
        size = (int((b[:, 1] - b[:, 0]).max()), int((b[:, 3] - b[:, 2]).max()))
        h, w = xa.shape[0], xa.shape[1]
        top, left = np.minimum(top, h - size[0]).astype(np.int32), np.minimum(left, w - size[1]).astype(np.int32)
        # each copy's window of the input: x0 inside its box, xa elsewhere in the window
        rows = tf.gather(tf.constant(top), ids)[:, None] + tf.range(size[0])[None]
        cols = tf.gather(tf.constant(left), ids)[:, None] + tf.range(size[1])[None]
        inside = (_in_box(rows, tf.gather(tf.constant(b[:, 0]), ids), tf.gather(tf.constant(b[:, 1]), ids))[:, :, None]
                  & _in_box(cols, tf.gather(tf.constant(b[:, 2]), ids), tf.gather(tf.constant(b[:, 3]), ids))[:, None])
        take = lambda img: tf.gather(tf.gather(img, rows), cols, axis=2, batch_dims=1)  # noqa: E731
        patch = tf.where(inside[..., None], take(x0), take(xa))
        start = _Windows(clean=xa[None], patch=patch, top=top, left=left, box=b, ids=ids)
        if self._planning:
            self.plan, self._macs = [], []
        out = self.model._run_through_graph(start, call_fn=self._call)
        if isinstance(out, _Windows):  # a model whose output is a feature map
            return out.clean[0], _whole(out)
        return out.clean[0], out.copies

    def _note(self, layer, how: str, share: float, macs: float = 0.0):
        if self._planning:
            self.plan.append((layer.name, how, round(float(share), 4)))
            if macs:
                self._macs.append((macs, macs * share))

    def _call(self, layer, *args, **kwargs):
        flat = [v for a in args for v in (a if isinstance(a, (list, tuple)) else [a])]
        windowed = [v for v in flat if isinstance(v, _Windows)]
        if not any(isinstance(v, (_Windows, _Pair)) for v in flat):
            return layer(*args, **kwargs)  # not derived from the image
        if not windowed:  # whole copies from here on
            return self._whole_call(layer, args, kwargs)
        if isinstance(layer, ResizeTo):
            return self._resize(layer, windowed[0])
        if isinstance(layer, POINTWISE) and len(flat) == 1 and \
                (not isinstance(layer, keras.layers.BatchNormalization) or layer.axis in (-1, 3)):
            t = windowed[0]
            out = _Windows(clean=layer(t.clean, **kwargs), patch=layer(t.patch, **kwargs), top=t.top, left=t.left,
                           box=t.box, ids=t.ids)
            self._note(layer, "window", _share(out))
            return out
        if isinstance(layer, keras.layers.ZeroPadding2D) and layer.data_format == "channels_last":
            t = windowed[0]
            (pt, _), (pl, _) = layer.padding
            out = _Windows(clean=layer(t.clean), patch=t.patch, top=t.top + pt, left=t.left + pl,
                           box=t.box + np.array([pt, pt, pl, pl]), ids=t.ids)
            self._note(layer, "window", _share(out))
            return out
        spatial = _spatial_op(layer)
        if spatial is not None:
            out = self._spatial(layer, windowed[0], *spatial)
            if out is not None:
                return out
        elif isinstance(layer, MERGE) and len(flat) == len(windowed) and \
                (not isinstance(layer, keras.layers.Concatenate) or layer.axis in (-1, 3)):
            out = self._merge(layer, windowed)
            if out is not None:
                return out
        return self._whole_call(layer, args, kwargs, reason="whole")

    def _whole_call(self, layer, args, kwargs, reason: str = "whole"):
        """Runs ``layer`` on the whole copies (windowed inputs written out first) and on the unchanged image."""
        def side(v, copies: bool):
            if isinstance(v, _Windows):
                return _whole(v) if copies else v.clean
            if isinstance(v, _Pair):
                return v.copies if copies else v.clean
            return v

        def each(copies: bool):
            return [[side(v, copies) for v in a] if isinstance(a, (list, tuple)) else side(a, copies) for a in args]

        out = _Pair(clean=layer(*each(False), **kwargs), copies=layer(*each(True), **kwargs))
        self._note(layer, reason, 1.0, _conv_macs(layer, out.clean.shape))
        return out

    def _resize(self, layer: ResizeTo, t: _Windows):
        h, w = t.shape
        if (h, w) == (layer.height, layer.width):
            self._note(layer, "window (identity)", _share(t))
            return t
        copies, clean = layer(_whole(t)), layer(t.clean)
        lo_y, hi_y = _resized_span(t.box[:, 0], t.box[:, 1], h, layer.height)
        lo_x, hi_x = _resized_span(t.box[:, 2], t.box[:, 3], w, layer.width)
        top, sh = _window_offsets(lo_y, hi_y, layer.height)
        left, sw = _window_offsets(lo_x, hi_x, layer.width)
        rows = tf.gather(tf.constant(top), t.ids)[:, None] + tf.range(sh)[None]
        cols = tf.gather(tf.constant(left), t.ids)[:, None] + tf.range(sw)[None]
        patch = tf.gather(tf.gather(copies, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        out = _Windows(clean=clean, patch=patch, top=top, left=left,
                       box=np.stack([lo_y, hi_y, lo_x, hi_x], 1), ids=t.ids)
        self._note(layer, "whole, then windows", _share(out))
        return out

    def _spatial(self, layer, t: _Windows, kernel, strides, dilation, padding, op):
        h, w = t.shape
        keff = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
        pads = [(0, 0), (0, 0)] if padding == "valid" else \
            [_same_padding(n, k, s) for n, k, s in zip((h, w), keff, strides)]
        hp, wp = h + sum(pads[0]), w + sum(pads[1])
        ho, wo = (hp - keff[0]) // strides[0] + 1, (wp - keff[1]) // strides[1] + 1
        box = t.box + np.array([pads[0][0], pads[0][0], pads[1][0], pads[1][0]])
        spans = []
        for (a, b), k, s, n in ((box[:, :2].T, keff[0], strides[0], ho), (box[:, 2:].T, keff[1], strides[1], wo)):
            spans.append((np.maximum((a - k) // s + 1, 0), np.minimum(-(-b // s), n)))
        (lo_y, hi_y), (lo_x, hi_x) = spans
        top, sh = _window_offsets(lo_y, hi_y, ho)
        left, sw = _window_offsets(lo_x, hi_x, wo)
        share = sh * sw / (ho * wo)
        if share > self.max_fraction:
            return None
        fill = 0.0 if not isinstance(layer, keras.layers.MaxPooling2D) else -np.inf
        clean_in = t.clean if padding == "valid" else tf.pad(t.clean, [(0, 0), *pads, (0, 0)], constant_values=fill)
        shifted = _Windows(clean=clean_in, patch=t.patch, top=t.top + pads[0][0], left=t.left + pads[1][0],
                           box=box, ids=t.ids)
        ctx_top, ctx_left = top * strides[0], left * strides[1]
        ctx_size = ((sh - 1) * strides[0] + keff[0], (sw - 1) * strides[1] + keff[1])
        if ctx_size == t.size and np.array_equal(ctx_top, shifted.top) and np.array_equal(ctx_left, shifted.left):
            ctx = t.patch  # a 1 x 1, stride-1 kernel: the window is its own context
        else:
            ctx = _read(shifted, ctx_top, ctx_left, ctx_size)
        out = _Windows(clean=layer(t.clean), patch=op(ctx), top=top, left=left,
                       box=np.stack([lo_y, hi_y, lo_x, hi_x], 1), ids=t.ids)
        self._note(layer, "window", share, _conv_macs(layer, out.clean.shape))
        return out

    def _merge(self, layer, inputs: list[_Windows]):
        h, w = inputs[0].shape
        if any(t.shape != (h, w) for t in inputs):
            return None
        boxes = np.stack([t.box for t in inputs])
        lo_y, hi_y = boxes[:, :, 0].min(0), boxes[:, :, 1].max(0)
        lo_x, hi_x = boxes[:, :, 2].min(0), boxes[:, :, 3].max(0)
        top, sh = _window_offsets(lo_y, hi_y, h)
        left, sw = _window_offsets(lo_x, hi_x, w)
        if sh * sw / (h * w) > self.max_fraction:
            return None
        same = all(t.size == (sh, sw) and np.array_equal(t.top, top) and np.array_equal(t.left, left)
                   for t in inputs)
        patches = [t.patch if same else _read(t, top, left, (sh, sw)) for t in inputs]
        out = _Windows(clean=layer([t.clean for t in inputs]), patch=layer(patches), top=top, left=left,
                       box=np.stack([lo_y, hi_y, lo_x, hi_x], 1), ids=inputs[0].ids)
        self._note(layer, "window", _share(out))
        return out


@dataclass
class _Pair:
    """A tensor of the whole copies with the unchanged image's tensor beside it (after the windows end)."""

    clean: tf.Tensor
    copies: tf.Tensor


def _copies(v):
    return v.copies if isinstance(v, _Pair) else v


def _clean(v):
    return v.clean if isinstance(v, _Pair) else v


def _in_box(idx, lo, hi):
    return (idx >= lo[:, None]) & (idx < hi[:, None])


def _share(t: _Windows) -> float:
    h, w = t.shape
    return t.size[0] * t.size[1] / (h * w)


def _resized_span(lo: np.ndarray, hi: np.ndarray, n_in: int, n_out: int):
    """Output rows of a bilinear (half-pixel) resize from n_in to n_out that read input rows in [lo, hi),
    with one row of margin."""
    j = np.arange(n_out)
    c = np.floor((j + 0.5) * n_in / n_out - 0.5)
    reads_lo, reads_hi = c - 1, c + 3  # rows floor(c) and floor(c) + 1, one of margin each side
    hit = (reads_lo[None] < hi[:, None]) & (reads_hi[None] > lo[:, None])
    first = np.argmax(hit, axis=1)
    last = n_out - np.argmax(hit[:, ::-1], axis=1)
    return first.astype(np.int32), last.astype(np.int32)


def _spatial_op(layer):
    """(kernel, strides, dilation, padding, op on a valid window) for the layers windows pass, else None."""
    cfg = layer.get_config()
    if cfg.get("data_format", "channels_last") != "channels_last":
        return None
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        if layer.strides[0] != layer.strides[1]:
            return None

        def op(x):
            y = tf.nn.depthwise_conv2d(x, tf.cast(layer.kernel, x.dtype), [1, *layer.strides, 1], "VALID",
                                       dilations=layer.dilation_rate)
            y = y + tf.cast(layer.bias, x.dtype) if layer.use_bias else y
            return layer.activation(y)
        return layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding, op
    if type(layer) is keras.layers.Conv2D:
        if layer.groups != 1:
            return None

        def op(x):
            y = tf.nn.convolution(x, tf.cast(layer.kernel, x.dtype), strides=layer.strides, padding="VALID",
                                  dilations=layer.dilation_rate)
            y = y + tf.cast(layer.bias, x.dtype) if layer.use_bias else y
            return layer.activation(y)
        return layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding, op
    if isinstance(layer, keras.layers.MaxPooling2D):
        return layer.pool_size, layer.strides, (1, 1), layer.padding, \
            lambda x: tf.nn.max_pool2d(x, layer.pool_size, layer.strides, "VALID")
    if isinstance(layer, keras.layers.AveragePooling2D) and layer.padding == "valid":
        return layer.pool_size, layer.strides, (1, 1), "valid", \
            lambda x: tf.nn.avg_pool2d(x, layer.pool_size, layer.strides, "VALID")
    return None


def _conv_macs(layer, shape) -> float:
    """Multiply-adds of one image through a conv layer whose output is ``shape`` (0 for other layers)."""
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        return 0.0
    kernel = layer.kernel.shape
    per = float(np.prod(kernel[:2])) if isinstance(layer, keras.layers.DepthwiseConv2D) \
        else float(np.prod(kernel[:-1]))
    return per * float(np.prod(shape[1:]))

"""The serving graph: one ``tf.Module`` whose functions become the SavedModel's signatures.

Every function takes float pixels in [0, 1], NHWC at the model's input size
(``images``), or encoded image files (``image_bytes``: PNG, JPEG, GIF or BMP,
8 or 16 bits) that the graph decodes and fits to that size itself:

- ``predict`` -> class probabilities and the top-k classes with their names;
- ``explain`` -> the above and the interpreter's map of the top class;
- ``guarded`` -> the above and a detector's score and verdict, in one call.
  When the detector computes the same map itself (the saliency detector with
  the export's interpreter), the map is shared, so ``guarded`` costs less
  than ``predict`` + ``explain`` + the detector run separately.

Inputs are checked inside the graph, so a TF Serving client gets a clear
message too (not only Python callers): the image shape, finite values and
the [0, 1] range (the usual mistake is sending 0-255 pixels).

Decoding ``image_bytes`` follows ``data.read_image``: bit depth scaled to
[0, 1] (8 and 16 bits), grey repeated to RGB or RGB to grey by ITU-R 601
luma, alpha composited over white, then the ``resize`` mode (``center-crop``
by default). Resampling is TensorFlow's antialiased bilinear, close to but
not bit-identical with the Python loader's (Pillow). TensorFlow's decoders
ignore EXIF orientation, so the graph reads the orientation tag of a JPEG
itself (``exif_orientation``) and turns the pixels upright as Pillow's
``exif_transpose`` does; other formats' EXIF (rare: PNG eXIf, WebP) is not
read, and ``serving.encode_image`` applies it on the client side.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..data.images import LUMA, RESIZE_MODES

WHITE = 1.0  # what transparent pixels and pad borders become (data.images.DEFAULT_BACKGROUND)


_EXIF_HEADER = (0x45, 0x78, 0x69, 0x66, 0, 0)  # "Exif\0\0"
_SCAN = 65536 + 4096  # EXIF sits in an APP1 segment of at most 64 KiB near the start of the file


def exif_orientation(data):
    """The EXIF orientation (1-8) of an encoded JPEG, or 1 (none, not a JPEG, or malformed); pure TensorFlow.

    Walks the first 8 APPn segments after the start-of-image marker for an
    ``Exif\\0\\0`` APP1, then the first 32 entries of IFD0 for tag 0x0112,
    in either byte order. Every read is clipped to the scanned prefix, so a
    malformed file yields 1, never an error.
    """
    raw = tf.cast(tf.io.decode_raw(tf.strings.substr(data, 0, _SCAN), tf.uint8), tf.int32)
    buf = tf.concat([raw, tf.zeros([16], tf.int32)], 0)
    last = tf.size(buf) - 1

    def byte(i):
        return tf.gather(buf, tf.clip_by_value(i, 0, last))

    pos, found = tf.constant(2), tf.constant(-1)
    for _ in range(8):  # unrolled: a handful of segment headers
        is_app = tf.equal(byte(pos), 0xFF) & (byte(pos + 1) >= 0xE0) & (byte(pos + 1) <= 0xEF) & (found < 0)
        is_exif = is_app & tf.equal(byte(pos + 1), 0xE1)
        for k, b in enumerate(_EXIF_HEADER):
            is_exif &= tf.equal(byte(pos + 4 + k), b)
        found = tf.where(is_exif, pos, found)
        pos = tf.where(is_app & ~is_exif, pos + 2 + byte(pos + 2) * 256 + byte(pos + 3), pos)
    tiff = found + 10
    little = tf.equal(byte(tiff), 0x49)  # "II": little-endian, "MM": big-endian

    def u16(i):
        return tf.where(little, byte(i) + byte(i + 1) * 256, byte(i) * 256 + byte(i + 1))

    def u32(i):
        lo, hi = u16(i), u16(i + 2)
        return tf.where(little, lo + hi * 65536, lo * 65536 + hi)

    ifd = tiff + tf.clip_by_value(u32(tiff + 4), 0, _SCAN)
    count = u16(ifd)
    entries = ifd + 2 + 12 * tf.range(32)
    match = tf.equal(u16(entries), 0x0112) & (tf.range(32) < count)
    value = tf.reduce_max(tf.where(match, u16(entries + 8), 0))
    jpeg = tf.equal(byte(0), 0xFF) & tf.equal(byte(1), 0xD8)
    ok = jpeg & (found >= 0) & (value >= 1) & (value <= 8)
    return tf.where(ok, value, 1)


def upright(img, orientation):
    """(h, w, c) pixels turned as EXIF ``orientation`` says (Pillow's ``exif_transpose``)."""
    def transpose():
        return tf.transpose(img, [1, 0, 2])

    return tf.switch_case(orientation - 1, [
        lambda: img,                                   # 1: as stored
        lambda: img[:, ::-1],                          # 2: mirrored left-right
        lambda: tf.image.rot90(img, 2),                # 3: rotated 180
        lambda: img[::-1],                             # 4: mirrored top-bottom
        transpose,                                     # 5: transposed
        lambda: tf.image.rot90(img, 3),                # 6: rotate 90 clockwise to view
        lambda: tf.image.rot90(transpose(), 2),        # 7: transverse
        lambda: tf.image.rot90(img, 1),                # 8: rotate 90 counter-clockwise to view
    ])


def _settings(interpreter) -> dict:
    """What decides an interpreter's maps (not how it is compiled)."""
    return {k: v for k, v in interpreter.params().items() if k != "jit_compile"}


class ServingGraph(tf.Module):
    """The classifier, its interpreter and (optionally) a fitted detector as pure TensorFlow functions.

    Args:
        clf: the Classifier (raw [0, 1] pixels -> logits).
        interpreter: a differentiable interpreter built on ``clf`` (``interpret.differentiable``).
        detector: a fitted, graph-safe Detector on ``clf``, or None (no ``guarded`` functions).
        top_k: how many classes the outputs list (clipped to the number of classes).
        resize: how ``image_bytes`` are fitted to the input: ``center-crop``, ``squash`` or ``pad``.
    """

    def __init__(self, clf, interpreter, detector=None, *, top_k: int = 5, resize: str = "center-crop"):
        super().__init__(name=f"{clf.name}_serving")
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}. Received: resize={resize!r}")
        self.clf, self.interpreter, self.detector = clf, interpreter, detector
        self.top_k = int(min(top_k, clf.num_classes))
        self.resize = resize
        self.height, self.width, self.channels = clf.input_shape
        self.threshold = None
        if detector is not None:
            self.threshold = float(detector.checked_threshold())
        self.share_map = bool(
            detector is not None and getattr(detector, "interpreter", None) is not None
            and type(detector.interpreter) is type(interpreter)
            and _settings(detector.interpreter) == _settings(interpreter))
        self._names = tf.constant(np.asarray(clf.class_names, dtype=object))

    # -- input ---------------------------------------------------------------
    @property
    def image_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None, self.height, self.width, self.channels], tf.float32, name="images")

    @property
    def bytes_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None], tf.string, name="image_bytes")

    def checked(self, images):
        """``images`` after in-graph checks of shape, finiteness and range (clear messages for any client)."""
        want = (self.height, self.width, self.channels)
        shape_msg = (f"images must be float pixels shaped (batch, {want[0]}, {want[1]}, {want[2]}) "
                     f"for model {self.clf.name!r}; resize them first or send image_bytes")
        checks = [
            tf.debugging.assert_equal(tf.shape(images)[1:], tf.constant(want, tf.int32), message=shape_msg),
            tf.debugging.assert_all_finite(images, "images hold NaN or inf values"),
            tf.debugging.assert_greater_equal(
                tf.reduce_min(images), 0.0, message="images must be in [0, 1]; found a value below 0"),
            tf.debugging.assert_less_equal(
                tf.reduce_max(images), 1.0,
                message="images must be in [0, 1]; found a value above 1 (0-255 pixels? divide by 255)"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(images)

    def decode(self, image_bytes):
        """Encoded images (N,) -> float pixels (N, H, W, C) in [0, 1] at the model's size."""
        return tf.map_fn(self._decode_one, image_bytes,
                         fn_output_signature=tf.TensorSpec([self.height, self.width, self.channels], tf.float32))

    def _decode_one(self, data):
        # uint16 keeps 16-bit PNGs exact; 8-bit files are scaled by 257, so /65535 is exact for both.
        img = tf.io.decode_image(data, channels=0, dtype=tf.uint16, expand_animations=False)
        img = upright(tf.cast(img, tf.float32) / 65535.0, exif_orientation(data))
        k = tf.shape(img)[-1]
        img = tf.switch_case(k - 1, [lambda: self._colour(img[..., :1], None, 1),
                                     lambda: self._colour(img[..., :1], img[..., 1:2], 1),
                                     lambda: self._colour(img[..., :3], None, 3),
                                     lambda: self._colour(img[..., :3], img[..., 3:4], 3)])
        return self._fit(img)

    def _colour(self, colour, alpha, c: int):
        colour = tf.ensure_shape(colour, [None, None, c])
        if c == 1 and self.channels == 3:
            colour = tf.tile(colour, [1, 1, 3])
        elif c == 3 and self.channels == 1:
            colour = tf.tensordot(colour, tf.constant(LUMA, tf.float32), axes=[[2], [0]])[..., None]
        if alpha is not None:
            colour = colour * alpha + WHITE * (1.0 - alpha)
        return tf.clip_by_value(tf.ensure_shape(colour, [None, None, self.channels]), 0.0, 1.0)

    def _fit(self, img):
        size = tf.constant([self.height, self.width], tf.int32)
        hw = tf.shape(img)[:2]
        h, w = tf.cast(hw[0], tf.float32), tf.cast(hw[1], tf.float32)
        th, tw = float(self.height), float(self.width)
        if self.resize == "squash":
            out = tf.image.resize(img, size, "bilinear", antialias=True)
        elif self.resize == "center-crop":
            scale = tf.maximum(th / h, tw / w)
            crop_h = tf.clip_by_value(tf.cast(tf.round(th / scale), tf.int32), 1, hw[0])
            crop_w = tf.clip_by_value(tf.cast(tf.round(tw / scale), tf.int32), 1, hw[1])
            top, left = (hw[0] - crop_h) // 2, (hw[1] - crop_w) // 2
            out = tf.image.resize(img[top:top + crop_h, left:left + crop_w], size, "bilinear", antialias=True)
        else:  # pad: keep the whole image, white borders
            scale = tf.minimum(th / h, tw / w)
            new = tf.maximum(tf.cast(tf.round(tf.stack([h, w]) * scale), tf.int32), 1)
            inner = tf.image.resize(img, new, "bilinear", antialias=True)
            top, left = (self.height - new[0]) // 2, (self.width - new[1]) // 2
            pads = [[top, self.height - new[0] - top], [left, self.width - new[1] - left], [0, 0]]
            out = tf.pad(inner, pads, constant_values=WHITE)
        same = tf.reduce_all(tf.equal(hw, size))
        out = tf.cond(same, lambda: img, lambda: tf.clip_by_value(out, 0.0, 1.0))
        return tf.ensure_shape(out, [self.height, self.width, self.channels])

    # -- outputs -------------------------------------------------------------
    # Each signature is: in-graph checks -> a numeric core (the only part XLA may compile: asserts and
    # string lookups have no XLA kernels) -> the head (probabilities, top-k, class names, verdict).
    def _predict_core(self, images) -> dict:
        return {"logits": self.clf.model(images, training=False)}

    def _explain_core(self, images) -> dict:
        maps, logits = self.interpreter.maps_and_logits(images)
        return {"logits": logits, "map": maps}

    def _guarded_core(self, images) -> dict:
        out = self.detector.tf_outputs(images)
        maps = out["maps"] if self.share_map else self.interpreter.maps_and_logits(images)[0]
        return {"logits": out["logits"], "map": maps, "detector_score": out["score"]}

    def _head(self, core: dict) -> dict:
        p = tf.nn.softmax(core["logits"], axis=-1)
        top_p, top_i = tf.math.top_k(p, k=self.top_k)
        out = {"probabilities": p, "top_k_classes": top_i, "top_k_probabilities": top_p,
               "top_k_names": tf.gather(self._names, top_i)}
        out.update({k: v for k, v in core.items() if k != "logits"})
        if "detector_score" in core:
            out["adversarial"] = core["detector_score"] > self.threshold
        return out

    def signatures(self, *, jit_compile: bool = False) -> dict:
        """``{signature name: concrete function}`` for ``tf.saved_model.save`` (``jit_compile``: XLA cores)."""
        cores = {"serving_default": self._predict_core, "explain": self._explain_core}
        if self.detector is not None:
            cores["guarded"] = self._guarded_core
        out = {}
        for name, core in cores.items():
            core = tf.function(core, jit_compile=True) if jit_compile else core

            def fn(images, core=core):
                return self._head(core(self.checked(images)))

            out[name] = tf.function(fn).get_concrete_function(self.image_spec)
            bytes_name = "predict_bytes" if name == "serving_default" else f"{name}_bytes"
            out[bytes_name] = tf.function(lambda b, fn=fn: fn(self.decode(b))).get_concrete_function(self.bytes_spec)
        # The tf.Variables the graphs read (classifier, interpreter, detector: whatever they use), tracked
        # directly as keras.export does. This is what the SavedModel saves: tracking the Keras models
        # instead loads in TF2 but not in a TF1-style session loader (TF Serving, saved_model_cli run),
        # which misses the BatchNorm statistics Keras keeps behind its own variable wrappers.
        used = {}
        for fn in out.values():
            for v in fn.variables:
                used.setdefault(id(v), v)
        self.tf_variables = list(used.values())
        return out


__all__ = ["ServingGraph"]

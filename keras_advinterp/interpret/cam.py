"""Class activation mapping (CAM) for GAP + dense heads.

CAM_c = sum_k w_kc A_k, with A the feature maps of the layer feeding global
average pooling and w the dense kernel. tf-keras-vis has no classical CAM;
for GAP + dense heads Grad-CAM reduces to it (dlogit_c / dA_k(i,j) = w_kc /
(h w)), and tests/interpret check the two agree.

References:
    Zhou et al., "Learning Deep Features for Discriminative Localization"
    (CVPR 2016); used by seeds 000 (Sec. 4.3), 001 (Table 2), 003, 004.
"""

from __future__ import annotations

from functools import cached_property

import keras
import numpy as np
from scipy.ndimage import zoom

from .base import Interpreter, normalize_maps


class CAM(Interpreter):
    """CAM from the dense weights; needs feature layer -> GAP -> Dense(logits)."""

    name = "cam"

    def __init__(self, clf, **kwargs):
        super().__init__(clf, **kwargs)
        self.kernel = self._head_kernel()

    def _head_kernel(self) -> np.ndarray:
        layers = self.clf.model.layers
        dense, gap = layers[-1], layers[-2] if len(layers) > 1 else None
        feeds = gap is not None and gap.input is self.clf.model.get_layer(self.feature_layer).output
        if not (isinstance(dense, keras.layers.Dense) and isinstance(gap, keras.layers.GlobalAveragePooling2D) and feeds):
            raise ValueError(
                f"CAM needs the head feature_layer -> GlobalAveragePooling2D -> Dense; model "
                f"{self.clf.name!r} ends with {[type(l).__name__ for l in layers[-3:]]}. Use GradCAM instead. "
                f"Received: feature_layer={self.feature_layer!r}"
            )
        return dense.get_weights()[0]  # (k, classes)

    @cached_property
    def _features(self):
        model = keras.Model(self.clf.model.inputs[0], self.clf.model.get_layer(self.feature_layer).output)
        import tensorflow as tf

        return tf.function(lambda x: model(x, training=False), jit_compile=True, reduce_retracing=True)

    def explain_batch(self, x, class_index):
        feats = self._features(x).numpy()  # (n, h, w, k)
        w = self.kernel[:, class_index].T  # (n, k)
        cams = np.maximum(np.einsum("nhwk,nk->nhw", feats, w), 0.0)
        factor = (1, x.shape[1] / cams.shape[1], x.shape[2] / cams.shape[2])
        return normalize_maps(zoom(cams, factor, order=1))

"""tf-keras-vis front end: Grad-CAM, Grad-CAM++, Score-CAM, Saliency, SmoothGrad.

tf-keras-vis is the user-facing reference implementation; these classes only
adapt it to the Classifier / batch / [0, 1] map conventions.

References:
    Selvaraju et al., Grad-CAM (2017); Chattopadhay et al., Grad-CAM++ (2018);
    Wang et al., Score-CAM (2020); Simonyan et al., saliency (2014);
    Smilkov et al., SmoothGrad (2017).
"""

from __future__ import annotations

from functools import cached_property

import keras
import numpy as np
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.saliency import Saliency as _Saliency
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.scores import CategoricalScore

from .._checks import positive
from .base import Interpreter


class _CamFamily(Interpreter):
    visualizer = Gradcam
    extra: dict = {}

    @cached_property
    def _vis(self):
        # Our models already output logits, so no ReplaceToLinear modifier.
        return self.visualizer(self.clf.model, clone=False)

    def explain_batch(self, x, class_index):
        was_enabled = keras.utils.is_interactive_logging_enabled()
        keras.utils.disable_interactive_logging()  # Score-CAM calls model.predict: no progress bars
        try:
            maps = self._vis(
                CategoricalScore(list(class_index)), x,
                penultimate_layer=self.feature_layer, seek_penultimate_conv_layer=False, **self.extra,
            )
        finally:
            if was_enabled:
                keras.utils.enable_interactive_logging()
        return np.asarray(maps).reshape(len(x), *x.shape[1:3])


class GradCAM(_CamFamily):
    """Grad-CAM through ``tf_keras_vis.gradcam.Gradcam`` on the feature layer."""

    name = "gradcam"


class GradCAMPlusPlus(_CamFamily):
    """Grad-CAM++ through ``tf_keras_vis.gradcam_plus_plus.GradcamPlusPlus``."""

    name = "gradcam++"
    visualizer = GradcamPlusPlus


class ScoreCAM(_CamFamily):
    """Score-CAM through ``tf_keras_vis.scorecam.Scorecam``.

    Args:
        max_n: use only the ``max_n`` strongest channels (Faster Score-CAM);
            None uses every channel of the feature layer.
    """

    name = "scorecam"
    visualizer = Scorecam

    def __init__(self, clf, *, max_n: int | None = None, **kwargs):
        super().__init__(clf, **kwargs)
        self.max_n = None if max_n is None else positive(max_n, "max_n", integer=True)
        self.extra = {"max_N": self.max_n}

    def params(self) -> dict:
        return {**super().params(), "max_n": self.max_n}


class Saliency(Interpreter):
    """Vanilla gradient saliency (max |grad| over channels) via tf-keras-vis."""

    name = "saliency"
    needs_feature_layer = False
    smooth_samples = 0

    def __init__(self, clf, *, noise: float = 0.2, **kwargs):
        super().__init__(clf, **kwargs)
        self.noise = positive(noise, "noise", allow_zero=True)

    def params(self) -> dict:
        return {**super().params(), "noise": self.noise}

    @cached_property
    def _vis(self):
        return _Saliency(self.clf.model, clone=False)

    def explain_batch(self, x, class_index):
        maps = self._vis(CategoricalScore(list(class_index)), x,
                         smooth_samples=self.smooth_samples, smooth_noise=self.noise)
        return np.asarray(maps).reshape(len(x), *x.shape[1:3])


class SmoothGrad(Saliency):
    """SmoothGrad: saliency averaged over ``samples`` noisy copies (noise x range)."""

    name = "smoothgrad"

    def __init__(self, clf, *, samples: int = 20, noise: float = 0.2, **kwargs):
        super().__init__(clf, noise=noise, **kwargs)
        self.smooth_samples = positive(samples, "samples", integer=True)

    def params(self) -> dict:
        return {**super().params(), "samples": self.smooth_samples}

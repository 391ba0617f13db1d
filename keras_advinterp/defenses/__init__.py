"""Detectors of adversarial inputs, behind one interface (``base.Detector``).

    det = SaliencyDetector(clf, theta=0.1, enhance="zero_mean")
    det.fit(x_clean, fpr=0.05).evaluate(x_clean_test, x_adv)

``SaliencyDetector`` (Ye et al., seeds/002_3d875c39384c5e79.txt) and
``FeatureSqueezing`` (Xu et al., NDSS 2018) are here, with Ding et al.'s
binary detector and adversarial training step (paper 000) and AdvEdge's
multi-interpreter detector and interpretation-robust training (paper 003).
"""

from __future__ import annotations

from .base import DetectionReport, Detector, DetectorLayer, NotFittedError, NotGraphSafeError, roc_auc, threshold_at_fpr
from .binary import BinaryDetector, build_binary_cnn
from .emphasis import (
    ENHANCEMENTS,
    SaliencyDetector,
    color_reverse,
    emphasis_image,
    enhance_images,
    neutral_pixel,
    plot_theta_sweep,
    theta_sweep,
    zero_mean,
)
from .interpretation_training import InterpretationRobustTrainer, map_discrepancy
from .multi_interpreter import (
    MultiInterpreterDetector,
    build_interpreter,
    build_vgg_backbone,
    detection_accuracy,
    vgg16_backbone,
)
from .squeeze import BitDepth, FeatureSqueezing, Median, NonLocalMeans, Squeezer, get_squeezer
from .training import AdversarialTrainer, adversarial_model

REGISTRY: dict[str, type[Detector]] = {cls.name: cls for cls in (SaliencyDetector, FeatureSqueezing, BinaryDetector)}

__all__ = ["Detector", "DetectionReport", "DetectorLayer", "NotFittedError", "NotGraphSafeError", "roc_auc",
           "threshold_at_fpr", "SaliencyDetector", "neutral_pixel", "theta_sweep", "plot_theta_sweep", "emphasis_image",
           "color_reverse", "zero_mean", "enhance_images", "ENHANCEMENTS",
           "FeatureSqueezing", "Squeezer", "BitDepth", "Median", "NonLocalMeans", "get_squeezer",
           "BinaryDetector", "build_binary_cnn", "AdversarialTrainer", "adversarial_model", "REGISTRY",
           "MultiInterpreterDetector", "build_interpreter", "build_vgg_backbone", "vgg16_backbone",
           "detection_accuracy", "InterpretationRobustTrainer", "map_discrepancy"]

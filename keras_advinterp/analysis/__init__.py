"""Analyses of what an attack does to a model: top-1 changes, pixel edits, feature maps (Ding et al., Xu et al.).

``top1`` and ``change_statistics`` are the measure Ding et al.'s per-image
tables share (seeds/000_f66802178e087466.txt, Tables 2-3 and 8-13): the top-1
label and confidence of each image before and after an intervention, and the
"change statistics" row beneath them.

``pse`` (Xu et al., seeds/001: grid sensitivity, promotion / suppression
ratios, the interpretability score, refinement masks), ``dissection``
(network dissection: unit-concept IoU, concept detectors, unit sensitivity
under attack; in memory or streamed), ``broden`` (reading a Broden folder's
index.csv and label masks) and ``activations`` (the per-layer activation
bias between natural and adversarial inputs, Fig. A8) are submodules.
"""

from __future__ import annotations

from . import activations, broden, dissection, pse
from .change import Top1, change_statistics, top1
from .pixels import PixelChange, cam_region, pick_pixels, pixel_change, pixel_histograms, set_pixels

__all__ = ["Top1", "top1", "change_statistics", "cam_region", "pick_pixels", "set_pixels", "pixel_change",
           "PixelChange", "pixel_histograms", "pse", "dissection", "broden", "activations"]

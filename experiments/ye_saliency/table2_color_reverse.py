"""Ye et al., Table II: the subject-emphasis detector with enhancement 'color_reverse' against theta.

For theta = 0..0.5 and each model: the share of clean images let through
(OSPA) and the share of FGSM and C&W-L2 examples flagged, beside the
paper's VGG16 / ResNet50 figures (seeds/002_3d875c39384c5e79.txt, Table II).

    advinterp experiment ye_saliency/table2_color_reverse [--quick]
    python experiments/ye_saliency/table2_color_reverse.py --quick
"""

from __future__ import annotations

from _common import main, sweep_experiment

EXPERIMENT = sweep_experiment("table2_color_reverse", "color_reverse", "Table II")

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)

"""Ye et al., Table I: the subject-emphasis detector with enhancement 'none' against theta.

For theta = 0..0.5 and each model: the share of clean images let through
(OSPA) and the share of FGSM and C&W-L2 examples flagged, beside the
paper's VGG16 / ResNet50 figures (seeds/002_3d875c39384c5e79.txt, Table I).

    advinterp experiment ye_saliency/table1_saliency [--quick]
    python experiments/ye_saliency/table1_saliency.py --quick
"""

from __future__ import annotations

from _common import main, sweep_experiment

EXPERIMENT = sweep_experiment("table1_saliency", "none", "Table I")

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)

"""The promotion and suppression effect (PSE) of adversarial perturbations, Xu et al.

seeds/001_13ab3436c62e81d7.txt ("Interpreting Adversarial Examples by
Activation Promotion and Suppression"), Secs. 3-4 and Appendix 3, as tools
on any Classifier:

    from keras_advinterp.analysis import pse

    sens = pse.grid_sensitivity(clf, x, x_adv, y, target, grids=8)   # Eqs. 1-3, batched and compiled
    sens.psr, sens.classes()                                         # Eq. 4: -1 / 0 / 1 per grid
    norms = pse.grid_norms(x_adv - x, sens.layout)                   # ||delta_G||_2, ||delta_G||_inf
    corr = pse.sensitivity_correlation(sens.s, norms["l2"])          # Table 1, per image
    B = pse.cam_region_at(cam_maps, quantile=0.7)                    # Eq. 5
    score = pse.interpretability_score(x_adv - x, B)                 # Eq. 6, Table 2
    s1 = sens.layout.expand(pse.sensitive_grids(sens.s, drop=0.3))   # S1 as pixels
    res = pse.refined_attack(attack, clf, x, y, target, keep=s1)     # Eq. 11, masked inside the loop
"""

from __future__ import annotations

from .grids import GridLayout, grid_layout, grid_norms
from .regions import (
    cam_region_at,
    interpretability_score,
    refined_attack,
    sensitive_grids,
    sensitivity_correlation,
    top_grids,
)
from .sensitivity import (
    BALANCE,
    CLASS_NAMES,
    PROMOTION,
    SUPPRESSION,
    GridSensitivity,
    grid_sensitivity,
    promotion_suppression_ratio,
    psr_classes,
)

__all__ = [
    "GridLayout", "grid_layout", "grid_norms", "GridSensitivity", "grid_sensitivity",
    "promotion_suppression_ratio", "psr_classes", "SUPPRESSION", "BALANCE", "PROMOTION", "CLASS_NAMES",
    "cam_region_at", "interpretability_score", "sensitive_grids", "top_grids", "sensitivity_correlation",
    "refined_attack",
]

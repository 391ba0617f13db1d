"""Ding et al., Table 11: top-1 labels before/after enlarging by 1.8 the filters of the last residual block (DAmageNet).

The insensitive filters: the last residual block's ten least different
feature maps (Eq. 4 RMSE between clean and DAmageNet-style images) pick the
filters of the convs producing them, whose kernel and bias are multiplied
by 1.8 (the paper: ResNet50's fifth residual stage).
One clean image per class (where the attack fooled the model) and its
DAmageNet-style counterpart are classified before and after, with the change
statistics row and the paper's beside ours.

    advinterp experiment ding2023/table11_scale_last_damagenet [--quick]
    python experiments/ding2023/table11_scale_last_damagenet.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Top-1 before/after enlarging last-block (insensitive) filters by 1.8, DAmageNet (Ding et al., Table 11)"
EXPERIMENT = _surgery.scaling_experiment("table11_scale_last_damagenet", TITLE, "damagenet", 11, "last")

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

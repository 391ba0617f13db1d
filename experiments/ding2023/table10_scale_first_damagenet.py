"""Ding et al., Table 10: top-1 labels before/after enlarging by 1.8 the filters of the first layer (DAmageNet).

The sensitive filters: the first activation layer's ten most different
feature maps (Eq. 4 RMSE between clean and DAmageNet-style images) pick the
filters of the conv producing that layer, whose kernel and bias are
multiplied by 1.8.
One clean image per class (where the attack fooled the model) and its
DAmageNet-style counterpart are classified before and after, with the change
statistics row and the paper's beside ours.

    advinterp experiment ding2023/table10_scale_first_damagenet [--quick]
    python experiments/ding2023/table10_scale_first_damagenet.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Top-1 before/after enlarging first-layer (sensitive) filters by 1.8, DAmageNet (Ding et al., Table 10)"
EXPERIMENT = _surgery.scaling_experiment("table10_scale_first_damagenet", TITLE, "damagenet", 10, "first")

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

"""Ding et al., Table 13: top-1 labels before/after enlarging by 1.8 the filters of the last residual block (PGD).

The insensitive filters: the last residual block's ten least different
feature maps (Eq. 4 RMSE between clean and PGD images) pick the
filters of the convs producing them, whose kernel and bias are multiplied
by 1.8 (the paper: ResNet50's fifth residual stage).
One clean image per class (where the attack fooled the model) and its
PGD counterpart are classified before and after, with the change
statistics row and the paper's beside ours.

    advinterp experiment ding2023/table13_scale_last_pgd [--quick]
    python experiments/ding2023/table13_scale_last_pgd.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Top-1 before/after enlarging last-block (insensitive) filters by 1.8, PGD dataset (Ding et al., Table 13)"
EXPERIMENT = _surgery.scaling_experiment("table13_scale_last_pgd", TITLE, "pgd", 13, "last")

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

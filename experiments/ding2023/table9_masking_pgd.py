"""Ding et al., Table 9: top-1 labels before/after masking the most different feature maps (PGD dataset).

The ten feature maps most changed between clean and PGD images
(Table 6's list, ranked over every activation layer's channels by
Eq. 4 RMSE) are set to zero for every later layer; one clean image per
class (where the attack fooled the model) and its adversarial counterpart
are classified before and after, with the change statistics row and the
paper's beside ours.

    advinterp experiment ding2023/table9_masking_pgd [--quick]
    python experiments/ding2023/table9_masking_pgd.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Top-1 before/after masking the ten most different feature maps, PGD dataset (Ding et al., Table 9)"
EXPERIMENT = _surgery.masking_experiment("table9_masking_pgd", TITLE, "pgd", 9)

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

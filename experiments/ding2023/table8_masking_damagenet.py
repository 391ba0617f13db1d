"""Ding et al., Table 8: top-1 labels before/after masking the most different feature maps (DAmageNet).

The ten feature maps most changed between clean and DAmageNet-style images
(Table 4's list, ranked over every activation layer's channels by
Eq. 4 RMSE) are set to zero for every later layer; one clean image per
class (where the attack fooled the model) and its adversarial counterpart
are classified before and after, with the change statistics row and the
paper's beside ours.

    advinterp experiment ding2023/table8_masking_damagenet [--quick]
    python experiments/ding2023/table8_masking_damagenet.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Top-1 before/after masking the ten most different feature maps, DAmageNet (Ding et al., Table 8)"
EXPERIMENT = _surgery.masking_experiment("table8_masking_damagenet", TITLE, "damagenet", 8)

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

"""Ding et al., Table 4: the ten most different feature maps between clean and DAmageNet-style images.

Every channel of every activation layer of the model is compared between
each clean image and its DAmageNet-style counterpart by RMSE (Eq. 4, averaged
over the image pairs); the ten largest RMSE are listed with the paper's
ResNet50 list beside them (its names and values).

    advinterp experiment ding2023/table4_top10_damagenet [--quick]
    python experiments/ding2023/table4_top10_damagenet.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Ten most different feature maps, DAmageNet (Ding et al., Table 4)"
EXPERIMENT = _surgery.maps_experiment("table4_top10_damagenet", TITLE, "damagenet", "most")

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

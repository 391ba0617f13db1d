"""Ding et al., Table 5: the ten least different feature maps between clean and DAmageNet-style images.

Every channel of every activation layer of the model is compared between
each clean image and its DAmageNet-style counterpart by RMSE (Eq. 4, averaged
over the image pairs); the ten smallest RMSE are listed with the paper's
ResNet50 list beside them (its names and values).

    advinterp experiment ding2023/table5_bottom10_damagenet [--quick]
    python experiments/ding2023/table5_bottom10_damagenet.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Ten least different feature maps, DAmageNet (Ding et al., Table 5)"
EXPERIMENT = _surgery.maps_experiment("table5_bottom10_damagenet", TITLE, "damagenet", "least")

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

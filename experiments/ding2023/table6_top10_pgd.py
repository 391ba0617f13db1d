"""Ding et al., Table 6: the ten most different feature maps between clean and PGD images.

Every channel of every activation layer of the model is compared between
each clean image and its PGD counterpart by RMSE (Eq. 4, averaged
over the image pairs); the ten largest RMSE are listed with the paper's
ResNet50 list beside them (its names and values).

    advinterp experiment ding2023/table6_top10_pgd [--quick]
    python experiments/ding2023/table6_top10_pgd.py --quick
"""

from __future__ import annotations

import _common
import _surgery

TITLE = "Ten most different feature maps, PGD dataset (Ding et al., Table 6)"
EXPERIMENT = _surgery.maps_experiment("table6_top10_pgd", TITLE, "pgd", "most")

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

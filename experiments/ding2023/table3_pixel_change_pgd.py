"""Ding et al., Table 3: top-1 before and after setting 100 CAM-region pixels, clean vs PGD images.

Table 2's experiment on the PGD set: for one image per class (the first
clean image whose PGD version fools the model), 100 random pixels of the
clean image's CAM region (top 20% of its CAM) are set to 0, 127, 200 and
255 in the clean image and at the same positions in its PGD version; top-1
label and confidence before and after, and the "change statistics" rows
beside the paper's (see table2_pixel_change_damagenet.py for the details).

    advinterp experiment ding2023/table3_pixel_change_pgd [--quick]
    python experiments/ding2023/table3_pixel_change_pgd.py --quick
"""

from __future__ import annotations

from _common import main
from table2_pixel_change_damagenet import pixel_change_experiment

EXPERIMENT = pixel_change_experiment("pgd", "table3_pixel_change_pgd")

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)

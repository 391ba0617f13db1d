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

from keras_advinterp.runner import Experiment, Table

TITLE = "Ten least different feature maps, DAmageNet (Ding et al., Table 5)"
KIND, END = "damagenet", "least"


def run_unit(ctx, s, unit):
    return _surgery.maps_rows(ctx, unit, END)


def summarize(rows, s, ctx):
    notes = _surgery.maps_notes(ctx, s, 5, END, rows)
    return Table(rows=rows, notes=notes, title=TITLE, figure=_surgery.maps_figure(rows, TITLE))


EXPERIMENT = Experiment(name="table5_bottom10_damagenet", paper="ding2023", title=TITLE,
                        defaults={**_common.DEFAULTS}, quick=_common.QUICK, prepare=_common.prepare,
                        units=lambda ctx, s: [KIND], run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

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

from keras_advinterp.runner import Experiment, Table

TITLE = "Ten most different feature maps, PGD dataset (Ding et al., Table 6)"
KIND, END = "pgd", "most"


def run_unit(ctx, s, unit):
    return _surgery.maps_rows(ctx, unit, END)


def summarize(rows, s, ctx):
    notes = _surgery.maps_notes(ctx, s, 6, END, rows)
    return Table(rows=rows, notes=notes, title=TITLE, figure=_surgery.maps_figure(rows, TITLE))


EXPERIMENT = Experiment(name="table6_top10_pgd", paper="ding2023", title=TITLE,
                        defaults={**_common.DEFAULTS}, quick=_common.QUICK, prepare=_common.prepare,
                        units=lambda ctx, s: [KIND], run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

"""Ding et al., Table 11: top-1 labels before/after enlarging by 1.8 the filters of the last residual block (DAmageNet).

The insensitive filters: the last residual block's ten least different
feature maps (Eq. 4 RMSE between clean and DAmageNet-style images) pick the
filters of the convs producing them, whose kernel and bias are multiplied
by 1.8 (the paper: ResNet50's fifth residual stage).
One clean image per class (where the attack fooled the model) and its
DAmageNet-style counterpart are classified before and after, with the change
statistics row and the paper's beside ours.

    advinterp experiment ding2023/table11_scale_last_damagenet [--quick]
    python experiments/ding2023/table11_scale_last_damagenet.py --quick
"""

from __future__ import annotations

import _common
import _surgery

from keras_advinterp.runner import Experiment, Table

TITLE = "Top-1 before/after enlarging last-block (insensitive) filters by 1.8, DAmageNet (Ding et al., Table 11)"
KIND, NO, WHERE = "damagenet", 11, "last"


def run_unit(ctx, s, unit):
    _, filters = _surgery.scale_choice(ctx, unit, WHERE)
    return _surgery.before_after_rows(ctx, unit, _surgery.scaled_model(ctx, filters))


def summarize(rows, s, ctx):
    picked, filters = _surgery.scale_choice(ctx, KIND, WHERE)
    row, _ = _surgery.change_row(rows, NO)
    notes = _surgery.change_notes(ctx, s, NO, KIND, _surgery.scale_note(ctx, KIND, WHERE, picked, filters))
    return Table(rows=rows + [row], notes=notes, title=TITLE, figure=_surgery.change_figure(rows, TITLE))


EXPERIMENT = Experiment(name="table11_scale_last_damagenet", paper="ding2023", title=TITLE,
                        defaults={**_common.DEFAULTS}, quick=_common.QUICK, prepare=_common.prepare,
                        units=lambda ctx, s: [KIND], run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

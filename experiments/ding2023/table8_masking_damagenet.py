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

from keras_advinterp.runner import Experiment, Table

TITLE = "Top-1 before/after masking the ten most different feature maps, DAmageNet (Ding et al., Table 8)"
KIND, NO = "damagenet", 8


def run_unit(ctx, s, unit):
    masked = _surgery.masked_model(ctx, _surgery.mask_choice(ctx, unit))
    return _surgery.before_after_rows(ctx, unit, masked)


def summarize(rows, s, ctx):
    chosen = _surgery.mask_choice(ctx, KIND)
    row, _ = _surgery.change_row(rows, NO)
    what = ("Masked: the ten most different maps of Table 4's ranking (as the paper, its top-10 list), "
            "set to exactly 0.0 after their layer for every consumer (surgery.mask_channels): "
            + "; ".join(f"{layer} channels {ch}" for layer, ch in chosen.items()) + ". The paper's list lies in "
            "ResNet50's first activation (and its padded copy); where ours lies is in the list above.")
    notes = _surgery.change_notes(ctx, s, NO, KIND, what)
    return Table(rows=rows + [row], notes=notes, title=TITLE, figure=_surgery.change_figure(rows, TITLE))


EXPERIMENT = Experiment(name="table8_masking_damagenet", paper="ding2023", title=TITLE,
                        defaults={**_common.DEFAULTS}, quick=_common.QUICK, prepare=_common.prepare,
                        units=lambda ctx, s: [KIND], run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    _common.main(EXPERIMENT, __doc__)

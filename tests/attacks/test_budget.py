"""Reported norms never exceed the budget by more than float32 rounding (one stated bound)."""

import numpy as np
import pytest

from keras_advinterp import attacks
from keras_advinterp.attacks.norms import budget_slack, within_budget


def test_linf_slack_is_float32_rounding_and_covers_a_real_run(shapes_clf, shapes_correct):
    x, y, _ = shapes_correct
    eps = 8 / 255
    result = attacks.PGD(eps=eps)(shapes_clf, x[:16], y[:16])
    excess = result.norms["linf"].max() - eps
    slack = budget_slack("linf", eps, x[0].size)
    assert slack < 1e-7  # a float32 rounding, not a loose tolerance
    assert excess <= slack, (excess, slack)  # e.g. 0.03137257695 vs 8/255 = 0.03137254902: 2.8e-8


@pytest.mark.parametrize("norm, eps", [("linf", 0.1), ("l2", 1.0), ("l1", 10.0)])
def test_within_budget_rejects_a_real_excess(norm, eps):
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(3, 8, 8, 3))
    scale = {"linf": np.abs(delta).max(), "l2": np.linalg.norm(delta.reshape(3, -1), axis=1).max(),
             "l1": np.abs(delta).sum(axis=(1, 2, 3)).max()}[norm]
    inside = (delta / scale * eps).astype(np.float32)
    assert within_budget(inside, norm, eps).all()
    assert not within_budget(inside * (1 + 1e-3), norm, eps).all()

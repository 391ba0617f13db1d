import numpy as np
import pytest

from keras_advinterp.analysis import Top1, change_statistics, top1


def test_change_statistics_match_a_hand_computed_example():
    before = Top1(np.array([0, 1, 2, 3]), np.array([0.9, 0.8, 0.6, 0.5], np.float32), ["a", "b", "c", "d"])
    after = Top1(np.array([0, 1, 4, 3]), np.array([0.7, 0.85, 0.9, 0.1], np.float32), ["a", "b", "e", "d"])
    stats = change_statistics(before, after)
    # unchanged: images 0, 1, 3 with changes -20, +5, -40 points
    assert stats["changed"] == 1 and stats["unchanged"] == 3 and stats["images"] == 4
    assert stats["mean_abs_change"] == pytest.approx((20 + 5 + 40) / 3, abs=1e-4)
    assert stats["mean_change"] == pytest.approx((-20 + 5 - 40) / 3, abs=1e-4)
    everything = change_statistics(before, Top1(np.array([9, 9, 9, 9]), before.confidence, ["z"] * 4))
    assert everything["changed"] == 4 and everything["mean_abs_change"] is None
    with pytest.raises(ValueError, match="same images"):
        change_statistics(before, Top1(np.array([0]), np.array([0.5]), ["a"]))


def test_top1_reads_the_classifier(shapes_clf, shapes_data):
    t = top1(shapes_clf, shapes_data.x[:8])
    p = shapes_clf.probabilities(shapes_data.x[:8])
    np.testing.assert_array_equal(t.label, p.argmax(1))
    np.testing.assert_allclose(t.confidence, p.max(1), atol=1e-6)
    assert t.names[0] == shapes_clf.class_names[t.label[0]]

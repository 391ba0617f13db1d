"""The multiple-interpreter detector (AdvEdge, Sec. VIII): beats chance on PGD, stacks maps, rejects bad input."""

import numpy as np
import pytest

from keras_advinterp import attacks, interpret
from keras_advinterp.defenses import (
    MultiInterpreterDetector,
    NotFittedError,
    NotGraphSafeError,
    build_vgg_backbone,
    detection_accuracy,
)
from keras_advinterp.models import WeightsUnavailableError


@pytest.fixture(scope="session")
def pgd_pairs(shapes_clf, shapes_correct):
    """Correctly classified shapes images and their PGD versions (8/255, 5 steps), only successful pairs."""
    x, y, _ = shapes_correct
    res = attacks.PGD(eps=8 / 255, steps=5)(shapes_clf, x, y, seed=0)
    return x[res.success], res.x_adv[res.success]


@pytest.fixture(scope="session")
def trained(shapes_clf, pgd_pairs):
    x, x_adv = pgd_pairs
    det = MultiInterpreterDetector(shapes_clf, ["cam", "rts"], n_estimators=50)
    info = det.train(x[:60], x_adv[:60])
    return det, info


def test_the_detector_beats_chance_on_held_out_pgd_examples(trained, pgd_pairs):
    det, info = trained
    x, x_adv = pgd_pairs
    report = det.evaluate(x[60:], x_adv[60:])
    accuracy = detection_accuracy(report)
    # Measured (CAM + RTS, 60 + 60 training maps, 35 + 35 held out): AUC 0.952, accuracy 0.871.
    assert report.n_clean >= 30 and report.n_adv >= 30
    assert report.roc_auc >= 0.85, report
    assert accuracy >= 0.75, report
    assert info["n_clean"] == info["n_adv"] == 60 and info["features"] == 2 * (32 + 64 + 128)
    assert det.accuracy(x[60:], x_adv[60:]) == pytest.approx(accuracy)


def test_scores_from_images_equal_scores_from_their_maps(trained, pgd_pairs):
    det, _ = trained
    x = pgd_pairs[1][:8]
    maps = det.interpreter_maps(x)
    assert maps.shape == (8, 64, 64, 2) and maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(det.scores(x), det.scores_from_maps(maps), atol=1e-6)
    assert det.detect(x).dtype == bool


def test_the_product_channel_and_the_embedded_backbone(shapes_clf):
    det = MultiInterpreterDetector(shapes_clf, ["grad", "cam"], product_channel=True)
    maps = np.random.default_rng(0).random((3, 16, 16, 2), dtype=np.float32)
    stacked = det.stack(maps)
    assert stacked.shape == (3, 16, 16, 3) and det.channels == 3
    np.testing.assert_allclose(stacked[..., 2], maps[..., 0] * maps[..., 1])
    a, b = build_vgg_backbone(3, seed=4), build_vgg_backbone(3, seed=4)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.allclose(a.get_weights()[0], build_vgg_backbone(3, seed=5).get_weights()[0])


@pytest.mark.parametrize("interpreters, product, match", [
    (["grad", "lime"], False, "unknown interpreter 'lime'"),
    (["grad"], False, "2 or 3 interpreters"),
    (["grad", "cam", "rts", "mask"], False, "2 or 3 interpreters"),
    ("grad,cam", False, "list of 2 or 3"),
    (["cam", "cam"], False, "must differ"),
    (["grad", "cam", "rts"], True, "product_channel"),
])
def test_bad_interpreter_lists_are_refused(shapes_clf, interpreters, product, match):
    with pytest.raises(ValueError, match=match):
        MultiInterpreterDetector(shapes_clf, interpreters, product_channel=product)


def test_unfitted_use_shape_mismatch_and_serving_are_refused(shapes_clf, digits_clf, trained, pgd_pairs):
    x, x_adv = pgd_pairs
    fresh = MultiInterpreterDetector(shapes_clf, ["grad", "cam"])
    with pytest.raises(NotFittedError, match="train"):
        fresh.scores(x[:2])
    with pytest.raises(NotFittedError, match="train"):
        fresh.fit(x[:4])
    det, _ = trained
    with pytest.raises(ValueError, match=r"\(N, H, W, 2\)"):
        det.scores_from_maps(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="trained on 64x64"):
        det.scores_from_maps(np.zeros((2, 32, 32, 2), np.float32))
    with pytest.raises(ValueError, match="channel"):
        det.scores(np.zeros((2, 64, 64, 1), np.float32))
    with pytest.raises(ValueError, match="not both"):
        fresh.train(x[:2], x_adv[:2], maps_clean=np.zeros((2, 64, 64, 2), np.float32))
    with pytest.raises(ValueError, match="one shape"):
        fresh.train(maps_clean=np.zeros((2, 64, 64, 2), np.float32), maps_adv=np.zeros((2, 32, 32, 2), np.float32))
    with pytest.raises(ValueError, match="another classifier"):
        MultiInterpreterDetector(shapes_clf, [interpret.get("cam", digits_clf), "grad"])
    with pytest.raises(ValueError, match="backbone takes 3"):
        MultiInterpreterDetector(shapes_clf, ["grad", "cam"], backbone=build_vgg_backbone(3))
    with pytest.raises(ValueError, match="backbone must be one of"):
        MultiInterpreterDetector(shapes_clf, ["grad", "cam"], backbone="resnet")
    assert det.graph_safe is False
    with pytest.raises(NotGraphSafeError, match="scikit-learn"):
        det.as_model()


def test_imagenet_vgg16_offline_says_which_file_to_place(shapes_clf, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        MultiInterpreterDetector(shapes_clf, ["grad", "cam"], backbone="vgg16")
